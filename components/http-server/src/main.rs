//! The HTTP/1.1 server component: listens on a TCP address through `wasi:sockets`, serves every
//! request by calling the `morgana:http/handler` it imports, and logs each exchange as a
//! combined-log-format line through `wasi:logging` (level info, context `http`). All HTTP logic
//! (parsing, framing, limits, timeouts, keep-alive, pipelining) is `morgana-http`'s; this file
//! is only I/O.
//!
//! Built with the cargo feature `tls`, it also serves HTTPS on a second address, with a session
//! per connection from the `morgana:tls` component it then imports (`tls.rs`; the private keys
//! stay with the host). A connection's [`Transport`] sits between its socket streams and its
//! `Connection`: the bytes as they are, or TLS records. HTTPS requests are served and logged
//! like plain ones.
//!
//! One thread, many connections: each turn of the loop makes a single `wasi:io/poll` `poll`
//! call over the listeners, every connection's input (while it wants input) and output (while
//! output is queued) and one monotonic-clock pollable for the nearest deadline, so a slow
//! client never stalls the others, and when nothing is ready the call blocks. Reads and writes
//! are non-blocking (`read`, `check-write` + `write`); a client that does not read gets no more
//! than what its stream accepts. Beyond `HTTP_MAX_CONNECTIONS` open connections, new ones wait
//! in the listen backlog. A finished connection is flushed, shut down for sending, and held
//! until the client closes (or a few seconds pass), so it receives the whole last response.
//!
//! Configuration, from the environment (the platform passes baked env and boot parameters as
//! env) and arguments:
//!
//! - `HTTP_ADDR`: `IP:PORT` to listen on (`[::]:8080` for IPv6), or `:PORT`; default
//!   `0.0.0.0:8080`. `PORT` alone sets the port on `0.0.0.0`.
//! - `HTTP_MAX_BODY_BYTES` (1 MiB), `HTTP_MAX_HEADERS` (64), `HTTP_MAX_HEAD_BYTES` (16 KiB),
//!   `HTTP_MAX_TARGET_BYTES` (8 KiB): request limits (413, 431, 431, 414 beyond).
//! - `HTTP_HEAD_TIMEOUT_MS` (10000), `HTTP_BODY_TIMEOUT_MS` (30000): time allowed for a request
//!   head and body (408 beyond); `HTTP_IDLE_TIMEOUT_MS` (30000): keep-alive idle time.
//! - `HTTP_MAX_CONNECTIONS` (256): connections served at once.
//! - `--requests N` or `HTTP_MAX_REQUESTS=N`: answer N requests, flush, exit 0 (for tests).
//!
//! With the feature `tls`:
//!
//! - `HTTPS_ADDR`: where to serve HTTPS, as `HTTP_ADDR`; default `0.0.0.0:8443`. `HTTPS_PORT`
//!   alone sets the port on `0.0.0.0`. `HTTP_ADDR=off` turns plain HTTP off.
//! - `HTTPS_KEYS`: comma-separated names of the host's keys to serve with (default: all of
//!   them); the client's SNI chooses among them.
//! - `HTTPS_REDIRECT=on|off` (off): plain HTTP answers every request with `308 Permanent
//!   Redirect` to the same path and query over HTTPS (400 without a `Host` header), and never
//!   calls the handler. `HTTPS_REDIRECT_PORT` (default: `HTTPS_ADDR`'s port) is the port in
//!   the `Location`, for when clients reach HTTPS through a port forward.
//! - `HSTS_MAX_AGE=SECONDS`: HTTPS responses carry `Strict-Transport-Security: max-age=SECONDS`.
//! - `TLS_VERSIONS`: `1.2`, `1.3` or `1.2,1.3` (default).
//! - `HTTPS_CLIENT_AUTH=none|optional|required` (none) and `HTTPS_CLIENT_CA=/path/to/ca.pem`
//!   (read from a preopened directory; needed by `optional` and `required`): client
//!   certificates.
//! - `HTTPS_TICKETS=on|off` (on): resumption by session tickets.
//!
//! ALPN offers `http/1.1`. A client has `HTTP_HEAD_TIMEOUT_MS` from its connection to finish
//! the TLS handshake, or it is dropped. A TLS failure is logged (level warn, context `http`),
//! its alert sent, and the connection closed; a closing HTTPS connection sends close_notify.
//!
//! A bad value is reported on stderr (saying what is accepted) and the component exits with
//! status 2, as it does when HTTPS cannot be served (the host holds no key, say); failing to
//! listen is reported likewise (with what to fix) and exits with 1. Both go through
//! `std::process::exit`, i.e. `wasi:cli/exit`'s `exit(err)` (not the newer `exit-with-code`,
//! which not every host provides), so a host that only sees ok/err reports 1. `--requests N`
//! exits 0.
#![deny(unsafe_code)]

mod bindings {
    #![allow(unsafe_code)]
    // wit/world.wit's second world names morgana:tls, so both read wit/tls (and wit/crypto).
    #[cfg(not(feature = "tls"))]
    wit_bindgen::generate!({
        path: ["../../wit/deps/logging.wit", "../../wit/http", "../../wit/crypto", "../../wit/tls", "wit"],
        world: "morgana:http-server/http-server",
        generate_all,
    });
    #[cfg(feature = "tls")]
    wit_bindgen::generate!({
        path: ["../../wit/deps/logging.wit", "../../wit/http", "../../wit/crypto", "../../wit/tls", "wit"],
        world: "morgana:http-server/http-server-tls",
        generate_all,
    });
}
#[cfg(feature = "tls")]
mod tls;
mod transport;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::exit;
use std::time::Duration;

use bindings::morgana::http::handler;
use bindings::wasi::logging::logging::{Level, log};
use morgana_http::{Connection, Limits, Now, Request, Response, combined_log_line, reason_phrase};
use wasi::clocks::{monotonic_clock, wall_clock};
use wasi::io::poll::{Pollable, poll};
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};
use wasi::sockets::tcp::{ShutdownType, TcpSocket};
use wasi::sockets::{instance_network, tcp_create_socket};

use transport::{Received, Transport, TransportError};

/// Bytes asked for per `read`.
const READ_CHUNK: u64 = 16 * 1024;
/// Reads per connection per turn, so one fast sender does not starve the rest.
const READS_PER_TURN: usize = 8;
/// After the last of `--requests N`, how long to wait for the answers to drain.
const EXIT_GRACE: Duration = Duration::from_secs(5);

struct Config {
    /// Where to serve plain HTTP; `None` (`HTTP_ADDR=off`, only with `tls`): nowhere.
    addr: Option<SocketAddr>,
    limits: Limits,
    max_connections: usize,
    max_requests: Option<u64>,
    #[cfg(feature = "tls")]
    https: tls::HttpsConfig,
}

/// Plain HTTP or HTTPS: which variables set a listener's address, and how to show it.
#[derive(Clone, Copy)]
enum Scheme {
    Http,
    #[cfg(feature = "tls")]
    Https,
}

impl Scheme {
    /// The variables that set the address, and the one that sets only the port.
    fn vars(self) -> (&'static str, &'static str) {
        match self {
            Scheme::Http => ("HTTP_ADDR", "PORT"),
            #[cfg(feature = "tls")]
            Scheme::Https => ("HTTPS_ADDR", "HTTPS_PORT"),
        }
    }

    /// What goes before the address in messages.
    fn prefix(self) -> &'static str {
        match self {
            Scheme::Http => "",
            #[cfg(feature = "tls")]
            Scheme::Https => "https://",
        }
    }
}

/// A listening socket and what its connections speak.
struct Listener {
    socket: TcpSocket,
    scheme: Scheme,
    /// Where an HTTPS listener's sessions come from.
    #[cfg(feature = "tls")]
    tls: Option<bindings::morgana::tls::server::ServerConfig>,
}

impl Listener {
    /// The transport for a connection this listener accepted.
    fn transport(&self) -> Transport {
        #[cfg(feature = "tls")]
        if let Some(config) = &self.tls {
            return Transport::Tls(tls::Tls::new(config.accept()));
        }
        Transport::Plain
    }
}

fn main() {
    let config = match parse_config(std::env::vars(), std::env::args().skip(1)) {
        Ok(config) => config,
        Err(msg) => {
            eprintln!("http-server: {msg}");
            exit(2);
        }
    };
    #[cfg(feature = "tls")]
    let tls_config = match tls::server_config(&config.https) {
        Ok(tls_config) => tls_config,
        Err(msg) => {
            eprintln!("http-server: {msg}");
            exit(2);
        }
    };
    let mut listeners = Vec::new();
    if let Some(addr) = config.addr {
        listeners.push(listen_or_exit(addr, Scheme::Http));
    }
    #[cfg(feature = "tls")]
    listeners.push(Listener { tls: Some(tls_config), ..listen_or_exit(config.https.addr, Scheme::Https) });
    // Standard output carries only these lines; the request log goes through wasi:logging.
    if let Some(addr) = config.addr {
        println!("http-server: listening on {addr}");
    }
    #[cfg(feature = "tls")]
    println!("http-server: listening on https://{}", config.https.addr);
    Server::new(config, listeners).run();
}

/// Listens on `addr`, or says why not and exits with status 1.
fn listen_or_exit(addr: SocketAddr, scheme: Scheme) -> Listener {
    match listen(addr) {
        Ok(socket) => Listener {
            socket,
            scheme,
            #[cfg(feature = "tls")]
            tls: None,
        },
        Err(e) => {
            eprintln!("http-server: cannot listen on {}{addr}: {}", scheme.prefix(), explain(e, scheme));
            exit(1);
        }
    }
}

/// Reads the configuration; the error says what to fix.
fn parse_config(
    vars: impl Iterator<Item = (String, String)>,
    mut args: impl Iterator<Item = String>,
) -> Result<Config, String> {
    let vars: Vec<(String, String)> = vars.collect();
    let var = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
    let num = |name: &str, default: u64| -> Result<u64, String> {
        match var(name) {
            None => Ok(default),
            Some(v) => match v.parse::<u64>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("{name}={v:?} is not a positive whole number")),
            },
        }
    };
    let addr = match var("HTTP_ADDR") {
        #[cfg(feature = "tls")]
        Some(a) if a.eq_ignore_ascii_case("off") => None,
        a => Some(listen_addr(a, var("PORT"), Scheme::Http, 8080)?),
    };
    let defaults = Limits::default();
    let usize_num = |name: &str, default: usize| num(name, default as u64).map(|n| n as usize);
    let ms = |name: &str, default: Duration| num(name, default.as_millis() as u64).map(Duration::from_millis);
    let mut limits = Limits::default();
    limits.max_body_bytes = usize_num("HTTP_MAX_BODY_BYTES", defaults.max_body_bytes)?;
    limits.max_headers = usize_num("HTTP_MAX_HEADERS", defaults.max_headers)?;
    limits.max_head_bytes = usize_num("HTTP_MAX_HEAD_BYTES", defaults.max_head_bytes)?;
    limits.max_target_bytes = usize_num("HTTP_MAX_TARGET_BYTES", defaults.max_target_bytes)?;
    limits.head_timeout = ms("HTTP_HEAD_TIMEOUT_MS", defaults.head_timeout)?;
    limits.body_timeout = ms("HTTP_BODY_TIMEOUT_MS", defaults.body_timeout)?;
    limits.idle_timeout = ms("HTTP_IDLE_TIMEOUT_MS", defaults.idle_timeout)?;
    let max_connections = usize_num("HTTP_MAX_CONNECTIONS", 256)?;
    let mut max_requests = match var("HTTP_MAX_REQUESTS") {
        Some(_) => Some(num("HTTP_MAX_REQUESTS", 1)?),
        None => None,
    };
    while let Some(arg) = args.next() {
        let value = match arg.as_str() {
            "--requests" => args.next().ok_or("--requests needs a number: --requests N")?,
            _ => match arg.strip_prefix("--requests=") {
                Some(v) => v.to_owned(),
                None => return Err(format!("unknown argument {arg:?}; the only argument is --requests N")),
            },
        };
        match value.parse::<u64>() {
            Ok(n) if n > 0 => max_requests = Some(n),
            _ => return Err(format!("--requests {value:?} is not a positive whole number")),
        }
    }
    Ok(Config {
        addr,
        limits,
        max_connections,
        max_requests,
        #[cfg(feature = "tls")]
        https: tls::parse_config(&var)?,
    })
}

/// The address a listener's two variables give (`addr`: IP:PORT or :PORT; else `port`: the
/// port on 0.0.0.0), or 0.0.0.0:`default_port`.
fn listen_addr(
    addr: Option<String>,
    port: Option<String>,
    scheme: Scheme,
    default_port: u16,
) -> Result<SocketAddr, String> {
    let (addr_var, port_var) = scheme.vars();
    match (addr, port) {
        (Some(a), _) => parse_addr(&a).ok_or_else(|| {
            format!(
                "{addr_var}={a:?} is not an address to listen on: use IP:PORT (0.0.0.0:{default_port}, [::]:{default_port}) or :PORT"
            )
        }),
        (None, Some(p)) => match p.parse::<u16>() {
            Ok(port) => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
            Err(_) => Err(format!("{port_var}={p:?} is not a port number (0-65535)")),
        },
        (None, None) => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), default_port)),
    }
}

fn parse_addr(s: &str) -> Option<SocketAddr> {
    match s.strip_prefix(':') {
        Some(port) => Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port.parse().ok()?)),
        None => s.parse().ok(),
    }
}

/// Binds and listens, waiting for the two-phase WASI operations to finish.
fn listen(addr: SocketAddr) -> Result<TcpSocket, ErrorCode> {
    let network = instance_network::instance_network();
    let family = if addr.is_ipv4() { IpAddressFamily::Ipv4 } else { IpAddressFamily::Ipv6 };
    let socket = tcp_create_socket::create_tcp_socket(family)?;
    socket.start_bind(&network, to_wasi(addr))?;
    finish(&socket, TcpSocket::finish_bind)?;
    let _ = socket.set_listen_backlog_size(128);
    socket.start_listen()?;
    finish(&socket, TcpSocket::finish_listen)?;
    Ok(socket)
}

fn finish(socket: &TcpSocket, op: fn(&TcpSocket) -> Result<(), ErrorCode>) -> Result<(), ErrorCode> {
    loop {
        match op(socket) {
            Err(ErrorCode::WouldBlock) => socket.subscribe().block(),
            other => return other,
        }
    }
}

/// What a socket error means for a `scheme` listener, and what to do about it.
fn explain(e: ErrorCode, scheme: Scheme) -> String {
    let (addr_var, port_var) = scheme.vars();
    match e {
        ErrorCode::AddressInUse => format!("the address is in use; set {addr_var} (or {port_var}) to a free one"),
        ErrorCode::AccessDenied => {
            "access denied: the host did not grant TCP listening (wasmtime: -S inherit-network -S tcp)".into()
        }
        ErrorCode::AddressNotBindable => {
            format!("no local interface has that address; set {addr_var} to one that exists")
        }
        ErrorCode::NotSupported => "the host does not support TCP sockets".into(),
        other => format!("{other:?}"),
    }
}

fn to_wasi(addr: SocketAddr) -> IpSocketAddress {
    match addr {
        SocketAddr::V4(a) => {
            let [b0, b1, b2, b3] = a.ip().octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress { port: a.port(), address: (b0, b1, b2, b3) })
        }
        SocketAddr::V6(a) => {
            let [s0, s1, s2, s3, s4, s5, s6, s7] = a.ip().segments();
            IpSocketAddress::Ipv6(Ipv6SocketAddress {
                port: a.port(),
                flow_info: a.flowinfo(),
                address: (s0, s1, s2, s3, s4, s5, s6, s7),
                scope_id: a.scope_id(),
            })
        }
    }
}

/// The client's IP as the access log shows it.
fn remote_ip(socket: &TcpSocket) -> String {
    match socket.remote_address() {
        Ok(IpSocketAddress::Ipv4(a)) => {
            let (b0, b1, b2, b3) = a.address;
            Ipv4Addr::new(b0, b1, b2, b3).to_string()
        }
        Ok(IpSocketAddress::Ipv6(a)) => {
            let (s0, s1, s2, s3, s4, s5, s6, s7) = a.address;
            Ipv6Addr::new(s0, s1, s2, s3, s4, s5, s6, s7).to_string()
        }
        Err(_) => "-".into(),
    }
}

fn now() -> Now {
    Now::new(Duration::from_nanos(monotonic_clock::now()), wall_clock::now().seconds)
}

/// Where a connection is in closing its side once `wants_close` and its output is written.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    Open,
    /// `flush` requested; the output stream's pollable fires when it is done.
    Flushing,
    /// Sending side shut down; reading on until the client closes.
    Sent,
}

struct Client {
    // Field order is drop order: the streams are children of the socket and go first.
    input: InputStream,
    output: OutputStream,
    socket: TcpSocket,
    remote: String,
    http: Connection,
    /// Between the streams and `http`: plain bytes or TLS.
    transport: Transport,
    /// Nothing more will be read: the client closed its side, or the transport failed.
    eof: bool,
    shutdown: Shutdown,
    error_logged: bool,
    /// Drop it: the connection is over.
    done: bool,
}

/// What a pollable in the turn's list stands for.
#[derive(Clone, Copy)]
enum Source {
    Listener(usize),
    Input(usize),
    Output,
    Timer,
}

struct Server {
    config: Config,
    listeners: Vec<Listener>,
    clients: Vec<Client>,
    answered: u64,
    /// Set once `--requests N` are answered: the time to give up draining.
    exiting_at: Option<Duration>,
}

impl Server {
    fn new(config: Config, listeners: Vec<Listener>) -> Server {
        Server { config, listeners, clients: Vec::new(), answered: 0, exiting_at: None }
    }

    fn run(mut self) -> ! {
        loop {
            let (readable, listeners_ready) = self.wait();
            let now = now();
            for (l, ready) in listeners_ready.into_iter().enumerate() {
                if ready {
                    self.accept(l, now);
                }
            }
            for i in 0..self.clients.len() {
                let readable = readable.get(i).copied().unwrap_or(false);
                self.step(i, readable, now);
            }
            self.clients.retain(|c| !c.done);
            if let Some(at) = self.exiting_at
                && (self.clients.is_empty() || now.monotonic >= at)
            {
                println!("http-server: served {} requests", self.answered);
                exit(0);
            }
        }
    }

    /// The turn's single `poll`. Returns which clients' inputs are ready and which listeners
    /// are.
    fn wait(&self) -> (Vec<bool>, Vec<bool>) {
        let mut pollables: Vec<Pollable> = Vec::with_capacity(2 * self.clients.len() + self.listeners.len() + 1);
        let mut sources = Vec::with_capacity(pollables.capacity());
        if self.exiting_at.is_none() && self.clients.len() < self.config.max_connections {
            for (l, listener) in self.listeners.iter().enumerate() {
                pollables.push(listener.socket.subscribe());
                sources.push(Source::Listener(l));
            }
        }
        let mut deadline = self.exiting_at;
        for (i, c) in self.clients.iter().enumerate() {
            if !c.eof && c.http.wants_input() {
                pollables.push(c.input.subscribe());
                sources.push(Source::Input(i));
            }
            if c.http.has_output() || c.transport.has_output() || c.shutdown == Shutdown::Flushing {
                pollables.push(c.output.subscribe());
                sources.push(Source::Output);
            }
            deadline = match (deadline, c.http.poll_deadline()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        // Nothing to wait for should not happen; if it does, wait a second rather than spin.
        let timer = match deadline {
            Some(at) => Some(monotonic_clock::subscribe_instant(u64::try_from(at.as_nanos()).unwrap_or(u64::MAX))),
            None if pollables.is_empty() => Some(monotonic_clock::subscribe_duration(1_000_000_000)),
            None => None,
        };
        if let Some(timer) = timer {
            pollables.push(timer);
            sources.push(Source::Timer);
        }
        let mut readable = vec![false; self.clients.len()];
        let mut listeners_ready = vec![false; self.listeners.len()];
        let refs: Vec<&Pollable> = pollables.iter().collect();
        for index in poll(&refs) {
            let ready = match sources.get(index as usize) {
                Some(Source::Listener(l)) => listeners_ready.get_mut(*l),
                Some(Source::Input(i)) => readable.get_mut(*i),
                Some(Source::Output | Source::Timer) | None => None,
            };
            if let Some(ready) = ready {
                *ready = true;
            }
        }
        (readable, listeners_ready)
    }

    /// Takes the connections waiting on listener `l`.
    fn accept(&mut self, l: usize, now: Now) {
        let Some(listener) = self.listeners.get(l) else { return };
        while self.clients.len() < self.config.max_connections {
            match listener.socket.accept() {
                Ok((socket, input, output)) => {
                    let remote = remote_ip(&socket);
                    self.clients.push(Client {
                        input,
                        output,
                        socket,
                        remote,
                        http: Connection::new(self.config.limits.clone(), now),
                        transport: listener.transport(),
                        eof: false,
                        shutdown: Shutdown::Open,
                        error_logged: false,
                        done: false,
                    });
                }
                Err(ErrorCode::WouldBlock) => break,
                // A connection that failed before we took it (reset, …): try the next.
                Err(ErrorCode::ConnectionAborted | ErrorCode::ConnectionReset) => continue,
                Err(e) => {
                    eprintln!("http-server: accept failed: {}", explain(e, listener.scheme));
                    break;
                }
            }
        }
    }

    /// Everything one client needs this turn: read, answer, time out, write, close.
    fn step(&mut self, i: usize, readable: bool, now: Now) {
        if readable {
            for _ in 0..READS_PER_TURN {
                let Some(c) = self.clients.get_mut(i) else { return };
                if c.eof || !c.http.wants_input() {
                    break;
                }
                match c.input.read(READ_CHUNK) {
                    Ok(bytes) if bytes.is_empty() => break,
                    Ok(bytes) => c.receive(now, &bytes),
                    Err(StreamError::Closed) => c.end_of_input(now),
                    Err(StreamError::LastOperationFailed(_)) => {
                        c.done = true;
                        return;
                    }
                }
                self.serve(i, now);
            }
        }
        self.serve(i, now);
        let exiting = self.exiting_at.is_some();
        let Some(c) = self.clients.get_mut(i) else { return };
        if c.http.poll_deadline().is_some_and(|at| now.monotonic >= at) {
            if c.transport.handshaking() {
                // No HTTP yet to answer a 408 with: a stalled TLS handshake is just dropped.
                c.done = true;
                return;
            }
            c.http.on_timeout(now);
        }
        if let Some(e) = c.http.error()
            && !c.error_logged
        {
            c.error_logged = true;
            let status = e.status();
            log(Level::Warn, "http", &format!("{} {status} {}: {e}", c.remote, reason_phrase(status)));
        }
        c.write();
        if c.http.is_closed() {
            c.finish();
        } else if c.transport.failed() || ((c.http.wants_close() || exiting) && !c.http.has_output()) {
            c.close_sending_side(exiting);
        }
    }

    /// Answers every request the connection has ready.
    fn serve(&mut self, i: usize, now: Now) {
        loop {
            if self.exiting_at.is_some() {
                return;
            }
            let Some(c) = self.clients.get_mut(i) else { return };
            let Some(request) = c.http.poll_request(now) else { return };
            let (request, response) = answer(&self.config, request, c.transport.is_secure());
            let wall = now.unix_secs;
            let Ok(sent) = c.http.respond(now, response) else { return };
            let line = combined_log_line(&c.remote, &request, sent.status, sent.body_bytes, wall);
            log(Level::Info, "http", &line);
            self.answered += 1;
            if self.config.max_requests.is_some_and(|n| self.answered >= n) {
                self.exiting_at = Some(now.monotonic + EXIT_GRACE);
            }
        }
    }
}

impl Client {
    /// Passes bytes read from the socket through the transport to `http`.
    fn receive(&mut self, now: Now, bytes: &[u8]) {
        match self.transport.on_bytes(now, bytes, &mut self.http) {
            Ok(Received::Open) => {}
            Ok(Received::PeerClosed) => self.end_of_input(now),
            Err(e) => self.transport_failed(e),
        }
    }

    /// The client sends nothing more.
    fn end_of_input(&mut self, now: Now) {
        self.eof = true;
        self.http.receive_eof(now);
    }

    /// Writes as much queued output as the stream accepts now.
    fn write(&mut self) {
        if let Err(e) = self.transport.flush_into(&mut self.http, &self.output) {
            self.transport_failed(e);
        }
    }

    /// A broken stream ends the connection at once; a failed TLS session is logged, and the
    /// connection reads no more and closes once its alert is sent.
    fn transport_failed(&mut self, e: TransportError) {
        match e {
            TransportError::Stream => self.done = true,
            #[cfg(feature = "tls")]
            TransportError::Tls(e) => {
                log(Level::Warn, "http", &format!("{} TLS: {}", self.remote, tls::describe(&e)));
                self.eof = true;
            }
        }
    }

    /// `http` is finished. Over TLS, close_notify goes out first, while the linger time lasts.
    fn finish(&mut self) {
        self.transport.close();
        self.write();
        self.done |= !self.transport.has_output() || self.http.poll_deadline().is_none();
    }

    /// Closes the transport (TLS: close_notify), flushes, then shuts down the sending side; the
    /// client sees EOF after the last response. When the server is exiting, the connection is
    /// dropped once that is done.
    fn close_sending_side(&mut self, exiting: bool) {
        match self.shutdown {
            Shutdown::Open => {
                self.transport.close();
                self.write();
                if self.done || self.transport.has_output() {
                    return;
                }
                if self.output.flush().is_err() {
                    self.done = true;
                    return;
                }
                self.shutdown = Shutdown::Flushing;
                self.close_sending_side(exiting);
            }
            Shutdown::Flushing => match self.output.check_write() {
                Ok(0) => {}
                Ok(_) => {
                    let _ = self.socket.shutdown(ShutdownType::Send);
                    self.shutdown = Shutdown::Sent;
                    self.done |= exiting || self.eof;
                }
                Err(_) => self.done = true,
            },
            Shutdown::Sent => self.done |= exiting || self.eof,
        }
    }
}

/// The answer to a request: the handler's.
#[cfg(not(feature = "tls"))]
fn answer(_config: &Config, request: Request, _secure: bool) -> (Request, Response) {
    call_handler(request)
}

/// The answer to a request: the handler's, with `Strict-Transport-Security` over HTTPS when
/// `HSTS_MAX_AGE` is set; over plain HTTP with `HTTPS_REDIRECT=on`, the redirect to HTTPS.
#[cfg(feature = "tls")]
fn answer(config: &Config, request: Request, secure: bool) -> (Request, Response) {
    let https = &config.https;
    if !secure && https.redirect {
        let response = tls::redirect(&request, https.redirect_port);
        return (request, response);
    }
    let (request, mut response) = call_handler(request);
    if secure && let Some(max_age) = https.hsts_max_age {
        tls::add_hsts(&mut response, max_age);
    }
    (request, response)
}

/// Calls the imported handler. The request's fields move into the call and back (the access
/// log wants them), except the body, which is not copied.
fn call_handler(request: Request) -> (Request, Response) {
    let Request { method, path, query, version, headers, body } = request;
    let wit_request = handler::Request { method, path, query, headers, body };
    let response = handler::handle(&wit_request);
    let handler::Request { method, path, query, headers, .. } = wit_request;
    let request = Request { method, path, query, version, headers, body: Vec::new() };
    (request, Response { status: response.status, headers: response.headers, body: response.body })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn config(vars: &[(&str, &str)], args: &[&str]) -> Result<Config, String> {
        parse_config(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())), args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn defaults_and_overrides() {
        let c = config(&[], &[]).unwrap();
        assert_eq!(c.addr, Some("0.0.0.0:8080".parse().unwrap()));
        assert_eq!(c.limits, Limits::default());
        assert_eq!(c.max_requests, None);
        let c = config(
            &[("PORT", "9000"), ("HTTP_MAX_BODY_BYTES", "10"), ("HTTP_IDLE_TIMEOUT_MS", "1500")],
            &["--requests", "3"],
        )
        .unwrap();
        assert_eq!(c.addr, Some("0.0.0.0:9000".parse().unwrap()));
        assert_eq!(c.limits.max_body_bytes, 10);
        assert_eq!(c.limits.idle_timeout, Duration::from_millis(1500));
        assert_eq!(c.max_requests, Some(3));
        assert_eq!(config(&[("HTTP_ADDR", "[::1]:80"), ("PORT", "1")], &[]).unwrap().addr, "[::1]:80".parse().ok());
        assert_eq!(config(&[("HTTP_ADDR", ":81")], &[]).unwrap().addr, "0.0.0.0:81".parse().ok());
        assert_eq!(config(&[("HTTP_MAX_REQUESTS", "2")], &["--requests=5"]).unwrap().max_requests, Some(5));
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        for (vars, args) in [
            (&[("HTTP_ADDR", "localhost")][..], &[][..]),
            (&[("HTTP_ADDR", "off:80")], &[]),
            (&[("PORT", "70000")], &[]),
            (&[("HTTP_MAX_HEADERS", "0")], &[]),
            (&[("HTTP_HEAD_TIMEOUT_MS", "soon")], &[]),
            (&[], &["--requests"]),
            (&[], &["--requests", "-1"]),
            (&[], &["--verbose"]),
        ] {
            let err = config(vars, args).err().expect("refused");
            assert!(err.contains('=') || err.contains("--"), "{err}");
        }
    }

    #[test]
    fn plain_http_is_off_only_with_tls() {
        let c = config(&[("HTTP_ADDR", "off")], &[]);
        if cfg!(feature = "tls") {
            assert_eq!(c.unwrap().addr, None);
        } else {
            assert!(c.err().expect("refused").starts_with("HTTP_ADDR=\"off\""));
        }
    }
}
