//! The ends that are not the application's: CPU exceptions and kernel panics. Each is
//! reported on the console with what is known, then QEMU exits with a status of its own.

use morgana_image::exit;

use crate::arch::idt::InterruptFrame;
use crate::drivers::debug_exit;
use crate::kprintln;

const NAMES: [&str; 32] = [
    "divide error",
    "debug",
    "non-maskable interrupt",
    "breakpoint",
    "overflow",
    "bound range exceeded",
    "invalid opcode",
    "device not available",
    "double fault",
    "coprocessor segment overrun",
    "invalid TSS",
    "segment not present",
    "stack-segment fault",
    "general protection fault",
    "page fault",
    "reserved",
    "x87 floating-point error",
    "alignment check",
    "machine check",
    "SIMD floating-point error",
    "virtualization exception",
    "control protection exception",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "reserved",
    "hypervisor injection exception",
    "VMM communication exception",
    "security exception",
    "reserved",
];

/// Reports a CPU exception and stops the machine.
pub fn cpu_exception(frame: &InterruptFrame, cr2: u64) -> ! {
    let name = NAMES.get(frame.vector as usize).copied().unwrap_or("unknown interrupt");
    kprintln!(
        "morgana kernel: CPU exception {} ({name}) at rip={:#018x}, error code {:#x}",
        frame.vector,
        frame.rip,
        frame.error_code
    );
    if frame.vector == 14 {
        let access = if frame.error_code & 2 != 0 { "write" } else { "read" };
        let cause = if frame.error_code & 1 != 0 { "protection violation" } else { "page not present" };
        kprintln!("morgana kernel: faulting address {cr2:#018x} ({access}, {cause})");
    }
    kprintln!(
        "morgana kernel: rsp={:#x} rbp={:#x} rax={:#x} rbx={:#x} rcx={:#x} rdx={:#x} rsi={:#x} rdi={:#x}",
        frame.rsp,
        frame.rbp,
        frame.rax,
        frame.rbx,
        frame.rcx,
        frame.rdx,
        frame.rsi,
        frame.rdi
    );
    debug_exit::exit(exit::CPU_EXCEPTION)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    let (used, free) = crate::arch::heap::usage();
    kprintln!("morgana kernel: panic: {info}");
    if free < 64 << 10 {
        kprintln!(
            "morgana kernel: the heap is exhausted ({used} bytes in use, {free} free); give the VM more memory (--memory)"
        );
    }
    debug_exit::exit(exit::KERNEL_PANIC)
}
