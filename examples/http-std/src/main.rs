//! http-std: an HTTP/1.1 server written only with `std::net::TcpListener`, to show that a plain
//! Rust program built for wasm32-wasip2 serves real clients unchanged, as a process or a VM.
//!
//! Serves `GET /` (a small page), `GET /status` (JSON) and `GET /bytes/N` (N bytes of filler,
//! written in pieces, for clients that need a long transfer), answers 404 otherwise, keeps
//! connections alive (HTTP/1.1 default, `Connection: close` honoured) and serves connections one
//! after the other. Listens on `0.0.0.0:$PORT` (default 8080). `-- --requests N` stops after N
//! requests, so tests and benchmarks can see it exit.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};

const PAGE: &str = "<!doctype html>\n<title>Morgana</title>\n<h1>Hello from a unikernel</h1>\n<p>Served by std::net, compiled to wasm32-wasip2.</p>\n";

struct Request {
    method: String,
    path: String,
    keep_alive: bool,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let limit: Option<u64> = args.iter().position(|a| a == "--requests").and_then(|i| args.get(i + 1)?.parse().ok());
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".into());
    let listener = match TcpListener::bind(format!("0.0.0.0:{port}")) {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("http-std: cannot listen on port {port}: {e}");
            std::process::exit(1);
        }
    };
    println!("http-std: listening on port {port}");
    let mut served = 0u64;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => served += serve_connection(stream, served, limit),
            Err(e) => eprintln!("http-std: accept failed: {e}"),
        }
        if limit.is_some_and(|limit| served >= limit) {
            break;
        }
    }
    println!("http-std: served {served} requests");
}

/// Serves requests on one connection until it closes; returns how many.
fn serve_connection(stream: TcpStream, served_before: u64, limit: Option<u64>) -> u64 {
    let mut served = 0;
    // One socket, read through a buffer and written directly (wasip2 has no `try_clone`).
    let mut reader = BufReader::new(&stream);
    let mut writer = &stream;
    loop {
        let request = match read_request(&mut reader) {
            Some(request) => request,
            None => return served,
        };
        let filler = request.path.strip_prefix("/bytes/").and_then(|n| n.parse::<u64>().ok());
        if let (Some(length), "GET") = (filler, request.method.as_str()) {
            if send_filler(writer, length, request.keep_alive).is_err() {
                return served;
            }
            served += 1;
            println!("http-std: {} {} -> 200", request.method, request.path);
            if !request.keep_alive || limit.is_some_and(|limit| served_before + served >= limit) {
                return served;
            }
            continue;
        }
        let (status, content_type, body) = match (request.method.as_str(), request.path.as_str()) {
            ("GET" | "HEAD", "/") => ("200 OK", "text/html; charset=utf-8", PAGE.to_string()),
            ("GET" | "HEAD", "/status") => (
                "200 OK",
                "application/json",
                format!("{{\"server\":\"http-std\",\"requests\":{}}}\n", served_before + served + 1),
            ),
            ("GET" | "HEAD", _) => ("404 Not Found", "text/plain", "not found\n".to_string()),
            _ => ("405 Method Not Allowed", "text/plain", "method not allowed\n".to_string()),
        };
        let connection = if request.keep_alive { "keep-alive" } else { "close" };
        let head = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: {connection}\r\n\r\n",
            body.len()
        );
        let mut response = head.into_bytes();
        if request.method != "HEAD" {
            response.extend_from_slice(body.as_bytes());
        }
        if writer.write_all(&response).and_then(|_| writer.flush()).is_err() {
            return served;
        }
        served += 1;
        println!("http-std: {} {} -> {}", request.method, request.path, &status[..3]);
        if !request.keep_alive || limit.is_some_and(|limit| served_before + served >= limit) {
            return served;
        }
    }
}

/// Answers `/bytes/N`: N bytes of `.`, 64 KiB at a time.
fn send_filler(mut writer: &TcpStream, length: u64, keep_alive: bool) -> std::io::Result<()> {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\nConnection: {connection}\r\n\r\n"
    );
    writer.write_all(head.as_bytes())?;
    let piece = [b'.'; 65536];
    let mut left = length;
    while left > 0 {
        let n = left.min(piece.len() as u64) as usize;
        writer.write_all(&piece[..n])?;
        left -= n as u64;
    }
    writer.flush()
}

/// Reads one request head; `None` when the connection closed or sent nonsense.
fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let version = parts.next().unwrap_or("HTTP/1.0");
    let mut keep_alive = version == "HTTP/1.1";
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("connection") {
                let value = value.trim();
                keep_alive =
                    !value.eq_ignore_ascii_case("close") && (keep_alive || value.eq_ignore_ascii_case("keep-alive"));
            }
        }
    }
    Some(Request { method, path, keep_alive })
}
