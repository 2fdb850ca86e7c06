//! Morgana's second pipeline stage: a composed component in, a bootable image out.
//!
//! This crate will precompile the composed component with Cranelift for a hypervisor target,
//! with the one wasmtime `Config` the kernel also uses, and link it with the kernel into a PVH
//! ELF image. It is empty until the kernel exists: the only target today is `unix`, which
//! needs no image because it runs the composed component under wasmtime directly.

#![forbid(unsafe_code)]

/// The targets whose images this crate can link. None yet; `qemu` comes with the kernel.
pub const IMAGE_TARGETS: &[&str] = &[];
