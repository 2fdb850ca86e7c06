//! The https-site example — the static site behind the HTTP server built with TLS, the TLS
//! component, and the host holding the private keys — driven by real clients: curl and
//! `openssl s_client` (each version and cipher suite, ALPN, SNI choosing among keys, client
//! certificates, resumption) and raw sockets sending what no client should; and its request log
//! sent over TLS (RFC 5425) to a real rsyslogd's TLS listener. The keys and certificates are
//! made for the run by openssl, under a test CA of the test's own.
//!
//! Every test runs on both targets: on qemu the keys are baked into the image or sent over the
//! console channel (`--key`) and the kernel signs; on unix the host process does.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const EXAMPLE: &str = "examples/https-site";

/// Keys and certificates for the run, made by openssl: a CA, leaf keys under it, and odd ones.
struct Pki {
    dir: Scratch,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki { dir: Scratch::new() };
        pki.openssl(
            &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
            "ca",
            &["-days", "2", "-subj", "/CN=Morgana test CA"],
        );
        // A second CA nobody trusts, for certificates that must be refused.
        pki.openssl(
            &["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"],
            "rogue-ca",
            &["-days", "2", "-subj", "/CN=Rogue CA"],
        );
        pki.leaf("a", "ec", "ca", "a.test");
        pki.leaf("b", "ec", "ca", "b.test");
        pki.leaf("rsa", "rsa", "ca", "rsa.test");
        pki.leaf("client", "ec", "ca", "client.test");
        pki.leaf("rogue-client", "ec", "rogue-ca", "client.test");
        pki.leaf("syslog", "ec", "ca", "syslog.test");
        pki
    }

    fn path(&self, file: &str) -> String {
        self.dir.path().join(file).display().to_string()
    }

    /// `openssl ARGS -keyout NAME.key -out NAME.crt MORE` in the scratch directory.
    fn openssl(&self, args: &[&str], name: &str, more: &[&str]) {
        let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
        run_openssl(self.dir.path(), &[args, &["-keyout", &key, "-out", &crt], more].concat());
    }

    /// NAME.key (`ec` P-256 or `rsa` 2048) and NAME.crt for `dns_name`, issued by `ca`.
    fn leaf(&self, name: &str, kind: &str, ca: &str, dns_name: &str) {
        let new_key = match kind {
            "rsa" => vec!["-newkey", "rsa:2048"],
            _ => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        };
        let (key, csr, crt, ext) =
            (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"), format!("{name}.ext"));
        let subject = format!("/CN={dns_name}");
        run_openssl(
            self.dir.path(),
            &[&["req"][..], &new_key, &["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subject]].concat(),
        );
        self.dir.file(&ext, format!("subjectAltName=DNS:{dns_name}\n"));
        let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
        run_openssl(
            self.dir.path(),
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &ca_crt,
                "-CAkey",
                &ca_key,
                "-CAcreateserial",
                "-out",
                &crt,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }

    /// A certificate for key `a` that expired in 2020, issued by the CA (`openssl ca` can set
    /// past dates; `x509 -req` cannot).
    fn expired(&self) -> String {
        self.dir.file("index.txt", "");
        self.dir.file("serial", "1000\n");
        self.dir.file(
            "ca.cnf",
            "[ca]\ndefault_ca = test\n[test]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n\
             default_md = sha256\npolicy = any\n[any]\ncommonName = supplied\n",
        );
        run_openssl(
            self.dir.path(),
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.crt",
                "-keyfile",
                "ca.key",
                "-in",
                "a.csr",
                "-out",
                "expired.crt",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200102000000Z",
                "-notext",
            ],
        );
        self.path("expired.crt")
    }
}

fn run_openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian: openssl)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// The site, served over HTTPS on one free port and plain HTTP (redirecting) on another, with
/// the test's keys `a`, `b` and `rsa` given beside the example's own development key, and `env`.
struct Site {
    server: Server,
    https: u16,
    http: u16,
}

impl Site {
    /// On `target`, the VM's ports forwarded from the same ports of this machine.
    fn start(pki: &Pki, target: &str, extra: &[&str]) -> Site {
        let (https, http) = (free_port(), free_port());
        let env = [format!("HTTPS_PORT={https}"), format!("PORT={http}")];
        let forwards = [format!("{https}:{https}"), format!("{http}:{http}")];
        let keys: Vec<String> = ["a", "b", "rsa"]
            .iter()
            .map(|k| format!("{k}={},{}", pki.path(&format!("{k}.crt")), pki.path(&format!("{k}.key"))))
            .collect();
        let mut args = vec!["run", EXAMPLE, "--target", target, "--env", &env[0], "--env", &env[1]];
        if target == "qemu" {
            args.extend(["-p", &forwards[0], "-p", &forwards[1]]);
        }
        for key in &keys {
            args.extend(["--key", key]);
        }
        args.extend(extra);
        let server = Server::start(&args);
        Site { server, https, http }
    }

    /// `curl ARGS https://NAME:PORT/PATH` with NAME resolving to loopback, trusting the test CA.
    fn curl(&self, pki: &Pki, name: &str, path: &str, args: &[&str]) -> std::process::Output {
        let resolve = format!("{name}:{}:127.0.0.1", self.https);
        Command::new("curl")
            .args(["-sS", "-i", "--max-time", "20", "--cacert", &pki.path("ca.crt"), "--resolve", &resolve])
            .args(args)
            .arg(format!("https://{name}:{}{path}", self.https))
            .output()
            .unwrap()
    }

    /// `openssl s_client` to the HTTPS port with ARGS, sending one HTTP request that closes the
    /// connection: everything it printed.
    fn s_client(&self, args: &[&str]) -> String {
        let connect = format!("127.0.0.1:{}", self.https);
        let mut child = Command::new("openssl")
            .args(["s_client", "-connect", &connect, "-ign_eof"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let _ = child.stdin.take().unwrap().write_all(b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
        let out = wait_with_timeout(child, Duration::from_secs(30));
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    }
}

/// Whether this machine's CPU has AES-NI and PCLMULQDQ, by its flags in /proc/cpuinfo.
fn cpu_has_aes_instructions() -> bool {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo.lines().find(|l| l.starts_with("flags")).unwrap_or("");
    let flags: Vec<&str> = flags.split_whitespace().collect();
    flags.contains(&"aes") && flags.contains(&"pclmulqdq")
}

fn wait_with_timeout(mut child: std::process::Child, timeout: Duration) -> std::process::Output {
    let deadline = Instant::now() + timeout;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn text(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

fn index_html() -> String {
    std::fs::read_to_string(repo().join("examples/static-site/site/index.html")).unwrap()
}

#[test]
fn serves_each_version_suite_and_key_on_unix() {
    serves_each_version_suite_and_key("unix");
}

#[test]
fn serves_each_version_suite_and_key_on_qemu() {
    serves_each_version_suite_and_key("qemu");
}

/// Both versions and each suite rustls offers, ALPN, SNI choosing among three keys (one RSA),
/// resumption, the plain listener's redirect and HSTS.
fn serves_each_version_suite_and_key(target: &str) {
    let pki = Pki::new();
    let site = Site::start(&pki, target, &[]);

    // The server chooses the suite whose AEAD the host runs fastest, whatever curl prefers:
    // AES-GCM where the host has AES instructions (unix on a CPU with AES-NI and PCLMULQDQ),
    // ChaCha20-Poly1305 where its AES is software (the kernel, built soft-float).
    let (suite13, suite12) = if target == "unix" && cpu_has_aes_instructions() {
        ("TLS_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256")
    } else {
        ("TLS_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305")
    };
    for (version, suite, args) in
        [("TLSv1.3", suite13, &["--tlsv1.3"][..]), ("TLSv1.2", suite12, &["--tlsv1.2", "--tls-max", "1.2"])]
    {
        let out = site.curl(&pki, "a.test", "/", &[args, &["-v"]].concat());
        let (page, trace) = (text(&out), String::from_utf8_lossy(&out.stderr).into_owned());
        assert!(page.starts_with("HTTP/1.1 200"), "{version}: {page}{trace}");
        assert!(page.ends_with(&index_html()), "{version}: {page}");
        assert!(page.contains("Strict-Transport-Security: max-age=86400\n"), "{page}");
        assert!(trace.contains(&format!("SSL connection using {version} / {suite}")), "{trace}");
        assert!(trace.contains("ALPN: server accepted http/1.1"), "{trace}");
        assert!(trace.contains("subject: CN=a.test"), "{trace}");
    }

    // Each suite, by name as openssl reports it, with the key of that type.
    for (suite, args) in [
        ("TLS_AES_128_GCM_SHA256", ["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256", "-servername", "a.test"]),
        ("TLS_AES_256_GCM_SHA384", ["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384", "-servername", "a.test"]),
        (
            "TLS_CHACHA20_POLY1305_SHA256",
            ["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256", "-servername", "rsa.test"],
        ),
        (
            "ECDHE-ECDSA-AES128-GCM-SHA256",
            ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", "-servername", "a.test"],
        ),
        (
            "ECDHE-ECDSA-AES256-GCM-SHA384",
            ["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", "-servername", "b.test"],
        ),
        (
            "ECDHE-ECDSA-CHACHA20-POLY1305",
            ["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305", "-servername", "a.test"],
        ),
        (
            "ECDHE-RSA-AES128-GCM-SHA256",
            ["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256", "-servername", "rsa.test"],
        ),
        (
            "ECDHE-RSA-AES256-GCM-SHA384",
            ["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384", "-servername", "rsa.test"],
        ),
        (
            "ECDHE-RSA-CHACHA20-POLY1305",
            ["-tls1_2", "-cipher", "ECDHE-RSA-CHACHA20-POLY1305", "-servername", "rsa.test"],
        ),
    ] {
        let out = site.s_client(&[&args[..], &["-CAfile", &pki.path("ca.crt"), "-verify_return_error"]].concat());
        assert!(out.contains(&format!("Cipher is {suite}")), "{suite}: {out}");
        assert!(out.contains("Verify return code: 0 (ok)"), "{suite}: {out}");
        assert!(out.contains("HTTP/1.1 200 OK"), "{suite}: {out}");
    }

    // SNI chooses the key; a name no certificate has gets the first key, the example's own.
    for (name, subject) in [("a.test", "CN = a.test"), ("b.test", "CN = b.test"), ("rsa.test", "CN = rsa.test")] {
        let out = site.s_client(&["-servername", name, "-CAfile", &pki.path("ca.crt"), "-verify_return_error"]);
        assert!(out.contains(&format!("subject={subject}")), "{name}: {out}");
    }
    let unknown = site.s_client(&["-servername", "unknown.test"]);
    assert!(unknown.contains("subject=CN = localhost (Morgana development certificate)"), "{unknown}");

    // ALPN: http/1.1 is chosen; a client offering only h2 is refused with an alert.
    let alpn = site.s_client(&["-alpn", "h2,http/1.1", "-servername", "a.test"]);
    assert!(alpn.contains("ALPN protocol: http/1.1"), "{alpn}");
    let h2_only = site.s_client(&["-alpn", "h2", "-servername", "a.test"]);
    assert!(h2_only.contains("no application protocol"), "{h2_only}");
    assert!(!h2_only.contains("HTTP/1.1 200"), "{h2_only}");

    // Resumption, with each version: the second connection reuses the first's session.
    for version in ["-tls1_3", "-tls1_2"] {
        let session = pki.path(&format!("session{version}"));
        let first = site.s_client(&[version, "-servername", "a.test", "-sess_out", &session]);
        assert!(first.contains("New, TLSv1."), "{first}");
        let second = site.s_client(&[version, "-servername", "a.test", "-sess_in", &session]);
        assert!(second.contains("Reused, TLSv1."), "{version}: {second}");
        assert!(second.contains("HTTP/1.1 200 OK"), "{second}");
    }

    // 0-RTT: a resumed client offering early data never has it accepted (a replayed early
    // flight cannot reach the application).
    let session = pki.path("session-early");
    site.s_client(&["-tls1_3", "-servername", "a.test", "-sess_out", &session]);
    let early = pki.dir.file("early.txt", "GET /?early HTTP/1.1\r\nHost: a.test\r\n\r\n").display().to_string();
    let replay = site.s_client(&["-tls1_3", "-servername", "a.test", "-sess_in", &session, "-early_data", &early]);
    assert!(replay.contains("Reused, TLSv1.3"), "{replay}");
    assert!(!replay.contains("Early data was accepted"), "{replay}");

    // Plain HTTP redirects to the same path and query over HTTPS.
    let redirect = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20", &format!("http://127.0.0.1:{}/docs/?x=1", site.http)])
        .output()
        .unwrap();
    let redirect = text(&redirect);
    assert!(redirect.starts_with("HTTP/1.1 308"), "{redirect}");
    assert!(redirect.contains(&format!("Location: https://127.0.0.1:{}/docs/?x=1\n", site.https)), "{redirect}");

    let run = site.server.stop();
    assert!(run.stderr.contains("\"GET / HTTP/1.1\" 200 612"), "the request log: {}", run.stderr);
}

#[test]
fn client_certificates_are_required_and_checked_on_unix() {
    client_certificates_are_required_and_checked("unix");
}

#[test]
fn client_certificates_are_required_and_checked_on_qemu() {
    client_certificates_are_required_and_checked("qemu");
}

/// `HTTPS_CLIENT_AUTH=required`: a certificate from the trusted CA is served; none, or one
/// from another CA, is refused; the server goes on serving.
fn client_certificates_are_required_and_checked(target: &str) {
    let pki = Pki::new();
    let dir = format!("{}::/pki", pki.dir.path().display());
    let site = Site::start(
        &pki,
        target,
        &["--dir", &dir, "--env", "HTTPS_CLIENT_AUTH=required", "--env", "HTTPS_CLIENT_CA=/pki/ca.crt"],
    );
    let with = |name: &str| [pki.path(&format!("{name}.crt")), pki.path(&format!("{name}.key"))];

    let [cert, key] = with("client");
    let served = site.curl(&pki, "a.test", "/", &["--cert", &cert, "--key", &key]);
    assert!(text(&served).starts_with("HTTP/1.1 200"), "{}{}", text(&served), String::from_utf8_lossy(&served.stderr));

    let none = site.curl(&pki, "a.test", "/", &[]);
    assert!(!text(&none).contains("HTTP/1.1 200"), "served without a certificate: {}", text(&none));
    let [cert, key] = with("rogue-client");
    let rogue = site.curl(&pki, "a.test", "/", &["--cert", &cert, "--key", &key]);
    assert!(!text(&rogue).contains("HTTP/1.1 200"), "served a rogue certificate: {}", text(&rogue));

    let [cert, key] = with("client");
    let again = site.curl(&pki, "a.test", "/", &["--cert", &cert, "--key", &key]);
    assert!(text(&again).starts_with("HTTP/1.1 200"), "{}", text(&again));
    let run = site.server.stop();
    assert!(run.stderr.contains("TLS"), "refusals are logged: {}", run.stderr);
}

#[test]
fn hostile_clients_cost_only_their_own_connection_on_unix() {
    hostile_clients_cost_only_their_own_connection("unix");
}

#[test]
fn hostile_clients_cost_only_their_own_connection_on_qemu() {
    hostile_clients_cost_only_their_own_connection("qemu");
}

/// Garbage, a truncated handshake, a client that stalls mid-handshake, a flood of
/// ClientHellos and a renegotiation attempt: each costs only its own connection.
fn hostile_clients_cost_only_their_own_connection(target: &str) {
    let pki = Pki::new();
    let site = Site::start(&pki, target, &["--env", "HTTP_HEAD_TIMEOUT_MS=2000"]);
    let addr = format!("127.0.0.1:{}", site.https);
    let served = || {
        let out = site.curl(&pki, "a.test", "/", &[]);
        assert!(text(&out).starts_with("HTTP/1.1 200"), "{}{}", text(&out), String::from_utf8_lossy(&out.stderr));
    };
    served();

    // Not TLS at all: the server answers with an alert (or nothing) and closes.
    let mut garbage = TcpStream::connect(&addr).unwrap();
    garbage.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    garbage.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    let _ = garbage.read_to_end(&mut reply);
    assert!(!String::from_utf8_lossy(&reply).contains("200 OK"), "{reply:?}");
    assert!(reply.len() < 64, "more than an alert came back: {reply:?}");

    // A record header announcing more than any record may hold.
    let mut oversized = TcpStream::connect(&addr).unwrap();
    oversized.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    oversized.write_all(&[0x16, 0x03, 0x01, 0xff, 0xff]).unwrap();
    let _ = oversized.write_all(&[0u8; 4096]);
    let mut reply = Vec::new();
    let _ = oversized.read_to_end(&mut reply);

    // A ClientHello cut short, then silence: dropped after the head timeout, others served.
    let hello = client_hello(&addr);
    let mut staller = TcpStream::connect(&addr).unwrap();
    staller.write_all(&hello[..hello.len() / 2]).unwrap();
    served();
    staller.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    let _ = staller.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(12), "the stalled handshake was not dropped");

    // A flood of ClientHellos from connections that never finish, filling the listen backlog
    // (64 in the VM): a client that finds it full may be reset, as the kernel refuses beyond the
    // backlog, but is served once the stalled handshakes are dropped (after the head timeout),
    // while the flood's connections are still open.
    let flood: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut stream = TcpStream::connect(&addr).unwrap();
            let _ = stream.write_all(&hello);
            stream
        })
        .collect();
    let started = Instant::now();
    loop {
        let out = site.curl(&pki, "a.test", "/", &[]);
        if text(&out).starts_with("HTTP/1.1 200") {
            break;
        }
        let waited = started.elapsed();
        assert!(
            waited < Duration::from_secs(20),
            "not served {waited:?} into a flood: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop(flood);

    // Renegotiation (TLS 1.2, openssl's `R` command): refused with a no_renegotiation alert
    // (rustls never renegotiates, though it signals RFC 5746 support as clients expect).
    let connect = addr.clone();
    let mut child = Command::new("openssl")
        .args(["s_client", "-connect", &connect, "-tls1_2", "-servername", "a.test"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let _ = stdin.write_all(b"R\n");
    std::thread::sleep(Duration::from_secs(2));
    drop(stdin);
    let out = wait_with_timeout(child, Duration::from_secs(20));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("RENEGOTIATING"), "{said}");
    assert!(said.contains("no renegotiation"), "{said}");
    served();

    let run = site.server.stop();
    assert!(run.stderr.contains("TLS"), "hostile connections are logged: {}", run.stderr);
}

#[test]
fn the_request_log_reaches_rsyslogd_over_tls_on_unix() {
    request_log_reaches_rsyslogd_over_tls("unix");
}

#[test]
fn the_request_log_reaches_rsyslogd_over_tls_on_qemu() {
    request_log_reaches_rsyslogd_over_tls("qemu");
}

/// The syslog component's TLS transport (RFC 5425) delivers the request log to rsyslogd's TLS
/// listener when the collector's certificate carries the expected name, and delivers nothing
/// (saying why on stderr) when it does not.
fn request_log_reaches_rsyslogd_over_tls(target: &str) {
    let pki = Pki::new();
    let (ca, certificate, key) =
        (pki.dir.path().join("ca.crt"), pki.dir.path().join("syslog.crt"), pki.dir.path().join("syslog.key"));
    let collector = Rsyslogd::start_with(Some(TlsListener { ca: &ca, certificate: &certificate, key: &key }));
    // From inside the VM, QEMU user networking's 10.0.2.2 is this machine's loopback.
    let host = if target == "qemu" { "10.0.2.2" } else { "127.0.0.1" };
    let syslog = format!("SYSLOG=tls://{host}:{}", collector.tls_port.unwrap());
    let dir = format!("{}::/pki", pki.dir.path().display());
    for (name, delivered) in [("syslog.test", true), ("other.test", false)] {
        let expected_name = format!("SYSLOG_TLS_NAME={name}");
        let site = Site::start(
            &pki,
            target,
            &[
                "--dir",
                &dir,
                "--env",
                &syslog,
                "--env",
                "SYSLOG_TLS_CA=/pki/ca.crt",
                "--env",
                &expected_name,
                "--env",
                "SYSLOG_APP_NAME=https-site",
            ],
        );
        let path = format!("/?to={name}");
        for path in [path.as_str(), "/missing"] {
            let out = site.curl(&pki, "a.test", path, &[]);
            assert!(text(&out).starts_with("HTTP/1.1"), "{}", String::from_utf8_lossy(&out.stderr));
        }
        let run = site.server.stop();
        // What the collector filed from this run (a refused handshake delivers nothing at all).
        let filed = collector.lines_with(&format!("\"GET /?to={name} HTTP/1.1\""), usize::from(delivered));
        if delivered {
            let received = collector.lines_with("imtls info https-site ", 2).join("\n");
            assert!(received.contains(&format!("\"GET /?to={name} HTTP/1.1\" 200 612")), "{received}\n{}", run.stderr);
            assert!(received.contains("\"GET /missing HTTP/1.1\" 404"), "{received}");
            assert!(filed.iter().all(|line| line.starts_with("imtls info https-site ")), "{filed:?}");
            assert!(!run.stderr.contains("GET /?to="), "logged to stderr as well: {}", run.stderr);
        } else {
            assert!(filed.is_empty(), "delivered to a collector with the wrong name: {filed:?}");
            assert!(run.stderr.contains("syslog: TLS to"), "the failure is not reported: {}", run.stderr);
            assert!(run.stderr.contains(&format!("GET /?to={name}")), "the lines were lost: {}", run.stderr);
        }
    }
}

/// `morgana inspect` shows the TLS parts of the https-site image — the tls component, the
/// kernel's `morgana:crypto/signing`, the key by the fingerprint openssl computes for its
/// certificate — and the static site's image, which has no TLS, carries none of them.
#[test]
fn inspect_shows_the_tls_parts_and_only_tls_images_link_crypto() {
    morgana(&["build", EXAMPLE, "--target", "qemu"]).assert_success();
    morgana(&["build", "examples/static-site", "--target", "qemu"]).assert_success();
    let image = |name: &str| repo().join(format!("examples/{name}/target/morgana/{name}.img")).display().to_string();
    let https = morgana(&["inspect", &image("https-site")]);
    https.assert_success();
    for part in ["  tls ", "  morgana:crypto/signing", "keys (held by the kernel"] {
        assert!(https.stdout.contains(part), "no {part:?}:\n{}", https.stdout);
    }
    let certificate = repo().join(EXAMPLE).join("target/morgana/keys/site.crt");
    let fingerprint = openssl_fingerprint(&certificate);
    assert!(https.stdout.contains(&format!("site             ECDSA P-256  sha256:{fingerprint}")), "{}", https.stdout);

    let plain = morgana(&["inspect", &image("static-site")]);
    plain.assert_success();
    assert!(!plain.stdout.contains("morgana:crypto") && !plain.stdout.contains("keys"), "{}", plain.stdout);
}

/// SHA-256 of a certificate's public key (SubjectPublicKeyInfo, DER), as openssl computes it.
fn openssl_fingerprint(certificate: &Path) -> String {
    let public = Command::new("openssl").args(["x509", "-pubkey", "-noout", "-in"]).arg(certificate).output().unwrap();
    let mut der = Command::new("openssl")
        .args(["pkey", "-pubin", "-outform", "DER"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    der.stdin.take().unwrap().write_all(&public.stdout).unwrap();
    let der = der.wait_with_output().unwrap().stdout;
    let mut digest = Command::new("openssl")
        .args(["dgst", "-sha256", "-r"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    digest.stdin.take().unwrap().write_all(&der).unwrap();
    let out = String::from_utf8(digest.wait_with_output().unwrap().stdout).unwrap();
    out.split_whitespace().next().unwrap().to_string()
}

/// A key whose certificate expired after the image was built stops the kernel at boot, with a
/// message and the host-error status (QEMU's RTC set ahead to 2040).
#[test]
fn a_key_expired_since_the_build_stops_the_kernel() {
    morgana(&["build", EXAMPLE, "--target", "qemu"]).assert_success();
    let image = repo().join(EXAMPLE).join("target/morgana/https-site.img");
    let out = Command::new("qemu-system-x86_64")
        .args(["-M", "microvm", "-accel", "tcg", "-cpu", "max", "-m", "128M", "-rtc", "base=2040-01-01T00:00:00"])
        .args(["-display", "none", "-no-reboot", "-nodefaults", "-no-user-config", "-serial", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-chardev", "file,id=err,path=/dev/stderr", "-device", "isa-serial,chardev=err,iobase=0x2f8,irq=3"])
        .arg("-kernel")
        .arg(&image)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // 119, the kernel's host-error status, is QEMU's 2 × 119 + 1.
    assert_eq!(out.status.code(), Some(239), "{stderr}");
    assert!(stderr.contains("the image's key `site`: the certificate expired at"), "{stderr}");
}

/// A real ClientHello, as openssl sends it: the first bytes its s_client writes.
fn client_hello(addr: &str) -> Vec<u8> {
    // Capture what s_client sends by standing in for the server.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let child = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}"), "-servername", "a.test"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (mut stream, _) = listener.accept().unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = vec![0u8; 16 * 1024];
    let n = stream.read(&mut hello).unwrap();
    hello.truncate(n);
    drop(stream);
    let _ = wait_with_timeout(child, Duration::from_secs(10));
    assert_eq!(hello.first(), Some(&0x16), "not a handshake record (for {addr})");
    hello
}

/// Keys that cannot be used stop the run before anything is served, saying why (status 2),
/// on both targets.
#[test]
fn unusable_keys_are_refused_before_serving() {
    let pki = Pki::new();
    let expired = pki.expired();
    for (key, says) in [
        (format!("site={},{}", pki.path("a.crt"), pki.path("b.key")), "does not belong to this key"),
        (format!("site={},{}", expired, pki.path("a.key")), "expired"),
        (format!("site={}", pki.path("missing.pem")), "cannot read"),
        (format!("site={},{}", pki.path("a.key"), pki.path("a.key")), "no certificate"),
        ("site".to_string(), "--key NAME=CERT.pem,KEY.pem"),
    ] {
        for target in ["unix", "qemu"] {
            let run = morgana(&["run", EXAMPLE, "--target", target, "--key", &key, "--", "--requests", "1"]);
            run.assert_failure_mentioning(&[says]);
        }
    }

    // The same files named by a manifest's [keys] stop the build, before anything is compiled
    // for it.
    for (certificate, key, says) in [
        ("a.crt", "b.key", "does not belong to this key"),
        (expired.as_str(), "a.key", "expired"),
        ("a.crt", "missing.key", "cannot read"),
    ] {
        let manifest = format!(
            "name = \"tls-keys\"\n[components.server]\npath = {}\nfeatures = [\"tls\"]\n\
             [components.tls]\npath = {}\n[components.handler]\npath = {}\n[components.syslog]\npath = {}\n\
             [kv.site]\ndir = {}\n[keys.site]\ncertificate = {}\nkey = {}\n",
            toml_path(&repo().join("components/http-server")),
            toml_path(&repo().join("components/tls")),
            toml_path(&repo().join("examples/static-site/handler")),
            toml_path(&repo().join("components/syslog")),
            toml_path(&repo().join("examples/static-site/site")),
            toml_path(&pki.dir.path().join(certificate)),
            toml_path(&pki.dir.path().join(key)),
        );
        let manifest = pki.dir.manifest(&manifest);
        morgana(&["build", &manifest]).assert_failure_mentioning(&["[keys.site]", says]);
    }
}
