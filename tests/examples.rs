//! Every example, on every target: the standard output and exit status kept beside it in
//! `expected.txt` (what the program printed, then what its client saw).
//!
//! An example is a directory of `examples/` with a `unikernel.toml`. Its `check.toml` says how
//! to exercise it: the arguments to run it with and, for a server, the client to drive it with
//! (real clients: `curl` for HTTP and HTTPS, a UDP socket for UDP, `kdig` for DNS) — so each new
//! example is covered here without a new test. A server listens on the port in its `PORT`
//! environment variable (over UDP for the udp and dns protocols, and TCP as well for dns), or
//! for https in `HTTPS_PORT`, with plain HTTP off; curl trusts the example's development
//! certificate (`target/morgana/keys/site.crt`). A `wasi-http` example is a served
//! `wasi:http/incoming-handler`: it listens where `--listen` says, is driven with curl, and runs
//! until interrupted, so it gets SIGINT after its requests.
//!
//! `cargo test --release --test examples -- --ignored pin` writes `expected.txt` from the unix
//! target, for a new example or a deliberate change; read what it wrote before committing it.

mod common;

use std::io::Read;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    #[serde(default)]
    args: Vec<String>,
    /// The targets it runs on, when not every one.
    targets: Option<Vec<String>>,
    client: Option<Client>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Client {
    protocol: String,
    requests: Vec<String>,
}

fn examples() -> Vec<PathBuf> {
    let mut examples: Vec<PathBuf> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("unikernel.toml").is_file())
        .collect();
    examples.sort();
    examples
}

/// Runs `example` on `target`, driving it with its client if it is a server (which listens on
/// `host_port`).
fn check_of(example: &Path) -> Check {
    let name = example.file_name().unwrap().to_string_lossy().into_owned();
    toml::from_str(
        &std::fs::read_to_string(example.join("check.toml")).unwrap_or_else(|_| panic!("{name} has no check.toml")),
    )
    .unwrap_or_else(|e| panic!("{name}/check.toml: {e}"))
}

fn exercise(example: &Path, target: &str, host_port: u16) -> Run {
    let name = example.file_name().unwrap().to_string_lossy().into_owned();
    let check = check_of(example);
    let dir = example.display().to_string();
    let mut args = vec!["run".to_string(), dir, "--target".into(), target.into()];
    let Some(client) = &check.client else {
        args.push("--".into());
        args.extend(check.args.iter().cloned());
        return morgana(&args.iter().map(String::as_str).collect::<Vec<_>>());
    };

    // A server listens on $PORT: a free port of this machine on unix, the same port inside the
    // VM on qemu, forwarded from this machine (so both print the same).
    let served_handler = client.protocol == "wasi-http";
    if client.protocol == "https" {
        args.extend(["--env".into(), format!("HTTPS_PORT={host_port}"), "--env".into(), "HTTP_ADDR=off".into()]);
    } else if served_handler {
        args.extend(["--listen".into(), format!("127.0.0.1:{host_port}")]);
    } else {
        args.extend(["--env".into(), format!("PORT={host_port}")]);
    }
    if target == "qemu" {
        let udp = if matches!(client.protocol.as_str(), "udp" | "dns") { "/udp" } else { "" };
        args.extend(["-p".into(), format!("{host_port}:{host_port}{udp}")]);
        if client.protocol == "dns" {
            // A DNS server answers over TCP on the same port (`+tcp` requests, zone transfers).
            args.extend(["-p".into(), format!("{host_port}:{host_port}")]);
        }
    }
    args.push("--".into());
    args.extend(check.args.iter().cloned());
    let mut child = Command::new(env!("CARGO_BIN_EXE_morgana"))
        .args(&args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the server says it listens (it prints a line with "listening"), so that no
    // request is sent before it can be answered. A served handler prints nothing: the client
    // retries its first request until it is answered.
    let mut stdout_pipe = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut stdout = String::new();
    while !served_handler {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stdout_pipe, &mut line).unwrap_or(0) == 0 {
            break; // it exited; what it printed on stderr will say why
        }
        stdout.push_str(&line);
        if line.contains("listening") {
            break;
        }
    }
    let answers = match client.protocol.as_str() {
        "http" | "wasi-http" => http_client(&format!("http://127.0.0.1:{host_port}"), &[], &client.requests),
        "https" => {
            let certificate = example.join("target/morgana/keys/site.crt").display().to_string();
            http_client(&format!("https://127.0.0.1:{host_port}"), &["--cacert", &certificate], &client.requests)
        }
        "udp" => udp_client(host_port, &client.requests),
        "dns" => dns_client(host_port, &client.requests),
        other => panic!("{name}/check.toml: unknown protocol {other}"),
    };
    if served_handler {
        let _ = Command::new("kill").args(["-s", "INT", &child.id().to_string()]).status();
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name} on {target} did not exit after its requests");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    stdout_pipe.read_to_string(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    let answers = answers.unwrap_or_else(|e| panic!("{name} on {target}: {e}\nstderr:\n{stderr}"));
    // What the client saw is part of the output to compare.
    Run { status: status.code().unwrap_or(-1), stdout: format!("{stdout}--- client saw:\n{answers}"), stderr }
}

/// Fetches each path below `base` with curl and `options` (retrying the first until the server
/// is up), one connection each; what it saw, headers included, `Date` left out.
fn http_client(base: &str, options: &[&str], paths: &[String]) -> Result<String, String> {
    let mut seen = String::new();
    for (i, path) in paths.iter().enumerate() {
        let url = format!("{base}{path}");
        let started = Instant::now();
        loop {
            let out = Command::new("curl")
                .args(["-sS", "-i", "--max-time", "10"])
                .args(options)
                .arg(&url)
                .output()
                .map_err(|e| format!("curl: {e}"))?;
            if out.status.success() {
                let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
                // The one header that differs from run to run.
                let text: String = text
                    .lines()
                    .filter(|l| !l.to_ascii_lowercase().starts_with("date:"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                seen.push_str(&text);
                break;
            }
            if i > 0 || started.elapsed() > Duration::from_secs(90) {
                return Err(format!("curl {url} failed: {}", String::from_utf8_lossy(&out.stderr)));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    Ok(seen)
}

/// Sends each datagram once and waits for its echo (the server is already listening).
fn udp_client(port: u16, datagrams: &[String]) -> Result<String, String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut seen = String::new();
    for datagram in datagrams {
        let mut buffer = [0u8; 2048];
        socket.send_to(datagram.as_bytes(), ("127.0.0.1", port)).map_err(|e| e.to_string())?;
        let (len, _) = socket.recv_from(&mut buffer).map_err(|e| format!("no echo of {datagram:?}: {e}"))?;
        seen.push_str(&String::from_utf8_lossy(&buffer[..len]));
        seen.push('\n');
    }
    Ok(seen)
}

/// Sends each query with `kdig @127.0.0.1 -p PORT REQUEST` (a request is kdig's arguments, e.g.
/// `www.example.com A +tcp`), once (no retries: each query sent is one the server counts); what
/// it printed, without the message id, the time and the server's address.
fn dns_client(port: u16, requests: &[String]) -> Result<String, String> {
    let mut seen = String::new();
    for request in requests {
        let out = Command::new("kdig")
            .args(["@127.0.0.1", "-p", &port.to_string(), "+timeout=10", "+retry=0"])
            .args(request.split_whitespace())
            .output()
            .map_err(|e| format!("kdig: {e} (Debian: apt-get install knot-dnsutils)"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.contains("->>HEADER<<-") && !text.contains("XFR for ") {
            return Err(format!("kdig {request}: {text}{}", String::from_utf8_lossy(&out.stderr)));
        }
        seen.push_str(&format!("> {request}\n"));
        for line in text.lines() {
            if line.starts_with(";; Time ") || line.starts_with(";; From ") {
                continue;
            }
            match line.find("; id: ") {
                Some(at) if line.starts_with(";; ->>HEADER<<-") => seen.push_str(&line[..at]),
                _ => seen.push_str(line),
            }
            seen.push('\n');
        }
    }
    Ok(seen)
}

/// What a run printed, with the port it listened on written `$PORT` (a free port differs
/// from run to run).
fn normalized(run: &Run, port: u16) -> String {
    run.stdout.replace(&port.to_string(), "$PORT")
}

#[test]
fn every_example_prints_what_is_kept_beside_it_on_every_target() {
    let examples = examples();
    assert!(examples.len() >= 4, "examples found: {examples:?}");
    for example in examples {
        let name = example.file_name().unwrap().to_string_lossy().into_owned();
        let expected = Pinned::read(&example.join("expected.txt"));
        let targets = check_of(&example).targets.unwrap_or_else(|| vec!["unix".into(), "qemu".into()]);
        for target in targets.iter().map(String::as_str) {
            let port = free_port();
            let run = exercise(&example, target, port);
            assert_eq!(run.status, expected.status, "{name} on {target}: status\nstderr:\n{}", run.stderr);
            assert_eq!(
                normalized(&run, port),
                String::from_utf8_lossy(&expected.stdout),
                "{name} on {target}: stdout differs from expected.txt\nstderr:\n{}",
                run.stderr
            );
        }
    }
}

/// Writes each example's expected.txt from the unix target.
#[test]
#[ignore]
fn pin() {
    for example in examples() {
        let port = free_port();
        let run = exercise(&example, "unix", port);
        let pinned = Pinned { status: run.status, stdout: normalized(&run, port).into_bytes() };
        pinned.write(&example.join("expected.txt"), "what the example prints, then what its client saw (unix target)");
    }
}
