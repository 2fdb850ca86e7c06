//! The typed request and response: what a handler sees and returns, detached from the wire.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use core::fmt;

/// The HTTP version of a request. Only these two are served; others are answered with 505.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: the connection closes after the response unless the request asked for
    /// `Connection: keep-alive`.
    Http10,
    /// `HTTP/1.1`: the connection stays open unless either side says `Connection: close`.
    Http11,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// A request whose head has been parsed and whose body has been read in full (a chunked body
/// already decoded, its trailer fields dropped).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `HEAD`, `POST`, … exactly as sent.
    pub method: String,
    /// The path of the request target, still percent-encoded, without the query. For an
    /// absolute-form target (`http://host/p`) the path part (`/p`); `*` for `OPTIONS *`; the
    /// authority for `CONNECT`.
    pub path: String,
    /// What followed the first `?` of the request target, if anything did.
    pub query: Option<String>,
    /// The version the client spoke.
    pub version: Version,
    /// Header fields in the order they arrived; names as sent, values as raw bytes.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body, empty if the request had none.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of the first header field called `name` (compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_slice())
    }

    /// The request target as path and query: `/a?b=c`.
    pub fn target(&self) -> String {
        match &self.query {
            Some(q) => format!("{}?{}", self.path, q),
            None => self.path.clone(),
        }
    }
}

/// What the application answers. The server adds `Date`, `Content-Length` and `Connection`
/// (replacing any the handler set) and drops `Transfer-Encoding`; a handler's `Connection:
/// close` makes the server close the connection after this response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// 200..=999. A status outside that range (1xx included: interim responses are the
    /// server's business) is answered as 500.
    pub status: u16,
    /// Header fields to send, in order. Names must be tokens and values free of CR, LF and NUL,
    /// or the response is answered as 500.
    pub headers: Vec<(String, Vec<u8>)>,
    /// The body; not sent for `HEAD` requests and 204/304 responses.
    pub body: Vec<u8>,
}

impl Response {
    /// A response with `status`, no header fields and an empty body.
    pub fn new(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new() }
    }

    /// Adds a header field.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Response {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the body.
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Response {
        self.body = body.into();
        self
    }
}

/// The reason phrase registered for `status`, or `""` for a status this table does not know
/// (an empty reason phrase is valid HTTP/1.1).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// `tchar` of RFC 9110 §5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Splits a comma-separated field value into its non-empty elements, optional whitespace
/// around each trimmed.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(trim_ows).filter(|e| !e.is_empty())
}

pub(crate) fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lookup_and_target() {
        let r = Request {
            method: "GET".into(),
            path: "/a".into(),
            query: Some("b=c".into()),
            version: Version::Http11,
            headers: vec![("Host".into(), b"x".to_vec()), ("host".into(), b"y".to_vec())],
            body: Vec::new(),
        };
        assert_eq!(r.header("HOST"), Some(&b"x"[..]));
        assert_eq!(r.header("accept"), None);
        assert_eq!(r.target(), "/a?b=c");
    }

    #[test]
    fn lists() {
        let v: Vec<&[u8]> = list_elements(b" a ,, b\t,c").collect();
        assert_eq!(v, [&b"a"[..], b"b", b"c"]);
        assert_eq!(trim_ows(b" \t "), b"");
    }
}
