//! The ends that are not the application's: CPU exceptions and kernel panics. Each is
//! reported on the console with what is known, then QEMU exits with a status of its own. A page
//! fault is explained by `mm`: a stack overflow says whose stack (the kernel's, or the
//! application's fiber stack, which ends it as a trap), a protection fault what it hit.

use core::sync::atomic::{AtomicBool, Ordering};

use morgana_image::exit;

use crate::arch::idt::InterruptFrame;
use crate::drivers::debug_exit;
use crate::kprintln;
use crate::mm::{self, Region};

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

/// Set while a fault is being reported: a fault in the report itself stops the machine at once.
static REPORTING: AtomicBool = AtomicBool::new(false);

/// Reports a CPU exception and stops the machine.
pub fn cpu_exception(frame: &InterruptFrame, cr2: u64) -> ! {
    if REPORTING.swap(true, Ordering::Relaxed) {
        kprintln!("morgana kernel: CPU exception {} while reporting a fault, at rip={:#x}", frame.vector, frame.rip);
        debug_exit::exit(exit::CPU_EXCEPTION)
    }
    let status = if frame.vector == PAGE_FAULT { page_fault(frame, cr2) } else { other_exception(frame) };
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
    debug_exit::exit(status)
}

fn other_exception(frame: &InterruptFrame) -> u8 {
    let name = NAMES.get(frame.vector as usize).copied().unwrap_or("unknown interrupt");
    kprintln!(
        "morgana kernel: CPU exception {} ({name}) at rip={:#018x}, error code {:#x}",
        frame.vector,
        frame.rip,
        frame.error_code
    );
    exit::CPU_EXCEPTION
}

const PAGE_FAULT: u64 = 14;
const PF_PRESENT: u64 = 1 << 0;
const PF_WRITE: u64 = 1 << 1;
const PF_INSTRUCTION: u64 = 1 << 4;

/// Says what a page fault was — a stack overflow (and whose), a null dereference, a write to
/// read-only memory, an instruction fetch from non-executable memory, an access to unmapped
/// memory — and returns the status to stop with.
fn page_fault(frame: &InterruptFrame, address: u64) -> u8 {
    let what = mm::describe(address);
    let at = frame.rip;
    if let Some(stack) = what.guard_of {
        return if stack.is_guest() {
            kprintln!(
                "error: the application overflowed its stack: {} ran into its guard page at {address:#x} (rip={at:#x})",
                stack.name()
            );
            exit::TRAP
        } else {
            kprintln!(
                "morgana kernel: kernel stack overflow: {} ran into its guard page at {address:#x} (rip={at:#x})",
                stack.name()
            );
            exit::STACK_OVERFLOW
        };
    }
    let code = frame.error_code;
    let access = if code & PF_INSTRUCTION != 0 {
        "execute"
    } else if code & PF_WRITE != 0 {
        "write"
    } else {
        "read"
    };
    let mapped = match mm::access(address) {
        Some(access) => access.name(),
        None => "unmapped",
    };
    let region = what.region.name();
    if what.region == Region::Null {
        kprintln!("morgana kernel: null pointer dereference: {access} of {address:#x}, in {region}, at rip={at:#x}");
    } else if code & PF_PRESENT == 0 {
        kprintln!("morgana kernel: {access} of unmapped memory at {address:#x} ({region}), at rip={at:#x}");
    } else if code & PF_INSTRUCTION != 0 {
        kprintln!(
            "morgana kernel: memory protection: execution of non-executable memory at {address:#x} ({region}, {mapped}), at rip={at:#x}"
        );
    } else if code & PF_WRITE != 0 {
        kprintln!(
            "morgana kernel: memory protection: write to read-only memory at {address:#x} ({region}, {mapped}), at rip={at:#x}"
        );
    } else {
        kprintln!(
            "morgana kernel: page fault: {access} of {address:#x} ({region}, {mapped}), error code {code:#x}, at rip={at:#x}"
        );
    }
    exit::CPU_EXCEPTION
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
