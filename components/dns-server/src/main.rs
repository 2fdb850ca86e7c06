//! dns-server: an authoritative DNS server component. The I/O shell around `morgana-dns`.
//!
//! Zone files come from the imported `morgana:kv/store` (every key ending in `.zone`; the
//! origin is the file's `$ORIGIN`, else its name without `.zone`). It serves UDP and TCP on
//! `$DNS_ADDR:$DNS_PORT` (default `0.0.0.0:53`) with WASI 0.2 sockets, all in one `wasi:io/poll`
//! loop, so a slow TCP client never holds up UDP. `DNS_AXFR=off` refuses zone transfers. Logs go
//! to the imported `wasi:logging/logging`. Without the (default) `tcp` feature there is no TCP at all.
//! When `DNS_PORT` is unset, `PORT` (the variable other Morgana servers and the examples test use)
//! sets the port.
//!
//! `--queries N` (for tests): once N queries are answered (UDP datagrams and TCP messages; a
//! zone transfer counts once), wait for the TCP clients to go (at most 5 s) and exit 0.
//!
//! A zone that fails to load stops the server (exit status 1) with the file and line logged;
//! a bad argument or environment value stops it likewise.
#![deny(unsafe_code)]

#[allow(unsafe_code)]
mod bindings {
    wit_bindgen::generate!({
        path: ["../../wit/kv", "../../wit/deps/logging.wit", "wit"],
        world: "morgana:dns-server/server",
        generate_all,
    });
}

use std::net::IpAddr;

use bindings::morgana::kv::store;
use bindings::wasi::logging::logging::{Level, log};
use morgana_dns::{Catalog, Options};
use wasi::io::poll::{Pollable, poll};
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::network::{ErrorCode, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress};
use wasi::sockets::udp::{IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream};
use wasi::sockets::udp_create_socket::create_udp_socket;

const CONTEXT: &str = "dns-server";
/// Datagrams taken from the socket per wakeup.
const UDP_BATCH: u64 = 32;
/// After the last of `--queries N`, how long TCP clients may take to read their answers
/// (nanoseconds).
const EXIT_GRACE: u64 = 5_000_000_000;

fn info(message: &str) {
    log(Level::Info, CONTEXT, message);
}

fn warn(message: &str) {
    log(Level::Warn, CONTEXT, message);
}

fn error(message: &str) {
    log(Level::Error, CONTEXT, message);
}

fn main() {
    if let Err(message) = run() {
        error(&message);
        std::process::exit(1);
    }
}

/// `--queries N`: the number of queries to answer before exiting.
fn max_queries(mut args: impl Iterator<Item = String>) -> Result<Option<u64>, String> {
    let mut max = None;
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--queries=") {
            Some(value) => value.to_string(),
            None if arg == "--queries" => args.next().ok_or("--queries needs a number: --queries N")?,
            None => return Err(format!("unknown argument {arg:?}; the only argument is --queries N")),
        };
        match value.parse::<u64>() {
            Ok(n) if n > 0 => max = Some(n),
            _ => return Err(format!("--queries {value:?} is not a positive whole number")),
        }
    }
    Ok(max)
}

fn run() -> Result<(), String> {
    let max_queries = max_queries(std::env::args().skip(1))?;
    let catalog: &'static Catalog = Box::leak(Box::new(load_catalog()?));
    let address = std::env::var("DNS_ADDR").unwrap_or_else(|_| "0.0.0.0".into());
    let (variable, port) = match (std::env::var("DNS_PORT"), std::env::var("PORT")) {
        (Ok(port), _) => ("DNS_PORT", port),
        (Err(_), Ok(port)) => ("PORT", port),
        _ => ("DNS_PORT", "53".into()),
    };
    let ip: IpAddr = address.parse().map_err(|_| format!("DNS_ADDR={address} is not an IP address"))?;
    let port: u16 = port.parse().map_err(|_| format!("{variable}={port} is not a port number"))?;
    let local = socket_address(ip, port);

    let network = instance_network();
    let udp = create_udp_socket(family(ip)).map_err(|e| format!("UDP socket: {e:?}"))?;
    udp.start_bind(&network, local).map_err(|e| format!("UDP bind to {address}:{port}: {e:?}"))?;
    finish(|| udp.finish_bind(), &udp.subscribe()).map_err(|e| format!("UDP bind to {address}:{port}: {e:?}"))?;
    let (incoming, outgoing) = udp.stream(None).map_err(|e| format!("UDP stream: {e:?}"))?;

    #[cfg(feature = "tcp")]
    let mut tcp = tcp::Server::listen(&network, ip, local).map_err(|e| format!("TCP on {address}:{port}: {e}"))?;
    let transports = if cfg!(feature = "tcp") { "UDP and TCP" } else { "UDP" };
    info(&format!("serving {transports} on {address}:{port}"));
    // Standard output carries this one line, for whoever waits for the server to be up.
    println!("dns-server: listening on {address}:{port} ({transports})");

    let mut response = Vec::new();
    let mut udp_answered = 0u64;
    // Once `--queries N` are answered: when to stop waiting for TCP clients.
    let mut exiting_at: Option<u64> = None;
    loop {
        #[cfg(feature = "tcp")]
        let (answered, tcp_idle) = (udp_answered + tcp.answered(), tcp.is_idle());
        #[cfg(not(feature = "tcp"))]
        let (answered, tcp_idle) = (udp_answered, true);
        if max_queries.is_some_and(|n| answered >= n) {
            let now = wasi::clocks::monotonic_clock::now();
            let at = *exiting_at.get_or_insert(now + EXIT_GRACE);
            if tcp_idle || now >= at {
                info(&format!("answered {answered} queries; exiting"));
                return Ok(());
            }
        }
        #[cfg_attr(not(feature = "tcp"), allow(unused_mut))]
        let mut pollables: Vec<Pollable> = vec![incoming.subscribe()];
        #[cfg(feature = "tcp")]
        let roles = tcp.subscribe(&mut pollables);
        // While exiting, wake up at the end of the grace period.
        let grace = exiting_at.map(|at| {
            pollables.push(wasi::clocks::monotonic_clock::subscribe_instant(at));
            pollables.len() as u32 - 1
        });
        let ready = {
            let refs: Vec<&Pollable> = pollables.iter().collect();
            poll(&refs)
        };
        // Pollables are children of the streams: drop them before any stream goes.
        drop(pollables);
        for index in ready {
            if index == 0 {
                udp_answered += serve_udp(catalog, &incoming, &outgoing, &mut response);
            } else if Some(index) == grace {
                // The loop's head exits.
            } else {
                #[cfg(feature = "tcp")]
                tcp.ready(catalog, roles[index as usize - 1]);
            }
        }
        #[cfg(feature = "tcp")]
        tcp.reap();
    }
}

/// Reads every `.zone` key of the store into a catalog.
fn load_catalog() -> Result<Catalog, String> {
    let mut files = Vec::new();
    for key in store::keys().into_iter().filter(|key| key.ends_with(".zone")) {
        let bytes = store::get(&key).ok_or_else(|| format!("{key}: listed by the store but missing"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{key}: not UTF-8 text"))?;
        files.push((key, text));
    }
    let mut catalog = Catalog::from_files(files.iter().map(|(k, t)| (k.as_str(), t.as_str())))
        .map_err(|e| format!("zone file {e}"))?;
    let transfers = !matches!(std::env::var("DNS_AXFR").as_deref(), Ok("off" | "no" | "0" | "false"));
    let mut options = Options::default();
    options.allow_transfer = transfers;
    catalog.set_options(options);
    for zone in catalog.zones() {
        info(&format!(
            "zone {} from {}: {} records, serial {}",
            zone.origin(),
            zone.file(),
            zone.len(),
            zone.soa().serial
        ));
    }
    if catalog.zones().next().is_none() {
        warn("no .zone files in the store: every query will be REFUSED");
    }
    Ok(catalog)
}

fn family(ip: IpAddr) -> IpAddressFamily {
    match ip {
        IpAddr::V4(_) => IpAddressFamily::Ipv4,
        IpAddr::V6(_) => IpAddressFamily::Ipv6,
    }
}

fn socket_address(ip: IpAddr, port: u16) -> IpSocketAddress {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address: (a, b, c, d) })
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let address = (s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]);
            IpSocketAddress::Ipv6(Ipv6SocketAddress { port, flow_info: 0, address, scope_id: 0 })
        }
    }
}

/// Completes a WASI start/finish pair: retries `finish` while it would block.
fn finish<T>(mut finish: impl FnMut() -> Result<T, ErrorCode>, pollable: &Pollable) -> Result<T, ErrorCode> {
    loop {
        match finish() {
            Err(ErrorCode::WouldBlock) => pollable.block(),
            other => return other,
        }
    }
}

/// Answers the datagrams waiting on the socket; returns how many it answered.
fn serve_udp(
    catalog: &Catalog,
    incoming: &IncomingDatagramStream,
    outgoing: &OutgoingDatagramStream,
    response: &mut Vec<u8>,
) -> u64 {
    let datagrams = match incoming.receive(UDP_BATCH) {
        Ok(datagrams) => datagrams,
        Err(e) => {
            warn(&format!("UDP receive: {e:?}"));
            return 0;
        }
    };
    let mut answered = 0;
    for datagram in datagrams {
        if catalog.handle_udp(&datagram.data, response).is_none() {
            continue;
        }
        answered += 1;
        let reply = OutgoingDatagram { data: response.clone(), remote_address: Some(datagram.remote_address) };
        let sent = match outgoing.check_send() {
            Ok(0) => {
                // The send buffer is full: wait for it (UDP only; TCP clients are not involved).
                outgoing.subscribe().block();
                outgoing.check_send().and_then(|_| outgoing.send(&[reply]))
            }
            Ok(_) => outgoing.send(&[reply]),
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            warn(&format!("UDP send: {e:?}"));
        }
    }
    answered
}

#[cfg(feature = "tcp")]
mod tcp {
    //! The TCP listener and its connections, each a state machine driven by the poll loop.

    use morgana_dns::{Catalog, FrameError, Responses, TcpFramer, frame};
    use wasi::clocks::monotonic_clock;
    use wasi::io::poll::Pollable;
    use wasi::io::streams::{InputStream, OutputStream, StreamError};
    use wasi::sockets::network::{IpSocketAddress, Network};
    use wasi::sockets::tcp::TcpSocket;
    use wasi::sockets::tcp_create_socket::create_tcp_socket;

    use super::{family, finish, warn};

    /// Connections served at once; past this, new ones wait in the listen backlog.
    const MAX_CONNECTIONS: usize = 64;
    /// A connection idle this long is closed (nanoseconds).
    const IDLE_TIMEOUT: u64 = 30_000_000_000;
    /// The longest query accepted; a longer length prefix closes the connection.
    const MAX_QUERY: usize = 16 * 1024;
    /// Bytes read per wakeup.
    const READ_CHUNK: u64 = 4096;

    #[derive(Clone, Copy)]
    pub enum Role {
        Accept,
        Read(usize),
        Write(usize),
        Timer,
    }

    struct Connection {
        // Streams before the socket: children are dropped first.
        input: InputStream,
        output: OutputStream,
        _socket: TcpSocket,
        framer: TcpFramer,
        /// Framed responses not yet written, and how much of them is.
        out: Vec<u8>,
        written: usize,
        /// The rest of a zone transfer, produced as the client reads.
        pending: Option<Responses<'static>>,
        deadline: u64,
        read_closed: bool,
        closed: bool,
        /// Queries answered on it.
        answered: u64,
    }

    pub struct Server {
        connections: Vec<Connection>,
        /// Queries answered on connections already reaped.
        answered: u64,
        // After the connections: the listener goes last.
        listener: TcpSocket,
    }

    impl Server {
        pub fn listen(network: &Network, ip: std::net::IpAddr, local: IpSocketAddress) -> Result<Server, String> {
            let listener = create_tcp_socket(family(ip)).map_err(|e| format!("{e:?}"))?;
            listener.start_bind(network, local).map_err(|e| format!("bind: {e:?}"))?;
            finish(|| listener.finish_bind(), &listener.subscribe()).map_err(|e| format!("bind: {e:?}"))?;
            let _ = listener.set_listen_backlog_size(128);
            listener.start_listen().map_err(|e| format!("listen: {e:?}"))?;
            finish(|| listener.finish_listen(), &listener.subscribe()).map_err(|e| format!("listen: {e:?}"))?;
            Ok(Server { connections: Vec::new(), answered: 0, listener })
        }

        /// Adds this server's pollables; returns their roles, in order.
        pub fn subscribe(&self, pollables: &mut Vec<Pollable>) -> Vec<Role> {
            let mut roles = Vec::new();
            if self.connections.len() < MAX_CONNECTIONS {
                pollables.push(self.listener.subscribe());
                roles.push(Role::Accept);
            }
            for (i, c) in self.connections.iter().enumerate() {
                if c.written < c.out.len() {
                    pollables.push(c.output.subscribe());
                    roles.push(Role::Write(i));
                } else if !c.read_closed {
                    pollables.push(c.input.subscribe());
                    roles.push(Role::Read(i));
                }
            }
            if let Some(deadline) = self.connections.iter().map(|c| c.deadline).min() {
                pollables.push(monotonic_clock::subscribe_instant(deadline));
                roles.push(Role::Timer);
            }
            roles
        }

        pub fn ready(&mut self, catalog: &'static Catalog, role: Role) {
            match role {
                Role::Accept => self.accept(),
                Role::Read(i) => self.connections[i].read(catalog),
                Role::Write(i) => self.connections[i].write(catalog),
                Role::Timer => {
                    let now = monotonic_clock::now();
                    for c in self.connections.iter_mut().filter(|c| c.deadline <= now) {
                        c.closed = true;
                    }
                }
            }
        }

        /// Drops closed connections.
        pub fn reap(&mut self) {
            self.answered += self.connections.iter().filter(|c| c.closed).map(|c| c.answered).sum::<u64>();
            self.connections.retain(|c| !c.closed);
        }

        /// Queries answered over TCP so far.
        pub fn answered(&self) -> u64 {
            self.answered + self.connections.iter().map(|c| c.answered).sum::<u64>()
        }

        /// Whether no connection is open.
        pub fn is_idle(&self) -> bool {
            self.connections.is_empty()
        }

        fn accept(&mut self) {
            match self.listener.accept() {
                Ok((socket, input, output)) => self.connections.push(Connection {
                    input,
                    output,
                    _socket: socket,
                    framer: TcpFramer::new(MAX_QUERY),
                    out: Vec::new(),
                    written: 0,
                    pending: None,
                    deadline: monotonic_clock::now() + IDLE_TIMEOUT,
                    read_closed: false,
                    closed: false,
                    answered: 0,
                }),
                Err(wasi::sockets::network::ErrorCode::WouldBlock) => {}
                Err(e) => warn(&format!("TCP accept: {e:?}")),
            }
        }
    }

    impl Connection {
        fn read(&mut self, catalog: &'static Catalog) {
            match self.input.read(READ_CHUNK) {
                Ok(bytes) => {
                    if !bytes.is_empty() {
                        self.deadline = monotonic_clock::now() + IDLE_TIMEOUT;
                        self.framer.push(&bytes);
                    }
                }
                Err(StreamError::Closed) => self.read_closed = true,
                Err(StreamError::LastOperationFailed(_)) => self.closed = true,
            }
            self.answer(catalog);
        }

        /// Turns buffered queries into framed responses, up to the first zone transfer.
        fn answer(&mut self, catalog: &'static Catalog) {
            self.produce();
            while self.pending.is_none() && self.written == self.out.len() {
                let responses = match self.framer.next_message() {
                    Ok(Some(query)) => catalog.handle_tcp(query),
                    Ok(None) => break,
                    Err(e @ FrameError::TooLong { .. }) => {
                        warn(&format!("TCP: {e}; closing the connection"));
                        self.closed = true;
                        return;
                    }
                    Err(_) => {
                        self.closed = true;
                        return;
                    }
                };
                match responses {
                    Some(responses) => {
                        self.answered += 1;
                        self.pending = Some(responses);
                        self.produce();
                    }
                    // NSD closes the connection on a query it drops.
                    None => {
                        self.closed = true;
                        return;
                    }
                }
            }
            if self.read_closed && self.pending.is_none() && self.written == self.out.len() {
                self.closed = true;
            }
        }

        /// Moves the next response of a pending sequence into the output buffer.
        fn produce(&mut self) {
            if self.written < self.out.len() {
                return;
            }
            self.out.clear();
            self.written = 0;
            let Some(responses) = &mut self.pending else { return };
            let mut message = Vec::new();
            if responses.next_into(&mut message) {
                frame(&message, &mut self.out);
            } else {
                self.pending = None;
            }
        }

        fn write(&mut self, catalog: &'static Catalog) {
            let allowed = match self.output.check_write() {
                Ok(n) => n,
                Err(_) => {
                    self.closed = true;
                    return;
                }
            };
            if allowed == 0 {
                return;
            }
            let end = self.out.len().min(self.written + usize::try_from(allowed).unwrap_or(usize::MAX));
            if self.output.write(&self.out[self.written..end]).is_err() || self.output.flush().is_err() {
                self.closed = true;
                return;
            }
            self.written = end;
            self.deadline = monotonic_clock::now() + IDLE_TIMEOUT;
            if self.written == self.out.len() {
                self.answer(catalog);
            }
        }
    }
}
