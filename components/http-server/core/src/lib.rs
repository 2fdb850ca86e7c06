//! A sans-IO HTTP/1.1 server connection: bytes from the client go in, complete requests come
//! out, responses go in, bytes for the client come out. No sockets, no threads, no clock reads:
//! the caller passes the time ([`Now`]: a monotonic instant for timers and the wall-clock second
//! for the `Date` header) into every call that needs it, and asks [`Connection::poll_deadline`]
//! when to call [`Connection::on_timeout`].
//!
//! What it promises:
//! - Never panics and never allocates without bound on any input: the request head, the body
//!   (`Content-Length` or `Transfer-Encoding: chunked`, extensions and trailers accepted and
//!   skipped), the input held back while a request is being answered and the output queued for
//!   a client that does not read are all bounded by [`Limits`].
//! - Answers protocol errors itself, with the status RFC 9110/9112 asks for, and then closes:
//!   400 (malformed, conflicting framing, bad chunk), 408 (head or body not complete in time),
//!   413, 414, 417, 431, 501 (transfer coding other than `chunked`), 505 (version other than
//!   HTTP/1.0 and HTTP/1.1). An idle keep-alive connection is closed silently.
//! - Keep-alive (HTTP/1.1 by default, HTTP/1.0 with `Connection: keep-alive`), `Connection:
//!   close`, `Expect: 100-continue` and pipelining: requests are handed out one at a time, and
//!   the next is parsed only once the previous one has been answered, so answers stay in order.
//! - Responses get `Date` (IMF-fixdate), `Content-Length` and `Connection` from the server; no
//!   body for `HEAD` and for 1xx, 204 and 304 responses, with the `Content-Length` a `GET` would
//!   have received kept for `HEAD` (and for a 304 that carries one).
//!
//! Bodies are whole ([`Connection::poll_request`], [`Connection::respond`]) or streamed:
//! [`Connection::poll_head`] hands out a request at the end of its head, its body comes out of
//! [`Connection::read_body`] as it arrives, and a response goes in as a head and pieces of body
//! (chunked when its length is not known), in bounded memory whatever the sizes.
//!
//! [`ClientExchange`] is the other side, for a host that forwards a request: the request head
//! and body out, the response head and body in, with the same parser, chunked decoder and
//! bounds.
//!
//! It is `no_std` (with `alloc`): the same core serves in a component and in a kernel.
//!
//! [`combined_log_line`] formats the Apache/nginx "combined" access-log line for one exchange.
//!
//! ```
//! use std::time::Duration;
//! use morgana_http::{Connection, Limits, Now, Response};
//!
//! let now = Now::new(Duration::ZERO, 1_700_000_000);
//! let mut conn = Connection::new(Limits::default(), now);
//! conn.receive(now, b"GET /hello?x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
//! let request = conn.poll_request(now).unwrap();
//! assert_eq!((request.path.as_str(), request.query.as_deref()), ("/hello", Some("x=1")));
//! conn.respond(now, Response::new(200).with_body("hi")).unwrap();
//! let out = conn.pending_output().to_vec();
//! assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
//! conn.consume_output(out.len());
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// no_std with `alloc`, so that a kernel can serve HTTP with the same core.
extern crate alloc;
// The tests use std's macros (`vec!`, `format!`) and types.
#[cfg(test)]
#[macro_use]
extern crate std;

mod chunked;
mod client;
mod conn;
mod date;
mod head;
mod log;
mod message;

pub use client::{BodyLengthMismatch, ClientExchange, RequestBody, ResponseError, ResponseHead};
pub use conn::{BodyRead, Connection, Limits, Now, RequestHead, RespondError, Sent};
pub use date::http_date;
pub use head::RequestError;
pub use log::combined_log_line;
pub use message::{Request, Response, Version, reason_phrase};

/// The page `wasmtime serve` (wasmtime-cli 48.0.8, `src/commands/serve.rs`) answers with, as a
/// 500 with `Content-Type: text/html; charset=UTF-8`, when a `wasi:http` handler fails before
/// its response began. Morgana's servers of `wasi:http` handlers answer with the same page.
pub const WASMTIME_SERVE_ERROR_PAGE: &str = "\
<!doctype html>
<html>
<head>
    <title>500 Internal Server Error</title>
</head>
<body>
    <center>
        <h1>500 Internal Server Error</h1>
        <hr>
        wasmtime
    </center>
</body>
</html>";
