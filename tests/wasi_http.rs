//! Standard `wasi:http/proxy` components served by `morgana run`, as `wasmtime serve` serves
//! them: examples/http-proxy-hello (built with the `wasi` crate's bindings only) driven with
//! curl and raw sockets. What each answer must be is written here from the handler's source and
//! from `wasmtime serve` 48.0.8 (its 500 page, its header rules), not from another run.
//!
//! The unix target serves with wasmtime-wasi-http; the qemu target with the kernel's own server
//! (morgana-wasi's `http`, over morgana-http), one image built once for all the tests here and
//! booted under TCG. The qemu target has no `outgoing-handler` yet and must say so.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const EXAMPLE: &str = "examples/http-proxy-hello";

/// The handler served on unix on a free port of this machine, each request limited to `timeout`.
fn serve(timeout: &str) -> (Server, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server::start_accepting(&["run", EXAMPLE, "--listen", &listen, "--timeout", timeout], port);
    (server, format!("http://{listen}"))
}

/// `example`'s qemu image, built once for every test here (kept in `slot`, whose scratch
/// directory lives as long as the tests).
fn qemu_image(slot: &'static OnceLock<(Scratch, PathBuf)>, example: &str) -> &'static Path {
    &slot
        .get_or_init(|| {
            let scratch = Scratch::new();
            let image = scratch.path().join("app.img");
            morgana(&["build", example, "--target", "qemu", "-o", image.to_str().unwrap()]).assert_success();
            (scratch, image)
        })
        .1
}

fn hello_image() -> &'static Path {
    static IMAGE: OnceLock<(Scratch, PathBuf)> = OnceLock::new();
    qemu_image(&IMAGE, EXAMPLE)
}

/// The handler served in a VM (TCG, `extra` arguments added), QEMU forwarding a free port of
/// this machine to it.
fn serve_on_qemu(timeout: &str, extra: &[&str]) -> (Server, String) {
    serve_image_on_qemu(hello_image(), timeout, extra)
}

/// `image` served in a VM. Ready once it has answered a request (whatever the answer): QEMU
/// accepts connections on the port before the VM listens.
fn serve_image_on_qemu(image: &Path, timeout: &str, extra: &[&str]) -> (Server, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let image = image.to_str().unwrap();
    let args =
        [&["run", image, "--target", "qemu", "--accel", "tcg", "--listen", &listen, "--timeout", timeout], extra];
    let server = Server::start_accepting(&args.concat(), port);
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let probe = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "--max-time", "5", &format!("{base}/")])
            .output()
            .unwrap();
        if probe.status.success() {
            return (server, base);
        }
        if Instant::now() > deadline {
            let run = server.stop();
            panic!("the VM never answered on {base}:\n{}{}", run.stdout, run.stderr);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn body(response: &str) -> &str {
    response.split_once("\n\n").map_or("", |(_, body)| body)
}

/// wasmtime serve's 500 page (wasmtime-cli 48.0.8, src/commands/serve.rs).
const WASMTIME_500_PAGE: &str = "<!doctype html>\n<html>\n<head>\n    <title>500 Internal Server Error</title>\n</head>\n<body>\n    <center>\n        <h1>500 Internal Server Error</h1>\n        <hr>\n        wasmtime\n    </center>\n</body>\n</html>";

#[test]
fn serves_methods_headers_and_failures_as_wasmtime_serve_does_on_unix() {
    let (server, base) = serve("3s");
    serves_methods_headers_and_failures(server, &base);
}

#[test]
fn serves_methods_headers_and_failures_as_wasmtime_serve_does_on_qemu() {
    let (server, base) = serve_on_qemu("3s", &[]);
    // Every request gets a fresh instance, as under `wasmtime serve`.
    for _ in 0..3 {
        assert_eq!(body(&curl(&[&format!("{base}/count")])), "1\n");
    }
    serves_methods_headers_and_failures(server, &base);
}

/// A chunked request with a trailer field: the handler sees the field, and its response's
/// trailers (that field and `x-trailers-seen: 1`) arrive after its chunked body.
fn trailers_go_both_ways(base: &str) {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    stream
        .write_all(
            b"POST /trailers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTE: trailers\r\nTrailer: x-checksum\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc\r\n\r\n",
        )
        .unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let lowercase = answer.to_ascii_lowercase();
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer:?}");
    assert!(lowercase.contains("\r\ntransfer-encoding: chunked\r\n"), "{answer:?}");
    // The body (one chunk or more), then the last chunk with the trailer section.
    assert!(answer.contains("5 bytes\nx-checksum: abc\n"), "{answer:?}");
    let (_, last) = lowercase.rsplit_once("\r\n0\r\n").expect("a last chunk");
    let mut trailers: Vec<&str> = last.trim_end().lines().map(str::trim).collect();
    trailers.sort();
    assert_eq!(trailers, ["x-checksum: abc", "x-trailers-seen: 1"], "{answer:?}");
}

/// What both targets must do: `server` serves the handler at `base`, each request limited to
/// 3 s; the server is stopped at the end and what it reported checked.
fn serves_methods_headers_and_failures(server: Server, base: &str) {
    let hello = curl(&[&format!("{base}/")]);
    assert!(hello.starts_with("HTTP/1.1 200 OK\n"), "{hello}");
    assert_eq!(body(&hello), "Hello, wasi:http!\n");
    assert_eq!(header(&hello, "content-type"), Some("text/plain"));
    assert_eq!(header(&hello, "content-length"), Some("18"));

    // Methods, standard and not, reach the handler as sent; HEAD gets the head only.
    for method in ["POST", "PUT", "DELETE", "PATCH", "PURGE"] {
        let echo = curl(&["-X", method, "--data-binary", "some body", &format!("{base}/echo")]);
        assert!(echo.starts_with("HTTP/1.1 200 OK\n"), "{method}: {echo}");
        assert_eq!(header(&echo, "x-method"), Some(method), "{echo}");
        assert_eq!(body(&echo), "some body", "{method}");
        // No Content-Length from the handler: the body is chunked on the wire.
        assert_eq!(header(&echo, "transfer-encoding"), Some("chunked"), "{echo}");
    }
    let head = curl(&["-I", &format!("{base}/")]);
    assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{head}");
    assert_eq!(body(&head), "");

    // Request headers arrive with lowercased names; the handler's own are checked as
    // wasmtime-wasi-http checks them: hop-by-hop names are forbidden, bad names refused.
    let seen = curl(&["-H", "X-Custom: yes", &format!("{base}/headers?x=1")]);
    assert!(body(&seen).starts_with("GET /headers?x=1\n"), "{seen}");
    assert!(body(&seen).contains("x-custom: yes\n"), "{seen}");
    for (name, outcome) in [
        ("x-made-by", "ok"),
        ("connection", "forbidden"),
        ("transfer-encoding", "forbidden"),
        ("bad:name", "invalid-syntax"),
    ] {
        let set = curl(&[&format!("{base}/set-header?name={name}&value=v")]);
        assert_eq!(body(&set), format!("{outcome}\n"), "{name}: {set}");
    }
    let set = curl(&[&format!("{base}/set-header?name=x-made-by&value=hello")]);
    assert_eq!(header(&set, "x-made-by"), Some("hello"), "{set}");

    // A request hyper cannot parse is refused with 400 before any handler runs.
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n").unwrap();
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{answer:?}");

    // A head with more than 64 fields is refused with 431, as components/http-server refuses it.
    let many: Vec<String> = (0..70).map(|i| format!("X-Field-{i}: v")).collect();
    let many: Vec<&str> = many.iter().flat_map(|h| ["-H", h.as_str()]).collect();
    let refused = curl(&[&many[..], &[&format!("{base}/")]].concat());
    assert!(refused.starts_with("HTTP/1.1 431"), "{refused}");

    // A handler that traps, returns without answering, or outlives the timeout gets wasmtime
    // serve's 500 page; the server goes on serving.
    for path in ["/trap", "/no-answer", "/sleep?ms=10000"] {
        let started = Instant::now();
        let failed = curl(&[&format!("{base}{path}")]);
        assert!(failed.starts_with("HTTP/1.1 500 Internal Server Error\n"), "{path}: {failed}");
        assert_eq!(header(&failed, "content-type"), Some("text/html; charset=UTF-8"), "{failed}");
        assert_eq!(body(&failed), WASMTIME_500_PAGE, "{path}");
        assert!(started.elapsed() < Duration::from_secs(8), "{path} took {:?}", started.elapsed());
        assert_eq!(body(&curl(&[&format!("{base}/")])), "Hello, wasi:http!\n", "after {path}");
    }
    assert_eq!(body(&curl(&[&format!("{base}/sleep?ms=100")])), "slept\n");
    trailers_go_both_ways(base);

    let run = server.stop();
    assert!(run.stderr.contains(&format!("Serving HTTP on {base}/")), "{}", run.stderr);
    assert!(run.stderr.contains("the handler was asked to trap"), "the trap's message is reported: {}", run.stderr);
    assert!(run.stderr.contains("guest never invoked `response-outparam::set` method"), "{}", run.stderr);
    assert!(run.stderr.contains("longer than its timeout of 3000 ms"), "{}", run.stderr);
}

#[test]
fn each_request_gets_a_fresh_instance_unless_reuse_is_asked_for_on_unix() {
    let (fresh, base) = serve("10s");
    for _ in 0..3 {
        assert_eq!(body(&curl(&[&format!("{base}/count")])), "1\n");
    }
    drop(fresh);

    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let reused =
        Server::start_accepting(&["run", EXAMPLE, "--listen", &listen, "--max-instance-reuse-count", "3"], port);
    each_instance_serves_three_requests(&format!("http://{listen}"));
    drop(reused);
}

#[test]
fn instances_are_reused_when_asked_for_on_qemu() {
    let (reused, base) = serve_on_qemu("10s", &["--max-instance-reuse-count", "3"]);
    each_instance_serves_three_requests(&base);
    drop(reused);
}

/// The handler at `base` is served with `--max-instance-reuse-count 3`.
fn each_instance_serves_three_requests(base: &str) {
    let count = || {
        std::thread::sleep(Duration::from_millis(500));
        body(&curl(&[&format!("{base}/count")])).to_string()
    };
    // An instance is back among the idle ones only once its call has returned, which a VM under
    // TCG on a busy machine may not have done by the next request (that one then gets a fresh
    // instance): so the counts show reuse, and never beyond 3, but not a fixed sequence.
    let counts: Vec<usize> = (0..9).map(|_| count().trim().parse().unwrap()).collect();
    assert!(counts.iter().all(|n| (1..=3).contains(n)), "{counts:?}");
    assert!(counts.iter().any(|n| *n >= 2), "no instance was reused: {counts:?}");
    // After a trap the server goes on, its counts still within the limit.
    curl(&[&format!("{base}/trap")]);
    let after: usize = count().trim().parse().unwrap();
    assert!((1..=3).contains(&after), "{after}");
}

#[test]
fn a_client_that_never_finishes_its_head_is_let_go_on_unix() {
    let (server, base) = serve("10s");
    let mut slow = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(waited > Duration::from_secs(8) && waited < Duration::from_secs(15), "closed after {waited:?}");
    // The server goes on serving others.
    assert_eq!(body(&curl(&[&format!("{base}/")])), "Hello, wasi:http!\n");
    drop(server);
}

/// A line of `/proc/PID/status` in KiB: `VmRSS` (resident now) or `VmHWM` (the peak).
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn bodies_of_100_mib_stream_both_ways_in_bounded_memory_on_unix() {
    let (server, base) = serve("120s");
    let pid = morgana_pid(&server);
    // Warmed up by one request; then the peak is reset (clear_refs 5), so that it measures
    // the transfers alone.
    curl(&[&format!("{base}/")]);
    let before = memory_kib(pid, "VmRSS:");
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();

    streams_100_mib_both_ways(&base, "120");

    // Neither body was held whole: the server's peak grew by far less than 100 MiB.
    let peak = memory_kib(pid, "VmHWM:");
    assert!(peak < before + 40 * 1024, "the server's resident memory went from {before} KiB to a peak of {peak} KiB");
    drop(server);
}

/// Downloads 100 MiB of "0123456789…" from the handler at `base` and echoes 100 MiB through it,
/// each checked byte for byte; each transfer within `max_time` seconds.
fn streams_100_mib_both_ways(base: &str, max_time: &str) {
    const SIZE: usize = 100 << 20;
    let download = Command::new("curl")
        .args(["-sS", "--max-time", max_time, &format!("{base}/bytes?n={SIZE}")])
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(download.status.success(), "{}", String::from_utf8_lossy(&download.stderr));
    assert_eq!(download.stdout.len(), SIZE);
    assert!(download.stdout.iter().enumerate().all(|(i, b)| *b == b"0123456789"[i % 10]), "the bytes differ");

    // Upload: to /echo, which streams it back as it arrives.
    let scratch = Scratch::new();
    let upload: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
    let upload_path = scratch.file("upload.bin", &upload);
    let echo = Command::new("curl")
        .args(["-sS", "--max-time", max_time, "--data-binary"])
        .arg(format!("@{}", upload_path.display()))
        .arg(format!("{base}/echo"))
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    assert!(echo.status.success(), "{}", String::from_utf8_lossy(&echo.stderr));
    assert!(echo.stdout == upload, "the echo differs ({} bytes back)", echo.stdout.len());
}

/// The pid of the morgana process serving (the process group's leader).
fn morgana_pid(server: &Server) -> u32 {
    server.child.id()
}

#[test]
fn bodies_of_100_mib_stream_both_ways_through_a_vm_of_48_mib_on_qemu() {
    // The VM's memory could not hold either body: they must stream.
    let (server, base) = serve_on_qemu("300s", &["--memory", "48M"]);
    streams_100_mib_both_ways(&base, "300");
    let scratch = Scratch::new();
    // A chunked upload (no length announced) streams as well.
    let text = "0123456789abcdef".repeat(64 * 1024);
    let text_path = format!("@{}", scratch.file("text.txt", &text).display());
    let chunked = curl(&["-H", "Transfer-Encoding: chunked", "--data-binary", &text_path, &format!("{base}/echo")]);
    assert!(chunked.starts_with("HTTP/1.1 200 OK\n"), "{}", &chunked[..200.min(chunked.len())]);
    assert!(body(&chunked) == text, "the chunked echo differs ({} bytes back)", body(&chunked).len());
    drop(server);
}

#[test]
fn a_client_that_never_finishes_its_head_is_let_go_on_qemu() {
    let (server, base) = serve_on_qemu("10s", &[]);
    let mut slow = TcpStream::connect(base.trim_start_matches("http://")).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = slow.read_to_end(&mut rest);
    let waited = started.elapsed();
    assert!(waited > Duration::from_secs(8) && waited < Duration::from_secs(20), "closed after {waited:?}");
    // Meanwhile, and after, the server serves others.
    assert_eq!(body(&curl(&[&format!("{base}/")])), "Hello, wasi:http!\n");
    drop(server);
}

/// wasmtime 48.0.8, if installed (`WASMTIME` names another binary).
fn wasmtime() -> Option<String> {
    let path = std::env::var("WASMTIME").unwrap_or_else(|_| "wasmtime".into());
    let out = Command::new(&path).arg("--version").output().ok()?;
    String::from_utf8_lossy(&out.stdout).contains("48.0.8").then_some(path)
}

/// What a client can tell of a response: the status line, the headers the handler controls
/// (and the framing), and the body.
fn observable(response: &str) -> String {
    let status = response.lines().next().unwrap_or("").to_string();
    let mut kept: Vec<String> = ["content-type", "content-length", "transfer-encoding", "x-method", "x-made-by"]
        .iter()
        .filter_map(|name| header(response, name).map(|value| format!("{name}: {value}")))
        .collect();
    kept.sort();
    format!("{status}\n{}\n\n{}", kept.join("\n"), body(response))
}

#[test]
fn answers_are_what_wasmtime_serve_answers_on_both_targets() {
    let Some(wasmtime) = wasmtime() else {
        eprintln!(
            "wasmtime 48.0.8 is not installed (cargo install wasmtime-cli@48.0.8 --locked): the answers are not compared with `wasmtime serve`"
        );
        return;
    };
    // The same composed component for both.
    let scratch = Scratch::new();
    let component = scratch.path().join("http-proxy-hello.wasm");
    morgana(&["build", EXAMPLE, "-o", component.to_str().unwrap()]).assert_success();
    let (morgana_server, morgana_base) = serve("3s");
    let (qemu_server, qemu_base) = serve_on_qemu("3s", &[]);
    let port = free_port();
    let mut command = Command::new(&wasmtime);
    command
        .args(["serve", "-Scli", "-Wtimeout=3s", "--addr", &format!("127.0.0.1:{port}"), "--env", "GREETING=Hello"])
        .arg(&component);
    let wasmtime_server = Server::start_accepting_command(command, port);
    let wasmtime_base = format!("http://127.0.0.1:{port}");

    let requests: [&[&str]; 10] = [
        &["/"],
        &["-I", "/"],
        &["-X", "PUT", "--data-binary", "put body", "/echo"],
        &["-X", "PURGE", "/echo"],
        &["/bytes?n=100000"],
        &["/set-header?name=x-made-by&value=hello"],
        &["/set-header?name=connection&value=close"],
        &["/trap"],
        &["/no-answer"],
        &["/count"],
    ];
    for request in requests {
        let (path, options) = request.split_last().unwrap();
        let ask = |base: &str| {
            let url = format!("{base}{path}");
            observable(&curl(&[options, &[url.as_str()]].concat()))
        };
        let expected = ask(&wasmtime_base);
        assert_eq!(ask(&morgana_base), expected, "unix: {request:?}");
        assert_eq!(ask(&qemu_base), expected, "qemu: {request:?}");
    }
    drop((morgana_server, qemu_server, wasmtime_server));
}

/// examples/http-forward served on unix with `env`, on a free port.
fn serve_forwarder(upstream: &str) -> (Server, String) {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let env = format!("UPSTREAM={upstream}");
    let server = Server::start_accepting(&["run", FORWARDER, "--listen", &listen, "--env", &env], port);
    (server, format!("http://{listen}"))
}

const FORWARDER: &str = "examples/http-forward";

/// examples/http-forward served in a VM; `upstream` is a port of this machine, which the VM
/// reaches at QEMU's gateway address (10.0.2.2).
fn serve_forwarder_on_qemu(upstream_port: u16) -> (Server, String) {
    static IMAGE: OnceLock<(Scratch, PathBuf)> = OnceLock::new();
    let env = format!("UPSTREAM=http://10.0.2.2:{upstream_port}");
    serve_image_on_qemu(qemu_image(&IMAGE, FORWARDER), "30s", &["--env", &env])
}

fn port_of(base: &str) -> u16 {
    base.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn a_handler_calls_other_servers_through_outgoing_handler_on_unix() {
    // The upstream: http-proxy-hello, served by another morgana on this machine.
    let (upstream, upstream_base) = serve("10s");
    let (forwarder, base) = serve_forwarder(&upstream_base);
    forwards_to_upstream(&base);
    // An upstream that is down: the host's `connection-refused`, which the handler reports.
    let down = format!("http://127.0.0.1:{}", free_port());
    let (refused_server, refused_base) = serve_forwarder(&down);
    refused_by_upstream(&refused_base);
    drop((refused_server, forwarder, upstream));
}

#[test]
fn a_handler_calls_other_servers_through_outgoing_handler_on_qemu() {
    let (upstream, upstream_base) = serve("30s");
    let (forwarder, base) = serve_forwarder_on_qemu(port_of(&upstream_base));
    forwards_to_upstream(&base);
    let (refused_server, refused_base) = serve_forwarder_on_qemu(free_port());
    refused_by_upstream(&refused_base);
    drop((refused_server, forwarder, upstream));
}

/// The forwarder at `base` relays to a served http-proxy-hello.
fn forwards_to_upstream(base: &str) {
    let hello = curl(&[&format!("{base}/")]);
    assert!(hello.starts_with("HTTP/1.1 200 OK\n"), "{hello}");
    assert_eq!(body(&hello), "Hello, wasi:http!\n");
    assert_eq!(header(&hello, "x-forwarded-by"), Some("http-forward"), "{hello}");
    // The request's headers and body go up, the answer's come back, streamed.
    let seen = curl(&["-H", "X-Custom: yes", &format!("{base}/headers")]);
    assert!(body(&seen).contains("x-forwarded-by: http-forward\n"), "{seen}");
    assert!(body(&seen).contains("x-custom: yes\n"), "{seen}");
    // 128 KiB: http-forward writes the whole request body before it reads the answer, while
    // /echo answers as it reads, so a body beyond what the sockets between them buffer stalls
    // both until the upstream's timeout (the example's design, the same under wasmtime).
    let payload = "0123456789abcdef".repeat(8 * 1024);
    let scratch = Scratch::new();
    let file = format!("@{}", scratch.file("payload.txt", &payload).display());
    let echo = curl(&["--data-binary", &file, &format!("{base}/echo")]);
    let shown = &echo[..200.min(echo.len())];
    assert!(body(&echo) == payload, "the echo through the forwarder differs ({} bytes): {shown}", body(&echo).len());
    assert_eq!(header(&echo, "x-method"), Some("POST"), "{shown}");
}

/// The forwarder at `base` has an upstream that is down.
fn refused_by_upstream(base: &str) {
    let refused = curl(&[&format!("{base}/")]);
    assert!(refused.starts_with("HTTP/1.1 502 Bad Gateway\n"), "{refused}");
    assert_eq!(body(&refused), "upstream error: ErrorCode::ConnectionRefused\n");
}

#[test]
fn a_vm_serves_more_fresh_instances_than_its_window_space_holds_at_once_on_qemu() {
    // Each instance reserves 8 GiB of address space for its memory; the kernel's window space
    // holds about 8000 such reservations at once, so the space of instances that are gone must
    // be reused. Four keep-alive clients ask 9000 times in all.
    let (server, base) = serve_on_qemu("10s", &[]);
    let address = base.trim_start_matches("http://").to_string();
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let address = address.clone();
            std::thread::spawn(move || {
                let mut stream = TcpStream::connect(&address).unwrap();
                stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut buffer = Vec::new();
                for i in 0..2250 {
                    stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                    // One response: its head, then the 18 bytes its Content-Length announces.
                    let end = loop {
                        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                            if buffer.len() >= at + 4 + 18 {
                                break at + 4 + 18;
                            }
                        }
                        let mut piece = [0; 4096];
                        let n = stream.read(&mut piece).unwrap();
                        assert!(n > 0, "the connection closed after {i} requests");
                        buffer.extend_from_slice(&piece[..n]);
                    };
                    let response = String::from_utf8_lossy(&buffer[..end]).into_owned();
                    assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "request {i}: {response}");
                    assert!(response.ends_with("\r\n\r\nHello, wasi:http!\n"), "request {i}: {response}");
                    buffer.drain(..end);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    drop(server);
}

#[test]
fn a_handler_composed_with_a_morgana_library_is_served_on_qemu() {
    // examples/http-proxy-kv: a wasi:http handler wired to the kv store component, which holds
    // the files of its manifest's [kv.files].
    static IMAGE: OnceLock<(Scratch, PathBuf)> = OnceLock::new();
    let (server, base) = serve_image_on_qemu(qemu_image(&IMAGE, "examples/http-proxy-kv"), "10s", &[]);
    let hello = curl(&[&format!("{base}/hello.txt")]);
    assert!(hello.starts_with("HTTP/1.1 200 OK\n"), "{hello}");
    let expected = std::fs::read_to_string(repo().join("examples/http-proxy-kv/files/hello.txt")).unwrap();
    assert_eq!(body(&hello), expected);
    assert!(curl(&[&format!("{base}/nope")]).starts_with("HTTP/1.1 404"));
    drop(server);
}
