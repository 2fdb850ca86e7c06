//! wasmtime's virtual-memory hooks (its `custom-virtual-memory` platform): reservations are
//! memory windows (`mm::windows`), protections their pages' access. Linear memories are
//! reserved for their largest size once (`memory_reservation` in `morgana_image::engine_settings`),
//! so growing one never copies it.
//!
//! wasmtime never asks for memory both writable and executable here: its code is published
//! through `ProtectedCode`, and a request for it would be refused.

use crate::mm::{self, Access, windows};

const PROT_READ: u32 = 1 << 0;
const PROT_WRITE: u32 = 1 << 1;
const PROT_EXEC: u32 = 1 << 2;
/// The status wasmtime turns into an error (it shows no code, only that the call failed).
const FAILED: i32 = 1;

/// The access for wasmtime's protection bits; `Err` for writable and executable.
fn access(prot: u32) -> Result<Option<Access>, ()> {
    match (prot & PROT_READ != 0, prot & PROT_WRITE != 0, prot & PROT_EXEC != 0) {
        (_, true, true) => Err(()),
        (_, true, false) => Ok(Some(Access::ReadWrite)),
        (_, false, true) => Ok(Some(Access::Execute)),
        (true, false, false) => Ok(Some(Access::Read)),
        (false, false, false) => Ok(None),
    }
}

/// Gives `len` bytes at `start` wasmtime's protection `prot`; `fresh`: their contents are
/// discarded. wasmtime's status: 0, or [`FAILED`].
fn protect(start: *mut u8, len: usize, prot: u32, fresh: bool) -> i32 {
    let Ok(access) = access(prot) else { return FAILED };
    let start = start as u64;
    match windows::set_access(start..start + len as u64, access, fresh) {
        Ok(()) => 0,
        Err(_) => FAILED,
    }
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_mmap_new(size: usize, prot: u32, ret: &mut *mut u8) -> i32 {
    let Ok(access) = access(prot) else { return FAILED };
    let Some(start) = windows::reserve(size) else { return FAILED };
    if access.is_some() && windows::set_access(start..start + size as u64, access, true).is_err() {
        windows::release(start..start + size as u64);
        windows::unreserve(start, size);
        return FAILED;
    }
    *ret = start as *mut u8;
    0
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_mmap_remap(addr: *mut u8, size: usize, prot: u32) -> i32 {
    protect(addr, size, prot, true)
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_munmap(ptr: *mut u8, size: usize) -> i32 {
    let start = ptr as u64;
    windows::release(start..start + size as u64);
    windows::unreserve(start, size);
    0
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_mprotect(ptr: *mut u8, size: usize, prot: u32) -> i32 {
    protect(ptr, size, prot, false)
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_page_size() -> usize {
    mm::PAGE as usize
}

/// Copy-on-write memory images are off (`memory_init_cow(false)`): wasmtime is told none can be
/// made, and initializes memories by copying their data segments.
#[unsafe(no_mangle)]
extern "C" fn wasmtime_memory_image_new(_ptr: *const u8, _len: usize, ret: &mut *mut u8) -> i32 {
    *ret = core::ptr::null_mut();
    0
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_memory_image_map_at(_image: *mut u8, _addr: *mut u8, _len: usize) -> i32 {
    FAILED
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_memory_image_free(_image: *mut u8) {}
