//! The HTTP/1.1 server that calls a `wasi:http/incoming-handler` for each request, as `wasmtime
//! serve` does: one task per connection, requests of a connection one after another, the
//! handler called through the embedder's [`Handler`] (a fresh instance per request, or not: the
//! embedder decides).
//!
//! What it promises, beside `morgana-http`'s own limits and timeouts (a slow or malformed head
//! is answered 400/408/431 and closed before any handler runs):
//! - A handler that fails (traps, exits, runs out its time, sets an error code, or returns
//!   without setting a response) before its response began is answered with `wasmtime serve`'s
//!   500 page ([`morgana_http::WASMTIME_SERVE_ERROR_PAGE`]); after, the response is cut short.
//!   Either way the reason is reported, and the server goes on serving.
//! - A request without `Host` is refused as wasmtime-wasi-http refuses it (500).
//! - At most [`ServeOptions::max_connections`] connections are served at once (more wait in the
//!   listener's backlog) and at most [`ServeOptions::max_calls`] handlers run at once.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::Poll;

use morgana_http::{Limits, RequestHead, WASMTIME_SERVE_ERROR_PAGE};

use super::bindings::wasi::http::types::Method;
use super::body::IncomingBody;
use super::exchange::{Answer, BodyState, Exchange, SharedExchange};
use super::fields::Fields;
use super::types::{IncomingRequest, ResponseOutparam};
use crate::network::{ErrorCode, IpAddressFamily, Network, SocketId};
use crate::platform::Platform;

/// How to serve.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// Limits and timeouts of each connection (morgana-http's; `max_body_bytes` does not apply,
    /// since bodies stream).
    pub limits: Limits,
    /// How long one handler call may take, in nanoseconds; `None`: no limit, as `wasmtime serve`.
    pub timeout_ns: Option<u64>,
    /// Connections served at once.
    pub max_connections: usize,
    /// Handler calls running at once.
    pub max_calls: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions { limits: Limits::default(), timeout_ns: None, max_connections: 64, max_calls: 16 }
    }
}

/// A call of the guest's handler: the embedder puts `request` and `outparam` into a store's
/// table (fresh or reused), calls `wasi:http/incoming-handler.handle` with them, and resolves
/// when the call returns. Dropping the future abandons the call (its time ran out).
pub trait Handler {
    fn call(
        &self,
        request: IncomingRequest,
        outparam: ResponseOutparam,
    ) -> Pin<Box<dyn Future<Output = wasmtime::Result<()>> + '_>>;

    /// Reports a failure (on standard error, as `wasmtime serve` does).
    fn report(&self, message: &str);
}

/// A socket listening for HTTP connections ([`listen`]), to [`serve`] on.
pub struct Listener {
    socket: SocketId,
    network: Arc<dyn Network>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.network.tcp_close(self.socket);
    }
}

/// Listens on `address` (with a backlog of 128 connections): `address-in-use`,
/// `address-not-bindable`, ... when it cannot.
pub fn listen(network: Arc<dyn Network>, address: SocketAddr) -> Result<Listener, ErrorCode> {
    let family = match address {
        SocketAddr::V4(_) => IpAddressFamily::Ipv4,
        SocketAddr::V6(_) => IpAddressFamily::Ipv6,
    };
    let socket = network.tcp_open(family)?;
    let listener = Listener { socket, network };
    listener.network.tcp_bind(socket, address)?;
    listener.network.tcp_listen(socket, 128)?;
    Ok(listener)
}

/// Serves HTTP on `listener`, forever.
pub async fn serve(
    listener: &Listener,
    platform: Arc<dyn Platform>,
    options: ServeOptions,
    handler: &dyn Handler,
) -> core::convert::Infallible {
    let network = listener.network.clone();
    let listener = listener.socket;
    let calls = Cell::new(0usize);
    let server = Server { network: &network, platform: &platform, options: &options, handler, calls: &calls };
    let mut connections: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
    poll_fn(|cx| {
        loop {
            let mut progress = false;
            while connections.len() < options.max_connections {
                match network.tcp_accept(listener) {
                    Ok(Some(socket)) => {
                        connections.push(Box::pin(server.connection(socket)));
                        progress = true;
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            let before = connections.len();
            connections.retain_mut(|connection| connection.as_mut().poll(cx).is_pending());
            // A connection that ended freed a call slot or room for another: look again.
            progress |= connections.len() < before;
            if !progress {
                break;
            }
        }
        if let Some(next) = network.poll(platform.monotonic_now()) {
            platform.wake_at(next);
        }
        Poll::Pending
    })
    .await
}

struct Server<'a> {
    network: &'a Arc<dyn Network>,
    platform: &'a Arc<dyn Platform>,
    options: &'a ServeOptions,
    handler: &'a dyn Handler,
    /// Handler calls running now.
    calls: &'a Cell<usize>,
}

impl Server<'_> {
    /// Serves one connection's requests until it closes.
    async fn connection(&self, socket: SocketId) {
        let exchange: SharedExchange = Arc::new(spin::Mutex::new(Exchange::new(
            socket,
            self.network.clone(),
            self.platform.clone(),
            self.options.limits.clone(),
        )));
        while let Some(head) = next_head(&exchange).await {
            self.answer(&exchange, head).await;
            if exchange.lock().is_over() {
                break;
            }
        }
        // What is queued goes out, and the client gets to close first (so it sees the whole
        // answer), within the connection's linger time.
        poll_fn(|_| exchange.lock().poll_ready(|exchange| exchange.is_over() || exchange.conn.is_closed())).await;
    }

    /// Calls the handler for one request and sees its answer through.
    async fn answer(&self, exchange: &SharedExchange, head: RequestHead) {
        exchange.lock().answer = Answer::NotYet;
        let Some(authority) = authority(&head) else {
            self.handler.report("error: invalid HTTP request missing authority in URI and host header");
            error_page(exchange);
            return;
        };
        let request = IncomingRequest {
            method: method(&head.method),
            path_with_query: match &head.query {
                Some(query) => format!("{}?{query}", head.path),
                None => head.path.clone(),
            },
            authority,
            headers: Fields::received(head.headers),
            body: Some(IncomingBody::new(exchange.clone())),
        };
        let outparam = ResponseOutparam { exchange: exchange.clone() };

        poll_fn(|_| {
            if self.calls.get() < self.options.max_calls {
                return Poll::Ready(());
            }
            exchange.lock().poll_ready(|_| false)
        })
        .await;
        self.calls.set(self.calls.get() + 1);
        let outcome =
            with_deadline(self.handler.call(request, outparam), &**self.platform, self.options.timeout_ns).await;
        self.calls.set(self.calls.get() - 1);
        let outcome = outcome.unwrap_or_else(|| {
            Err(wasmtime::format_err!(
                "the handler ran longer than its timeout of {} ms",
                self.options.timeout_ns.unwrap_or(0) / 1_000_000
            ))
        });

        let answer = core::mem::replace(&mut exchange.lock().answer, Answer::NotYet);
        match answer {
            Answer::NotYet => {
                let error = match outcome {
                    Ok(()) => wasmtime::format_err!("guest never invoked `response-outparam::set` method"),
                    Err(e) => e.context("guest never invoked `response-outparam::set` method"),
                };
                self.handler.report(&format!("error: {error:?}"));
                error_page(exchange);
            }
            Answer::Refused(code) => {
                self.handler.report(&format!("error: {code:?}"));
                error_page(exchange);
            }
            Answer::Responding(body) => {
                if let Err(error) = outcome {
                    // The client sees the body cut short (the store, and with it the body, is gone).
                    self.handler.report(&format!("error: {error:?}"));
                }
                if let Some(body) = body {
                    // Finished (or dropped) with the store: the rest goes out.
                    poll_fn(|_| {
                        let mut body = body.lock();
                        if body.state == BodyState::Open {
                            body.state = BodyState::Aborted;
                        }
                        body.flush();
                        if body.state == BodyState::Done {
                            // Breaks the body's link to the connection (which links back).
                            body.sink = None;
                            return Poll::Ready(());
                        }
                        drop(body);
                        exchange.lock().poll_ready(|exchange| exchange.broken)
                    })
                    .await;
                }
            }
        }
    }
}

/// The next request head of a connection, or `None` once it is over.
async fn next_head(exchange: &SharedExchange) -> Option<RequestHead> {
    let mut head = None;
    poll_fn(|_| {
        exchange.lock().poll_ready(|exchange| {
            if exchange.is_over() || exchange.conn.wants_close() {
                return true;
            }
            let now = exchange.now();
            head = exchange.conn.poll_head(now);
            // A refused head (400, 408, ...) was answered; the connection is closing.
            head.is_some() || exchange.conn.wants_close()
        })
    })
    .await;
    head
}

/// `wasmtime serve`'s 500 page, as the answer to the current request.
fn error_page(exchange: &SharedExchange) {
    let mut exchange = exchange.lock();
    let now = exchange.now();
    let page = WASMTIME_SERVE_ERROR_PAGE.as_bytes();
    let fields = [(String::from("content-type"), b"text/html; charset=UTF-8".to_vec())];
    if exchange.conn.respond_head(now, 500, &fields, Some(page.len() as u64)).is_ok() {
        exchange.conn.send_body(page);
        let _ = exchange.conn.finish_body(now);
    }
    exchange.pump();
}

/// The request's authority: its `Host` field (an origin-form target carries none).
fn authority(head: &RequestHead) -> Option<String> {
    let (_, host) = head.headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("host"))?;
    core::str::from_utf8(host).ok().map(String::from)
}

fn method(name: &str) -> Method {
    match name {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(String::from(other)),
    }
}

/// `future`'s output, or `None` once `timeout_ns` has passed (the future is then dropped).
async fn with_deadline<F: Future>(future: F, platform: &dyn Platform, timeout_ns: Option<u64>) -> Option<F::Output> {
    let deadline = timeout_ns.map(|t| platform.monotonic_now().saturating_add(t));
    let mut future = core::pin::pin!(future);
    poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        match deadline {
            Some(deadline) if platform.monotonic_now() >= deadline => Poll::Ready(None),
            Some(deadline) => {
                platform.wake_at(deadline);
                Poll::Pending
            }
            None => Poll::Pending,
        }
    })
    .await
}
