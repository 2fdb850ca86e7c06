//! Memory-protection self-tests (boot parameter `probe=NAME`), in the spirit of Solo5's
//! `test_wnox` and `test_zeropage`: each attempts one access the address space forbids, just
//! before the application would start. The access must fault, and the fault report
//! (`crate::fault`) must say what it was; if the access succeeds instead, the probe says so and
//! the kernel stops with [`morgana_image::exit::HOST_ERROR`]. Tests boot the real image with
//! each probe and check the report.

use alloc::boxed::Box;
use core::hint::black_box;
use core::sync::atomic::{AtomicBool, Ordering};

/// The probes, by the name `probe=` takes.
pub const NAMES: &[&str] = &[
    "null-read",
    "null-write",
    "write-code",
    "write-rodata",
    "write-component-code",
    "exec-heap",
    "exec-stack",
    "exec-data",
    "exec-payload",
    "kernel-stack-overflow",
    "fiber-stack-overflow",
];

/// `ret`, as machine code.
const RET: u8 = 0xC3;

static READ_ONLY: u64 = 0x5EA1_ED00;
static mut DATA_CODE: [u8; 16] = [RET; 16];
static FIBER_OVERFLOW_ARMED: AtomicBool = AtomicBool::new(false);

/// An unknown probe name.
pub struct UnknownProbe;

/// Runs the probe `name`; returns only if its access was not stopped (or, for
/// `fiber-stack-overflow`, once it is armed: it fires at the application's first host call).
/// `payload` is any address in the image's payload.
pub fn run(name: &str, payload: u64) -> Result<(), UnknownProbe> {
    match name {
        "null-read" => {
            let null = black_box(0usize) as *const u64;
            // SAFETY: none: this read must fault (the first 64 KiB are unmapped).
            black_box(unsafe { null.read_volatile() });
        }
        "null-write" => {
            let null = black_box(8usize) as *mut u64;
            // SAFETY: none: this write must fault.
            unsafe { null.write_volatile(1) };
        }
        "write-code" => {
            let code = black_box(run as *const () as usize) as *mut u8;
            // SAFETY: none: the kernel's text is read + execute, this write must fault.
            unsafe { code.write_volatile(RET) };
        }
        "write-rodata" => {
            let constant = black_box(&raw const READ_ONLY as usize) as *mut u64;
            // SAFETY: none: rodata is read-only, this write must fault.
            unsafe { constant.write_volatile(0) };
        }
        "write-component-code" => {
            let Some(code) =
                super::CODE.slots.iter().map(|(start, _, _)| start.load(Ordering::Relaxed)).find(|s| *s != 0)
            else {
                crate::kprintln!("morgana kernel: probe `{name}`: no component code is published");
                return Ok(());
            };
            // SAFETY: none: published code is read + execute, this write must fault.
            unsafe { (black_box(code as usize) as *mut u8).write_volatile(RET) };
        }
        "exec-heap" => {
            let code = Box::new([RET; 16]);
            call(code.as_ptr() as usize);
        }
        "exec-stack" => {
            let code = black_box([RET; 16]);
            call(code.as_ptr() as usize);
        }
        "exec-data" => call(&raw const DATA_CODE as usize),
        "exec-payload" => call(payload as usize),
        "kernel-stack-overflow" => {
            black_box(recurse(0));
        }
        "fiber-stack-overflow" => {
            FIBER_OVERFLOW_ARMED.store(true, Ordering::Relaxed);
            return Ok(());
        }
        _ => return Err(UnknownProbe),
    }
    crate::kprintln!("morgana kernel: probe `{name}` was not stopped: the memory protection failed");
    Ok(())
}

/// Called at the start of the application's host calls (on its fiber stack): fires an armed
/// `fiber-stack-overflow`.
pub fn on_host_call() {
    if FIBER_OVERFLOW_ARMED.swap(false, Ordering::Relaxed) {
        black_box(recurse(0));
    }
}

/// Jumps to `address` as if it were a function.
fn call(address: usize) {
    // SAFETY: none: the address is in non-executable memory, so the call must fault on its
    // first instruction fetch (were it executable, the byte there is a `ret`).
    let function: extern "C" fn() = unsafe { core::mem::transmute(black_box(address)) };
    function();
}

/// Recursion without end, 1 KiB a frame, until the stack's guard page stops it.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = depth as u8;
    black_box(&mut frame);
    recurse(depth + 1) + frame[black_box(0)] as u64
}
