//! A `no_std` WASI 0.2 host for wasmtime, so that Morgana's kernel can run a component built for
//! `wasm32-wasip2` (a plain Rust std program, say) unchanged.
//!
//! It promises the behaviour of wasmtime-wasi 48 on Linux for a command whose standard streams
//! are pipes (the platform's: input read as the guest asks, output that may push back or
//! close), whose preopened directories are the embedder's in-memory trees, and that has either
//! no network or the one the embedder gives it, over these interfaces, each a module with its own `add_to_linker` and a cargo
//! feature of the same name (all on by default):
//!
//! - [`cli`]: `environment`, `exit`, `stdin`, `stdout`, `stderr`, `terminal-*`.
//! - [`clocks`]: `monotonic-clock`, `wall-clock`.
//! - [`random`]: `random`, `insecure`, `insecure-seed`.
//! - [`filesystem`]: `types`, `preopens`, over in-memory directories the embedder preopens
//!   ([`WasiCtx::with_preopen`]), read-only or writable within a size.
//! - [`sockets`]: `network`, `instance-network`, `ip-name-lookup` (feature `sockets`), `tcp` and
//!   `tcp-create-socket` (`sockets-tcp`), `udp` and `udp-create-socket` (`sockets-udp`), over
//!   the [`Network`](network::Network) given with [`WasiCtx::with_network`]; without one no
//!   socket can be created, as under wasmtime-wasi without network access.
//! - [`http`]: `wasi:http/types`, and [`http::serve`], which calls a component's
//!   `wasi:http/incoming-handler` for each request to an HTTP/1.1 server on the network
//!   (feature `http`; linked by [`http::add_to_linker`], not by [`add_to_linker_async`]).
//! - [`io`] (always): `error`, `poll`, `streams`, which are wasmtime-wasi-io's.
//!
//! Layers, bottom up: [`Platform`] is everything machine-specific (clocks, random, console,
//! waiting) and [`Network`](network::Network) a TCP/IP stack; [`WasiCtx`] holds one instance's
//! arguments, environment, platform and network, and the embedder's store data exposes it with
//! a [`ResourceTable`](wasmtime::component::ResourceTable) through [`WasiHostView`]; the
//! interface modules implement the [`bindings`] over that; and [`block_on`] drives
//! `instantiate_async` and `call_async` on one vCPU, idling the platform whenever the guest
//! waits. Socket pollables poll the network and tell the platform when it next needs polling
//! ([`Platform::wake_at`]), so they mix with clock pollables in one `poll`; the embedder's
//! [`Platform::idle`] must return on a network interrupt (see [`network`]).
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use morgana_wasi::{Platform, WasiCtx, WasiHostCtxView, WasiHostView, ExitStatus, block_on};
//! # use morgana_wasi::bindings::Command;
//! # use wasmtime::component::{Component, Linker, ResourceTable};
//! # use wasmtime::{Engine, Store};
//! # struct Host { wasi: WasiCtx, table: ResourceTable }
//! # impl WasiHostView for Host {
//! #     fn wasi(&mut self) -> WasiHostCtxView<'_> {
//! #         WasiHostCtxView { ctx: &mut self.wasi, table: &mut self.table }
//! #     }
//! # }
//! # fn run(engine: &Engine, component: &Component, platform: Arc<dyn Platform>) -> wasmtime::Result<i32> {
//! let mut linker = Linker::<Host>::new(engine);
//! morgana_wasi::add_to_linker_async(&mut linker)?;
//! let wasi = WasiCtx::new(platform.clone(), vec!["app".into()], vec![]);
//! let mut store = Store::new(engine, Host { wasi, table: ResourceTable::new() });
//! let result = block_on(&*platform, async {
//!     let command = Command::instantiate_async(&mut store, component, &linker).await?;
//!     command.wasi_cli_run().call_run(&mut store).await
//! });
//! Ok(match result {
//!     Ok(Ok(())) => 0,
//!     Ok(Err(())) => 1,
//!     Err(e) => match e.downcast_ref::<ExitStatus>() {
//!         Some(ExitStatus(status)) => *status,
//!         None => return Err(e), // a trap
//!     },
//! })
//! # }
//! ```
//!
//! It never does I/O of its own, never blocks except in [`Platform::idle`], never uses `std`,
//! never depends on a particular network stack, and never panics on what a guest passes it: a
//! guest's misuse is a WIT error code or a trap, and a trap is reserved for host bugs and for
//! limits wasmtime-wasi also traps on.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod bindings;
mod ctx;
mod error;
mod executor;
pub mod io;
#[cfg(feature = "sockets")]
pub mod network;
pub mod platform;
pub mod sockets;

#[cfg(feature = "cli")]
pub mod cli;
#[cfg(feature = "clocks")]
pub mod clocks;
#[cfg(feature = "filesystem")]
pub mod filesystem;
#[cfg(feature = "http")]
pub mod http;
/// Without feature `filesystem` no descriptor can exist: the resource types are empty.
#[cfg(not(feature = "filesystem"))]
pub mod filesystem {
    pub enum Descriptor {}
    pub enum DirectoryEntryStream {}
}
#[cfg(feature = "random")]
pub mod random;

pub use ctx::{WasiCtx, WasiHostCtxView, WasiHostView};
pub use error::{ExitStatus, FsError, SocketError, StreamFailure};
pub use executor::block_on;
pub use platform::{ConsoleClosed, ConsoleStream, Platform, StdinRead, WallTime};

use wasmtime::component::Linker;

/// Adds every interface this build provides to `linker`: `wasi:io`, and each of `wasi:cli`,
/// `wasi:clocks`, `wasi:random`, `wasi:filesystem` and `wasi:sockets` whose feature is on. Their host functions
/// are async where they may wait, so the store must be driven with the `*_async` calls (under
/// [`block_on`]).
pub fn add_to_linker_async<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    io::add_to_linker(linker)?;
    #[cfg(feature = "cli")]
    cli::add_to_linker(linker)?;
    #[cfg(feature = "clocks")]
    clocks::add_to_linker(linker)?;
    #[cfg(feature = "random")]
    random::add_to_linker(linker)?;
    #[cfg(feature = "filesystem")]
    filesystem::add_to_linker(linker)?;
    #[cfg(feature = "sockets")]
    sockets::add_to_linker(linker)?;
    Ok(())
}
