//! One TLS connection's state, driven by the caller's bytes.

use std::collections::VecDeque;
use std::fmt;
use std::io::{Read, Write};

use rustls::{Connection, HandshakeKind, ProtocolVersion};

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    Tls12,
    Tls13,
}

/// What kind of failure ended a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Bytes that are not TLS records, or a record over the size limit.
    BadRecord,
    /// Nothing in common (version, cipher suite, key, ALPN protocol), or another handshake
    /// failure.
    HandshakeFailed,
    /// The peer's certificate was refused.
    BadCertificate,
    /// The peer sent a fatal alert.
    PeerAlert,
    /// The session was used after it failed or closed.
    Closed,
    /// The host would not sign.
    SigningFailed,
}

/// Why a session failed. The alert for the peer, if one applies, is queued as ciphertext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl Error {
    fn closed() -> Error {
        Error { kind: ErrorKind::Closed, message: "the session has already failed or closed".into() }
    }

    fn from_rustls(e: &rustls::Error) -> Error {
        use rustls::Error as E;
        let kind = match e {
            E::InvalidMessage(_)
            | E::DecryptError
            | E::InappropriateMessage { .. }
            | E::InappropriateHandshakeMessage { .. } => ErrorKind::BadRecord,
            E::InvalidCertificate(_) | E::NoCertificatesPresented => ErrorKind::BadCertificate,
            E::AlertReceived(_) => ErrorKind::PeerAlert,
            E::Other(other) if other.0.downcast_ref::<crate::SignFailure>().is_some() => ErrorKind::SigningFailed,
            _ => ErrorKind::HandshakeFailed,
        };
        Error { kind, message: e.to_string() }
    }
}

/// What is ready after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The handshake has not finished.
    pub handshaking: bool,
    /// Bytes [`Session::read_plaintext`] has ready.
    pub plaintext_ready: usize,
    /// Bytes [`Session::take_ciphertext`] has ready.
    pub ciphertext_ready: usize,
    /// The peer sent close_notify.
    pub peer_closed: bool,
}

/// What was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub version: Version,
    /// IANA name, e.g. `TLS13_AES_128_GCM_SHA256`.
    pub cipher_suite: String,
    pub alpn: Option<String>,
    /// The name the client asked for (SNI); on a client, the name it verified.
    pub server_name: Option<String>,
    /// The peer's chain, DER, leaf first.
    pub peer_certificates: Vec<Vec<u8>>,
    pub resumed: bool,
}

/// One TLS connection, server or client side.
pub struct Session {
    connection: Connection,
    /// Decrypted bytes from the peer, not yet read.
    plaintext: VecDeque<u8>,
    /// Records for the peer, not yet taken.
    ciphertext: VecDeque<u8>,
    peer_closed: bool,
    /// Set once the session failed: every later call returns it.
    failed: Option<Error>,
    /// The client's server name, which rustls keeps only on the server side.
    client_server_name: Option<String>,
}

impl Session {
    pub(crate) fn new(mut connection: Connection, client_server_name: Option<String>) -> Session {
        // The caller paces its writes by `ciphertext_ready`; rustls's own limit on plaintext
        // queued during the handshake would only make it retry.
        connection.set_buffer_limit(None);
        let mut session = Session {
            connection,
            plaintext: VecDeque::new(),
            ciphertext: VecDeque::new(),
            peer_closed: false,
            failed: None,
            client_server_name,
        };
        // A client's ClientHello is ready at once.
        session.collect_ciphertext();
        session
    }

    /// Takes bytes received from the peer and processes every whole record among them.
    pub fn receive(&mut self, mut ciphertext: &[u8]) -> Result<Status, Error> {
        self.check_usable()?;
        let mut stalled = false;
        while !ciphertext.is_empty() {
            match self.connection.read_tls(&mut ciphertext) {
                Ok(0) => break,
                Ok(_) => stalled = false,
                // rustls's input buffer is full: processing it makes room, once.
                Err(e) if stalled => return Err(self.fail(ErrorKind::BadRecord, e.to_string())),
                Err(_) => stalled = true,
            }
            self.process()?;
        }
        Ok(self.status())
    }

    /// Up to `max` bytes to send to the peer, in order.
    pub fn take_ciphertext(&mut self, max: usize) -> Vec<u8> {
        take_front(&mut self.ciphertext, max)
    }

    /// Up to `max` bytes of the peer's plaintext, in order.
    pub fn read_plaintext(&mut self, max: usize) -> Vec<u8> {
        take_front(&mut self.plaintext, max)
    }

    /// Queues plaintext for the peer; it is encrypted once the handshake is done.
    pub fn write_plaintext(&mut self, plaintext: &[u8]) -> Result<Status, Error> {
        self.check_usable()?;
        self.connection
            .writer()
            .write_all(plaintext)
            .map_err(|e| Error { kind: ErrorKind::Closed, message: e.to_string() })?;
        self.collect_ciphertext();
        Ok(self.status())
    }

    /// Queues close_notify.
    pub fn close(&mut self) -> Status {
        if self.failed.is_none() {
            self.connection.send_close_notify();
            self.collect_ciphertext();
            self.failed = Some(Error::closed());
        }
        self.status()
    }

    pub fn status(&self) -> Status {
        Status {
            handshaking: self.connection.is_handshaking(),
            plaintext_ready: self.plaintext.len(),
            ciphertext_ready: self.ciphertext.len(),
            peer_closed: self.peer_closed,
        }
    }

    /// What was negotiated; `None` while handshaking.
    pub fn info(&self) -> Option<Info> {
        if self.connection.is_handshaking() {
            return None;
        }
        let version = match self.connection.protocol_version()? {
            ProtocolVersion::TLSv1_3 => Version::Tls13,
            _ => Version::Tls12,
        };
        let suite = self.connection.negotiated_cipher_suite()?.suite();
        let server_name = match &self.connection {
            Connection::Server(server) => server.server_name().map(str::to_owned),
            Connection::Client(_) => self.client_server_name.clone(),
        };
        Some(Info {
            version,
            cipher_suite: suite.as_str().map_or_else(|| format!("{suite:?}"), str::to_owned),
            alpn: self.connection.alpn_protocol().map(|p| String::from_utf8_lossy(p).into_owned()),
            server_name,
            peer_certificates: self
                .connection
                .peer_certificates()
                .unwrap_or_default()
                .iter()
                .map(|c| c.to_vec())
                .collect(),
            resumed: self.connection.handshake_kind() == Some(HandshakeKind::Resumed),
        })
    }

    fn check_usable(&self) -> Result<(), Error> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Processes what rustls has buffered; moves out the plaintext and the records to send.
    fn process(&mut self) -> Result<(), Error> {
        let result = self.connection.process_new_packets();
        // Whether it failed or not, there may be records to send: an alert, at least.
        self.collect_ciphertext();
        let state = match result {
            Ok(state) => state,
            Err(e) => {
                let error = Error::from_rustls(&e);
                return Err(self.fail(error.kind, error.message));
            }
        };
        let mut reader = self.connection.reader();
        let mut buf = vec![0; state.plaintext_bytes_to_read()];
        if reader.read_exact(&mut buf).is_ok() {
            if self.plaintext.is_empty() {
                self.plaintext = VecDeque::from(buf);
            } else {
                self.plaintext.extend(buf);
            }
        }
        self.peer_closed |= state.peer_has_closed();
        Ok(())
    }

    fn fail(&mut self, kind: ErrorKind, message: String) -> Error {
        let error = Error { kind, message };
        self.failed = Some(error.clone());
        error
    }

    fn collect_ciphertext(&mut self) {
        let mut out = Vec::new();
        while self.connection.wants_write() {
            if self.connection.write_tls(&mut out).is_err() {
                break;
            }
        }
        if self.ciphertext.is_empty() {
            // The common case, and no copy: nothing was waiting.
            self.ciphertext = VecDeque::from(out);
        } else {
            self.ciphertext.extend(out);
        }
    }
}

/// Up to `max` bytes from the front of `queue`, copied slice by slice (a byte-wise drain is
/// several times slower in wasm, and this is on every record's path).
fn take_front(queue: &mut VecDeque<u8>, max: usize) -> Vec<u8> {
    let n = max.min(queue.len());
    let (first, second) = queue.as_slices();
    let from_first = n.min(first.len());
    let mut taken = Vec::with_capacity(n);
    taken.extend_from_slice(&first[..from_first]);
    taken.extend_from_slice(&second[..n - from_first]);
    queue.drain(..n);
    taken
}
