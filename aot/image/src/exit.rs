//! What the kernel's exit status means. The kernel writes one byte to QEMU's `isa-debug-exit`
//! device, which makes QEMU exit with `byte * 2 + 1`; `morgana run` turns that back into the
//! byte and then into its own status. Values below [`FIRST_RESERVED`] are the application's.

/// The first status the kernel reserves for itself.
pub const FIRST_RESERVED: u8 = 112;
/// The application trapped.
pub const TRAP: u8 = 112;
/// The application ran past its timeout.
pub const TIMEOUT: u8 = 113;
/// The kernel panicked.
pub const KERNEL_PANIC: u8 = 114;
/// A CPU exception in the kernel.
pub const CPU_EXCEPTION: u8 = 115;
/// The image is damaged or lacks its payload.
pub const BAD_IMAGE: u8 = 116;
/// The precompiled component cannot run here (other wasmtime, missing CPU features).
pub const INCOMPATIBLE: u8 = 117;
/// The component could not be instantiated (an import the kernel lacks).
pub const LINK_FAILED: u8 = 118;
/// Bad boot parameters or another host failure.
pub const HOST_ERROR: u8 = 119;
/// A kernel stack (boot, double-fault or page-fault) overflowed into its guard page.
pub const STACK_OVERFLOW: u8 = 120;

/// QEMU's exit status for a kernel status.
pub const fn qemu_status(kernel_status: u8) -> i32 {
    (kernel_status as i32) * 2 + 1
}

/// The kernel status for QEMU's exit status, when the kernel set one (odd statuses).
pub const fn kernel_status(qemu_status: i32) -> Option<u8> {
    if qemu_status % 2 == 1 && qemu_status > 0 && qemu_status < 512 {
        Some(((qemu_status - 1) / 2) as u8)
    } else {
        None
    }
}

#[cfg(feature = "engine")]
/// A host function's error that stopped the application, as one line: its causes from the
/// outermost in, without the wasm backtrace wasmtime adds as a context of its own. Every target
/// reports it so, with status 1, as `wasmtime run` does.
pub fn host_error_message(error: &wasmtime::Error) -> alloc::string::String {
    let mut message = alloc::string::String::new();
    for cause in error.chain() {
        let cause = alloc::string::ToString::to_string(cause);
        if cause.starts_with("error while executing at wasm backtrace") {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&cause);
    }
    message
}
