//! A `wasi:http/proxy` handler (the `wasi` crate's export) that imports a Morgana library
//! beside WASI: `morgana:kv/store`, whose component `morgana build` generates from the
//! manifest's `[kv.files]` directory. `GET /` lists the keys, `GET /KEY` answers the file,
//! anything missing is 404.

wit_bindgen::generate!({ path: "../../wit/kv", world: "morgana:kv/reader" });

use std::io::Write as _;

use morgana::kv::store;
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Files;

wasi::http::proxy::export!(Files);

impl Guest for Files {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        let key = path.split('?').next().unwrap_or("").trim_start_matches('/');
        if key.is_empty() {
            let mut keys = store::keys();
            keys.sort();
            let listing: String = keys.iter().map(|k| format!("{k}\n")).collect();
            return respond(out, 200, "text/plain", listing.as_bytes());
        }
        match store::get(key) {
            Some(contents) => respond(out, 200, content_type(key), &contents),
            None => respond(out, 404, "text/plain", b"not found\n"),
        }
    }
}

fn content_type(key: &str) -> &'static str {
    match key.rsplit_once('.').map(|(_, extension)| extension) {
        Some("json") => "application/json",
        Some("html") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// A whole response with its `Content-Length`.
fn respond(out: ResponseOutparam, status: u16, content_type: &str, body: &[u8]) {
    let fields = Fields::new();
    fields.append("content-type", content_type.as_bytes()).expect("a valid header");
    fields.append("content-length", body.len().to_string().as_bytes()).expect("a valid length");
    let response = OutgoingResponse::new(fields);
    response.set_status_code(status).expect("a valid status");
    let outgoing = response.body().expect("the response's body");
    ResponseOutparam::set(out, Ok(response));
    {
        let mut stream = outgoing.write().expect("the body's stream");
        // A client that went away (or a host that closed the stream once it had the
        // `Content-Length` bytes) only ends the writing.
        if stream.write_all(body).is_ok() {
            let _ = stream.flush();
        }
    }
    let _ = OutgoingBody::finish(outgoing, None);
}
