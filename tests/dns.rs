//! The dns-primary example against NSD: the same zones (examples/dns-primary/zones) served by a
//! real `nsd` on loopback and by the example on both targets, every query of
//! `tests/fixtures/dns-queries.txt` sent to both with `kdig`, and the answers compared — header
//! flags, RCODE, EDNS, every section with its TTLs (records sorted within a section, zone
//! transfers compared between their SOAs). Then malformed packets, over UDP and TCP, sent to
//! both with raw sockets: each must get NSD's answer (or NSD's silence), and the server must
//! keep serving. Needs `nsd` and `kdig` (Debian: apt-get install nsd knot-dnsutils).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const ZONES: &str = "examples/dns-primary/zones";

/// A real NSD serving the example's zones on 127.0.0.1:`port`, its files in a scratch
/// directory, response rate limiting off (else it truncates or drops a burst of REFUSED
/// answers); killed when dropped.
struct Nsd {
    child: std::process::Child,
    port: u16,
    _scratch: Scratch,
}

impl Nsd {
    fn start() -> Nsd {
        let scratch = Scratch::new();
        let port = free_udp_and_tcp_port();
        let dir = scratch.path().display().to_string();
        let mut config = format!(
            "server:\n    ip-address: 127.0.0.1@{port}\n    port: {port}\n    username: \"\"\n\
             \x20   zonesdir: \"{zones}\"\n    database: \"\"\n    pidfile: \"{dir}/nsd.pid\"\n\
             \x20   xfrdfile: \"{dir}/xfrd.state\"\n    zonelistfile: \"{dir}/zone.list\"\n\
             \x20   logfile: \"{dir}/nsd.log\"\n    server-count: 1\n\
             \x20   rrl-ratelimit: 0\n    rrl-whitelist-ratelimit: 0\n\
             remote-control:\n    control-enable: no\n",
            zones = repo().join(ZONES).display()
        );
        for zone in ["example.com", "2.0.192.in-addr.arpa"] {
            config +=
                &format!("zone:\n    name: {zone}\n    zonefile: {zone}.zone\n    provide-xfr: 127.0.0.1 NOKEY\n");
        }
        let conf = scratch.file("nsd.conf", config);
        let child = Command::new("nsd")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsd runs (Debian: apt-get install nsd knot-dnsutils)");
        let mut nsd = Nsd { child, port, _scratch: scratch };
        let started = Instant::now();
        while udp_exchange(port, &query("example.com", 1), Duration::from_millis(200)).is_none() {
            if let Some(status) = nsd.child.try_wait().unwrap() {
                let log = std::fs::read_to_string(format!("{dir}/nsd.log")).unwrap_or_default();
                panic!("nsd exited with {status}:\n{log}");
            }
            assert!(started.elapsed() < Duration::from_secs(20), "nsd did not answer within 20 s");
        }
        nsd
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port free for both UDP and TCP on loopback.
fn free_udp_and_tcp_port() -> u16 {
    loop {
        let port = free_port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// `example` served on `target` on a free port of this machine (port 53 inside the VM on qemu,
/// forwarded over UDP and TCP).
fn dns_primary(example: &str, target: &str) -> (Server, u16) {
    let port = free_udp_and_tcp_port();
    let (env, udp, tcp) = (format!("DNS_PORT={port}"), format!("{port}:53/udp"), format!("{port}:53"));
    let mut args = vec!["run", example, "--target", target];
    if target == "qemu" {
        args.extend(["-p", &udp, "-p", &tcp]);
    } else {
        args.extend(["--env", &env]);
    }
    let server = Server::start(&args);
    // QEMU forwards as soon as it starts; wait until the guest answers.
    let started = Instant::now();
    while udp_exchange(port, &query("example.com", 1), Duration::from_millis(500)).is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "{example} on {target} does not answer");
    }
    (server, port)
}

/// The fixture's queries: kdig arguments, one query a line.
fn queries() -> Vec<String> {
    let text = std::fs::read_to_string(repo().join("tests/fixtures/dns-queries.txt")).unwrap();
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

/// Whether a query of the fixture goes over TCP.
fn needs_tcp(query: &str) -> bool {
    query.split_whitespace().any(|a| a == "+tcp" || a == "AXFR" || a.starts_with("IXFR"))
}

/// `kdig @127.0.0.1 -p PORT ARGS`, normalised: what it printed (stdout, then stderr) without
/// the message id, the time, the server's address and the message sizes, and with the records
/// of each section sorted (a zone transfer's records sorted between its first and last SOA).
fn kdig(port: u16, query: &str) -> String {
    let out = Command::new("kdig")
        .args([format!("@127.0.0.1"), "-p".into(), port.to_string(), "+timeout=5".into(), "+retry=0".into()])
        .args(query.split_whitespace())
        .output()
        .expect("kdig runs (Debian: apt-get install knot-dnsutils)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    normalise(&text.replace(&format!("127.0.0.1@{port}"), "SERVER"))
}

fn normalise(text: &str) -> String {
    let mut lines: Vec<String> = Vec::new();
    // Where the records of the current section (or transfer) start, and whether it is a transfer.
    let mut section: Option<(usize, bool)> = None;
    let close = |lines: &mut Vec<String>, section: &mut Option<(usize, bool)>| {
        if let Some((start, transfer)) = section.take() {
            let records = &mut lines[start..];
            if transfer && records.len() > 2 {
                let last = records.len() - 1;
                records[1..last].sort();
            } else if !transfer {
                records.sort();
            }
        }
    };
    for line in text.lines() {
        if line.starts_with(";; Time ") || line.starts_with(";; From ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix(";; Received ") {
            // A transfer's record count stays; sizes and message counts are the server's choice.
            close(&mut lines, &mut section);
            if let Some(records) = rest.split(", ").nth(1) {
                lines.push(format!(";; Received {}", records.trim_end_matches(')')));
            }
            continue;
        }
        let line = match line.find("id: ") {
            Some(at) if line.starts_with(";; ->>HEADER<<-") => format!("{}id: -", &line[..at]),
            _ => line.to_string(),
        };
        if line.is_empty() || line.starts_with(";;") {
            close(&mut lines, &mut section);
        }
        let header = line.ends_with(" SECTION:")
            || (line.starts_with(";; ") && (line.contains("XFR for ")) && !line.contains("ERROR"));
        lines.push(line);
        if header {
            section = Some((lines.len(), !lines.last().unwrap().ends_with(" SECTION:")));
        }
    }
    close(&mut lines, &mut section);
    lines.join("\n")
}

/// Sends every query to NSD and to the server under test; fails with the first mismatches.
fn compare(nsd: u16, ours: u16, queries: &[String], what: &str) {
    let started = Instant::now();
    let mut mismatches = Vec::new();
    for query in queries {
        let (expected, got) = (kdig(nsd, query), kdig(ours, query));
        assert!(
            expected.contains("->>HEADER<<-") || expected.contains("XFR for ") || expected.contains("ERROR"),
            "NSD printed no answer to `{query}`:\n{expected}"
        );
        if expected != got {
            mismatches.push((query, expected, got));
        }
    }
    eprintln!("{what}: {} queries compared with NSD in {:.1?}", queries.len(), started.elapsed());
    if mismatches.is_empty() {
        return;
    }
    let mut report = format!("{what}: {} of {} answers differ from NSD's\n", mismatches.len(), queries.len());
    for (query, expected, got) in mismatches.iter().take(5) {
        report += &format!("\n=== kdig {query}   (- NSD, + dns-primary)\n{}", line_diff(expected, got));
    }
    panic!("{report}");
}

/// The lines of `a` and `b` side by side: common ones indented, the others marked - and +.
fn line_diff(a: &str, b: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    // Longest common subsequence, by dynamic programming (answers are short).
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out += &format!("  {}\n", a[i]);
            (i, j) = (i + 1, j + 1);
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out += &format!("- {}\n", a[i]);
            i += 1;
        } else {
            out += &format!("+ {}\n", b[j]);
            j += 1;
        }
    }
    out
}

#[test]
fn the_fixture_covers_every_behaviour() {
    let queries = queries();
    assert!(queries.len() >= 100, "{} queries", queries.len());
    for needle in [
        " A",
        " AAAA",
        " CNAME",
        " NS",
        " MX",
        " TXT",
        " SRV",
        " SOA",
        " CAA",
        " PTR",
        " AXFR",
        "+tcp",
        "+ignore",
        "+bufsize=",
        "wild",
        "nope.example.org",
        "sub.example.com",
    ] {
        assert!(queries.iter().any(|q| q.contains(needle)), "no query with {needle:?}");
    }
}

/// The normalisation keeps what matters: a different TTL, flag or record is a difference.
#[test]
fn normalisation_keeps_differences() {
    let answer = ";; ->>HEADER<<- opcode: QUERY; status: NOERROR; id: 1\n;; Flags: qr aa rd\n\n\
                  ;; ANSWER SECTION:\na.\t60\tIN\tA\t192.0.2.1\nb.\t60\tIN\tA\t192.0.2.2\n\n;; Received 60 B\n";
    let reordered = answer.replace("id: 1", "id: 2").replace(
        "a.\t60\tIN\tA\t192.0.2.1\nb.\t60\tIN\tA\t192.0.2.2",
        "b.\t60\tIN\tA\t192.0.2.2\na.\t60\tIN\tA\t192.0.2.1",
    );
    assert_eq!(normalise(answer), normalise(&reordered));
    for changed in [answer.replace("\t60\tIN\tA\t192.0.2.2", "\t61\tIN\tA\t192.0.2.2"), answer.replace(" aa", "")] {
        assert_ne!(normalise(answer), normalise(&changed));
    }
}

fn answers_like_nsd(target: &str) {
    let nsd = Nsd::start();
    let (server, port) = dns_primary("examples/dns-primary", target);
    compare(nsd.port, port, &queries(), &format!("dns-primary on {target}"));
    if target == "unix" {
        nsd_diff(nsd.port, port);
    }
    let run = server.stop();
    assert!(!run.stderr.contains("ERROR"), "{}", run.stderr);
}

/// components/dns-server/nsd-diff: ~1200 raw queries (UDP and TCP, odd opcodes, classes,
/// EDNS and TSIG) to both. It is written for the core's testdata zones, the example's plus
/// opt.test; neither server here serves opt.test, so those queries are REFUSED by both.
fn nsd_diff(nsd: u16, ours: u16) {
    let started = Instant::now();
    let out = Command::new("python3")
        .arg(repo().join("components/dns-server/nsd-diff/nsd_diff.py"))
        .args(["--ours", &format!("127.0.0.1:{ours}"), "--nsd", &format!("127.0.0.1:{nsd}")])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nsd_diff.py found differences:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("nsd_diff.py: {} in {:.1?}", stdout.lines().last().unwrap_or(""), started.elapsed());
}

#[test]
fn dns_primary_answers_like_nsd_on_unix() {
    answers_like_nsd("unix");
}

#[test]
fn dns_primary_answers_like_nsd_on_qemu() {
    answers_like_nsd("qemu");
}

/// The UDP-only image: every UDP query answered as NSD answers it (truncated answers left
/// truncated), no TCP at all — and none linked in.
#[test]
fn dns_primary_udp_answers_udp_like_nsd_on_qemu() {
    morgana(&["build", "examples/dns-primary-udp", "--target", "qemu"]).assert_success();
    let image = repo().join("examples/dns-primary-udp/target/morgana/dns-primary-udp.img");
    let inspect = morgana(&["inspect", &image.display().to_string()]);
    inspect.assert_success();
    assert!(inspect.stdout.contains("wasi:sockets/udp"), "{}", inspect.stdout);
    assert!(!inspect.stdout.contains("wasi:sockets/tcp"), "TCP linked into the UDP-only image:\n{}", inspect.stdout);

    let nsd = Nsd::start();
    let (server, port) = dns_primary("examples/dns-primary-udp", "qemu");
    let udp: Vec<String> = queries().into_iter().filter(|q| !needs_tcp(q)).map(|q| format!("{q} +ignore")).collect();
    assert!(udp.len() >= 100, "{} UDP queries", udp.len());
    compare(nsd.port, port, &udp, "dns-primary-udp on qemu");

    // Over TCP: nothing (QEMU accepts on this side, but the guest has no TCP to connect to).
    let tcp = kdig(port, "www.example.com A +tcp");
    assert!(!tcp.contains("->>HEADER<<-") && tcp.contains("ERROR"), "answered over TCP:\n{tcp}");
    assert_eq!(tcp_exchange(port, &framed(&query("www.example.com", 1))), Vec::<u8>::new());
    assert!(udp_exchange(port, &query("www.example.com", 1), Duration::from_secs(5)).is_some());
    server.stop();
}

// --- malformed input ------------------------------------------------------------------------

/// A query for `name`, type `qtype`, class IN, RD set, id 0x1234.
fn query(name: &str, qtype: u16) -> Vec<u8> {
    let mut packet = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    packet.extend(wire_name(name));
    packet.extend(qtype.to_be_bytes());
    packet.extend(1u16.to_be_bytes());
    packet
}

fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend(label.as_bytes());
    }
    out.push(0);
    out
}

fn framed(message: &[u8]) -> Vec<u8> {
    [&(message.len() as u16).to_be_bytes()[..], message].concat()
}

/// Sends one datagram; the answer, if one comes within `wait`.
fn udp_exchange(port: u16, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(wait)).unwrap();
    socket.send_to(packet, ("127.0.0.1", port)).unwrap();
    let mut buffer = [0u8; 65535];
    socket.recv(&mut buffer).ok().map(|n| buffer[..n].to_vec())
}

/// Sends `bytes` on a fresh connection, closes its sending side, and returns all that comes
/// back before the server closes (or 5 s pass).
fn tcp_exchange(port: u16, bytes: &[u8]) -> Vec<u8> {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else { return Vec::new() };
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(Shutdown::Write);
    let mut answer = Vec::new();
    let mut buffer = [0u8; 65535];
    while let Ok(n @ 1..) = stream.read(&mut buffer) {
        answer.extend_from_slice(&buffer[..n]);
    }
    answer
}

fn udp_cases() -> Vec<(&'static str, Vec<u8>)> {
    let good = query("www.example.com", 1);
    let header = |qd: u16| [&[0x12, 0x34, 0x01, 0x00][..], &qd.to_be_bytes(), &[0, 0, 0, 0, 0, 0]].concat();
    let mut garbage = Vec::new();
    let mut seed = 0x2545f491u32;
    for _ in 0..200 {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        garbage.push(seed as u8);
    }
    vec![
        ("an empty datagram", Vec::new()),
        ("one byte", vec![0x12]),
        ("half a header", good[..5].to_vec()),
        ("a header alone", good[..12].to_vec()),
        ("a question cut in its name", good[..16].to_vec()),
        ("a question cut in its type", good[..good.len() - 3].to_vec()),
        ("random bytes", garbage.clone()),
        ("random bytes after a good header", [&good[..12], &garbage[..]].concat()),
        ("QDCOUNT 0", header(0)),
        ("QDCOUNT 2, one question", [header(2), good[12..].to_vec()].concat()),
        ("QDCOUNT 2, two questions", [header(2), good[12..].to_vec(), good[12..].to_vec()].concat()),
        ("QDCOUNT 65535", [header(65535), good[12..].to_vec()].concat()),
        ("a name pointing at itself", [header(1), vec![0xc0, 12, 0, 1, 0, 1]].concat()),
        ("two pointers pointing at each other", [header(1), vec![0xc0, 14, 0xc0, 12, 0, 1, 0, 1]].concat()),
        ("a pointer past the end", [header(1), vec![0xc0, 200, 0, 1, 0, 1]].concat()),
        ("a label of 64 octets", [header(1), vec![64], vec![b'a'; 64], vec![0, 0, 1, 0, 1]].concat()),
        ("a reserved label type", [header(1), vec![0x80, b'a', 0, 0, 1, 0, 1]].concat()),
        ("a response (QR set)", [&[0x12, 0x34, 0x81, 0x00][..], &good[4..]].concat()),
        ("trailing garbage", [&good[..], &garbage[..40]].concat()),
        ("ARCOUNT 1 and no record", [&good[..10], &[0, 1], &good[12..]].concat()),
        ("a cut OPT record", [&good[..10], &[0, 1], &good[12..], &[0, 0, 41, 4, 0]].concat()),
    ]
}

fn tcp_cases() -> Vec<(&'static str, Vec<u8>)> {
    let good = query("www.example.com", 1);
    vec![
        ("a length prefix of 65535 and 100 octets", [&[0xff, 0xff][..], &[0u8; 100]].concat()),
        ("a length prefix of 16385 and a query", [&[0x40, 0x01][..], &good[..]].concat()),
        ("a length prefix longer than the message", [&[0, 200][..], &good[..]].concat()),
        ("a zero length prefix", vec![0, 0]),
        ("one octet", vec![0]),
        ("a framed header alone", framed(&good[..12])),
        ("a framed compression loop", framed(&[&good[..12], &[0xc0, 12, 0, 1, 0, 1][..]].concat())),
        ("a framed QDCOUNT 0", framed(&[&good[..4], &[0, 0, 0, 0, 0, 0, 0, 0]].concat())),
        ("a query, then garbage", [framed(&good), vec![0, 5, 1, 2, 3]].concat()),
        ("two queries in one segment", [framed(&good), framed(&query("example.com", 15))].concat()),
    ]
}

fn malformed(target: &str, nsd: &Nsd) {
    let (server, port) = dns_primary("examples/dns-primary", target);
    let alive = |after: &str| {
        let answer = udp_exchange(port, &query("host1.example.com", 1), Duration::from_secs(10));
        assert!(answer.is_some_and(|a| a.len() > 12), "on {target}, no answer after {after}");
    };
    let mut differences = Vec::new();
    for (what, packet) in udp_cases() {
        // Silence is waited for; 2 s is plenty on loopback, even through QEMU.
        let expected = udp_exchange(nsd.port, &packet, Duration::from_secs(2));
        let got = udp_exchange(port, &packet, Duration::from_secs(2));
        if expected != got {
            differences.push(format!("UDP, {what}:\n  NSD:  {}\n  ours: {}", hex(&expected), hex(&got)));
        }
        alive(what);
    }
    for (what, bytes) in tcp_cases() {
        let (expected, got) = (tcp_exchange(nsd.port, &bytes), tcp_exchange(port, &bytes));
        if expected != got {
            differences.push(format!("TCP, {what}:\n  NSD:  {}\n  ours: {}", hex(&Some(expected)), hex(&Some(got))));
        }
        alive(what);
    }
    assert!(differences.is_empty(), "on {target}, answered unlike NSD:\n{}", differences.join("\n"));
    // Still answering everything as NSD does, over both transports.
    for query in ["www.example.com A", "www.example.com A +tcp", "example.com AXFR"] {
        assert_eq!(kdig(port, query), kdig(nsd.port, query), "on {target}, after the malformed input: {query}");
    }
    let run = server.stop();
    assert!(!run.stderr.contains("ERROR"), "{}", run.stderr);
}

fn hex(bytes: &Option<Vec<u8>>) -> String {
    match bytes {
        None => "(silence)".into(),
        Some(b) if b.is_empty() => "(nothing, connection closed)".into(),
        Some(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

#[test]
fn malformed_packets_are_answered_or_dropped_and_the_server_keeps_serving() {
    let nsd = Nsd::start();
    malformed("unix", &nsd);
    malformed("qemu", &nsd);
}
