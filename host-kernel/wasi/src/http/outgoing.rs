//! `wasi:http/outgoing-handler`: the guest's requests to other servers, over the embedder's
//! network, framed and parsed by `morgana-http`'s client side. One connection per request, as
//! wasmtime-wasi-http's default sender opens.
//!
//! What is pinned to wasmtime-wasi-http 48: the checks `handle` makes before anything goes out
//! (`HTTP-request-body-size` for a declared length without a body, `HTTP-request-method-invalid`,
//! `HTTP-request-URI-invalid` without an authority or with a bad port, `HTTP-protocol-error` for
//! a scheme other than http and https), `Host` from the authority, port 80 by default, every
//! connection failure reported as `connection-refused` and a failed name lookup as a
//! `DNS-error` whose rcode is "address not available", the timeouts of `request-options`
//! (600 s each by default: `connection-timeout`; `connection-read-timeout` until the response
//! head, and between two pieces of its body), and the response's host-owned fields left out. HTTPS is not provided yet: a request
//! for it fails with `internal-error`.

use alloc::boxed::Box; // async_trait's expansion names `Box`
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::future::poll_fn;
use core::net::{IpAddr, SocketAddr};
use core::task::Poll;

use morgana_http::{BodyRead, ClientExchange, Limits, RequestBody, ResponseHead};
use wasmtime::component::Resource;
use wasmtime_wasi_io::poll::Pollable;

use super::bindings::wasi::http::outgoing_handler;
use super::bindings::wasi::http::types::{DnsErrorPayload, ErrorCode, Method, Scheme};
use super::body::IncomingBody;
use super::exchange::{BodySink, BodySource};
use super::fields::Fields;
use super::types::{IncomingResponse, OutgoingRequest, RequestOptions};
use crate::ctx::WasiHostCtxView;
use crate::network::{IpAddressFamily, Network, SocketId, TransferError};
use crate::platform::Platform;

/// wasmtime-wasi-http's default for each of `request-options`' timeouts.
const DEFAULT_TIMEOUT_NS: u64 = 600_000_000_000;

/// The most bytes taken from the socket at once.
const RECEIVE_CHUNK: usize = 16 * 1024;

/// One forwarded request: its connection, from name lookup to the response's end.
pub(crate) struct Outgoing {
    network: Arc<dyn Network>,
    platform: Arc<dyn Platform>,
    stage: Stage,
    conn: ClientExchange,
    socket: Option<SocketId>,
    /// When connecting must be over, and (once connected) when the response head must have come.
    connect_deadline: u64,
    first_byte_timeout: u64,
    first_byte_deadline: Option<u64>,
    /// The longest wait for the response body's next bytes, and when the last ones came.
    between_bytes_timeout: u64,
    last_byte_at: u64,
    /// The response head, or why there is none; taken by `future-incoming-response.get`.
    head: Option<Result<ResponseHead, ErrorCode>>,
    head_arrived: bool,
}

enum Stage {
    Resolving {
        lookup: SocketId,
        port: u16,
    },
    Connecting,
    Open,
    /// Nothing more goes in or out.
    Failed,
}

impl Outgoing {
    /// Starts connecting to `host` (a name or an address) on `port`.
    fn start(
        network: Arc<dyn Network>,
        platform: Arc<dyn Platform>,
        host: &str,
        port: u16,
        conn: ClientExchange,
        options: &RequestOptions,
    ) -> Self {
        let now = platform.monotonic_now();
        let mut outgoing = Outgoing {
            stage: Stage::Failed,
            conn,
            socket: None,
            connect_deadline: now.saturating_add(options.connect_timeout.unwrap_or(DEFAULT_TIMEOUT_NS)),
            first_byte_timeout: options.first_byte_timeout.unwrap_or(DEFAULT_TIMEOUT_NS),
            first_byte_deadline: None,
            between_bytes_timeout: options.between_bytes_timeout.unwrap_or(DEFAULT_TIMEOUT_NS),
            last_byte_at: now,
            head: None,
            head_arrived: false,
            network,
            platform,
        };
        let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        match literal.parse::<IpAddr>() {
            Ok(ip) => outgoing.connect(SocketAddr::new(ip, port)),
            Err(_) => match outgoing.network.resolve(host) {
                Ok(lookup) => outgoing.stage = Stage::Resolving { lookup, port },
                Err(_) => outgoing.fail(dns_error()),
            },
        }
        outgoing
    }

    fn connect(&mut self, address: SocketAddr) {
        let family = if address.is_ipv4() { IpAddressFamily::Ipv4 } else { IpAddressFamily::Ipv6 };
        let socket = match self.network.tcp_open(family) {
            Ok(socket) => socket,
            Err(_) => return self.fail(ErrorCode::ConnectionRefused),
        };
        self.socket = Some(socket);
        match self.network.tcp_connect(socket, address) {
            Ok(()) => self.stage = Stage::Connecting,
            Err(_) => self.fail(ErrorCode::ConnectionRefused),
        }
    }

    /// No response: `code` is what the guest learns.
    fn fail(&mut self, code: ErrorCode) {
        if let Stage::Resolving { lookup, .. } = self.stage {
            self.network.resolve_cancel(lookup);
        }
        self.stage = Stage::Failed;
        if !self.head_arrived && self.head.is_none() {
            self.head = Some(Err(code));
        }
    }

    /// Moves the connection on as far as it goes now.
    fn advance(&mut self) {
        let now = self.platform.monotonic_now();
        match self.stage {
            Stage::Resolving { lookup, port } => match self.network.resolve_result(lookup) {
                None if now >= self.connect_deadline => self.fail(ErrorCode::ConnectionTimeout),
                None => {}
                Some(Ok(addresses)) => {
                    // The lookup is over: its id is free.
                    self.stage = Stage::Failed;
                    match addresses.iter().find(|a| a.is_ipv4()).or(addresses.first()) {
                        Some(ip) => self.connect(SocketAddr::new(*ip, port)),
                        None => self.fail(dns_error()),
                    }
                }
                Some(Err(_)) => {
                    self.stage = Stage::Failed;
                    self.fail(dns_error());
                }
            },
            Stage::Connecting => match self.socket.and_then(|s| self.network.tcp_connect_result(s)) {
                None if now >= self.connect_deadline => self.fail(ErrorCode::ConnectionTimeout),
                None => {}
                Some(Ok(())) => {
                    self.stage = Stage::Open;
                    self.first_byte_deadline = Some(now.saturating_add(self.first_byte_timeout));
                }
                Some(Err(_)) => self.fail(ErrorCode::ConnectionRefused),
            },
            Stage::Open => self.pump(now),
            Stage::Failed => {}
        }
    }

    /// Moves bytes both ways and reads the response head once it is there.
    fn pump(&mut self, now: u64) {
        let Some(socket) = self.socket else { return };
        while self.conn.has_output() {
            match self.network.tcp_send(socket, self.conn.pending_output()) {
                Ok(0) => break,
                Ok(n) => self.conn.consume_output(n),
                Err(_) => return self.fail(ErrorCode::HttpProtocolError),
            }
        }
        while self.conn.wants_input() {
            match self.network.tcp_recv(socket, RECEIVE_CHUNK) {
                Ok(bytes) if bytes.is_empty() => break,
                Ok(bytes) => {
                    self.conn.receive(&bytes);
                    self.last_byte_at = now;
                }
                Err(TransferError::Closed) => {
                    self.conn.receive_eof();
                    break;
                }
                Err(TransferError::Failed(_)) => return self.fail(ErrorCode::HttpProtocolError),
            }
        }
        let body_pending = self.head_arrived && !self.conn.response_complete();
        if body_pending && now.saturating_sub(self.last_byte_at) >= self.between_bytes_timeout {
            // The body stalled: it fails (`connection-read-timeout` under wasmtime-wasi-http).
            return self.fail(ErrorCode::ConnectionReadTimeout);
        }
        if self.head_arrived || self.head.is_some() {
            return;
        }
        match self.conn.poll_response_head() {
            Ok(Some(head)) => {
                self.head_arrived = true;
                self.head = Some(Ok(head));
            }
            Ok(None) if self.first_byte_deadline.is_some_and(|at| now >= at) => {
                self.fail(ErrorCode::ConnectionReadTimeout)
            }
            Ok(None) => {}
            Err(_) => self.fail(ErrorCode::HttpProtocolError),
        }
    }

    /// Advances and tells whether `ready` holds; if not, asks the platform to wake up when the
    /// network or a deadline next needs attention.
    fn poll_ready(&mut self, ready: impl FnOnce(&Outgoing) -> bool) -> Poll<()> {
        self.network.poll(self.platform.monotonic_now());
        self.advance();
        if ready(self) {
            return Poll::Ready(());
        }
        if let Some(next) = self.network.poll(self.platform.monotonic_now()) {
            self.platform.wake_at(next);
        }
        match self.stage {
            Stage::Resolving { .. } | Stage::Connecting => self.platform.wake_at(self.connect_deadline),
            Stage::Open if !self.head_arrived => {
                if let Some(at) = self.first_byte_deadline {
                    self.platform.wake_at(at);
                }
            }
            Stage::Open if !self.conn.response_complete() => {
                self.platform.wake_at(self.last_byte_at.saturating_add(self.between_bytes_timeout))
            }
            Stage::Open => {}
            Stage::Failed => {}
        }
        Poll::Pending
    }

    fn is_failed(&self) -> bool {
        matches!(self.stage, Stage::Failed)
    }
}

impl Drop for Outgoing {
    fn drop(&mut self) {
        if let Stage::Resolving { lookup, .. } = self.stage {
            self.network.resolve_cancel(lookup);
        }
        if let Some(socket) = self.socket {
            self.network.tcp_close(socket);
        }
    }
}

fn dns_error() -> ErrorCode {
    ErrorCode::DnsError(DnsErrorPayload { rcode: Some("address not available".to_string()), info_code: None })
}

impl BodySink for spin::Mutex<Outgoing> {
    fn take(&self, data: &[u8]) -> usize {
        let mut outgoing = self.lock();
        outgoing.advance();
        if !matches!(outgoing.stage, Stage::Open) {
            return 0;
        }
        let mut taken = outgoing.conn.send_body(data);
        if taken == 0 {
            let now = outgoing.platform.monotonic_now();
            outgoing.pump(now);
            taken = outgoing.conn.send_body(data);
        }
        taken
    }

    fn complete(&self, trailers: &[(String, Vec<u8>)]) {
        let mut outgoing = self.lock();
        // A declared length that was not met was refused by `outgoing-body.finish` already.
        let _ = outgoing.conn.finish_body_with_trailers(trailers);
        outgoing.advance();
    }

    fn abort(&self) {
        self.lock().fail(ErrorCode::HttpRequestBodySize(None));
    }

    fn is_broken(&self) -> bool {
        self.lock().is_failed()
    }

    fn poll_progress(&self) -> Poll<()> {
        self.lock().poll_ready(Outgoing::is_failed)
    }
}

/// A forwarded request: its connection, and its body, which the guest may have finished
/// before the connection could take all of it (the rest goes whenever the guest waits on the
/// response).
pub(crate) struct Forwarded {
    outgoing: Arc<spin::Mutex<Outgoing>>,
    request_body: Option<super::exchange::SharedBody>,
}

impl Forwarded {
    /// Hands what is left of the request body to the connection. (The body's lock is taken
    /// before the connection's, as everywhere.)
    fn flush_request(&self) {
        if let Some(body) = &self.request_body {
            body.lock().flush();
        }
    }
}

impl BodySource for Forwarded {
    fn read(&self, max: usize) -> BodyRead {
        self.flush_request();
        let mut outgoing = self.outgoing.lock();
        outgoing.advance();
        match outgoing.conn.read_body(max) {
            BodyRead::Pending if outgoing.is_failed() => BodyRead::Failed,
            read => read,
        }
    }

    fn poll_progress(&self) -> Poll<()> {
        self.flush_request();
        self.outgoing.lock().poll_ready(Outgoing::is_failed)
    }

    fn trailers(&self) -> Vec<(String, Vec<u8>)> {
        self.outgoing.lock().conn.take_trailers()
    }
}

/// `future-incoming-response`: the response to a request `handle` sent, once its head is in.
pub struct FutureIncomingResponse {
    forwarded: Arc<Forwarded>,
    consumed: bool,
}

impl FutureIncomingResponse {
    /// `get`: `None` until the response head (or the failure) is known; then, once, the
    /// response; then `Some(Err(()))`.
    pub(crate) fn take(&mut self) -> Option<Result<Result<IncomingResponse, ErrorCode>, ()>> {
        if self.consumed {
            return Some(Err(()));
        }
        self.forwarded.flush_request();
        let mut outgoing = self.forwarded.outgoing.lock();
        outgoing.advance();
        let head = outgoing.head.take()?;
        drop(outgoing);
        self.consumed = true;
        Some(Ok(head.map(|head| IncomingResponse {
            status: head.status,
            headers: Fields::received(head.headers),
            body: Some(IncomingBody::new(self.forwarded.clone())),
        })))
    }
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for FutureIncomingResponse {
    async fn ready(&mut self) {
        if self.consumed {
            return;
        }
        let forwarded = self.forwarded.clone();
        poll_fn(|_| {
            forwarded.flush_request();
            forwarded.outgoing.lock().poll_ready(|o| o.head.is_some())
        })
        .await
    }
}

impl outgoing_handler::Host for WasiHostCtxView<'_> {
    fn handle(
        &mut self,
        request: Resource<OutgoingRequest>,
        options: Option<Resource<RequestOptions>>,
    ) -> wasmtime::Result<Result<Resource<FutureIncomingResponse>, ErrorCode>> {
        let request = self.table.delete(request)?;
        let options = match options {
            Some(options) => self.table.delete(options)?,
            None => RequestOptions::default(),
        };
        let prepared = match prepare(request) {
            Ok(prepared) => prepared,
            Err(code) => return Ok(Err(code)),
        };
        let Some(network) = self.ctx.network().cloned() else { return Ok(Err(ErrorCode::HttpRequestDenied)) };
        let platform = self.ctx.platform().clone();
        let Prepared { host, port, exchange, body } = prepared;
        let outgoing = Outgoing::start(network, platform, &host, port, exchange, &options);
        let outgoing = Arc::new(spin::Mutex::new(outgoing));
        if let Some(body) = &body {
            let mut body = body.lock();
            body.sink = Some(outgoing.clone());
            body.flush();
        }
        let forwarded = Arc::new(Forwarded { outgoing, request_body: body });
        Ok(Ok(self.table.push(FutureIncomingResponse { forwarded, consumed: false })?))
    }
}

/// A request checked and framed, ready to go.
struct Prepared {
    host: String,
    port: u16,
    exchange: ClientExchange,
    body: Option<super::exchange::SharedBody>,
}

/// Checks `request` as wasmtime-wasi-http's `handle` does and frames its head.
fn prepare(request: OutgoingRequest) -> Result<Prepared, ErrorCode> {
    let OutgoingRequest { method, path_with_query, scheme, authority, headers, body } = request;
    let declared =
        headers.content_length().map_err(|_| ErrorCode::InternalError(Some("invalid content-length".into())))?;
    if body.is_none() && declared.is_some_and(|n| n != 0) {
        return Err(ErrorCode::HttpRequestBodySize(Some(0)));
    }
    let method = match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(name) => name,
    };
    match scheme {
        None | Some(Scheme::Http) => {}
        Some(Scheme::Https) => {
            return Err(ErrorCode::InternalError(Some("HTTPS requests are not provided by this host yet".into())));
        }
        Some(Scheme::Other(_)) => return Err(ErrorCode::HttpProtocolError),
    }
    let authority = authority.filter(|a| !a.is_empty()).ok_or(ErrorCode::HttpRequestUriInvalid)?;
    let (host, port) = split_authority(&authority).ok_or(ErrorCode::HttpRequestUriInvalid)?;
    let target = match path_with_query {
        Some(path) if path.starts_with('/') => path,
        Some(query) if query.starts_with('?') => alloc::format!("/{query}"),
        _ => String::from("/"),
    };
    let mut fields: Vec<(String, Vec<u8>)> = Vec::with_capacity(8);
    fields.push((String::from("host"), authority.clone().into_bytes()));
    fields.extend(headers.entries().map(|(n, v)| (n.to_string(), v.to_vec())));
    if !ClientExchange::is_sendable(&method, &target, &fields) {
        return Err(ErrorCode::HttpRequestMethodInvalid);
    }
    let framing = match &body {
        None => RequestBody::None,
        Some(body) => match body.lock().declared {
            Some(n) => RequestBody::Length(n),
            None => RequestBody::Chunked,
        },
    };
    let exchange = ClientExchange::new(Limits::default(), &method, &target, &fields, framing);
    Ok(Prepared { host: String::from(host), port, exchange, body })
}

/// `host[:port]` (an IPv6 host in brackets), port 80 when none is given.
fn split_authority(authority: &str) -> Option<(&str, u16)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, rest)| rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.starts_with('[') || host.ends_with(']') => (host, Some(port)),
        _ => (authority, None),
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(port) => port.parse().ok().filter(|p| *p != 0)?,
        None => 80,
    };
    Some((host, port))
}
