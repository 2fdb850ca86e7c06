//! What carries a connection's HTTP between its socket streams and its `morgana-http`
//! `Connection`: the bytes as they are (plain HTTP) or, with the feature `tls`, a TLS session.

use morgana_http::{Connection, Now};
use wasi::io::streams::OutputStream;

#[cfg(feature = "tls")]
use crate::tls::Tls;

/// A connection's transport; it owns whatever state the bytes pass through.
pub enum Transport {
    Plain,
    #[cfg(feature = "tls")]
    Tls(Tls),
}

/// What the bytes from the socket amounted to.
pub enum Received {
    /// More may come.
    Open,
    /// The peer said it sends nothing more (TLS close_notify): end of input for HTTP.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    PeerClosed,
}

/// Why a transport stopped.
pub enum TransportError {
    /// The socket's output stream failed: drop the connection.
    Stream,
    /// The TLS session failed; what it has queued (an alert) is still to be sent.
    #[cfg(feature = "tls")]
    Tls(crate::bindings::morgana::tls::types::TlsError),
}

impl Transport {
    /// Passes bytes read from the socket on to `http`.
    pub fn on_bytes(&mut self, now: Now, bytes: &[u8], http: &mut Connection) -> Result<Received, TransportError> {
        match self {
            Transport::Plain => {
                http.receive(now, bytes);
                Ok(Received::Open)
            }
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.on_bytes(now, bytes, http),
        }
    }

    /// Writes as much of `http`'s queued output as `output` accepts now; only what was written
    /// is consumed.
    pub fn flush_into(&mut self, http: &mut Connection, output: &OutputStream) -> Result<(), TransportError> {
        match self {
            Transport::Plain => write_plain(http, output),
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.flush_into(http, output),
        }
    }

    /// Output of the transport's own is waiting to be written (beside `http`'s).
    pub fn has_output(&self) -> bool {
        match self {
            Transport::Plain => false,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.has_output(),
        }
    }

    /// Tells the peer that nothing more will come (TLS close_notify, queued as output); once is
    /// enough, more calls do nothing.
    pub fn close(&mut self) {
        match self {
            Transport::Plain => {}
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.close(),
        }
    }

    /// Not yet ready to carry HTTP (a TLS handshake is under way).
    pub fn handshaking(&self) -> bool {
        match self {
            Transport::Plain => false,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.handshaking(),
        }
    }

    /// The transport failed: send what it has queued, then close.
    pub fn failed(&self) -> bool {
        match self {
            Transport::Plain => false,
            #[cfg(feature = "tls")]
            Transport::Tls(tls) => tls.failed(),
        }
    }

    /// HTTPS rather than plain HTTP.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub fn is_secure(&self) -> bool {
        match self {
            Transport::Plain => false,
            #[cfg(feature = "tls")]
            Transport::Tls(_) => true,
        }
    }
}

/// Writes `http`'s queued output straight to the stream, as much as it accepts now.
fn write_plain(http: &mut Connection, output: &OutputStream) -> Result<(), TransportError> {
    while http.has_output() {
        let permit = match output.check_write() {
            Ok(0) => return Ok(()),
            Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
            Err(_) => return Err(TransportError::Stream),
        };
        let pending = http.pending_output();
        let n = pending.len().min(permit);
        output.write(pending.get(..n).unwrap_or_default()).map_err(|_| TransportError::Stream)?;
        http.consume_output(n);
    }
    Ok(())
}
