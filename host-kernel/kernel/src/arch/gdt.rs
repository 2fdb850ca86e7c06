//! The long-mode GDT with a TSS, whose interrupt stack table gives double faults and NMIs a
//! stack of their own, and page faults another: a stack overflow (a page fault on a stack's
//! guard page, which leaves no stack to push the fault on) is then reported, not a triple
//! fault. Each of the two stacks has a guard page of its own below it (unmapped by `mm`).

use core::arch::asm;
use core::ops::Range;
use core::ptr::addr_of;

const CODE: u16 = 0x08;
const TSS: u16 = 0x18;
/// IST slot (1-based, as the IDT encodes it) for faults that must not use the current stack.
pub const EMERGENCY_IST: u8 = 1;
/// IST slot for page faults.
pub const PAGE_FAULT_IST: u8 = 2;

#[repr(C, packed)]
struct TaskStateSegment {
    reserved0: u32,
    privilege_stacks: [u64; 3],
    reserved1: u64,
    interrupt_stacks: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    io_map_base: u16,
}

const GUARD: usize = 4096;
const IST_STACK: usize = 32 * 1024;

/// A stack with its guard page below it, page-aligned.
#[repr(C, align(4096))]
struct GuardedStack {
    guard: [u8; GUARD],
    stack: [u8; IST_STACK],
}

impl GuardedStack {
    const fn new() -> Self {
        GuardedStack { guard: [0; GUARD], stack: [0; IST_STACK] }
    }
}

// In `.stacks`, which the boot code does not clear (linker.ld).
#[unsafe(link_section = ".stacks")]
static mut EMERGENCY_STACK: GuardedStack = GuardedStack::new();
#[unsafe(link_section = ".stacks")]
static mut PAGE_FAULT_STACK: GuardedStack = GuardedStack::new();

/// A stack's guard page and the stack itself.
fn ranges_of(stack: *const GuardedStack) -> (Range<u64>, Range<u64>) {
    let (base, guard_end) = (stack as u64, stack as u64 + GUARD as u64);
    (base..guard_end, guard_end..top_of(stack))
}

fn top_of(stack: *const GuardedStack) -> u64 {
    stack as u64 + core::mem::size_of::<GuardedStack>() as u64
}

/// The double-fault and the page-fault stacks: (guard page, stack) of each.
pub fn stacks() -> [(Range<u64>, Range<u64>); 2] {
    [ranges_of(&raw const EMERGENCY_STACK), ranges_of(&raw const PAGE_FAULT_STACK)]
}
static mut TSS_SEGMENT: TaskStateSegment = TaskStateSegment {
    reserved0: 0,
    privilege_stacks: [0; 3],
    reserved1: 0,
    interrupt_stacks: [0; 7],
    reserved2: 0,
    reserved3: 0,
    io_map_base: core::mem::size_of::<TaskStateSegment>() as u16,
};
static mut GDT: [u64; 5] = [
    0,
    0x00AF_9A00_0000_FFFF, // 0x08: 64-bit code, ring 0
    0x00CF_9200_0000_FFFF, // 0x10: data
    0,                     // 0x18: TSS, low half (filled in by `load`)
    0,                     //       TSS, high half
];

#[repr(C, packed)]
struct Pointer {
    limit: u16,
    base: u64,
}

/// Installs the GDT and TSS. Called once, early, with interrupts off.
pub fn load() {
    // SAFETY: runs once on the only CPU before interrupts are enabled, so nothing else
    // touches these statics; the descriptors describe the statics themselves, which live
    // for the kernel's lifetime.
    unsafe {
        let tss = &raw mut TSS_SEGMENT;
        (*tss).interrupt_stacks[(EMERGENCY_IST - 1) as usize] = top_of(&raw const EMERGENCY_STACK);
        (*tss).interrupt_stacks[(PAGE_FAULT_IST - 1) as usize] = top_of(&raw const PAGE_FAULT_STACK);
        let base = addr_of!(TSS_SEGMENT) as u64;
        let limit = (core::mem::size_of::<TaskStateSegment>() - 1) as u64;
        let low = (limit & 0xFFFF)
            | ((base & 0xFF_FFFF) << 16)
            | (0x89 << 40) // present, 64-bit available TSS
            | (((limit >> 16) & 0xF) << 48)
            | (((base >> 24) & 0xFF) << 56);
        let gdt = &mut *(&raw mut GDT);
        gdt[3] = low;
        gdt[4] = base >> 32;
        let pointer = Pointer { limit: (core::mem::size_of::<[u64; 5]>() - 1) as u16, base: addr_of!(GDT) as u64 };
        asm!(
            "lgdt [{pointer}]",
            "push {code}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "ltr {tss:x}",
            pointer = in(reg) &pointer,
            code = in(reg) CODE as u64,
            tmp = out(reg) _,
            tss = in(reg) TSS,
        );
    }
}
