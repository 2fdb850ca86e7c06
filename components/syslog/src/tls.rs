//! The TLS transport (RFC 5425): the TCP transport's octet-counted frames, written as plaintext
//! into a `morgana:tls` client session whose records this module moves over a TCP [`Conn`]
//! (the session does no I/O). Connecting, reconnecting and reporting are [`Stream`]'s, as for
//! TCP; here a connection is ready once its handshake is done (within
//! [`HANDSHAKE_TIMEOUT_NS`]). A TLS error on a live session (an alert, a bad record) is
//! reported and, unlike a plain close, waits for the retry interval before the next attempt.
//! A server may also refuse a client after the handshake by closing the connection (rsyslog
//! checks client certificates so); the messages written before it did are lost, which TLS
//! cannot tell, and [`Stream`] counts the second such close in a row as a failure.
//!
//! Trust: the CA certificates of `SYSLOG_TLS_CA` (a PEM file, read once through std's
//! filesystem, so it must lie in a preopened directory), else the TLS component's own roots;
//! the server's certificate must name `SYSLOG_TLS_NAME`, else the target's HOST. With
//! `SYSLOG_TLS_KEY`, the host key of that name answers a request for a client certificate.

use morgana_syslog::{Target, TlsSettings};
use wasi::clocks::monotonic_clock;
use wasi::io::poll::poll;
use wasi::io::streams::StreamError;

use crate::bindings::morgana::tls::client::{ClientConfig, ClientOptions};
use crate::bindings::morgana::tls::types::{Session, certificates_from_pem};
use crate::stream::{self, Broken, Dial, Stream};
use crate::tcp::Conn as TcpConn;

/// A handshake is given up after this long (a server that accepts connections but does not
/// speak TLS would otherwise hold `log` for good).
pub const HANDSHAKE_TIMEOUT_NS: u64 = 5_000_000_000;

/// Bytes asked of the socket per `read`.
const READ_CHUNK: u64 = 16 * 1024;

/// Ciphertext taken from the session per call.
const CIPHERTEXT_CHUNK: u32 = 64 * 1024;

/// The TLS transport to one target.
pub(crate) type Tls = Stream<TlsDial>;

/// TLS sessions, one per TCP connection, with one client configuration.
pub(crate) struct TlsDial {
    target: Target,
    /// The name the server's certificate must carry.
    server_name: String,
    /// `SYSLOG_TLS_KEY`.
    client_key: Option<String>,
    config: ClientConfig,
}

/// The stderr report (after `syslog: `) of a TLS problem with `target`.
pub(crate) fn describe(target: &Target, why: &str) -> String {
    format!("TLS to {}:{}: {why}", target.host, target.port)
}

impl TlsDial {
    /// Reads the CA file, if any, and has the TLS component check the configuration; the error
    /// says what is wrong (a configuration that cannot work, not worth retrying).
    pub(crate) fn new(target: Target, settings: &TlsSettings) -> Result<TlsDial, String> {
        let roots = match &settings.ca_file {
            None => Vec::new(),
            Some(path) => {
                let pem = std::fs::read(path).map_err(|e| {
                    format!(
                        "cannot read SYSLOG_TLS_CA={path:?}: {e} (the file must be in a directory the host preopens)"
                    )
                })?;
                certificates_from_pem(&pem).map_err(|e| format!("SYSLOG_TLS_CA={path:?}: {e}"))?
            }
        };
        let options =
            ClientOptions { roots, alpn: Vec::new(), versions: Vec::new(), client_key: settings.client_key.clone() };
        let config = ClientConfig::create(&options)?;
        Ok(TlsDial {
            server_name: settings.server_name(&target),
            target,
            client_key: settings.client_key.clone(),
            config,
        })
    }
}

impl Dial for TlsDial {
    type Conn = Conn;

    fn target(&self) -> &Target {
        &self.target
    }

    fn describe(&self, why: &str) -> String {
        describe(&self.target, why)
    }

    fn dial(&self) -> Result<Conn, String> {
        let tcp = TcpConn::connect(&self.target).map_err(|e| format!("cannot connect: {}", e.name()))?;
        let session = self.config.connect(&self.server_name)?;
        let conn = Conn { session, tcp };
        conn.handshake()?;
        Ok(conn)
    }

    /// What a server that checks client certificates after the handshake (rsyslog's gtls
    /// driver) does to a client it refuses.
    fn closed_soon(&self) -> String {
        let why = match &self.client_key {
            None => "does it want a client certificate (SYSLOG_TLS_KEY)?".to_owned(),
            Some(key) => format!("does it refuse the certificate of SYSLOG_TLS_KEY={key}?"),
        };
        format!("the server closes the connection soon after each handshake: {why}")
    }
}

/// A TLS session over a TCP connection. Field order is drop order: the session goes before
/// the connection (after `Drop` has sent close_notify).
pub(crate) struct Conn {
    session: Session,
    tcp: TcpConn,
}

impl Conn {
    /// Drives the handshake: sends what the session has for the server, feeds it what the
    /// server sends, until the session is ready for application data.
    fn handshake(&self) -> Result<(), String> {
        let closed = || "the server closed the connection during the handshake".to_owned();
        let ready = self.tcp.input.subscribe();
        let deadline = monotonic_clock::subscribe_duration(HANDSHAKE_TIMEOUT_NS);
        loop {
            self.flush().map_err(|_| closed())?;
            if !self.session.status().handshaking {
                return Ok(());
            }
            match self.tcp.input.read(READ_CHUNK) {
                Ok(bytes) if bytes.is_empty() => {
                    if poll(&[&ready, &deadline]) == [1] {
                        return Err(format!("no handshake within {} s", HANDSHAKE_TIMEOUT_NS / 1_000_000_000));
                    }
                }
                Ok(bytes) => {
                    if let Err(e) = self.session.receive(&bytes) {
                        // The alert for the server, if one applies.
                        let _ = self.flush();
                        return Err(e.message);
                    }
                }
                Err(_) => return Err(closed()),
            }
        }
    }

    /// Sends the server every record the session has ready.
    fn flush(&self) -> Result<(), StreamError> {
        loop {
            let records = self.session.take_ciphertext(CIPHERTEXT_CHUNK);
            if records.is_empty() {
                return Ok(());
            }
            self.tcp.write(&records)?;
        }
    }
}

impl stream::Conn for Conn {
    /// Feeds the session whatever the server sent since (session tickets, a key update, an
    /// alert, close_notify) without waiting for more.
    fn check(&mut self) -> Result<(), Broken> {
        loop {
            match self.tcp.input.read(READ_CHUNK) {
                Ok(bytes) if bytes.is_empty() => break,
                Ok(bytes) => match self.session.receive(&bytes) {
                    Ok(status) => {
                        // A syslog server sends no application data: drop any.
                        if status.plaintext_ready > 0 {
                            self.session.read_plaintext(status.plaintext_ready);
                        }
                    }
                    Err(e) => {
                        let _ = self.flush();
                        return Err(Broken::Failed(e.message));
                    }
                },
                Err(_) => return Err(Broken::Closed),
            }
        }
        if self.session.status().peer_closed {
            return Err(Broken::Closed);
        }
        // Whatever the session has to answer.
        self.flush().map_err(|_| Broken::Closed)
    }

    fn write(&mut self, frame: &[u8]) -> Result<(), Broken> {
        self.session.write_plaintext(frame).map_err(|e| Broken::Failed(e.message))?;
        self.flush().map_err(|_| Broken::Closed)
    }
}

impl Drop for Conn {
    /// Sends close_notify, if the session still can and the socket takes it without waiting.
    fn drop(&mut self) {
        self.session.close();
        let records = self.session.take_ciphertext(CIPHERTEXT_CHUNK);
        let room = self.tcp.output.check_write().unwrap_or(0);
        if !records.is_empty() && room >= records.len() as u64 {
            let _ = self.tcp.output.blocking_write_and_flush(&records);
        }
    }
}
