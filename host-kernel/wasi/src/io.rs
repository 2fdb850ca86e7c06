//! `wasi:io` (`error`, `poll`, `streams`): wasmtime-wasi-io's host, over the store's
//! [`ResourceTable`](wasmtime::component::ResourceTable). Always present: every other WASI 0.2
//! interface that hands out a stream or a pollable needs it.

use wasmtime::component::Linker;
use wasmtime_wasi_io::bindings::wasi::io::{error, poll, streams};

use crate::ctx::{WasiHostView, WasiIo};

/// Adds `wasi:io/error`, `wasi:io/poll` and `wasi:io/streams` to `linker`.
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    error::add_to_linker::<T, WasiIo>(linker, |t| t.wasi().table)?;
    poll::add_to_linker::<T, WasiIo>(linker, |t| t.wasi().table)?;
    streams::add_to_linker::<T, WasiIo>(linker, |t| t.wasi().table)?;
    Ok(())
}
