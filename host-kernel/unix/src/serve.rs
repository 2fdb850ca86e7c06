//! Serving a component that exports `wasi:http/incoming-handler` (the `wasi:http/proxy` world)
//! over HTTP/1.1, as `wasmtime serve` 48 serves one:
//!
//! - hyper's HTTP/1.1 server with keep-alive, on tokio's multi-threaded runtime, every
//!   connection its own task;
//! - a fresh instance for every request, from one pre-instantiation (so a request costs no
//!   linking), in wasmtime's pooling allocator where the machine can reserve its address space;
//!   or, asked for, an instance reused for up to N requests one after another;
//! - wasmtime-wasi-http's `wasi:http` (incoming and outgoing) beside the whole of WASI 0.2, as
//!   `wasmtime serve -Scli` links them, and `morgana:crypto`;
//! - a request the handler fails (it traps, answers with an error, returns without answering,
//!   or outlives its timeout) answered with `wasmtime serve`'s 500 page, the error on standard
//!   error, and the server going on.
//!
//! Two limits of components/http-server are kept where `wasmtime serve` has none: a request
//! head must arrive within 10 s and have at most 64 fields.
//!
//! It does not prefix the handler's standard output and error with the request's number
//! (`wasmtime serve`'s `stdout [N] ::`): they are inherited as they are.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};
use hyper::server::conn::http1;
use morgana_keys::host::HostKeys;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::{Preopen, RunError, WasiSetup, os_seeded_rng};

/// The interface a component must export to be served.
pub const INCOMING_HANDLER: &str = "wasi:http/incoming-handler";

/// Whether `component` (its bytes) exports [`INCOMING_HANDLER`], at any 0.2 version.
pub fn is_http_handler(exports: impl IntoIterator<Item = impl AsRef<str>>) -> bool {
    exports.into_iter().any(|name| name.as_ref().split('@').next() == Some(INCOMING_HANDLER))
}

/// How to serve a component.
#[derive(Debug)]
pub struct ServeConfig {
    /// Where to listen, as `wasmtime serve --addr` (its default: 0.0.0.0:8080).
    pub listen: SocketAddr,
    /// `argv[0]` as each instance sees it.
    pub program: String,
    /// Environment variables in order; a later value for the same name wins.
    pub env: Vec<(String, String)>,
    /// Directories of this machine each instance finds preopened.
    pub preopens: Vec<Preopen>,
    /// Whether instances may use the host's network through `wasi:sockets` (outgoing HTTP
    /// requests through `wasi:http/outgoing-handler` are always allowed, as under `wasmtime
    /// serve`).
    pub network: bool,
    /// How long one request may take, from its head to its handler's return; a handler that
    /// has not answered by then gets the 500 page. None: no limit, as `wasmtime serve`.
    pub timeout: Option<Duration>,
    /// The private keys `morgana:crypto/signing` signs with.
    pub keys: Vec<morgana_keys::Key>,
    /// Requests one instance serves, one after another, before it is dropped, as `wasmtime
    /// serve --max-instance-reuse-count`: 1 (its default for `wasi:http` 0.2) is a fresh
    /// instance per request. An instance that traps or times out is never reused.
    pub max_instance_reuse: usize,
}

/// `wasmtime serve`'s 500 page (shared with the kernel's server).
pub use morgana_http::WASMTIME_SERVE_ERROR_PAGE as ERROR_PAGE;

/// Time a client has to send a whole request head, as components/http-server's
/// `HTTP_HEAD_TIMEOUT_MS` default; beyond it the connection is closed (a slowloris client holds
/// nothing). `wasmtime serve` sets none.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// Most header fields in a request head, as components/http-server's `HTTP_MAX_HEADERS` default
/// (431 beyond); `wasmtime serve` takes hyper's 100.
const MAX_HEADERS: usize = 64;

/// How often a running handler is checked against its timeout.
const TIMEOUT_TICK: Duration = Duration::from_millis(10);

/// Serves `component` until this process is interrupted (SIGINT), then returns.
pub fn serve(component: &[u8], config: ServeConfig) -> Result<(), RunError> {
    let engine = engine(config.timeout.is_some())?;
    let component = Component::new(&engine, component).map_err(|e| RunError::Compile(format!("{e:#}")))?;
    let exports: Vec<String> = component.component_type().exports(&engine).map(|(name, _)| name.to_string()).collect();
    if !is_http_handler(&exports) {
        return Err(RunError::NotAHandler);
    }
    let mut linker = Linker::<RequestHost>::new(&engine);
    let link_error = |e: wasmtime::Error| RunError::Engine(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link_error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link_error)?;
    morgana_keys::host::add_to_linker(&mut linker, |host| &mut host.keys).map_err(link_error)?;
    let pre = linker.instantiate_pre(&component).map_err(|e| RunError::Link(format!("{e:#}")))?;
    let pre = ProxyPre::new(pre).map_err(|e| RunError::Link(format!("{e:#}")))?;

    let setup = WasiSetup {
        program: config.program.clone(),
        args: Vec::new(),
        env: config.env.clone(),
        stdin: false,
        preopens: config.preopens.clone(),
        network: config.network,
    };
    // Checked once here, so that a directory that cannot be opened stops the server at start
    // rather than failing every request.
    setup.build()?;
    let server = Arc::new(Server {
        engine: engine.clone(),
        pre,
        setup,
        keys: std::sync::Mutex::new(HostKeys::new(config.keys, Box::new(os_seeded_rng()))),
        timeout: config.timeout,
        max_uses: config.max_instance_reuse.max(1),
        idle: std::sync::Mutex::new(Vec::new()),
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| RunError::Engine(format!("cannot start the server's runtime: {e}")))?;
    let _ticker = config.timeout.map(|_| tick(engine));
    runtime.block_on(async move {
        let listener = listen(config.listen)?;
        let local =
            listener.local_addr().map_err(|e| RunError::Listen { addr: config.listen, error: e.to_string() })?;
        eprintln!("Serving HTTP on http://{local}/");
        // One listener for the whole run, so that no SIGINT falls between two accepts.
        let mut interrupted = std::pin::pin!(tokio::signal::ctrl_c());
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    // A failed accept (the process is out of descriptors, say) costs only that
                    // connection.
                    let Ok((client, _)) = accepted else { continue };
                    let _ = client.set_nodelay(true);
                    tokio::spawn(Arc::clone(&server).serve_connection(client));
                }
                _ = &mut interrupted => return Ok(()),
            }
        }
    })
}

/// The engine: the pooling allocator where this machine can reserve its address space (as
/// `wasmtime serve` decides), epochs only to enforce a timeout.
fn engine(timeouts: bool) -> Result<Engine, RunError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable);
    config.epoch_interruption(timeouts);
    if can_reserve_for_pooling() {
        config.allocation_strategy(wasmtime::PoolingAllocationConfig::default());
    }
    if let Ok(cache) = wasmtime::Cache::from_file(None) {
        config.cache(Some(cache));
    }
    Engine::new(&config).map_err(|e| RunError::Engine(format!("{e:#}")))
}

/// `wasmtime serve`'s test for whether the pooling allocator's reservations fit: whether a
/// 2^42-byte memory can be reserved here.
fn can_reserve_for_pooling() -> bool {
    const BITS: u32 = 42;
    let mut config = Config::new();
    config.wasm_memory64(true);
    config.memory_reservation(1 << BITS);
    let Ok(engine) = Engine::new(&config) else { return false };
    let mut store = Store::new(&engine, ());
    wasmtime::Memory::new(&mut store, wasmtime::MemoryType::new64(0, Some(1 << (BITS - 16)))).is_ok()
}

/// The listening socket, with `SO_REUSEADDR` (a restarted server can take its port back from
/// connections in TIME_WAIT) and a backlog of 100, as `wasmtime serve`.
fn listen(addr: SocketAddr) -> Result<tokio::net::TcpListener, RunError> {
    let failed = |e: std::io::Error| RunError::Listen { addr, error: e.to_string() };
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4(),
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6(),
    }
    .map_err(failed)?;
    socket.set_reuseaddr(true).map_err(failed)?;
    socket.bind(addr).map_err(failed)?;
    socket.listen(100).map_err(failed)
}

/// Advances the engine's epoch every [`TIMEOUT_TICK`] while it lives, so that running handlers
/// yield and their timeouts are checked.
fn tick(engine: Engine) -> std::sync::mpsc::Sender<()> {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        while stopped.recv_timeout(TIMEOUT_TICK) == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            engine.increment_epoch();
        }
    });
    stop
}

/// What every request shares.
struct Server {
    engine: Engine,
    pre: ProxyPre<RequestHost>,
    setup: WasiSetup,
    /// Shared by every request's store (its randomness is not: each gets its own).
    keys: std::sync::Mutex<HostKeys>,
    timeout: Option<Duration>,
    /// Requests an instance serves before it is dropped; 1: a fresh instance per request.
    max_uses: usize,
    /// Instances waiting for their next request (only when `max_uses` > 1).
    idle: std::sync::Mutex<Vec<Idle>>,
}

type Response = hyper::Response<HyperOutgoingBody>;

impl Server {
    async fn serve_connection(self: Arc<Self>, client: tokio::net::TcpStream) {
        let service = hyper::service::service_fn(move |request| {
            let server = Arc::clone(&self);
            async move { Ok::<_, std::convert::Infallible>(server.answer(request).await) }
        });
        let mut http = http1::Builder::new();
        http.keep_alive(true).timer(TokioTimer).header_read_timeout(HEAD_TIMEOUT).max_headers(MAX_HEADERS);
        if let Err(e) = http.serve_connection(TokioIo::new(client), service).await {
            eprintln!("error: {e:?}");
        }
    }

    /// The handler's response, or the 500 page with the reason on standard error.
    async fn answer(self: Arc<Self>, request: hyper::Request<hyper::body::Incoming>) -> Response {
        match self.handle(request).await {
            Ok(response) => response,
            Err(e) => {
                eprintln!("error: {e:?}");
                error_response()
            }
        }
    }

    /// Runs `handle` for `request` on an instance (fresh, or an idle one when reuse is on);
    /// its response as soon as the handler sets it (the body streams on while the handler
    /// writes it).
    async fn handle(self: Arc<Self>, request: hyper::Request<hyper::body::Incoming>) -> wasmtime::Result<Response> {
        let idle = self.idle.lock().map_err(|_| wasmtime::format_err!("the idle instances' lock is poisoned"))?.pop();
        let (mut store, instance) = match idle {
            Some(Idle { store, proxy, uses }) => (store, Some((proxy, uses))),
            None => (Store::new(&self.engine, self.request_host()?), None),
        };
        if self.timeout.is_some() {
            // A busy handler yields at every tick, so its task can be stopped at the timeout.
            store.set_epoch_deadline(1);
            store.epoch_deadline_async_yield_and_update(1);
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let request = store.data_mut().http().new_incoming_request(Scheme::Http, request)?;
        let out = store.data_mut().http().new_response_outparam(sender)?;
        let server = Arc::clone(&self);
        let call = async move {
            let (proxy, uses) = match instance {
                Some(reused) => reused,
                None => (server.pre.instantiate_async(&mut store).await?, 0),
            };
            proxy.wasi_http_incoming_handler().call_handle(&mut store, request, out).await?;
            // Kept for the next request while it has uses left; a trap above drops it.
            if uses + 1 < server.max_uses {
                if let Ok(mut idle) = server.idle.lock() {
                    idle.push(Idle { store, proxy, uses: uses + 1 });
                }
            }
            Ok(())
        };
        let task = match self.timeout {
            None => tokio::spawn(call),
            Some(timeout) => tokio::spawn(async move {
                tokio::time::timeout(timeout, call).await.unwrap_or_else(|_| {
                    Err(wasmtime::format_err!("the handler ran longer than its timeout of {} ms", timeout.as_millis()))
                })
            }),
        };
        match receiver.await {
            Ok(Ok(response)) => {
                // The handler may still fail while it writes the body; the client then sees the
                // body cut short, and standard error says why.
                tokio::spawn(async move {
                    if let Ok(Err(e)) = task.await {
                        eprintln!("error: {e:?}");
                    }
                });
                Ok(response)
            }
            Ok(Err(code)) => Err(code.into()),
            // The outparam was dropped unset: the task's end says why.
            Err(_) => match task.await {
                Ok(Ok(())) => Err(wasmtime::format_err!("guest never invoked `response-outparam::set` method")),
                Ok(Err(e)) => Err(e.context("guest never invoked `response-outparam::set` method")),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// A new store's data: the WASI context, the keys (with randomness of its own).
    fn request_host(&self) -> wasmtime::Result<RequestHost> {
        let keys = self.keys.lock().map_err(|_| wasmtime::format_err!("the keys' lock is poisoned"))?;
        Ok(RequestHost {
            wasi: self.setup.build()?,
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            keys: keys.share(Box::new(os_seeded_rng())),
        })
    }
}

/// An instance that served a request and waits for the next.
struct Idle {
    store: Store<RequestHost>,
    proxy: Proxy,
    /// Requests it has served.
    uses: usize,
}

/// hyper's timers on tokio's clock (hyper-util's `TokioTimer`, in a few lines).
#[derive(Clone, Copy)]
struct TokioTimer;

impl hyper::rt::Timer for TokioTimer {
    fn sleep(&self, duration: Duration) -> std::pin::Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep(Box::pin(tokio::time::sleep(duration))))
    }

    fn sleep_until(&self, deadline: std::time::Instant) -> std::pin::Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(TokioSleep(Box::pin(tokio::time::sleep_until(deadline.into()))))
    }
}

struct TokioSleep(std::pin::Pin<Box<tokio::time::Sleep>>);

impl std::future::Future for TokioSleep {
    type Output = ();

    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        self.0.as_mut().poll(cx)
    }
}

impl hyper::rt::Sleep for TokioSleep {}

fn error_response() -> Response {
    let body =
        Full::new(bytes::Bytes::from_static(ERROR_PAGE.as_bytes())).map_err(|never| match never {}).boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("text/html; charset=UTF-8"));
    response
}

/// One request's store data.
struct RequestHost {
    wasi: WasiCtx,
    table: ResourceTable,
    http: WasiHttpCtx,
    keys: HostKeys,
}

impl WasiView for RequestHost {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RequestHost {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: wasmtime_wasi_http::default_hooks() }
    }
}
