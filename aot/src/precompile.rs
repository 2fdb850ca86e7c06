//! Cranelift precompilation of a composed component for the kernel.

use wasmtime::{Config, Engine};

use crate::AotError;

/// The engine that compiles for the kernel: its target, the shared settings, and the CPU
/// features the kernel requires of the machine it boots on.
#[allow(unsafe_code)] // the one exception to this crate's `deny(unsafe_code)`; see below
pub fn kernel_engine() -> Result<Engine, AotError> {
    let mut config = Config::new();
    config.target(morgana_image::KERNEL_TARGET).map_err(|e| AotError::Precompile(format!("{e:#}")))?;
    morgana_image::engine_settings(&mut config);
    for (flag, _) in morgana_image::X86_64_FEATURES {
        // SAFETY: the flag lets Cranelift use instructions the build host never executes
        // (the code is for the kernel). Running them on a CPU without the feature would
        // fault; the kernel prevents that by checking each feature with CPUID before it
        // deserializes the code (wasmtime refuses the code otherwise).
        unsafe {
            config.cranelift_flag_enable(flag);
        }
    }
    Engine::new(&config).map_err(|e| AotError::Precompile(format!("{e:#}")))
}

/// Compiles `component` into the serialized form the kernel deserializes.
pub fn precompile(component: &[u8]) -> Result<Vec<u8>, AotError> {
    let engine = kernel_engine()?;
    engine.precompile_component(component).map_err(|e| AotError::Precompile(format!("{e:#}")))
}
