//! Morgana's second pipeline stage: a composed component in, a bootable image out.
//!
//! - [`precompile`]: Cranelift compiles the component for the kernel's target with the
//!   settings of [`morgana_image::engine_settings`], the one definition the kernel also uses.
//! - [`kernel`]: builds the kernel (its own cargo workspace, `x86_64-unknown-none`) with only
//!   the host interfaces the component imports, as cargo features.
//! - [`elf`]: links the image — the kernel's PVH ELF plus one loadable segment holding the
//!   [`morgana_image::Payload`] — so `qemu-system-x86_64 -kernel IMAGE` boots it.
//!
//! Reading an image back ([`read_image`]) serves `morgana inspect` and the run command's checks.

#![deny(unsafe_code)] // one audited exception: `precompile::kernel_engine`

pub mod elf;
pub mod kernel;
pub mod precompile;

use std::path::Path;

pub use morgana_image::{BootConfig, Payload};

/// Why an image could not be made or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AotError {
    #[error("precompiling the component failed: {0}")]
    Precompile(String),
    #[error(transparent)]
    Kernel(#[from] kernel::KernelError),
    #[error("{0}")]
    Elf(#[from] elf::ElfError),
    #[error("{0}")]
    Image(morgana_image::ImageError),
    #[error("cannot read {}: {error}", path.display())]
    Read { path: std::path::PathBuf, error: std::io::Error },
}

/// An image as read back from its file.
pub struct ImageFile {
    pub bytes: Vec<u8>,
    /// The kernel's part of the file: everything before the payload.
    pub kernel_size: u64,
    pub payload_range: std::ops::Range<usize>,
}

impl ImageFile {
    pub fn payload(&self) -> Result<Payload<'_>, AotError> {
        Payload::decode(&self.bytes[self.payload_range.clone()]).map_err(AotError::Image)
    }
}

/// Reads an image file and locates its payload.
pub fn read_image(path: &Path) -> Result<ImageFile, AotError> {
    let bytes = std::fs::read(path).map_err(|error| AotError::Read { path: path.to_path_buf(), error })?;
    let payload_range = elf::find_payload(&bytes)?;
    Ok(ImageFile { kernel_size: payload_range.start as u64, bytes, payload_range })
}

/// Whether a file looks like an image (an ELF file) rather than a component or manifest.
pub fn is_image(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x7fELF")
}

/// Links a kernel ELF and a payload into an image.
pub fn link_image(kernel_elf: &[u8], payload: &Payload<'_>) -> Result<Vec<u8>, AotError> {
    Ok(elf::append_payload(kernel_elf, &payload.encode())?)
}
