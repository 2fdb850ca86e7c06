//! Helpers for the end-to-end tests: run the built `morgana` binary, make scratch projects.

#![allow(dead_code)] // each test file uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn example(name: &str) -> PathBuf {
    repo().join("examples").join(name)
}

/// What one `morgana` invocation did.
pub struct Run {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn assert_success(&self) -> &Self {
        assert_eq!(self.status, 0, "morgana failed\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    /// Asserts that morgana itself failed (status 2) and said `needle` on stderr.
    pub fn assert_failure_mentioning(&self, needles: &[&str]) -> &Self {
        assert_eq!(self.status, 2, "expected morgana to fail\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        for needle in needles {
            assert!(self.stderr.contains(needle), "stderr lacks {needle:?}:\n{}", self.stderr);
        }
        self
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Run {
            status: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs `morgana ARGS` in `dir`.
pub fn morgana_in(dir: &Path, args: &[&str]) -> Run {
    Command::new(env!("CARGO_BIN_EXE_morgana"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .expect("the morgana binary runs")
        .into()
}

/// Runs `morgana ARGS` in the repository root.
pub fn morgana(args: &[&str]) -> Run {
    morgana_in(&repo(), args)
}

/// A scratch directory holding a project for one test; removed when dropped.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch { dir: tempfile::Builder::new().prefix("morgana-test-").tempdir().unwrap() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, relative: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Writes a component from its WAT text.
    pub fn wat(&self, relative: &str, wat: &str) -> PathBuf {
        self.file(relative, wat::parse_str(wat).unwrap())
    }

    pub fn manifest(&self, toml: &str) -> String {
        self.file("unikernel.toml", toml).display().to_string()
    }
}

/// A TOML string literal for a path.
pub fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

/// A command component whose `run` executes `body` (core wasm returning i32: 0 ok, 1 err).
pub fn command_wat(body: &str) -> String {
    format!(
        r#"(component
            (core module $m
              (func $deep (result i32) {body})
              (func $run_body (export "run") (result i32) call $deep))
            (core instance $i (instantiate $m))
            (func $run (result (result)) (canon lift (core func $i "run")))
            (instance $e (export "run" (func $run)))
            (export "wasi:cli/run@0.2.0" (instance $e)))"#
    )
}

/// A library component that imports interface `import` and exports interface `export`, each
/// with one function `f: func()`.
pub fn library_wat(import: &str, export: &str) -> String {
    format!(
        r#"(component
            (import "{import}" (instance $in (export "f" (func))))
            (core module $m (func (export "f")))
            (core instance $i (instantiate $m))
            (func $f (canon lift (core func $i "f")))
            (instance $out (export "f" (func $f)))
            (export "{export}" (instance $out)))"#
    )
}

/// A `morgana run` that serves: started, and waited for until it prints a line with
/// "listening". Its standard error is collected as it comes (a chatty server never blocks on a
/// full pipe). Its process group is killed when dropped, QEMU included.
pub struct Server {
    pub child: std::process::Child,
    pub stdout: std::io::BufReader<std::process::ChildStdout>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Server {
    /// Starts `morgana ARGS` in the repository and waits until it listens.
    pub fn start(args: &[&str]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
        command.args(args).current_dir(repo());
        Server::start_command(command)
    }

    /// Starts `command` (in a process group of its own) and waits until it listens.
    pub fn start_command(command: Command) -> Server {
        let mut server = Server::spawn(command);
        let mut line = String::new();
        while !line.contains("listening") {
            line.clear();
            if std::io::BufRead::read_line(&mut server.stdout, &mut line).unwrap() == 0 {
                let _ = server.child.wait();
                panic!("the server stopped before listening:\n{}", server.stderr.take().unwrap().join().unwrap());
            }
        }
        server
    }

    /// Starts `morgana ARGS` in the repository and waits until something accepts connections
    /// on `port` of this machine (at most 5 minutes: a first build included).
    pub fn start_accepting(args: &[&str], port: u16) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
        command.args(args).current_dir(repo());
        Server::start_accepting_command(command, port)
    }

    /// Starts `command` and waits until something accepts connections on `port` of this
    /// machine (at most 5 minutes).
    pub fn start_accepting_command(command: Command, port: u16) -> Server {
        let mut server = Server::spawn(command);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if server.child.try_wait().unwrap().is_some() || std::time::Instant::now() > deadline {
                let run = server.stop();
                panic!("the server never accepted connections on port {port}:\n{}{}", run.stdout, run.stderr);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        server
    }

    /// Starts `command` in a process group of its own, collecting its standard error.
    fn spawn(mut command: Command) -> Server {
        use std::os::unix::process::CommandExt;
        let mut child = command
            .env("NO_COLOR", "1")
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr_pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = std::io::Read::read_to_end(&mut stderr_pipe, &mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        Server { stdout: std::io::BufReader::new(child.stdout.take().unwrap()), child, stderr: Some(stderr) }
    }

    /// Waits for it to exit (at most 3 minutes, then it fails the test with what it printed):
    /// its status, the rest of its stdout, and its stderr.
    pub fn finish(mut self) -> Run {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let run = self.stop();
                panic!("the server did not exit within 3 minutes\nstdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        self.collect(status)
    }
}

impl Server {
    /// Stops it (its whole process group, QEMU included) and returns what it printed; the
    /// status is then -1.
    pub fn stop(mut self) -> Run {
        self.kill();
        let status = self.child.wait().unwrap();
        self.collect(status)
    }

    /// What it printed, once it exited with `status`.
    fn collect(mut self, status: std::process::ExitStatus) -> Run {
        let mut stdout = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut stdout).unwrap();
        let stderr = self.stderr.take().unwrap().join().unwrap();
        Run { status: status.code().unwrap_or(-1), stdout, stderr }
    }

    fn kill(&self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-s", "KILL", "--", &group]).stderr(Stdio::null()).status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// An expectation pinned in a file: comment lines (`# ...`), one of them `# status N`, a line
/// `---`, then the exact standard output.
pub struct Pinned {
    pub status: i32,
    pub stdout: Vec<u8>,
}

impl Pinned {
    pub fn read(path: &Path) -> Pinned {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}; pin it first", path.display()));
        let split =
            bytes.windows(4).position(|w| w == b"---\n").unwrap_or_else(|| panic!("{}: no `---` line", path.display()))
                + 4;
        let header = String::from_utf8_lossy(&bytes[..split]);
        let status = header
            .lines()
            .find_map(|l| l.strip_prefix("# status "))
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("{}: no `# status N` line", path.display()));
        Pinned { status, stdout: bytes[split..].to_vec() }
    }

    /// Writes the pin, with `comment` (what it was taken from) first.
    pub fn write(&self, path: &Path, comment: &str) {
        let mut text = format!("# {comment}\n# status {}\n---\n", self.status).into_bytes();
        text.extend_from_slice(&self.stdout);
        std::fs::write(path, text).unwrap();
    }
}

/// A real rsyslogd on loopback, listening on UDP and TCP (and, when started with a server
/// certificate, TLS: RFC 5425 through rsyslog-gnutls) and filing what it receives as
/// `INPUT SEVERITY APP-NAME MSG` lines, with its files in a scratch directory; stopped when
/// dropped.
pub struct Rsyslogd {
    child: std::process::Child,
    log: std::path::PathBuf,
    pub udp_port: u16,
    pub tcp_port: u16,
    /// The TLS listener's port, when it has one.
    pub tls_port: Option<u16>,
    _scratch: Scratch,
}

/// What a TLS listener serves with: PEM files of its CA, certificate and key.
pub struct TlsListener<'a> {
    pub ca: &'a Path,
    pub certificate: &'a Path,
    pub key: &'a Path,
}

impl Rsyslogd {
    pub fn start() -> Rsyslogd {
        Rsyslogd::start_with(None)
    }

    pub fn start_with(tls: Option<TlsListener<'_>>) -> Rsyslogd {
        use std::net::TcpStream;
        use std::time::{Duration, Instant};
        let scratch = Scratch::new();
        let (udp_port, tcp_port) = (free_udp_port(), free_port());
        let tls_port = tls.as_ref().map(|_| free_port());
        let log = scratch.path().join("messages.log");
        let config = scratch.path().join("rsyslog.conf");
        let (tls_globals, tls_input) = match (&tls, tls_port) {
            (Some(tls), Some(port)) => (
                format!(
                    " DefaultNetstreamDriverCAFile=\"{}\" DefaultNetstreamDriverCertFile=\"{}\" DefaultNetstreamDriverKeyFile=\"{}\"",
                    tls.ca.display(),
                    tls.certificate.display(),
                    tls.key.display()
                ),
                format!(
                    "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{port}\" name=\"imtls\" \
                     StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.Authmode=\"anon\")\n"
                ),
            ),
            _ => (String::new(), String::new()),
        };
        std::fs::write(
            &config,
            format!(
                "global(workDirectory=\"{dir}\"{tls_globals})\n\
                 module(load=\"imudp\")\nmodule(load=\"imtcp\")\n\
                 input(type=\"imudp\" address=\"127.0.0.1\" port=\"{udp_port}\")\n\
                 input(type=\"imtcp\" address=\"127.0.0.1\" port=\"{tcp_port}\")\n\
                 {tls_input}\
                 template(name=\"line\" type=\"string\" string=\"%inputname% %syslogseverity-text% %app-name% %msg%\\n\")\n\
                 *.* action(type=\"omfile\" file=\"{log}\" template=\"line\")\n",
                dir = scratch.path().display(),
                log = log.display()
            ),
        )
        .unwrap();
        let child = Command::new("rsyslogd")
            .args(["-n", "-f"])
            .arg(&config)
            .arg("-i")
            .arg(scratch.path().join("rsyslogd.pid"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("rsyslogd runs (Debian: apt-get install rsyslog rsyslog-gnutls; .ci/setup installs them)");
        // Listening once the TCP ports accept.
        let started = Instant::now();
        for port in [Some(tcp_port), tls_port].into_iter().flatten() {
            while TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(started.elapsed() < Duration::from_secs(20), "rsyslogd did not start listening on {port}");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        Rsyslogd { child, log, udp_port, tcp_port, tls_port, _scratch: scratch }
    }

    /// The lines filed so far, once `count` lines containing `needle` are there (or 30 s passed).
    pub fn lines_with(&self, needle: &str, count: usize) -> Vec<String> {
        let started = std::time::Instant::now();
        loop {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<String> = text.lines().filter(|l| l.contains(needle)).map(str::to_string).collect();
            if lines.len() >= count || started.elapsed() > std::time::Duration::from_secs(30) {
                return lines;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}

impl Drop for Rsyslogd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free UDP port on loopback.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `curl -sS -i ARGS` (at most 60 s): the response's head and body, CRLF turned into LF. A
/// failed transfer fails the test with curl's message.
pub fn curl(args: &[&str]) -> String {
    let out = Command::new("curl").args(["-sS", "-i", "--max-time", "60"]).args(args).output().unwrap();
    assert!(out.status.success(), "curl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n")
}

/// The value of header `name` in a response head printed by `curl -i`.
pub fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    response.lines().take_while(|l| !l.is_empty()).find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}
