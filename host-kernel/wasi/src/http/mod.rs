//! `wasi:http` (feature `http`): the host side of `wasi:http/types` 0.2, and a server that
//! calls a component's `wasi:http/incoming-handler` for each HTTP/1.1 request ([`listen`], then
//! [`serve`]), as
//! `wasmtime serve` does, over the embedder's [`Network`](crate::network::Network).
//!
//! The behaviour pinned is wasmtime-wasi-http 48's: the same field rules ([`fields`]), the same
//! once-only `consume`/`body`/`stream`/`write`, the same refusals of bad methods, schemes,
//! paths and authorities, the same `Content-Length` checks of an outgoing body, and `wasmtime
//! serve`'s 500 page for a handler that fails before it answers. The connection itself is
//! `morgana-http`'s (the core the http-server component uses): its limits, timeouts and error
//! statuses for malformed requests.
//!
//! Bodies stream both ways in bounded memory: a request body is read from the connection as
//! the guest reads its stream; a response body goes into the connection as the guest writes,
//! `Content-Length`-framed when the handler declared a length, chunked otherwise (or read until
//! close, for an HTTP/1.0 client). A chunked body's trailer fields come through
//! `future-trailers`, and those given to `outgoing-body.finish` go after a chunked body (a body
//! of declared length has no place for them).
//!
//! `wasi:http/outgoing-handler` ([`outgoing`]) sends the guest's requests over the same network,
//! one connection each, with `morgana-http`'s client side; plain HTTP only for now.

pub mod bindings;
mod body;
mod exchange;
pub mod fields;
pub mod outgoing;
mod server;
mod types;

pub use body::{FutureTrailers, IncomingBody, OutgoingBody};
pub use fields::Fields;
pub use outgoing::FutureIncomingResponse;
pub use server::{Handler, Listener, ServeOptions, listen, serve};
pub use types::{
    IncomingRequest, IncomingResponse, OutgoingRequest, OutgoingResponse, RequestOptions, ResponseOutparam,
};

use wasmtime::component::Linker;

use crate::ctx::{WasiHost, WasiHostView};

/// Adds `wasi:http/types` and `wasi:http/outgoing-handler` to `linker` (the rest of what a proxy imports — `wasi:io`,
/// `wasi:clocks`, `wasi:random`, `wasi:cli`'s standard streams — comes from
/// [`add_to_linker_async`](crate::add_to_linker_async)).
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    bindings::wasi::http::types::add_to_linker::<T, WasiHost>(linker, &Default::default(), T::wasi)?;
    bindings::wasi::http::outgoing_handler::add_to_linker::<T, WasiHost>(linker, T::wasi)
}
