//! wasmtime's trap hook (its `custom-native-signals` platform): with `signals_based_traps`, wasm
//! code traps by faulting — an access past a linear memory's end hits the unmapped rest of its
//! window (a page fault), an integer division by zero raises #DE, any other trap executes `ud2`
//! (#UD). The exception handlers offer such faults to wasmtime first; when the faulting
//! instruction is wasm's, wasmtime unwinds to its entry and the application ends with that trap,
//! as under `wasmtime run`. Anything else is reported as the kernel's fault.

use core::sync::atomic::{AtomicUsize, Ordering};

type Handler = extern "C" fn(ip: usize, fp: usize, has_faulting_addr: bool, faulting_addr: usize);

/// The handler wasmtime registered, as an address (0: none yet).
static HANDLER: AtomicUsize = AtomicUsize::new(0);

#[unsafe(no_mangle)]
extern "C" fn wasmtime_init_traps(handler: Handler) -> i32 {
    HANDLER.store(handler as usize, Ordering::Relaxed);
    0
}

/// Offers a CPU exception to wasmtime: returns if it was not wasm's (the caller then reports
/// it); does not return if it was (wasmtime resumes at the entry of the wasm call that trapped).
pub fn offer(ip: u64, fp: u64, faulting_address: Option<u64>) {
    let handler = HANDLER.load(Ordering::Relaxed);
    if handler == 0 {
        return;
    }
    // SAFETY: the only value stored is the `Handler` wasmtime gave `wasmtime_init_traps`.
    let handler: Handler = unsafe { core::mem::transmute(handler) };
    handler(ip as usize, fp as usize, faulting_address.is_some(), faulting_address.unwrap_or(0) as usize);
}
