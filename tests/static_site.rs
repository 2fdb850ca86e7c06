//! The static-site example — the HTTP server library, the site's handler, the baked key-value
//! store and the syslog library composed into one application — served on both targets and
//! driven by real clients: curl, raw sockets sending bad requests, and a real rsyslogd
//! receiving the request log over UDP and TCP.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const EXAMPLE: &str = "examples/static-site";

/// The static site served on `target` with `env` added, on a free port of this machine
/// (forwarded to the same port in the VM on qemu); it stops after `requests` requests.
fn static_site(target: &str, env: &[&str], requests: usize) -> (Server, u16) {
    let port = free_port();
    let (port_env, forward, requests) = (format!("PORT={port}"), format!("{port}:{port}"), requests.to_string());
    let mut args = vec!["run", EXAMPLE, "--target", target, "--env", &port_env];
    for variable in env {
        args.extend(["--env", variable]);
    }
    if target == "qemu" {
        args.extend(["-p", &forward]);
    }
    args.extend(["--", "--requests", &requests]);
    (Server::start(&args), port)
}

fn site_file(path: &str) -> String {
    std::fs::read_to_string(repo().join(EXAMPLE).join("site").join(path)).unwrap()
}

fn serves_the_site(target: &str) {
    let (server, port) = static_site(target, &[], 8);
    let base = format!("http://127.0.0.1:{port}");

    let page = curl(&[&format!("{base}/")]);
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.ends_with(&site_file("index.html")), "{page}");
    assert_eq!(header(&page, "content-length"), Some("612"), "{page}");
    assert_eq!(header(&page, "content-type"), Some("text/html; charset=utf-8"), "{page}");
    assert!(header(&page, "date").is_some_and(|d| d.ends_with(" GMT")), "{page}");
    let etag = header(&page, "etag").unwrap_or_else(|| panic!("no ETag: {page}")).to_string();

    // HEAD: the same head, no body.
    let head = curl(&["--head", &format!("{base}/")]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert_eq!(header(&head, "content-length"), Some("612"), "{head}");
    assert!(head.ends_with("\n\n"), "HEAD got a body: {head}");

    // A conditional GET with the page's ETag: 304, no body.
    let cached = curl(&["-H", &format!("If-None-Match: {etag}"), &format!("{base}/")]);
    assert!(cached.starts_with("HTTP/1.1 304"), "{cached}");
    assert!(cached.ends_with("\n\n"), "{cached}");

    // Two files over one kept-alive connection: curl opens one connection for both.
    let reuse = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-o", "/dev/null", "-o", "/dev/null", "-w", "%{num_connects} "])
        .args([format!("{base}/css/site.css"), format!("{base}/docs/")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&reuse.stdout), "1 0 ", "the second request opened a new connection");

    // A directory without its slash is redirected; a missing file gets the site's 404 page.
    let redirect = curl(&[&format!("{base}/docs")]);
    assert!(redirect.starts_with("HTTP/1.1 301"), "{redirect}");
    assert_eq!(header(&redirect, "location"), Some("/docs/"), "{redirect}");
    let missing = curl(&[&format!("{base}/no/such/page.html")]);
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(missing.ends_with(&site_file("404.html")), "{missing}");
    let robots = curl(&[&format!("{base}/robots.txt")]);
    assert_eq!(header(&robots, "content-type"), Some("text/plain; charset=utf-8"), "{robots}");

    let run = server.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    // The request log, through the syslog component to standard error (no SYSLOG set).
    assert!(run.stderr.contains("\"GET / HTTP/1.1\" 200 612"), "{}", run.stderr);
    assert!(run.stderr.contains("\"GET /no/such/page.html HTTP/1.1\" 404"), "{}", run.stderr);
}

#[test]
fn serves_the_site_on_unix() {
    serves_the_site("unix");
}

#[test]
fn serves_the_site_on_qemu() {
    serves_the_site("qemu");
}

/// Sends `request` on a fresh connection and returns the status line of the answer.
fn raw_exchange(port: u16, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    // The server may answer and close before reading everything (an oversized body): a
    // failed write is then expected.
    let _ = stream.write_all(request);
    let mut answer = Vec::new();
    let mut byte = [0u8];
    while !answer.ends_with(b"\r\n") && matches!(stream.read(&mut byte), Ok(1)) {
        answer.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&answer).trim_end().to_string();
    if line.is_empty() { "(nothing)".to_string() } else { line }
}

fn bad_requests_get_the_right_status(target: &str) {
    let bad: Vec<(&str, Vec<u8>, &str)> = vec![
        ("a request line that is not one", b"HELLO\r\n\r\n".to_vec(), "400"),
        ("a header without a colon", b"GET / HTTP/1.1\r\nHost: x\r\nnonsense\r\n\r\n".to_vec(), "400"),
        ("an unknown HTTP version", b"GET / HTTP/3.7\r\nHost: x\r\n\r\n".to_vec(), "505"),
        ("a header flood", flood_of_headers(500), "431"),
        ("one huge header", [b"GET / HTTP/1.1\r\nX-Big: ".as_slice(), &[b'a'; 70_000], b"\r\n\r\n"].concat(), "431"),
        ("an oversized body", b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\nabc".to_vec(), "413"),
        (
            "an invalid chunk size",
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n".to_vec(),
            "400",
        ),
        (
            "two lengths",
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".to_vec(),
            "400",
        ),
        ("a path out of the site", b"GET /../etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400"),
        (
            "an encoded path out of the site",
            b"GET /%2e%2e/%2E%2E/etc/passwd HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            "400",
        ),
        ("an encoded slash and dots", b"GET /docs/..%2f..%2fsecret HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400"),
        ("a backslash path", b"GET /..%5c..%5cwin.ini HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400"),
        ("a broken escape", b"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "400"),
        ("an unsupported method", b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(), "405"),
    ];
    let (server, port) = static_site(target, &["HTTP_HEAD_TIMEOUT_MS=3000", "HTTP_MAX_BODY_BYTES=1000000"], 1000);
    let base = format!("http://127.0.0.1:{port}");
    assert!(curl(&[&format!("{base}/")]).starts_with("HTTP/1.1 200"));
    for (what, request, status) in &bad {
        let line = raw_exchange(port, request);
        assert!(line.starts_with(&format!("HTTP/1.1 {status}")), "{what}: expected {status}, got `{line}`");
    }

    // A slowloris client sends half a head and stalls; others are served meanwhile, and it gets
    // 408 once the head timeout (3 s here) passes.
    let mut slow = TcpStream::connect(("127.0.0.1", port)).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: 1\r\n").unwrap();
    let started = Instant::now();
    assert!(curl(&[&format!("{base}/robots.txt")]).starts_with("HTTP/1.1 200"));
    assert!(started.elapsed() < Duration::from_secs(3), "a slow client stalled the others");
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "the slow client got `{answer}`");
    assert!(started.elapsed() >= Duration::from_secs(2), "408 came before the timeout");

    assert!(curl(&[&format!("{base}/docs/")]).starts_with("HTTP/1.1 200"), "the server stopped serving");
    // Every rejection is in the request log.
    let run = server.stop();
    for (what, _, status) in &bad {
        assert!(run.stderr.contains(&format!(" {status} ")), "{what}: no {status} in the log:\n{}", run.stderr);
    }
}

fn flood_of_headers(count: usize) -> Vec<u8> {
    let mut request = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..count {
        request.extend_from_slice(format!("X-Flood-{i}: {i}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    request
}

#[test]
fn bad_requests_get_the_right_status_on_unix() {
    bad_requests_get_the_right_status("unix");
}

#[test]
fn bad_requests_get_the_right_status_on_qemu() {
    bad_requests_get_the_right_status("qemu");
}

fn request_log_reaches_rsyslogd(target: &str) {
    let collector = Rsyslogd::start();
    // From inside the VM, QEMU user networking's 10.0.2.2 is this machine's loopback.
    let host = if target == "qemu" { "10.0.2.2" } else { "127.0.0.1" };
    for (transport, port, input) in [("udp", collector.udp_port, "imudp"), ("tcp", collector.tcp_port, "imtcp")] {
        let syslog = format!("SYSLOG={transport}://{host}:{port}");
        let (server, port) = static_site(target, &[&syslog, "SYSLOG_APP_NAME=static-site"], 3);
        let page = format!("/?via={transport}");
        for path in [page.as_str(), "/docs/", "/missing"] {
            curl(&[&format!("http://127.0.0.1:{port}{path}")]);
        }
        let run = server.finish();
        assert_eq!(run.status, 0, "{}", run.stderr);
        let lines = collector.lines_with(&format!("{input} info static-site"), 3);
        let received = lines.join("\n");
        assert!(received.contains(&format!("\"GET /?via={transport} HTTP/1.1\" 200 612")), "{received}");
        assert!(received.contains("\"GET /missing HTTP/1.1\" 404"), "{received}");
        assert!(!run.stderr.contains("GET /docs/"), "logged to stderr as well as to syslog: {}", run.stderr);
    }
}

#[test]
fn the_request_log_reaches_rsyslogd_on_unix() {
    request_log_reaches_rsyslogd("unix");
}

#[test]
fn the_request_log_reaches_rsyslogd_on_qemu() {
    request_log_reaches_rsyslogd("qemu");
}

/// `morgana inspect` of the manifest and of the built image names the four components and
/// their sizes.
#[test]
fn inspect_shows_the_four_components() {
    let manifest = morgana(&["inspect", EXAMPLE]);
    morgana(&["build", EXAMPLE, "--target", "qemu"]).assert_success();
    let image = repo().join(EXAMPLE).join("target/morgana/static-site.img");
    let image = morgana(&["inspect", &image.display().to_string()]);
    for out in [manifest, image] {
        out.assert_success();
        for part in ["server", "handler", "syslog", "site"] {
            let line = out
                .stdout
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{part} ")))
                .unwrap_or_else(|| panic!("{part} missing:\n{}", out.stdout));
            assert!(line.contains("KiB") || line.contains(" B "), "no size for {part}: {line}");
        }
    }
}
