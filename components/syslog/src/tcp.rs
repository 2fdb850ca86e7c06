//! The TCP transport: octet-counted frames (RFC 6587) on a connection made lazily, reconnected
//! once when it breaks, written with `blocking-write-and-flush` so no message is lost while the
//! connection is up.

use morgana_syslog::Target;
use wasi::clocks::monotonic_clock;
use wasi::io::poll::poll;
use wasi::io::streams::{InputStream, OutputStream, StreamError};
use wasi::sockets::instance_network::instance_network;
use wasi::sockets::network::{ErrorCode, IpSocketAddress, Network};
use wasi::sockets::tcp::TcpSocket;
use wasi::sockets::tcp_create_socket;

use crate::{WRITE_CHUNK, address_family, resolve, stderr};

/// After a failed reconnect, TCP messages go to stderr for this long before the next attempt.
pub const RETRY_SECS: u64 = 5;

/// A TCP connection attempt is given up after this long (a server that drops SYNs would
/// otherwise hold `log` for the system's connect timeout, minutes).
const CONNECT_TIMEOUT_NS: u64 = 3_000_000_000;

/// A TCP connection to the server; field order is drop order (streams before their socket).
struct Conn {
    input: InputStream,
    output: OutputStream,
    _socket: TcpSocket,
}

impl Conn {
    fn connect(target: &Target) -> Result<Conn, ErrorCode> {
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

    fn write(&self, frame: &[u8]) -> Result<(), StreamError> {
        frame.chunks(WRITE_CHUNK).try_for_each(|chunk| self.output.blocking_write_and_flush(chunk))
    }
}

/// TCP: connected lazily, reconnected once when the connection breaks, then retried at most
/// every [`RETRY_SECS`] while messages go to stderr.
pub(crate) struct Tcp {
    target: Target,
    conn: Option<Conn>,
    /// While down: the unix second of the next connection attempt.
    retry_at: Option<u64>,
}

impl Tcp {
    pub(crate) fn new(target: Target) -> Tcp {
        Tcp { target, conn: None, retry_at: None }
    }

    /// Sends one frame; false if it went nowhere (the caller writes the message to stderr).
    pub(crate) fn send(&mut self, frame: &[u8], now: u64) -> bool {
        if self.conn.as_ref().is_some_and(Conn::closed) {
            self.conn = None;
        }
        if let Some(conn) = &self.conn {
            if conn.write(frame).is_ok() {
                return true;
            }
            self.conn = None;
        } else if self.retry_at.is_some_and(|at| now < at) {
            return false;
        }
        // Not connected (first message, or the connection just broke): one attempt.
        match Conn::connect(&self.target).map_err(|e| e.name()).and_then(|conn| {
            conn.write(frame).map_err(|_| "write failed")?;
            Ok(conn)
        }) {
            Ok(conn) => {
                if self.retry_at.take().is_some() {
                    stderr(&format!("syslog: connected to {} again", self.target));
                }
                self.conn = Some(conn);
                true
            }
            Err(why) => {
                if self.retry_at.is_none() {
                    stderr(&format!(
                        "syslog: cannot send to {}: {why}; logging to stderr, retrying every {RETRY_SECS} s",
                        self.target
                    ));
                }
                self.retry_at = Some(now + RETRY_SECS);
                false
            }
        }
    }
}
