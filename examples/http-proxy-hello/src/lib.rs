//! A `wasi:http/proxy` handler written against the `wasi` crate's bindings only, the way
//! handlers for `wasmtime serve` are: Morgana serves it unchanged. Its routes exercise what a
//! server must get right:
//!
//! - `GET /`: a greeting (`$GREETING, wasi:http!`), `text/plain`, with `Content-Length`.
//! - `/echo`: the request body streamed back as it arrives (any size, bounded memory), no
//!   `Content-Length` (so chunked on the wire), the request's method in `x-method`.
//! - `/headers`: the request's method, path and headers as the handler sees them, one per line.
//! - `/bytes?n=N`: N bytes (`0123456789` repeated) written in 64 KiB pieces, with
//!   `Content-Length`.
//! - `/set-header?name=N&value=V`: tries to set that response header and reports `ok`,
//!   `forbidden` or `invalid-syntax` in the body.
//! - `/sleep?ms=N`: answers after N ms.
//! - `/trailers`: reads the request body to its end, then answers (chunked) with its length and
//!   its trailer fields, one per line, and sends those fields back as the response's trailers,
//!   with `x-trailers-seen: N`.
//! - `/count`: how many requests this instance has handled, this one included (always 1 when
//!   every request gets a fresh instance).
//! - `/trap`: panics (a trap) before answering.
//! - `/no-answer`: returns without answering.
//! - anything else: 404.

use std::io::{Read, Write};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, HeaderError, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct Hello;

/// Requests this instance has handled.
static HANDLED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

wasi::http::proxy::export!(Hello);

impl Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let handled = HANDLED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let path_with_query = request.path_with_query().unwrap_or_default();
        let (path, query) = path_with_query.split_once('?').unwrap_or((&path_with_query, ""));
        match path {
            "/" => {
                let greeting = std::env::var("GREETING").unwrap_or_else(|_| "Hello".into());
                respond(out, 200, &[("content-type", "text/plain")], format!("{greeting}, wasi:http!\n").as_bytes());
            }
            "/echo" => echo(request, out),
            "/headers" => respond(out, 200, &[("content-type", "text/plain")], describe(&request).as_bytes()),
            "/bytes" => bytes(out, param(query, "n").and_then(|n| n.parse().ok()).unwrap_or(0)),
            "/set-header" => {
                set_header(out, param(query, "name").unwrap_or_default(), param(query, "value").unwrap_or_default())
            }
            "/sleep" => {
                let ms: u64 = param(query, "ms").and_then(|n| n.parse().ok()).unwrap_or(0);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                respond(out, 200, &[], b"slept\n");
            }
            "/count" => respond(out, 200, &[], format!("{handled}\n").as_bytes()),
            "/trailers" => trailers(request, out),
            "/trap" => panic!("the handler was asked to trap"),
            "/no-answer" => drop(out),
            _ => respond(out, 404, &[("content-type", "text/plain")], b"not found\n"),
        }
    }
}

/// A whole response: status, headers, and `body` with its `Content-Length`.
fn respond(out: ResponseOutparam, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let fields = Fields::new();
    for (name, value) in headers {
        fields.append(name, value.as_bytes()).expect("a valid header");
    }
    fields.append("content-length", body.len().to_string().as_bytes()).expect("a valid length");
    let response = OutgoingResponse::new(fields);
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    write_all(&outgoing, body);
    let _ = OutgoingBody::finish(outgoing, None);
}

/// Writes `bytes` to the body. A client that went away (or a host that closed the stream once
/// it had the `Content-Length` bytes) only ends the writing.
fn write_all(body: &OutgoingBody, bytes: &[u8]) {
    let mut stream = body.write().expect("the body's stream");
    if stream.write_all(bytes).is_ok() {
        let _ = stream.flush();
    }
}

/// The request body back, piece by piece, as it arrives.
fn echo(request: IncomingRequest, out: ResponseOutparam) {
    let method = method_name(&request.method());
    let fields = Fields::new();
    fields.append("x-method", method.as_bytes()).expect("a valid header");
    let response = OutgoingResponse::new(fields);
    let outgoing = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    let incoming = request.consume().expect("the request's body");
    {
        let mut input = incoming.stream().expect("the request's body stream");
        let mut output = outgoing.write().expect("the response's body stream");
        let mut buffer = vec![0; 64 * 1024];
        loop {
            match Read::read(&mut input, &mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(n) if output.write_all(&buffer[..n]).is_err() => break, // the client went away
                Ok(_) => {}
            }
        }
        let _ = output.flush();
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

/// The request's trailers, reported in the body and sent back as the response's.
fn trailers(request: IncomingRequest, out: ResponseOutparam) {
    let incoming = request.consume().expect("the request's body");
    let mut body = Vec::new();
    {
        let mut input = incoming.stream().expect("the request's body stream");
        let _ = Read::read_to_end(&mut input, &mut body);
    }
    let future = IncomingBody::finish(incoming);
    future.subscribe().block();
    let received = match future.get() {
        Some(Ok(Ok(Some(fields)))) => fields.entries(),
        _ => Vec::new(),
    };
    let mut text = format!("{} bytes\n", body.len());
    for (name, value) in &received {
        text.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(value)));
    }
    // The trailer fields to come are announced, as RFC 9110 §6.6.2 asks (hyper sends only those).
    let mut names: Vec<&str> = received.iter().map(|(name, _)| name.as_str()).collect();
    names.push("x-trailers-seen");
    let fields = Fields::new();
    fields.append("trailer", names.join(", ").as_bytes()).expect("a valid header");
    let response = OutgoingResponse::new(fields);
    let outgoing = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    write_all(&outgoing, text.as_bytes());
    let sent = Fields::from_list(&received).unwrap_or_else(|_| Fields::new());
    let _ = sent.append("x-trailers-seen", received.len().to_string().as_bytes());
    let _ = OutgoingBody::finish(outgoing, Some(sent));
}

/// `n` bytes of `0123456789…`, written a piece at a time.
fn bytes(out: ResponseOutparam, n: u64) {
    let fields = Fields::new();
    fields.append("content-type", b"application/octet-stream").expect("a valid header");
    fields.append("content-length", n.to_string().as_bytes()).expect("a valid length");
    let response = OutgoingResponse::new(fields);
    let outgoing = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    {
        let mut output = outgoing.write().expect("the response's body stream");
        let piece: Vec<u8> = b"0123456789".iter().copied().cycle().take(64 * 1024 - 64 * 1024 % 10).collect();
        let mut left = n;
        while left > 0 {
            let take = left.min(piece.len() as u64) as usize;
            if output.write_all(&piece[..take]).is_err() {
                break; // the client went away
            }
            left -= take as u64;
        }
        let _ = output.flush();
    }
    let _ = OutgoingBody::finish(outgoing, None);
}

fn set_header(out: ResponseOutparam, name: &str, value: &str) {
    let fields = Fields::new();
    let outcome = match fields.set(name, &[value.as_bytes().to_vec()]) {
        Ok(()) => "ok",
        Err(HeaderError::Forbidden) => "forbidden",
        Err(HeaderError::InvalidSyntax) => "invalid-syntax",
        Err(HeaderError::Immutable) => "immutable",
    };
    let response = OutgoingResponse::new(fields);
    let outgoing = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    write_all(&outgoing, format!("{outcome}\n").as_bytes());
    let _ = OutgoingBody::finish(outgoing, None);
}

/// The request as the handler sees it: method and path, then `name: value` per header.
fn describe(request: &IncomingRequest) -> String {
    let mut text = format!("{} {}\n", method_name(&request.method()), request.path_with_query().unwrap_or_default());
    for (name, value) in request.headers().entries() {
        text.push_str(&format!("{name}: {}\n", String::from_utf8_lossy(&value)));
    }
    text
}

fn method_name(method: &Method) -> String {
    match method {
        Method::Get => "GET".into(),
        Method::Head => "HEAD".into(),
        Method::Post => "POST".into(),
        Method::Put => "PUT".into(),
        Method::Delete => "DELETE".into(),
        Method::Connect => "CONNECT".into(),
        Method::Options => "OPTIONS".into(),
        Method::Trace => "TRACE".into(),
        Method::Patch => "PATCH".into(),
        Method::Other(other) => other.clone(),
    }
}

/// The value of `name` in a query string (no percent-decoding: the routes take plain words).
fn param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}
