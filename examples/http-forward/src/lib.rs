//! A `wasi:http/proxy` handler that forwards every request to the upstream named by `UPSTREAM`
//! (`http://HOST[:PORT]`) through `wasi:http/outgoing-handler`: the same method, path and
//! query, headers and body (streamed), and the upstream's status, headers and body streamed
//! back, with `x-forwarded-by: http-forward` added. When the request cannot be made or the
//! upstream cannot be reached, it answers 502 with the host's error code in the body, as
//! `wasi:http` names it (`upstream error: ConnectionRefused`, `DNS-error`...).

use std::io::Write as _;

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::outgoing_handler;
use wasi::http::types::{
    ErrorCode, Fields, IncomingRequest, IncomingResponse, OutgoingBody, OutgoingRequest, OutgoingResponse,
    ResponseOutparam, Scheme,
};
use wasi::io::streams::{InputStream, OutputStream};

struct Forward;

wasi::http::proxy::export!(Forward);

impl Guest for Forward {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        match forward(request) {
            Ok(response) => relay(response, out),
            Err(error) => respond_error(out, &error),
        }
    }
}

/// Sends `request` upstream and waits for the response's head; its body is still to come.
fn forward(request: IncomingRequest) -> Result<IncomingResponse, String> {
    let upstream = std::env::var("UPSTREAM").map_err(|_| "UPSTREAM is not set".to_string())?;
    let (scheme, authority) = match upstream.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest.trim_end_matches('/')),
        Some(("https", rest)) => (Scheme::Https, rest.trim_end_matches('/')),
        _ => return Err(format!("UPSTREAM={upstream:?} is not an http:// or https:// URL")),
    };
    let headers = request.headers().clone();
    headers.append("x-forwarded-by", b"http-forward").map_err(|e| format!("{e:?}"))?;
    let outgoing = OutgoingRequest::new(headers);
    outgoing.set_method(&request.method()).map_err(|_| "the method cannot be forwarded")?;
    outgoing.set_scheme(Some(&scheme)).map_err(|_| "bad scheme")?;
    outgoing.set_authority(Some(authority)).map_err(|_| format!("{authority:?} is not a valid authority"))?;
    outgoing.set_path_with_query(request.path_with_query().as_deref()).map_err(|_| "bad path")?;
    let outgoing_body = outgoing.body().map_err(|_| "the request's body")?;
    let future = outgoing_handler::handle(outgoing, None).map_err(|e| error_text(&e))?;
    // The request body goes up while the response is awaited.
    let incoming_body = request.consume().map_err(|_| "the incoming body")?;
    copy(incoming_body.stream().map_err(|_| "the incoming body's stream")?, &outgoing_body)?;
    drop(incoming_body);
    OutgoingBody::finish(outgoing_body, None).map_err(|e| error_text(&e))?;
    let ready = future.subscribe();
    ready.block();
    match future.get() {
        Some(Ok(Ok(response))) => Ok(response),
        Some(Ok(Err(e))) => Err(error_text(&e)),
        _ => Err("the response was already taken".into()),
    }
}

/// The upstream's response as this handler's: status, headers, body streamed.
fn relay(upstream: IncomingResponse, out: ResponseOutparam) {
    let headers = upstream.headers().clone();
    let _ = headers.append("x-forwarded-by", b"http-forward");
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(upstream.status());
    let body = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    let incoming = upstream.consume().expect("the upstream's body");
    let copied = incoming.stream().map_err(|_| "the upstream's body stream".to_string()).and_then(|s| copy(s, &body));
    drop(incoming);
    if copied.is_ok() {
        let _ = OutgoingBody::finish(body, None);
    }
    // Else the body is dropped unfinished, and the client sees the response cut short.
}

/// Everything `from` gives, written to `to`'s stream.
fn copy(mut input: InputStream, to: &OutgoingBody) -> Result<(), String> {
    let mut output: OutputStream = to.write().map_err(|_| "the body's stream")?;
    let mut buffer = vec![0; 64 * 1024];
    loop {
        match std::io::Read::read(&mut input, &mut buffer) {
            Ok(0) => break,
            Ok(n) => output.write_all(&buffer[..n]).map_err(|e| e.to_string())?,
            Err(e) => return Err(e.to_string()),
        }
    }
    output.flush().map_err(|e| e.to_string())
}

fn respond_error(out: ResponseOutparam, error: &str) {
    let text = format!("upstream error: {error}\n");
    let fields = Fields::new();
    let _ = fields.append("content-type", b"text/plain");
    let _ = fields.append("content-length", text.len().to_string().as_bytes());
    let response = OutgoingResponse::new(fields);
    let _ = response.set_status_code(502);
    let body = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    if let Ok(mut stream) = body.write() {
        let _ = stream.write_all(text.as_bytes());
        let _ = stream.flush();
    }
    let _ = OutgoingBody::finish(body, None);
}

/// An error code as `wasi:http` names it, e.g. `DNS-error`, then its details.
fn error_text(error: &ErrorCode) -> String {
    format!("{error:?}")
}
