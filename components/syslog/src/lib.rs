//! The syslog component: exports `wasi:logging/logging@0.1.0-draft` and sends every message
//! to a syslog server as RFC 5424 (formatting and framing are `morgana-syslog`'s), over UDP,
//! TCP (cargo feature `tcp`, default) or TLS (feature `tls`: sessions of the imported
//! `morgana:tls` component over TCP) through `wasi:sockets`, or writes it to stderr when there
//! is none.
//!
//! Configuration comes from the environment on the first `log` call:
//!
//! - `SYSLOG`: `udp://HOST[:PORT]`, `tcp://HOST[:PORT]` (port 514 by default) or
//!   `tls://HOST[:PORT]` (port 6514); HOST an address or a name, resolved through
//!   `wasi:sockets/ip-name-lookup`. Unset or empty: lines `LEVEL context: message` on stderr.
//!   Invalid, or a transport this build leaves out: one line on stderr saying what is accepted
//!   (or which feature to build with), then stderr logging.
//! - `SYSLOG_TLS_CA` (a PEM file in a preopened directory; else the TLS component's own roots),
//!   `SYSLOG_TLS_NAME` (the name the server's certificate must carry; else HOST) and
//!   `SYSLOG_TLS_KEY` (a host key to authenticate with, if the server asks): for `tls://`.
//! - `SYSLOG_APP_NAME` (else `MORGANA_APP`, else `morgana`): APP-NAME.
//! - `SYSLOG_HOSTNAME` (else the app name): HOSTNAME.
//! - `SYSLOG_FACILITY`: a facility name (`user`, `daemon`, `local0` … `local7`, …) or code;
//!   `user` by default.
//!
//! The `context` argument becomes the MSGID (`http` for the HTTP server's access log), made
//! printable ASCII and cut to 32 characters; the message is the MSG, without a trailing newline.
//!
//! What it promises: `log` never traps. UDP sends one datagram per message (cut to 2048
//! bytes) from one socket bound once. TCP connects on first use (giving up after 3 s) and
//! writes octet-counted frames with `blocking-write-and-flush`, so nothing is lost while the
//! connection is up (and `log` waits while the server does not read). A connection found
//! closed before a write (a restarted server), or a failed write, is reconnected once at once;
//! if that fails, or the server closed the last two connections before they were 5 s old (it
//! refuses this client), messages go to stderr and a new connection is tried at most every 5
//! seconds. TLS does the same with the same frames (RFC 5425), a connection being ready once
//! its handshake is done (giving up after 5 s); a TLS error on a live session (an alert) counts
//! as a failure too. A message that cannot be sent when it is logged goes to stderr; nothing is
//! held back. Transport trouble is reported on stderr once per outage, which ends when a
//! connection has lasted 5 s.
#![deny(unsafe_code)]

mod bindings {
    #![allow(unsafe_code)]
    #[cfg(not(feature = "tls"))]
    wit_bindgen::generate!({
        path: ["../../wit/deps/logging.wit", "../../wit/crypto", "../../wit/tls", "wit"],
        world: "morgana:syslog/syslog",
    });
    #[cfg(feature = "tls")]
    wit_bindgen::generate!({
        path: ["../../wit/deps/logging.wit", "../../wit/crypto", "../../wit/tls", "wit"],
        world: "morgana:syslog/syslog-tls",
        generate_all,
    });
    use super::Syslog;
    export!(Syslog with_types_in crate::bindings);
}

use std::cell::RefCell;
use std::net::IpAddr;

use bindings::exports::wasi::logging::logging::{Guest, Level as WitLevel};
use morgana_syslog::{Config, Host, Level, Target, Timestamp, Transport, stderr_line};
use wasi::cli::environment;
use wasi::clocks::wall_clock;
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress, Network,
};
use wasi::sockets::udp::{IncomingDatagramStream, OutgoingDatagram, OutgoingDatagramStream, UdpSocket};
use wasi::sockets::{ip_name_lookup, udp_create_socket};

/// Connecting and reconnecting, for TCP and TLS alike.
#[cfg(feature = "tcp")]
mod stream;
/// The TCP transport; without the `tcp` feature the component imports no TCP interface.
#[cfg(feature = "tcp")]
mod tcp;
/// The TLS transport; without the `tls` feature the component imports nothing of `morgana:tls`.
#[cfg(feature = "tls")]
mod tls;

/// The transports this build has; `Config::from_env` refuses the others.
const TRANSPORTS: &[Transport] = &[
    Transport::Udp,
    #[cfg(feature = "tcp")]
    Transport::Tcp,
    #[cfg(feature = "tls")]
    Transport::Tls,
];

/// Timestamps before 2001 come from a clock nobody set (a machine without RTC): send the
/// NILVALUE instead, and the server stamps the message with its arrival time.
const PLAUSIBLE_SINCE: u64 = 978_307_200;

/// `blocking-write-and-flush` takes at most this many bytes at once.
pub(crate) const WRITE_CHUNK: usize = 4096;

struct Syslog;

thread_local! {
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

impl Guest for Syslog {
    fn log(level: WitLevel, context: String, message: String) {
        let level = match level {
            WitLevel::Trace => Level::Trace,
            WitLevel::Debug => Level::Debug,
            WitLevel::Info => Level::Info,
            WitLevel::Warn => Level::Warn,
            WitLevel::Error => Level::Error,
            WitLevel::Critical => Level::Critical,
        };
        SINK.with(|sink| {
            let Ok(mut sink) = sink.try_borrow_mut() else {
                // Unreachable (a component instance is not reentered), but never trap.
                return stderr(&stderr_line(level, &context, &message));
            };
            sink.get_or_insert_with(Sink::from_env).log(level, &context, &message);
        });
    }
}

/// Writes one line to stderr; errors are ignored (there is nowhere left to report them).
fn stderr(line: &str) {
    let out = wasi::cli::stderr::get_stderr();
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    for chunk in bytes.chunks(WRITE_CHUNK) {
        if out.blocking_write_and_flush(chunk).is_err() {
            return;
        }
    }
}

fn now() -> Timestamp {
    let t = wall_clock::now();
    Timestamp::new(t.seconds, t.nanoseconds)
}

/// Where messages go, set up from the environment on the first `log` call.
struct Sink {
    config: Config,
    out: Out,
}

enum Out {
    Stderr,
    Udp(Udp),
    #[cfg(feature = "tcp")]
    Tcp(tcp::Tcp),
    #[cfg(feature = "tls")]
    Tls(tls::Tls),
}

impl Sink {
    fn from_env() -> Sink {
        let env = environment::get_environment();
        let var = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let (config, errors) = Config::from_env(var, TRANSPORTS);
        for e in errors {
            stderr(&format!("syslog: {e}"));
        }
        let out = match &config.target {
            None => Out::Stderr,
            Some(target @ Target { transport: Transport::Udp, .. }) => match Udp::open(target) {
                Ok(udp) => Out::Udp(udp),
                Err(e) => {
                    stderr(&format!("syslog: cannot send to {target}: {}; logging to stderr", e.name()));
                    Out::Stderr
                }
            },
            #[cfg(feature = "tcp")]
            Some(target @ Target { transport: Transport::Tcp, .. }) => {
                Out::Tcp(tcp::Tcp::new(tcp::TcpDial(target.clone())))
            }
            #[cfg(feature = "tls")]
            Some(target @ Target { transport: Transport::Tls, .. }) => {
                match tls::TlsDial::new(target.clone(), &config.tls) {
                    Ok(dial) => Out::Tls(tls::Tls::new(dial)),
                    Err(why) => {
                        stderr(&format!("syslog: {}; logging to stderr", tls::describe(target, &why)));
                        Out::Stderr
                    }
                }
            }
            // Config::from_env keeps no target of a transport missing from TRANSPORTS.
            #[allow(unreachable_patterns)]
            Some(_) => Out::Stderr,
        };
        Sink { config, out }
    }

    fn log(&mut self, level: Level, context: &str, message: &str) {
        let now = now();
        let stamp = (now.secs >= PLAUSIBLE_SINCE).then_some(now);
        let sent = match &mut self.out {
            Out::Stderr => false,
            Out::Udp(udp) => {
                let frame = self.config.frame(Transport::Udp, stamp, level, context, message);
                udp.send(frame)
            }
            #[cfg(feature = "tcp")]
            Out::Tcp(tcp) => {
                let frame = self.config.frame(Transport::Tcp, stamp, level, context, message);
                tcp.send(&frame, now.secs)
            }
            #[cfg(feature = "tls")]
            Out::Tls(tls) => {
                let frame = self.config.frame(Transport::Tls, stamp, level, context, message);
                tls.send(&frame, now.secs)
            }
        };
        if !sent {
            stderr(&stderr_line(level, context, message));
        }
    }
}

fn wasi_ip(ip: IpAddr) -> IpAddress {
    match ip {
        IpAddr::V4(a) => {
            let [a, b, c, d] = a.octets();
            IpAddress::Ipv4((a, b, c, d))
        }
        IpAddr::V6(a) => {
            let [a, b, c, d, e, f, g, h] = a.segments();
            IpAddress::Ipv6((a, b, c, d, e, f, g, h))
        }
    }
}

fn socket_addr(address: IpAddress, port: u16) -> IpSocketAddress {
    match address {
        IpAddress::Ipv4(address) => IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address }),
        IpAddress::Ipv6(address) => {
            IpSocketAddress::Ipv6(Ipv6SocketAddress { port, flow_info: 0, address, scope_id: 0 })
        }
    }
}

fn family(address: &IpAddress) -> IpAddressFamily {
    match address {
        IpAddress::Ipv4(_) => IpAddressFamily::Ipv4,
        IpAddress::Ipv6(_) => IpAddressFamily::Ipv6,
    }
}

/// The target's addresses, in the resolver's order.
fn resolve(net: &Network, target: &Target) -> Result<Vec<IpSocketAddress>, ErrorCode> {
    let name = match &target.host {
        Host::Ip(ip) => return Ok(vec![socket_addr(wasi_ip(*ip), target.port)]),
        Host::Name(name) => name,
    };
    let stream = ip_name_lookup::resolve_addresses(net, name)?;
    let ready = stream.subscribe();
    let mut addresses = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(address)) => addresses.push(socket_addr(address, target.port)),
            Ok(None) => break,
            Err(ErrorCode::WouldBlock) => ready.block(),
            Err(e) if addresses.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    if addresses.is_empty() { Err(ErrorCode::NameUnresolvable) } else { Ok(addresses) }
}

fn address_family(address: &IpSocketAddress) -> IpAddressFamily {
    match address {
        IpSocketAddress::Ipv4(a) => family(&IpAddress::Ipv4(a.address)),
        IpSocketAddress::Ipv6(a) => family(&IpAddress::Ipv6(a.address)),
    }
}

/// One UDP socket, bound once and connected to the server. Field order is drop order: the
/// streams are the socket's children and go first.
struct Udp {
    _incoming: IncomingDatagramStream,
    outgoing: OutgoingDatagramStream,
    _socket: UdpSocket,
}

impl Udp {
    fn open(target: &Target) -> Result<Udp, ErrorCode> {
        let net = instance_network();
        let remote = resolve(&net, target)?.swap_remove(0);
        let family = address_family(&remote);
        let socket = udp_create_socket::create_udp_socket(family)?;
        let any = match family {
            IpAddressFamily::Ipv4 => IpAddress::Ipv4((0, 0, 0, 0)),
            IpAddressFamily::Ipv6 => IpAddress::Ipv6((0, 0, 0, 0, 0, 0, 0, 0)),
        };
        socket.start_bind(&net, socket_addr(any, 0))?;
        {
            let ready = socket.subscribe();
            loop {
                match socket.finish_bind() {
                    Err(ErrorCode::WouldBlock) => ready.block(),
                    result => break result?,
                }
            }
        }
        let (incoming, outgoing) = socket.stream(Some(remote))?;
        Ok(Udp { _incoming: incoming, outgoing, _socket: socket })
    }

    /// Sends one datagram; false if it could not be sent. A send error may be left over from
    /// an earlier datagram (an ICMP port unreachable reported on a connected socket), so a
    /// failed send is tried once more.
    fn send(&mut self, data: Vec<u8>) -> bool {
        let datagram = [OutgoingDatagram { data, remote_address: None }];
        (0..2).any(|_| self.try_send(&datagram).is_ok_and(|n| n == 1))
    }

    fn try_send(&self, datagram: &[OutgoingDatagram]) -> Result<u64, ErrorCode> {
        let ready = self.outgoing.subscribe();
        while self.outgoing.check_send()? == 0 {
            ready.block();
        }
        self.outgoing.send(datagram)
    }
}
