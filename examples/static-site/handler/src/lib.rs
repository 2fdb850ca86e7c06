//! static-site: the handler of a static website. Answers `GET` and `HEAD` with the files of the
//! `morgana:kv/store` it imports (the `[kv.site]` directory baked into the image), and exports
//! `morgana:http/handler` for an HTTP server library (components/http-server) to call.
//!
//! - The request path is percent-decoded and must stay inside the site: a `..` segment (however
//!   encoded), a NUL or a backslash is a 400; there is no file system to escape to, but keys
//!   never alias (`/a/../b` is not `b`).
//! - `/dir/` serves `dir/index.html`; `/dir` (a directory without its slash) redirects to `/dir/`.
//! - `Content-Type` from the extension; a strong `ETag` (hash and length of the contents), and
//!   `If-None-Match` answered with 304; other methods get 405 with `Allow`.
//! - A missing file is a 404 with the site's `404.html` when it has one.

wit_bindgen::generate!({
    inline: "
        package local:static-site;
        world handler {
            import morgana:kv/store@0.1.0;
            export morgana:http/handler@0.1.0;
        }
    ",
    path: ["../../../wit/kv", "../../../wit/http"],
    generate_all,
});

use exports::morgana::http::handler::{Guest, Request, Response};
use morgana::kv::store;

struct Site;

export!(Site);

impl Guest for Site {
    fn handle(request: Request) -> Response {
        if request.method != "GET" && request.method != "HEAD" {
            let mut response = text(405, "method not allowed\n");
            response.headers.push(("Allow".into(), b"GET, HEAD".to_vec()));
            return response;
        }
        let Some(key) = key_for(&request.path) else {
            return text(400, "bad request: the path is not a file of this site\n");
        };
        let Some(body) = store::get(&key) else {
            if !key.is_empty() && !key.ends_with('/') && store::get(&format!("{key}/index.html")).is_some() {
                let mut response = text(301, "moved permanently\n");
                response.headers.push(("Location".into(), format!("{}/", request.path).into_bytes()));
                return response;
            }
            return not_found();
        };
        let tag = entity_tag(&body);
        let content_type = content_type(&key).as_bytes().to_vec();
        if if_none_match(&request.headers, &tag) {
            return Response { status: 304, headers: vec![("ETag".into(), tag.into_bytes())], body: Vec::new() };
        }
        Response {
            status: 200,
            headers: vec![("Content-Type".into(), content_type), ("ETag".into(), tag.into_bytes())],
            body,
        }
    }
}

/// The store key a request path names (`/` → `index.html`, `/docs/` → `docs/index.html`), or
/// `None` when the path is not one a file of this site can have.
fn key_for(path: &str) -> Option<String> {
    let decoded = percent_decode(path)?;
    let relative = decoded.strip_prefix('/')?;
    if relative.contains(['\0', '\\']) {
        return None;
    }
    let mut segments = Vec::new();
    for segment in relative.split('/') {
        match segment {
            ".." | "." => return None,
            "" => {} // `//` collapses
            _ => segments.push(segment),
        }
    }
    let mut key = segments.join("/");
    if relative.is_empty() || relative.ends_with('/') {
        if !key.is_empty() {
            key.push('/');
        }
        key.push_str("index.html");
    }
    Some(key)
}

/// `%XX` decoded; `None` for an escape that is not two hex digits or a result that is not UTF-8.
fn percent_decode(path: &str) -> Option<String> {
    let escapes_are_valid = path.split('%').skip(1).all(|rest| rest.get(..2).is_some_and(is_hex_pair));
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    escapes_are_valid.then(|| decoded.into_owned())
}

fn is_hex_pair(pair: &str) -> bool {
    pair.bytes().all(|b| b.is_ascii_hexdigit())
}

fn content_type(key: &str) -> &'static str {
    let extension = key.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// A strong validator: FNV-1a of the contents and their length, quoted.
fn entity_tag(body: &[u8]) -> String {
    let hash = body.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("\"{hash:016x}-{:x}\"", body.len())
}

/// Whether an `If-None-Match` header matches `tag` (weak comparison, as RFC 9110 asks for it).
fn if_none_match(headers: &[(String, Vec<u8>)], tag: &str) -> bool {
    headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("if-none-match")).any(|(_, value)| {
        String::from_utf8_lossy(value)
            .split(',')
            .map(str::trim)
            .any(|candidate| candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == tag)
    })
}

fn not_found() -> Response {
    match store::get("404.html") {
        Some(body) => {
            Response { status: 404, headers: vec![("Content-Type".into(), b"text/html; charset=utf-8".to_vec())], body }
        }
        None => text(404, "not found\n"),
    }
}

fn text(status: u16, body: &str) -> Response {
    Response {
        status,
        headers: vec![("Content-Type".into(), b"text/plain; charset=utf-8".to_vec())],
        body: body.as_bytes().to_vec(),
    }
}
