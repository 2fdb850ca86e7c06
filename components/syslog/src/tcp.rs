//! The TCP transport: octet-counted frames (RFC 6587) written with `blocking-write-and-flush`,
//! so no message is lost while the connection is up; connecting and reconnecting are
//! [`Stream`]'s. The TLS transport runs its sessions over this module's [`Conn`].

use morgana_syslog::Target;
use wasi::clocks::monotonic_clock;
use wasi::io::poll::poll;
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::network::{ErrorCode, IpSocketAddress, Network};
use wasi::sockets::tcp::TcpSocket;
use wasi::sockets::tcp_create_socket;

use crate::stream::{self, Broken, Dial, Stream};
use crate::{WRITE_CHUNK, address_family, resolve};

/// A TCP connection attempt is given up after this long (a server that drops SYNs would
/// otherwise hold `log` for the system's connect timeout, minutes).
const CONNECT_TIMEOUT_NS: u64 = 3_000_000_000;

/// A TCP connection to the server; field order is drop order (streams before their socket).
pub(crate) struct Conn {
    pub(crate) input: InputStream,
    pub(crate) output: OutputStream,
    _socket: TcpSocket,
}

impl Conn {
    /// Connects to the first of the target's addresses that answers.
    pub(crate) fn connect(target: &Target) -> Result<Conn, ErrorCode> {
        let net = instance_network();
        let mut last = ErrorCode::NameUnresolvable;
        for remote in resolve(&net, target)? {
            match Conn::connect_to(&net, remote) {
                Ok(conn) => return Ok(conn),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn connect_to(net: &Network, remote: IpSocketAddress) -> Result<Conn, ErrorCode> {
        let socket = tcp_create_socket::create_tcp_socket(address_family(&remote))?;
        socket.start_connect(net, remote)?;
        let (input, output) = {
            let ready = socket.subscribe();
            let deadline = monotonic_clock::subscribe_duration(CONNECT_TIMEOUT_NS);
            loop {
                match socket.finish_connect() {
                    Err(ErrorCode::WouldBlock) => {
                        if poll(&[&ready, &deadline]) == [1] {
                            return Err(ErrorCode::Timeout);
                        }
                    }
                    result => break result?,
                }
            }
        };
        Ok(Conn { input, output, _socket: socket })
    }

    /// Whether the server closed its side (a syslog server sends nothing, so anything read is
    /// dropped). Checked before each write so that a restarted server costs no message.
    fn closed(&self) -> bool {
        matches!(self.input.read(WRITE_CHUNK as u64), Err(StreamError::Closed | StreamError::LastOperationFailed(_)))
    }

    /// Writes `bytes` and flushes them, blocking while the server does not read.
    pub(crate) fn write(&self, bytes: &[u8]) -> Result<(), StreamError> {
        bytes.chunks(WRITE_CHUNK).try_for_each(|chunk| self.output.blocking_write_and_flush(chunk))
    }
}

impl stream::Conn for Conn {
    fn check(&mut self) -> Result<(), Broken> {
        if self.closed() { Err(Broken::Closed) } else { Ok(()) }
    }

    fn write(&mut self, frame: &[u8]) -> Result<(), Broken> {
        Conn::write(self, frame).map_err(|_| Broken::Closed)
    }
}

/// The TCP transport to one target.
pub(crate) type Tcp = Stream<TcpDial>;

/// Plain TCP connections to the target.
pub(crate) struct TcpDial(pub(crate) Target);

impl Dial for TcpDial {
    type Conn = Conn;

    fn target(&self) -> &Target {
        &self.0
    }

    fn describe(&self, why: &str) -> String {
        format!("cannot send to {}: {why}", self.0)
    }

    fn dial(&self) -> Result<Conn, String> {
        Conn::connect(&self.0).map_err(|e| e.name().to_owned())
    }
}
