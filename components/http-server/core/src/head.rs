//! The request head: finding where it ends (incrementally, so a byte-at-a-time client costs
//! linear time), enforcing the size limits before it is complete, parsing it with `httparse` and
//! interpreting the fields that decide framing and the connection's fate.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use core::fmt;

use crate::conn::Limits;
use crate::message::{Version, is_tchar, list_elements, trim_ows};

/// Why a request was refused. Each maps to the status the server answers with before closing
/// the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// 400: the request line, a header field, the framing or a chunk is malformed; the text
    /// says which.
    Malformed(&'static str),
    /// 408: the head or the body did not arrive before its deadline.
    Timeout,
    /// 413: the body is larger than [`Limits::max_body_bytes`].
    BodyTooLarge,
    /// 414: the request target is longer than [`Limits::max_target_bytes`].
    UriTooLong,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: the head is larger than [`Limits::max_head_bytes`] (or the trailer section is).
    HeadTooLarge,
    /// 431: more header fields than [`Limits::max_headers`].
    TooManyHeaders,
    /// 501: a transfer coding other than `chunked`.
    UnsupportedTransferEncoding,
    /// 505: an HTTP version other than 1.0 and 1.1.
    UnsupportedVersion,
}

impl RequestError {
    /// The status code the server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::Malformed(_) => 400,
            RequestError::Timeout => 408,
            RequestError::BodyTooLarge => 413,
            RequestError::UriTooLong => 414,
            RequestError::ExpectationFailed => 417,
            RequestError::HeadTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::UnsupportedTransferEncoding => 501,
            RequestError::UnsupportedVersion => 505,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Malformed(what) => write!(f, "malformed request: {what}"),
            RequestError::Timeout => f.write_str("request not received in time"),
            RequestError::BodyTooLarge => f.write_str("request body too large"),
            RequestError::UriTooLong => f.write_str("request target too long"),
            RequestError::ExpectationFailed => f.write_str("unsupported expectation"),
            RequestError::HeadTooLarge => f.write_str("request head too large"),
            RequestError::TooManyHeaders => f.write_str("too many header fields"),
            RequestError::UnsupportedTransferEncoding => f.write_str("unsupported transfer coding"),
            RequestError::UnsupportedVersion => f.write_str("unsupported HTTP version"),
        }
    }
}

impl core::error::Error for RequestError {}

/// Incremental scan of the buffered input for the end of the request head. Remembers how far
/// it got, so each byte is looked at once however the head is split across reads.
#[derive(Clone, Debug, Default)]
pub(crate) struct HeadScan {
    /// Bytes examined so far.
    pos: usize,
    /// Start of the request line (after any empty lines, which RFC 9112 §2.2 lets us skip).
    line_start: Option<usize>,
    /// The space after the method and the space after the target.
    sp1: Option<usize>,
    sp2: Option<usize>,
    /// The LF that ends the request line.
    line_end: Option<usize>,
    /// The most recent LF after the request line.
    last_lf: Option<usize>,
}

impl HeadScan {
    /// Scans `buf` (the same buffer as before, possibly longer) and returns the length of the
    /// head once its empty line has arrived. Limits that can be judged early are judged early.
    pub fn scan(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<usize>, RequestError> {
        let mut end = None;
        while let Some(&b) = buf.get(self.pos) {
            let i = self.pos;
            self.pos += 1;
            if self.line_start.is_none() {
                if b != b'\r' && b != b'\n' {
                    self.line_start = Some(i);
                    if !is_tchar(b) {
                        return Err(RequestError::Malformed("invalid method"));
                    }
                }
                continue;
            }
            if self.line_end.is_none() {
                match b {
                    b' ' if self.sp1.is_none() => self.sp1 = Some(i),
                    b' ' if self.sp2.is_none() => self.sp2 = Some(i),
                    b'\n' => {
                        self.line_end = Some(i);
                        self.last_lf = Some(i);
                    }
                    _ if self.sp1.is_none() && !is_tchar(b) => {
                        return Err(RequestError::Malformed("invalid method"));
                    }
                    _ => {}
                }
            } else if b == b'\n' {
                let prev = self.last_lf.unwrap_or(i);
                let between = buf.get(prev + 1..i).unwrap_or_default();
                self.last_lf = Some(i);
                if between.is_empty() || between == b"\r" {
                    end = Some(i + 1);
                    break;
                }
            }
        }
        if let Some(sp1) = self.sp1 {
            let target_end = self.sp2.or(self.line_end).unwrap_or(self.pos);
            if target_end.saturating_sub(sp1 + 1) > limits.max_target_bytes {
                return Err(RequestError::UriTooLong);
            }
        }
        // Without its end, a head as long as the limit is certainly longer.
        let too_large = match end {
            Some(end) => end > limits.max_head_bytes,
            None => self.pos >= limits.max_head_bytes,
        };
        if too_large {
            return Err(RequestError::HeadTooLarge);
        }
        Ok(end)
    }

    /// The version token of the request line (`HTTP/1.1`), once the line is complete.
    fn version_token<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        match (self.sp2, self.line_end) {
            (Some(sp2), Some(le)) => {
                let v = buf.get(sp2 + 1..le).unwrap_or_default();
                v.strip_suffix(b"\r").unwrap_or(v)
            }
            _ => b"",
        }
    }
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    Length(u64),
    Chunked,
}

/// A parsed and interpreted request head.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub version: Version,
    pub headers: Vec<(String, Vec<u8>)>,
    pub framing: Framing,
    pub keep_alive: bool,
    pub expect_continue: bool,
}

/// Parses the complete head `buf` (which ends with its empty line) that `scan` found.
pub(crate) fn parse_head(buf: &[u8], scan: &HeadScan, limits: &Limits) -> Result<Head, RequestError> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut slots);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) => return Err(RequestError::Malformed("incomplete head")),
        Err(httparse::Error::TooManyHeaders) => return Err(RequestError::TooManyHeaders),
        Err(httparse::Error::Version) => {
            return Err(if looks_like_http_version(scan.version_token(buf)) {
                RequestError::UnsupportedVersion
            } else {
                RequestError::Malformed("invalid HTTP version")
            });
        }
        Err(httparse::Error::HeaderName) => return Err(RequestError::Malformed("invalid header name")),
        Err(httparse::Error::HeaderValue) => return Err(RequestError::Malformed("invalid header value")),
        Err(httparse::Error::Token) => return Err(RequestError::Malformed("invalid request line")),
        Err(_) => return Err(RequestError::Malformed("invalid line ending")),
    }
    let method = req.method.unwrap_or_default();
    let target = req.path.unwrap_or_default();
    let version = match req.version {
        Some(0) => Version::Http10,
        Some(1) => Version::Http11,
        _ => return Err(RequestError::UnsupportedVersion),
    };
    if target.len() > limits.max_target_bytes {
        return Err(RequestError::UriTooLong);
    }
    let (path, query) = split_target(method, target)?;

    let mut hosts = 0usize;
    let mut content_length: Option<u64> = None;
    let mut transfer_codings: Option<Vec<&[u8]>> = None;
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;
    let mut headers = Vec::with_capacity(req.headers.len());
    for h in req.headers.iter() {
        let name = h.name;
        let value = h.value;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            for element in value.split(|&b| b == b',').map(trim_ows) {
                let n = parse_content_length(element)?;
                if content_length.is_some_and(|c| c != n) {
                    return Err(RequestError::Malformed("conflicting Content-Length"));
                }
                content_length = Some(n);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_codings.get_or_insert_with(Vec::new).extend(list_elements(value));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in list_elements(value) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("expect") && version == Version::Http11 {
            let v = trim_ows(value);
            if v.eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            } else if !v.is_empty() {
                return Err(RequestError::ExpectationFailed);
            }
        }
        headers.push((name.to_owned(), value.to_vec()));
    }
    if hosts > 1 || (hosts == 0 && version == Version::Http11) {
        return Err(RequestError::Malformed("missing or repeated Host"));
    }
    let framing = match (transfer_codings, content_length) {
        (None, n) => Framing::Length(n.unwrap_or(0)),
        (Some(_), _) if version == Version::Http10 => {
            return Err(RequestError::Malformed("Transfer-Encoding in an HTTP/1.0 request"));
        }
        (Some(_), Some(_)) => return Err(RequestError::Malformed("both Content-Length and Transfer-Encoding")),
        (Some(codings), None) => {
            if codings.iter().any(|c| !c.eq_ignore_ascii_case(b"chunked")) {
                return Err(RequestError::UnsupportedTransferEncoding);
            }
            if codings.len() != 1 {
                return Err(RequestError::Malformed("invalid Transfer-Encoding"));
            }
            Framing::Chunked
        }
    };
    if let Framing::Length(n) = framing
        && n > limits.max_body_bytes as u64
    {
        return Err(RequestError::BodyTooLarge);
    }
    let keep_alive = !close && (version == Version::Http11 || keep_alive_token);
    Ok(Head { method: method.to_owned(), path, query, version, headers, framing, keep_alive, expect_continue })
}

/// `1*DIGIT`; a number too large for u64 is certainly too large a body.
fn parse_content_length(s: &[u8]) -> Result<u64, RequestError> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return Err(RequestError::Malformed("invalid Content-Length"));
    }
    s.iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
        .ok_or(RequestError::BodyTooLarge)
}

/// `HTTP/` followed by a digit: a version we recognise as such but do not speak.
fn looks_like_http_version(v: &[u8]) -> bool {
    match v.strip_prefix(b"HTTP/") {
        Some(rest) => {
            rest.first().is_some_and(u8::is_ascii_digit) && rest.iter().all(|b| b.is_ascii_digit() || *b == b'.')
        }
        None => false,
    }
}

/// Splits the request target into path and query (RFC 9112 §3.2: origin, absolute, authority
/// and asterisk form).
fn split_target(method: &str, target: &str) -> Result<(String, Option<String>), RequestError> {
    let origin = if target.starts_with('/') {
        target
    } else if target == "*" && method == "OPTIONS" {
        return Ok(("*".to_owned(), None));
    } else if method == "CONNECT" {
        return Ok((target.to_owned(), None));
    } else if let Some(rest) =
        strip_prefix_ignore_case(target, "http://").or_else(|| strip_prefix_ignore_case(target, "https://"))
    {
        match rest.find(['/', '?']) {
            Some(i) if i > 0 => rest.get(i..).unwrap_or("/"),
            None if !rest.is_empty() => "/",
            _ => return Err(RequestError::Malformed("invalid request target")),
        }
    } else {
        return Err(RequestError::Malformed("invalid request target"));
    };
    let (path, query) = match origin.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (origin, None),
    };
    let path = if path.is_empty() { "/" } else { path };
    Ok((path.to_owned(), query))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| s.get(prefix.len()..)).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &[u8]) -> Result<Head, RequestError> {
        let limits = Limits::default();
        let mut scan = HeadScan::default();
        let end = scan.scan(s, &limits)?.expect("complete head");
        parse_head(&s[..end], &scan, &limits)
    }

    #[test]
    fn scan_finds_the_end_however_split() {
        let req = b"\r\nGET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nBODY";
        let limits = Limits::default();
        for split in 0..req.len() {
            let mut scan = HeadScan::default();
            let first = scan.scan(&req[..split], &limits).unwrap();
            let end = first.or_else(|| scan.scan(req, &limits).unwrap());
            assert_eq!(end, Some(req.len() - 4), "split at {split}");
        }
    }

    #[test]
    fn bare_lf_heads() {
        let h = parse(b"GET /x HTTP/1.0\nA: b\n\n").unwrap();
        assert_eq!(h.path, "/x");
        assert!(!h.keep_alive);
    }

    #[test]
    fn targets() {
        assert_eq!(split_target("GET", "/a?b?c").unwrap(), ("/a".into(), Some("b?c".into())));
        assert_eq!(split_target("GET", "/?").unwrap(), ("/".into(), Some("".into())));
        assert_eq!(split_target("GET", "http://h/p?q").unwrap(), ("/p".into(), Some("q".into())));
        assert_eq!(split_target("GET", "HTTPS://h").unwrap(), ("/".into(), None));
        assert_eq!(split_target("GET", "http://h?q").unwrap(), ("/".into(), Some("q".into())));
        assert_eq!(split_target("OPTIONS", "*").unwrap(), ("*".into(), None));
        assert_eq!(split_target("CONNECT", "h:443").unwrap(), ("h:443".into(), None));
        assert!(split_target("GET", "x").is_err());
        assert!(split_target("GET", "http:///").is_err());
        assert!(split_target("GET", "*").is_err());
    }

    #[test]
    fn connection_semantics() {
        assert!(parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap().keep_alive);
        assert!(!parse(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n").unwrap().keep_alive);
        assert!(!parse(b"GET / HTTP/1.0\r\n\r\n").unwrap().keep_alive);
        assert!(parse(b"GET / HTTP/1.0\r\nConnection: foo, Keep-Alive\r\n\r\n").unwrap().keep_alive);
        assert!(!parse(b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n").unwrap().keep_alive);
    }

    #[test]
    fn framing() {
        let h = |s: &str| parse(format!("POST / HTTP/1.1\r\nHost: a\r\n{s}\r\n").as_bytes()).map(|h| h.framing);
        assert_eq!(h(""), Ok(Framing::Length(0)));
        assert_eq!(h("Content-Length: 5\r\n"), Ok(Framing::Length(5)));
        assert_eq!(h("Content-Length: 5, 5\r\nContent-Length: 5\r\n"), Ok(Framing::Length(5)));
        assert_eq!(h("Content-Length: 5\r\nContent-Length: 6\r\n").unwrap_err().status(), 400);
        assert_eq!(h("Content-Length: 5, 6\r\n").unwrap_err().status(), 400);
        assert_eq!(h("Content-Length: -1\r\n").unwrap_err().status(), 400);
        assert_eq!(h("Content-Length: +1\r\n").unwrap_err().status(), 400);
        assert_eq!(h("Content-Length:\r\n").unwrap_err().status(), 400);
        assert_eq!(h("Content-Length: 99999999999999999999999\r\n").unwrap_err().status(), 413);
        assert_eq!(h("Content-Length: 1048577\r\n").unwrap_err().status(), 413);
        assert_eq!(h("Transfer-Encoding: chunked\r\n"), Ok(Framing::Chunked));
        assert_eq!(h("Transfer-Encoding: Chunked \r\n"), Ok(Framing::Chunked));
        assert_eq!(h("Transfer-Encoding: gzip, chunked\r\n").unwrap_err().status(), 501);
        assert_eq!(h("Transfer-Encoding: gzip\r\n").unwrap_err().status(), 501);
        assert_eq!(h("Transfer-Encoding: chunked, chunked\r\n").unwrap_err().status(), 400);
        assert_eq!(h("Transfer-Encoding: \r\n").unwrap_err().status(), 400);
        assert_eq!(h("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n").unwrap_err().status(), 400);
        let te10 = parse(b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(te10.unwrap_err().status(), 400);
    }

    #[test]
    fn host_and_expect() {
        assert_eq!(parse(b"GET / HTTP/1.1\r\n\r\n").unwrap_err().status(), 400);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").unwrap_err().status(), 400);
        assert!(parse(b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\n\r\n").unwrap().expect_continue);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n").unwrap_err().status(), 417);
    }

    #[test]
    fn versions_and_garbage() {
        assert_eq!(parse(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n").unwrap_err().status(), 505);
        assert_eq!(parse(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n").unwrap_err().status(), 505);
        assert_eq!(parse(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap_err().status(), 505);
        assert_eq!(parse(b"GET / FTP/1.1\r\nHost: a\r\n\r\n").unwrap_err().status(), 400);
        assert_eq!(parse(b"GET /\r\n\r\n").unwrap_err().status(), 400);
        assert_eq!(parse(b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap_err().status(), 400);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n").unwrap_err().status(), 400);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n").unwrap_err().status(), 400);
        let mut scan = HeadScan::default();
        assert_eq!(scan.scan(b"\x16\x03\x01", &Limits::default()).unwrap_err().status(), 400);
    }
}
