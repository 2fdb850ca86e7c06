//! HTTPS (cargo feature `tls`): the `HTTPS_*`, `TLS_VERSIONS` and `HSTS_MAX_AGE` settings, the
//! `morgana:tls` server configuration made from them, the TLS transport that sits between a
//! connection's socket streams and its `morgana-http` state machine, and what plain HTTP and
//! HTTPS answer differently (the redirect to HTTPS, `Strict-Transport-Security`).
//!
//! The transport moves bytes only: the socket's bytes go into the session
//! ([`Tls::on_bytes`]) and the plaintext that comes out goes into the `Connection`; the
//! `Connection`'s output goes into the session and the records that come out go to the socket
//! ([`Tls::flush_into`]), no more than the stream accepts, and no more plaintext while the
//! session holds [`CIPHERTEXT_HIGH_WATER`] bytes for a client that does not read.

use std::net::SocketAddr;

use morgana_http::{Connection, Now, Request, Response};
use wasi::io::streams::OutputStream;

use crate::bindings::morgana::tls::server::{ClientAuth, ServerConfig, ServerOptions};
use crate::bindings::morgana::tls::types::{
    ErrorKind, ProtocolVersion, Session, Status, TlsError, certificates_from_pem,
};
use crate::transport::{Received, TransportError};

/// Ciphertext a session may hold for its client before the `Connection`'s output stays where
/// it is (and the `Connection` stops parsing requests once that piles up in turn).
const CIPHERTEXT_HIGH_WATER: u32 = 64 * 1024;
/// Plaintext handed to the session per call: one record's worth.
const PLAINTEXT_CHUNK: usize = 16 * 1024;
/// The only application protocol offered by ALPN.
const ALPN: &str = "http/1.1";

/// Whether and how clients are asked for a certificate (`HTTPS_CLIENT_AUTH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuthMode {
    None,
    Optional,
    Required,
}

/// The HTTPS settings, as read from the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpsConfig {
    /// `HTTPS_ADDR` / `HTTPS_PORT`.
    pub addr: SocketAddr,
    /// Host key names (`HTTPS_KEYS`); empty: all the host holds.
    pub keys: Vec<String>,
    /// `HTTPS_REDIRECT`: plain HTTP answers every request with a redirect to HTTPS.
    pub redirect: bool,
    /// `HTTPS_REDIRECT_PORT`: the port clients reach HTTPS on, for the redirect (it differs
    /// from `addr`'s behind a port forward); by default `addr`'s.
    pub redirect_port: u16,
    /// `HSTS_MAX_AGE`: HTTPS responses carry `Strict-Transport-Security`.
    pub hsts_max_age: Option<u64>,
    /// `TLS_VERSIONS`.
    pub versions: Vec<ProtocolVersion>,
    pub client_auth: ClientAuthMode,
    /// `HTTPS_CLIENT_CA`: the PEM file of the CAs client certificates must come from.
    pub client_ca: Option<String>,
    /// `HTTPS_TICKETS`: resumption by session tickets.
    pub tickets: bool,
}

/// Reads the HTTPS settings through `var` (a variable's trimmed value, if set); the error says
/// what to fix.
pub fn parse_config(var: &dyn Fn(&str) -> Option<String>) -> Result<HttpsConfig, String> {
    let addr = crate::listen_addr(var("HTTPS_ADDR"), var("HTTPS_PORT"), crate::Scheme::Https, 8443)?;
    let keys = var("HTTPS_KEYS")
        .map(|v| v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default();
    let redirect = switch(var, "HTTPS_REDIRECT", false)?;
    let redirect_port = match var("HTTPS_REDIRECT_PORT") {
        None => addr.port(),
        Some(v) => v.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
            format!("HTTPS_REDIRECT_PORT={v:?} is not a port number (1-65535): the port clients reach HTTPS on")
        })?,
    };
    let tickets = switch(var, "HTTPS_TICKETS", true)?;
    let hsts_max_age = match var("HSTS_MAX_AGE") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| format!("HSTS_MAX_AGE={v:?} is not a number of seconds"))?),
    };
    let versions = match var("TLS_VERSIONS") {
        None => vec![ProtocolVersion::Tls13, ProtocolVersion::Tls12],
        Some(v) => parse_versions(&v).ok_or_else(|| format!("TLS_VERSIONS={v:?} is not 1.2, 1.3 or 1.2,1.3"))?,
    };
    let client_auth = match var("HTTPS_CLIENT_AUTH").as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") => ClientAuthMode::None,
        Some("optional") => ClientAuthMode::Optional,
        Some("required") => ClientAuthMode::Required,
        Some(other) => return Err(format!("HTTPS_CLIENT_AUTH={other:?} is not none, optional or required")),
    };
    let client_ca = var("HTTPS_CLIENT_CA").filter(|p| !p.is_empty());
    match (client_auth, &client_ca) {
        (ClientAuthMode::Optional | ClientAuthMode::Required, None) => {
            let mode = if client_auth == ClientAuthMode::Optional { "optional" } else { "required" };
            return Err(format!(
                "HTTPS_CLIENT_AUTH={mode} needs HTTPS_CLIENT_CA=/path/to/ca.pem, the CA certificates client certificates must be issued by"
            ));
        }
        (ClientAuthMode::None, Some(path)) => {
            return Err(format!(
                "HTTPS_CLIENT_CA={path:?} is set but HTTPS_CLIENT_AUTH is none: set HTTPS_CLIENT_AUTH=optional or required, or unset HTTPS_CLIENT_CA"
            ));
        }
        _ => {}
    }
    Ok(HttpsConfig { addr, keys, redirect, redirect_port, hsts_max_age, versions, client_auth, client_ca, tickets })
}

/// An `on`/`off` variable.
fn switch(var: &dyn Fn(&str) -> Option<String>, name: &str, default: bool) -> Result<bool, String> {
    match var(name) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("on") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("off") => Ok(false),
        Some(v) => Err(format!("{name}={v:?} is neither on nor off")),
    }
}

/// `1.2`, `1.3` or both, comma-separated; `None` for anything else.
fn parse_versions(list: &str) -> Option<Vec<ProtocolVersion>> {
    let mut versions = Vec::new();
    for item in list.split(',').map(str::trim) {
        let version = match item {
            "1.2" => ProtocolVersion::Tls12,
            "1.3" => ProtocolVersion::Tls13,
            _ => return None,
        };
        if !versions.contains(&version) {
            versions.push(version);
        }
    }
    Some(versions)
}

/// The `morgana:tls` server configuration for `https`, created once at start: reads the client
/// CA file, if any, then asks the TLS component. The error is the line to print.
pub fn server_config(https: &HttpsConfig) -> Result<ServerConfig, String> {
    let client_auth = match (https.client_auth, &https.client_ca) {
        (ClientAuthMode::None, _) | (_, None) => ClientAuth::None,
        (mode, Some(path)) => {
            let cas = read_cas(path)?;
            if mode == ClientAuthMode::Required { ClientAuth::Required(cas) } else { ClientAuth::Optional(cas) }
        }
    };
    let options = ServerOptions {
        keys: https.keys.clone(),
        alpn: vec![ALPN.to_owned()],
        versions: https.versions.clone(),
        client_auth,
        tickets: https.tickets,
    };
    ServerConfig::create(&options).map_err(|e| format!("cannot serve HTTPS: {e}"))
}

/// The certificates (DER) of the PEM file at `path`, which must lie in a preopened directory.
fn read_cas(path: &str) -> Result<Vec<Vec<u8>>, String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!("cannot read HTTPS_CLIENT_CA={path:?}: {e} (the file must be in a directory the host preopens)")
    })?;
    certificates_from_pem(&pem).map_err(|e| format!("HTTPS_CLIENT_CA={path:?}: {e}"))
}

/// The answer plain HTTP gives every request when `HTTPS_REDIRECT=on`: `308 Permanent
/// Redirect` to the same path and query over HTTPS on `https_port`, or 400 when the request has
/// no usable `Host` to redirect to.
pub fn redirect(request: &Request, https_port: u16) -> Response {
    let Some(host) = request.header("host").and_then(host_without_port) else {
        return Response::new(400).with_body("400 Bad Request: no Host header to redirect to HTTPS with\n");
    };
    let port = if https_port == 443 { String::new() } else { format!(":{https_port}") };
    // `OPTIONS *` and CONNECT targets are no paths: send those to the root.
    let target = if request.path.starts_with('/') { request.target() } else { "/".to_owned() };
    Response::new(308).with_header("Location", format!("https://{host}{port}{target}"))
}

/// The host of a `Host` field value (`uri-host [":" port]`, RFC 9110 7.2) without the port, if
/// the value is one: a name or IPv4 address, or an IPv6 address in brackets.
fn host_without_port(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?.trim();
    let (host, rest) = match value.strip_prefix('[') {
        Some(literal) => {
            let end = literal.find(']')?;
            let host = value.get(..end + 2)?;
            let inner = literal.get(..end)?;
            if inner.is_empty() || !inner.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
                return None;
            }
            (host, literal.get(end + 1..)?)
        }
        None => {
            let end = value.find(':').unwrap_or(value.len());
            let host = value.get(..end)?;
            let name_byte = |b: u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b);
            if host.is_empty() || !host.bytes().all(name_byte) {
                return None;
            }
            (host, value.get(end..)?)
        }
    };
    let port_ok = match rest.strip_prefix(':') {
        Some(port) => port.bytes().all(|b| b.is_ascii_digit()),
        None => rest.is_empty(),
    };
    port_ok.then_some(host)
}

/// Adds `Strict-Transport-Security: max-age=SECONDS` unless the handler set the field itself.
pub fn add_hsts(response: &mut Response, max_age: u64) {
    if !response.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("strict-transport-security")) {
        response.headers.push(("Strict-Transport-Security".to_owned(), format!("max-age={max_age}").into_bytes()));
    }
}

/// `kind: message`, the kind named as in the WIT.
pub fn describe(error: &TlsError) -> String {
    let kind = match error.kind {
        ErrorKind::BadRecord => "bad-record",
        ErrorKind::HandshakeFailed => "handshake-failed",
        ErrorKind::BadCertificate => "bad-certificate",
        ErrorKind::PeerAlert => "peer-alert",
        ErrorKind::Closed => "closed",
        ErrorKind::SigningFailed => "signing-failed",
    };
    format!("{kind}: {}", error.message)
}

/// Where a session is in its life, as far as the transport is concerned.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    /// close_notify is queued: nothing more goes in, the peer's bytes are discarded.
    Closed,
    /// The session failed: its alert (if any) is what is left to send.
    Failed,
}

/// One connection's TLS session and what the transport knows of it.
pub struct Tls {
    session: Session,
    /// The session's status after the last call, less what was taken since.
    status: Status,
    state: State,
}

impl Tls {
    /// The transport for a newly accepted connection's session.
    pub fn new(session: Session) -> Tls {
        let status = session.status();
        Tls { session, status, state: State::Open }
    }

    /// Passes bytes from the socket through the session, and the plaintext that comes out of it
    /// on to `http`. After the session is closed or failed, the peer's bytes are discarded.
    pub fn on_bytes(&mut self, now: Now, bytes: &[u8], http: &mut Connection) -> Result<Received, TransportError> {
        if self.state != State::Open {
            return Ok(Received::Open);
        }
        self.status = self.session.receive(bytes).map_err(|e| self.fail(e))?;
        if self.status.plaintext_ready > 0 {
            let plaintext = self.session.read_plaintext(self.status.plaintext_ready);
            self.status.plaintext_ready = 0;
            http.receive(now, &plaintext);
        }
        Ok(if self.status.peer_closed { Received::PeerClosed } else { Received::Open })
    }

    /// Moves `http`'s output into the session while it holds little ciphertext, and the
    /// session's records into `output` as far as the stream accepts them now.
    pub fn flush_into(&mut self, http: &mut Connection, output: &OutputStream) -> Result<(), TransportError> {
        loop {
            self.encrypt(http)?;
            if self.status.ciphertext_ready == 0 {
                return Ok(());
            }
            let permit = match output.check_write() {
                Ok(0) => return Ok(()),
                Ok(n) => u32::try_from(n).unwrap_or(u32::MAX),
                Err(_) => return Err(TransportError::Stream),
            };
            let records = self.session.take_ciphertext(permit.min(self.status.ciphertext_ready));
            if records.is_empty() {
                self.status.ciphertext_ready = 0;
                return Ok(());
            }
            let taken = u32::try_from(records.len()).unwrap_or(u32::MAX);
            self.status.ciphertext_ready = self.status.ciphertext_ready.saturating_sub(taken);
            output.write(&records).map_err(|_| TransportError::Stream)?;
        }
    }

    /// Hands `http`'s output to the session, a record's worth at a time, until the session
    /// holds [`CIPHERTEXT_HIGH_WATER`] bytes of ciphertext.
    fn encrypt(&mut self, http: &mut Connection) -> Result<(), TransportError> {
        while self.state == State::Open && http.has_output() && self.status.ciphertext_ready < CIPHERTEXT_HIGH_WATER {
            let pending = http.pending_output();
            let n = pending.len().min(PLAINTEXT_CHUNK);
            self.status =
                self.session.write_plaintext(pending.get(..n).unwrap_or_default()).map_err(|e| self.fail(e))?;
            http.consume_output(n);
        }
        Ok(())
    }

    /// Queues close_notify, once; a failed session has nothing more to say.
    pub fn close(&mut self) {
        if self.state == State::Open {
            self.status = self.session.close();
            self.state = State::Closed;
        }
    }

    /// Records for the client are waiting to be written.
    pub fn has_output(&self) -> bool {
        self.status.ciphertext_ready > 0
    }

    pub fn handshaking(&self) -> bool {
        self.status.handshaking
    }

    pub fn failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Marks the session failed; its alert, if any, is still to be sent.
    fn fail(&mut self, error: TlsError) -> TransportError {
        self.state = State::Failed;
        self.status = self.session.status();
        TransportError::Tls(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::config;

    fn https(vars: &[(&str, &str)]) -> Result<HttpsConfig, String> {
        config(vars, &[]).map(|c| c.https)
    }

    #[test]
    fn defaults() {
        let c = config(&[], &[]).unwrap();
        assert_eq!(c.addr, "0.0.0.0:8080".parse().ok());
        let h = c.https;
        assert_eq!(h.addr, "0.0.0.0:8443".parse().unwrap());
        assert_eq!(h.redirect_port, 8443);
        assert!(h.keys.is_empty());
        assert!(!h.redirect);
        assert_eq!(h.hsts_max_age, None);
        assert_eq!(h.versions, [ProtocolVersion::Tls13, ProtocolVersion::Tls12]);
        assert_eq!(h.client_auth, ClientAuthMode::None);
        assert_eq!(h.client_ca, None);
        assert!(h.tickets);
    }

    #[test]
    fn overrides() {
        let h = https(&[
            ("HTTPS_ADDR", "[::]:443"),
            ("HTTPS_PORT", "1"),
            ("HTTPS_KEYS", " site, mail ,,"),
            ("HTTPS_REDIRECT", "on"),
            ("HTTPS_REDIRECT_PORT", "443"),
            ("HSTS_MAX_AGE", "0"),
            ("TLS_VERSIONS", "1.3"),
            ("HTTPS_CLIENT_AUTH", "Required"),
            ("HTTPS_CLIENT_CA", "/etc/ca.pem"),
            ("HTTPS_TICKETS", "off"),
        ])
        .unwrap();
        assert_eq!(h.addr, "[::]:443".parse().unwrap());
        assert_eq!(h.redirect_port, 443);
        assert_eq!(h.keys, ["site", "mail"]);
        assert!(h.redirect);
        assert_eq!(h.hsts_max_age, Some(0));
        assert_eq!(h.versions, [ProtocolVersion::Tls13]);
        assert_eq!(h.client_auth, ClientAuthMode::Required);
        assert_eq!(h.client_ca.as_deref(), Some("/etc/ca.pem"));
        assert!(!h.tickets);
        assert_eq!(https(&[("HTTPS_PORT", "4443")]).unwrap().addr, "0.0.0.0:4443".parse().unwrap());
        assert_eq!(https(&[("HTTPS_ADDR", ":9443")]).unwrap().addr, "0.0.0.0:9443".parse().unwrap());
        assert_eq!(
            https(&[("TLS_VERSIONS", "1.2, 1.3")]).unwrap().versions,
            [ProtocolVersion::Tls12, ProtocolVersion::Tls13]
        );
        let c = config(&[("HTTP_ADDR", "OFF"), ("HTTPS_CLIENT_AUTH", "optional"), ("HTTPS_CLIENT_CA", "ca.pem")], &[])
            .unwrap();
        assert_eq!(c.addr, None);
        assert_eq!(c.https.client_auth, ClientAuthMode::Optional);
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        for vars in [
            &[("HTTPS_ADDR", "localhost:443")][..],
            &[("HTTPS_PORT", "https")],
            &[("HTTPS_REDIRECT", "yes")],
            &[("HTTPS_TICKETS", "")],
            &[("HSTS_MAX_AGE", "1y")],
            &[("TLS_VERSIONS", "1.1")],
            &[("TLS_VERSIONS", "")],
            &[("TLS_VERSIONS", "1.3,")],
            &[("HTTPS_CLIENT_AUTH", "request")],
            &[("HTTPS_CLIENT_AUTH", "required")],
            &[("HTTPS_CLIENT_AUTH", "optional"), ("HTTPS_CLIENT_CA", "")],
            &[("HTTPS_CLIENT_CA", "ca.pem")],
        ] {
            let err = https(vars).expect_err("refused");
            assert!(err.contains('='), "{err}");
        }
        let err = https(&[("HTTPS_CLIENT_AUTH", "required")]).err().unwrap();
        assert!(err.contains("HTTPS_CLIENT_CA=/path/to/ca.pem"), "{err}");
    }

    fn request(host: Option<&str>, path: &str, query: Option<&str>) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            query: query.map(str::to_owned),
            version: morgana_http::Version::Http11,
            headers: host.map(|h| ("Host".to_owned(), h.as_bytes().to_vec())).into_iter().collect(),
            body: Vec::new(),
        }
    }

    fn location(response: &Response) -> Option<&str> {
        let (_, value) = response.headers.iter().find(|(n, _)| n == "Location")?;
        std::str::from_utf8(value).ok()
    }

    #[test]
    fn redirects_keep_host_path_and_query() {
        let r = redirect(&request(Some("example.org:8080"), "/a%20b", Some("x=1&y")), 8443);
        assert_eq!((r.status, location(&r)), (308, Some("https://example.org:8443/a%20b?x=1&y")));
        assert!(r.body.is_empty());
        let r = redirect(&request(Some("example.org"), "/", None), 443);
        assert_eq!(location(&r), Some("https://example.org/"));
        let r = redirect(&request(Some("[2001:db8::1]:80"), "/p", None), 443);
        assert_eq!(location(&r), Some("https://[2001:db8::1]/p"));
        let r = redirect(&request(Some("192.0.2.1"), "*", None), 4443);
        assert_eq!(location(&r), Some("https://192.0.2.1:4443/"));
    }

    #[test]
    fn redirects_need_a_usable_host() {
        for host in [None, Some(""), Some(":80"), Some("a b"), Some("a/b"), Some("[::1"), Some("[::1]x"), Some("a:8o")]
        {
            let r = redirect(&request(host, "/", None), 443);
            assert_eq!((r.status, location(&r)), (400, None), "{host:?}");
        }
    }

    #[test]
    fn hsts_is_added_once() {
        let mut r = Response::new(200);
        add_hsts(&mut r, 31536000);
        assert_eq!(r.headers, [("Strict-Transport-Security".to_owned(), b"max-age=31536000".to_vec())]);
        let mut r = Response::new(200).with_header("strict-transport-security", "max-age=1");
        add_hsts(&mut r, 5);
        assert_eq!(r.headers.len(), 1);
    }
}
