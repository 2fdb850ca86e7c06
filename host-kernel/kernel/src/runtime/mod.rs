//! wasmtime in the kernel: the platform symbols it links against, its code memory (published
//! read + execute through `mm`), its fiber stacks (with guard pages), CPU feature detection,
//! loading the precompiled component in place, and the epoch that timeouts count.

mod stacks;
mod traps;
mod virtual_memory;

pub use traps::offer as offer_trap;

use alloc::alloc::{Layout, alloc};
use alloc::sync::Arc;
use core::ptr::NonNull;

use spin::Once;
use wasmtime::component::Component;
use wasmtime::{Config, Engine};

static ENGINE: Once<Engine> = Once::new();

// The two symbols wasmtime's custom platform needs with `runtime` + `component-model` +
// `async`: one thread-local slot per... thread, and there is one.
static mut TLS: [*mut u8; 2] = [core::ptr::null_mut(); 2];

#[unsafe(no_mangle)]
extern "C" fn wasmtime_tls_get(slot: usize) -> *mut u8 {
    // SAFETY: one CPU, and interrupt handlers never run wasm, so accesses never overlap.
    unsafe { (*(&raw const TLS))[slot] }
}

#[unsafe(no_mangle)]
extern "C" fn wasmtime_tls_set(slot: usize, value: *mut u8) {
    // SAFETY: as for `wasmtime_tls_get`.
    unsafe { (*(&raw mut TLS))[slot] = value }
}

/// Component code is published by remapping its pages read + execute (from read-only, in the
/// payload, or read + write, in the heap); nothing is writable and executable at once.
struct ProtectedCode;

/// The page size code is published in.
const CODE_ALIGN: usize = 4096;

impl wasmtime::CustomCodeMemory for ProtectedCode {
    fn required_alignment(&self) -> usize {
        CODE_ALIGN
    }
    fn publish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        crate::mm::publish_code(ptr as u64..ptr as u64 + len as u64);
        Ok(())
    }
    fn unpublish_executable(&self, ptr: *const u8, len: usize) -> wasmtime::Result<()> {
        crate::mm::unpublish_code(ptr as u64..ptr as u64 + len as u64);
        Ok(())
    }
}

/// CPUID answers for the features precompiled code may use (`morgana_image::X86_64_FEATURES`).
fn detect_host_feature(feature: &str) -> Option<bool> {
    let cpuid = raw_cpuid::CpuId::new();
    let basic = cpuid.get_feature_info()?;
    let extended = cpuid.get_extended_feature_info();
    match feature {
        "sse3" => Some(basic.has_sse3()),
        "ssse3" => Some(basic.has_ssse3()),
        "sse4.1" => Some(basic.has_sse41()),
        "sse4.2" => Some(basic.has_sse42()),
        "popcnt" => Some(basic.has_popcnt()),
        "fma" => Some(basic.has_fma()),
        "bmi1" => Some(extended.as_ref().is_some_and(|e| e.has_bmi1())),
        "bmi2" => Some(extended.as_ref().is_some_and(|e| e.has_bmi2())),
        "lzcnt" => Some(cpuid.get_extended_processor_and_feature_identifiers().is_some_and(|e| e.has_lzcnt())),
        // AVX needs XCR0 set up, which this kernel does not do.
        "avx" | "avx2" | "avx512f" | "avx512vl" | "avx512dq" | "avx512bw" | "avx512bitalg" | "avx512vbmi" => {
            Some(false)
        }
        _ => None,
    }
}

/// The engine, configured exactly as the AOT compiler's (plus what only a runtime needs).
pub fn engine() -> wasmtime::Result<&'static Engine> {
    if let Some(engine) = ENGINE.get() {
        return Ok(engine);
    }
    let mut config = Config::new();
    morgana_image::engine_settings(&mut config);
    config.with_custom_code_memory(Some(Arc::new(ProtectedCode)));
    config.with_host_stack(Arc::new(stacks::GuardedStacks));
    // SAFETY: x86_64-unknown-none is a soft-float target, but the boot code enabled SSE and
    // the kernel's own code never touches XMM registers, so Cranelift's float ABI is sound.
    unsafe {
        config.x86_float_abi_ok(true);
    }
    // SAFETY: `detect_host_feature` answers from CPUID, so the features it reports exist.
    unsafe {
        config.detect_host_feature(detect_host_feature);
    }
    let engine = Engine::new(&config)?;
    Ok(ENGINE.call_once(|| engine))
}

/// Loads a component precompiled by `morgana build` (checked for wasmtime version, target,
/// settings and CPU features by wasmtime itself). In place when the image placed it on a page
/// boundary (as `morgana build` does): its code is then published where the loader put it,
/// without a copy. Otherwise it is copied to pages of its own first.
pub fn load_component(engine: &Engine, precompiled: &'static [u8]) -> wasmtime::Result<Component> {
    let memory = if precompiled.as_ptr() as usize % CODE_ALIGN == 0 {
        NonNull::from(precompiled)
    } else {
        NonNull::from(copy_to_own_pages(precompiled))
    };
    // SAFETY: the bytes come from the image payload, whose checksum was verified; they are
    // the output of `Engine::precompile_component` by the same wasmtime version with the same
    // settings (wasmtime checks both and refuses otherwise). They live as long as the kernel
    // (the payload is never unmapped; a copy is never freed) and nothing writes to them: the
    // payload is mapped read-only, and a copy's pages belong to it alone.
    unsafe { Component::deserialize_raw(engine, memory) }
}

/// A copy of `bytes` on pages of its own, never freed: publishing its code then makes no other
/// allocation's memory executable or read-only.
fn copy_to_own_pages(bytes: &[u8]) -> &'static [u8] {
    let layout = Layout::from_size_align(bytes.len().next_multiple_of(CODE_ALIGN).max(CODE_ALIGN), CODE_ALIGN)
        .expect("a valid layout for the component");
    // SAFETY: the layout's size is non-zero.
    let copy = unsafe { alloc(layout) };
    assert!(!copy.is_null(), "the kernel heap has no room for a copy of the component");
    // SAFETY: `copy` is a fresh allocation of at least `bytes.len()` bytes, disjoint from `bytes`;
    // it is leaked, so the slice made of it lives for the kernel's lifetime.
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), copy, bytes.len());
        core::slice::from_raw_parts(copy, bytes.len())
    }
}

/// Advances the epoch (from the timer interrupt).
pub fn tick_epoch() {
    if let Some(engine) = ENGINE.get() {
        engine.increment_epoch();
    }
}
