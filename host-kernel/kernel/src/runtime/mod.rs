//! wasmtime in the kernel: the platform symbols it links against, its code memory, CPU
//! feature detection, loading the precompiled component, and the epoch that timeouts count.

use alloc::sync::Arc;

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

/// All memory is identity mapped, writable and executable: publishing code is a no-op.
struct IdentityMappedCode;

impl wasmtime::CustomCodeMemory for IdentityMappedCode {
    fn required_alignment(&self) -> usize {
        1
    }
    fn publish_executable(&self, _ptr: *const u8, _len: usize) -> wasmtime::Result<()> {
        Ok(())
    }
    fn unpublish_executable(&self, _ptr: *const u8, _len: usize) -> wasmtime::Result<()> {
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
    config.with_custom_code_memory(Some(Arc::new(IdentityMappedCode)));
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
/// settings and CPU features by wasmtime itself).
pub fn load_component(engine: &Engine, precompiled: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: the bytes come from the image payload, whose checksum was verified; they are
    // the output of `Engine::precompile_component` by the same wasmtime version with the same
    // settings (wasmtime checks both and refuses otherwise).
    unsafe { Component::deserialize(engine, precompiled) }
}

/// Advances the epoch (from the timer interrupt).
pub fn tick_epoch() {
    if let Some(engine) = ENGINE.get() {
        engine.increment_epoch();
    }
}
