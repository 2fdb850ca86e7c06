//! x86-64 specifics: boot, descriptor tables, interrupts, the local APIC timer, what the
//! loader left in memory, and the heap. The only place besides `drivers` and `runtime` that
//! uses `unsafe`; every use has its `// SAFETY:` line.

pub mod apic;
mod boot;
pub mod cpu;
pub mod gdt;
pub mod heap;
pub mod idt;
pub mod ioapic;
pub mod paging;
pub mod pvh;
pub mod sections;
