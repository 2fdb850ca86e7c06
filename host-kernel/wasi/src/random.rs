//! `wasi:random`: `random` from the platform's secure generator ([`Platform::secure_random`]),
//! `insecure` from [`Platform::insecure_random`], and `insecure-seed` from
//! [`Platform::insecure_seed`].
//!
//! [`Platform::secure_random`]: crate::Platform::secure_random
//! [`Platform::insecure_random`]: crate::Platform::insecure_random
//! [`Platform::insecure_seed`]: crate::Platform::insecure_seed
//!
//! As in wasmtime-wasi, asking for more than [`MAX_RANDOM_BYTES`] at once traps.

use alloc::vec;
use alloc::vec::Vec;
use wasmtime::component::Linker;

use crate::bindings::wasi::random::{insecure, insecure_seed, random};
use crate::ctx::{WasiHost, WasiHostCtxView, WasiHostView};

/// The most bytes one `get-random-bytes` or `get-insecure-random-bytes` call may ask for
/// (wasmtime-wasi's default limit).
pub const MAX_RANDOM_BYTES: u64 = 64 << 20;

/// Adds `wasi:random/random`, `wasi:random/insecure` and `wasi:random/insecure-seed` to `linker`.
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    random::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    insecure::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    insecure_seed::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    Ok(())
}

fn check_len(len: u64) -> wasmtime::Result<usize> {
    if len > MAX_RANDOM_BYTES {
        wasmtime::bail!("requested len {len} exceeds limit {MAX_RANDOM_BYTES}");
    }
    // In range: MAX_RANDOM_BYTES fits every usize we build for (32 and 64 bits).
    Ok(usize::try_from(len)?)
}

impl random::Host for WasiHostCtxView<'_> {
    fn get_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        let mut bytes = vec![0; check_len(len)?];
        self.ctx.platform().secure_random(&mut bytes);
        Ok(bytes)
    }

    fn get_random_u64(&mut self) -> wasmtime::Result<u64> {
        let mut bytes = [0; 8];
        self.ctx.platform().secure_random(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }
}

impl insecure::Host for WasiHostCtxView<'_> {
    fn get_insecure_random_bytes(&mut self, len: u64) -> wasmtime::Result<Vec<u8>> {
        let len = check_len(len)?;
        let platform = self.ctx.platform();
        let mut bytes = Vec::with_capacity(len);
        while bytes.len() < len {
            let word = platform.insecure_random().to_le_bytes();
            let take = word.len().min(len - bytes.len());
            bytes.extend_from_slice(&word[..take]);
        }
        Ok(bytes)
    }

    fn get_insecure_random_u64(&mut self) -> wasmtime::Result<u64> {
        Ok(self.ctx.platform().insecure_random())
    }
}

impl insecure_seed::Host for WasiHostCtxView<'_> {
    fn insecure_seed(&mut self) -> wasmtime::Result<(u64, u64)> {
        Ok(self.ctx.platform().insecure_seed())
    }
}
