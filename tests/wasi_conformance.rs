//! The VM as a WASI 0.2 host, against `wasmtime run` 48.0.8: the conformance programs of
//! tests/fixtures/wasi-conformance, run on the unix and qemu targets, must print what wasmtime
//! printed for them (pinned in expected/NAME.txt; cases.toml lists them), and exit with the
//! same status. Beside the table: standard streams of every size and pace, a closed stdout,
//! stdin piped whole, and the bad inputs of the features (missing directories, scratch too big
//! for the memory, an oversized kernel command line).
//!
//! When wasmtime 48.0.8 is installed, `pinned_expectations_are_what_wasmtime_does` checks the
//! pins against it again (it says so when it is not installed). `-- --ignored pin` rewrites them.

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use common::*;
use serde::Deserialize;

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    stdin: Option<String>,
    argv0: Option<String>,
    #[serde(default = "default_pin")]
    pin: String,
    stderr: Option<String>,
}

fn default_pin() -> String {
    "wasmtime".into()
}

/// What one run showed.
struct Outcome {
    status: i32,
    stdout: Vec<u8>,
    stderr: String,
}

fn fixture() -> PathBuf {
    repo().join("tests/fixtures/wasi-conformance")
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture().join("cases.toml")).unwrap();
    toml::from_str::<Cases>(&text).unwrap().case
}

/// `C*N` stands for N copies of C.
fn expand(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), chars.next(), chars.as_str().parse::<usize>()) {
        (Some(c), Some('*'), Ok(n)) => c.to_string().repeat(n),
        _ => text.to_string(),
    }
}

/// Runs `command` with `stdin` piped in (closed at once when none) and collects what it printed.
fn run(mut command: Command, stdin: Option<&str>) -> Outcome {
    let mut child = command
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the command starts");
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.unwrap_or("").to_string();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(input.as_bytes());
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Outcome {
        status: output.status.code().unwrap_or(-1),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The image is built once for every qemu case (and the component for every unix one).
fn built(target: &str) {
    static UNIX: OnceLock<()> = OnceLock::new();
    static QEMU: OnceLock<()> = OnceLock::new();
    let once = if target == "qemu" { &QEMU } else { &UNIX };
    once.get_or_init(|| {
        let dir = fixture().display().to_string();
        morgana(&["build", &dir, "--target", target]).assert_success();
    });
}

/// A case's `--argv0` and `--env`, which morgana and wasmtime spell alike.
fn case_options(command: &mut Command, case: &Case) {
    if let Some(argv0) = &case.argv0 {
        command.args(["--argv0", argv0]);
    }
    for (name, value) in &case.env {
        command.arg("--env").arg(format!("{name}={}", expand(value)));
    }
}

fn run_morgana(target: &str, case: &Case) -> Outcome {
    built(target);
    let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
    command.current_dir(repo()).arg("run").arg(fixture()).args(["--target", target]);
    case_options(&mut command, case);
    command.arg("--").args(case.args.iter().map(|a| expand(a)));
    run(command, case.stdin.as_deref())
}

/// wasmtime 48.0.8, if installed.
fn wasmtime() -> Option<PathBuf> {
    let path = std::env::var_os("WASMTIME").map(PathBuf::from).unwrap_or_else(|| "wasmtime".into());
    let out = Command::new(&path).arg("--version").output().ok()?;
    String::from_utf8_lossy(&out.stdout).contains("48.0.8").then_some(path)
}

fn run_wasmtime(wasmtime: &Path, case: &Case) -> Outcome {
    built("unix");
    let scratch = Scratch::new();
    let mut command = Command::new(wasmtime);
    command
        .current_dir(fixture())
        .args(["run", "-S", "inherit-network", "-S", "allow-ip-name-lookup", "--dir", "data::/data"])
        .arg("--dir")
        .arg(format!("{}::/tmp", scratch.path().display()));
    case_options(&mut command, case);
    command.arg("target/morgana/wasi-conformance.wasm").args(case.args.iter().map(|a| expand(a)));
    run(command, case.stdin.as_deref())
}

fn expected_path(case: &Case) -> PathBuf {
    fixture().join("expected").join(format!("{}.txt", case.name))
}

/// The differences of a run from its pin, if any.
fn compare(case: &Case, target: &str, outcome: &Outcome) -> Option<String> {
    let Pinned { status, stdout } = Pinned::read(&expected_path(case));
    let mut problems = Vec::new();
    if outcome.status != status {
        problems.push(format!("status {} instead of {status}", outcome.status));
    }
    if outcome.stdout != stdout {
        problems.push(format!(
            "stdout differs:\n--- expected\n{}\n--- got\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&outcome.stdout)
        ));
    }
    if let Some(needle) = &case.stderr {
        if !outcome.stderr.contains(needle.as_str()) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
    }
    (!problems.is_empty())
        .then(|| format!("{} on {target}: {}\nstderr:\n{}", case.name, problems.join("; "), outcome.stderr))
}

/// Runs every case on `target`, two at a time (the machine's cores), and fails with all the
/// differences at once.
fn every_case_matches(target: &str) {
    let cases = cases();
    assert!(cases.len() >= 15, "cases: {}", cases.len());
    built(target);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(case) = cases.get(i) else { break };
                    if let Some(problem) = compare(case, target, &run_morgana(target, case)) {
                        failures.lock().unwrap().push(problem);
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {} cases differ:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn on_unix_every_case_prints_what_wasmtime_printed() {
    every_case_matches("unix");
}

#[test]
fn in_the_vm_every_case_prints_what_wasmtime_printed() {
    every_case_matches("qemu");
}

#[test]
fn loopback_works_in_a_vm_without_a_network_device() {
    built("qemu");
    for name in ["tcp-echo-v4", "tcp-refused", "udp-self-v6"] {
        let case = cases().into_iter().find(|c| c.name == name).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
        command.current_dir(repo()).arg("run").arg(fixture()).args(["--target", "qemu", "--net", "none", "--"]);
        command.args(&case.args);
        if let Some(problem) = compare(&case, "qemu --net none", &run(command, None)) {
            panic!("{problem}");
        }
    }
}

#[test]
fn dir_on_the_command_line_preopens_as_wasmtime_run_does() {
    let case = cases().into_iter().find(|c| c.name == "fs-write").unwrap();
    let pinned = Pinned::read(&expected_path(&case));
    let expected = String::from_utf8_lossy(&pinned.stdout).replace("/tmp", "/extra");
    // unix: read-write, as `wasmtime run --dir`: the writing program prints what it printed
    // in a scratch directory.
    built("unix");
    let host = Scratch::new();
    let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
    command
        .current_dir(repo())
        .arg("run")
        .arg(fixture())
        .arg("--dir")
        .arg(format!("{}::/extra", host.path().display()));
    command.args(["--", "fs", "write", "/extra"]);
    let outcome = run(command, None);
    assert_eq!(String::from_utf8_lossy(&outcome.stdout), expected, "{}", outcome.stderr);
    assert!(host.path().join("d/b.txt").is_file(), "the writes reached the host directory");
    // qemu: a read-only copy, after the manifest's directories.
    built("qemu");
    let data = fixture().join("data");
    let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
    command.current_dir(repo()).arg("run").arg(fixture()).args(["--target", "qemu", "--dir"]);
    command.arg(format!("{}::/extra", data.display())).args(["--", "fs", "preopens", "-"]);
    let outcome = run(command, None);
    assert_eq!(
        String::from_utf8_lossy(&outcome.stdout),
        "preopen /data\npreopen /tmp\npreopen /extra\n",
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("read-only copy"), "{}", outcome.stderr);
    let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
    command.current_dir(repo()).arg("run").arg(fixture()).args(["--target", "qemu", "--dir"]);
    command.arg(format!("{}::/extra", data.display())).args(["--", "fs", "read-only", "/extra"]);
    let read_only = cases().into_iter().find(|c| c.name == "fs-read-only").unwrap();
    let pinned = Pinned::read(&expected_path(&read_only));
    let outcome = run(command, None);
    assert_eq!(
        String::from_utf8_lossy(&outcome.stdout),
        String::from_utf8_lossy(&pinned.stdout).replace("/data", "/extra"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn pinned_expectations_are_what_wasmtime_does() {
    let Some(wasmtime) = wasmtime() else {
        eprintln!(
            "wasmtime 48.0.8 is not installed (cargo install wasmtime-cli@48.0.8 --locked): the pins are not checked against it"
        );
        return;
    };
    let failures: Vec<String> = cases()
        .iter()
        .filter(|case| case.pin == "wasmtime")
        .filter_map(|case| compare(case, "wasmtime", &run_wasmtime(&wasmtime, case)))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Rewrites expected/*.txt from wasmtime (or, for `pin = "unix"`, the unix target).
#[test]
#[ignore]
fn pin() {
    let wasmtime = wasmtime().expect("wasmtime 48.0.8 installed");
    std::fs::create_dir_all(fixture().join("expected")).unwrap();
    for case in cases() {
        let (outcome, source) = match case.pin.as_str() {
            "unix" => (run_morgana("unix", &case), "morgana's unix target (wasmtime-wasi 48.0.8)"),
            _ => (run_wasmtime(&wasmtime, &case), "wasmtime run 48.0.8"),
        };
        let pinned = Pinned { status: outcome.status, stdout: outcome.stdout };
        pinned.write(&expected_path(&case), &format!("{source}: {}", case.args.join(" ")));
    }
}

// ---- standard streams beyond the table

/// Byte `i` of the stdout program's pattern, written down here independently of it.
fn pattern(i: usize) -> u8 {
    (i % 251) as u8
}

fn conformance(target: &str, args: &[&str]) -> Command {
    built(target);
    let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
    command.current_dir(repo()).arg("run").arg(fixture()).args(["--target", target, "--"]).args(args);
    command.env("NO_COLOR", "1");
    command
}

#[test]
fn a_mebibyte_of_stdout_arrives_whole_in_small_and_large_writes_and_to_a_slow_reader() {
    for target in ["unix", "qemu"] {
        for (chunk, slow) in [("7", false), ("1048576", false), ("65536", true)] {
            let mut child = conformance(target, &["stdout", "1048576", chunk])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut out = child.stdout.take().unwrap();
            let mut received = Vec::new();
            let mut buffer = [0u8; 4096];
            loop {
                if slow {
                    // 4 KiB every 2 ms: about 2 MB/s, slower than the VM writes.
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                match out.read(&mut buffer).unwrap() {
                    0 => break,
                    n => received.extend_from_slice(&buffer[..n]),
                }
            }
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            let what = format!("{target}, writes of {chunk}{}", if slow { ", slow reader" } else { "" });
            assert_eq!(output.status.code(), Some(0), "{what}: {stderr}");
            assert_eq!(received.len(), 1 << 20, "{what}: byte count\n{stderr}");
            let first_wrong = received.iter().enumerate().position(|(i, &b)| b != pattern(i));
            assert_eq!(first_wrong, None, "{what}: the bytes differ from the pattern");
            assert!(stderr.contains(&format!("stdout: wrote 1048576 bytes in writes of {chunk}")), "{what}: {stderr}");
            // stdout is not copied to stderr.
            assert!(!stderr.contains("\u{0}\u{1}\u{2}\u{3}"), "{what}: stdout bytes on stderr");
        }
    }
}

#[test]
fn writing_to_a_closed_stdout_is_closed_to_the_guest() {
    for target in ["unix", "qemu"] {
        let mut child = conformance(target, &["closed-stdout"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut head = [0u8; 64];
        child.stdout.take().unwrap().read_exact(&mut head).unwrap();
        // The reader is gone (as after `| head -c 64`).
        let started = std::time::Instant::now();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        // wasmtime 48.0.8: the write fails with `closed`, which std reports as BrokenPipe.
        assert!(stderr.contains("closed-stdout: write failed: BrokenPipe"), "{target}: {stderr}");
        assert_eq!(output.status.code(), Some(0), "{target}: {stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(60), "{target}: it took {:?}", started.elapsed());
    }
}

#[test]
fn megabytes_of_stdin_arrive_whole() {
    // Pseudo-random bytes, and their checksum as the program computes it, computed here.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let input: Vec<u8> = (0..5_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let sum = input.iter().fold(0u32, |sum, &b| sum.wrapping_mul(31).wrapping_add(b as u32));
    let expected = format!("stdin: {} bytes, checksum {sum:08x}\n", input.len());
    for target in ["unix", "qemu"] {
        let mut child = conformance(target, &["stdin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut pipe = child.stdin.take().unwrap();
        let bytes = input.clone();
        let writer = std::thread::spawn(move || pipe.write_all(&bytes));
        let output = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            expected,
            "{target}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn stdin_null_in_the_manifest_gives_an_empty_input() {
    let scratch = Scratch::new();
    let manifest = scratch.manifest(&format!(
        "name = \"stdin-null\"\n[components.app]\npath = {}\n[run]\nstdin = \"null\"\n",
        toml_path(&fixture())
    ));
    for target in ["unix", "qemu"] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_morgana"));
        command.args(["run", &manifest, "--target", target, "--", "stdin"]);
        let outcome = run(command, Some("this is not read\n"));
        assert_eq!(
            String::from_utf8_lossy(&outcome.stdout),
            "stdin: 0 bytes, checksum 00000000\n",
            "{target}: {}",
            outcome.stderr
        );
    }
}

// ---- bad input

#[test]
fn bad_preopened_directories_are_refused_with_the_fix() {
    let scratch = Scratch::new();
    let component = fixture().join("target/morgana/wasi-conformance.wasm");
    built("unix");
    std::fs::write(scratch.path().join("not-a-dir"), "x").unwrap();
    for (dirs, needles) in [
        ("\"/d\" = { path = \"missing\" }", &["does not exist", "create it or fix the path"][..]),
        ("\"/d\" = { path = \"not-a-dir\" }", &["is not a directory"][..]),
        ("\"d\" = { path = \".\" }", &["must be absolute"][..]),
    ] {
        let manifest = scratch.manifest(&format!(
            "name = \"bad-dirs\"\n[components.app]\nwasm = {}\n[dirs]\n{dirs}\n",
            toml_path(&component)
        ));
        for target in ["unix", "qemu"] {
            morgana(&["run", &manifest, "--target", target]).assert_failure_mentioning(needles);
        }
    }
    // A writable directory cannot be baked into an image.
    std::fs::create_dir(scratch.path().join("w")).unwrap();
    let manifest = scratch.manifest(&format!(
        "name = \"bad-dirs\"\n[components.app]\nwasm = {}\n[dirs]\n\"/w\" = {{ path = \"w\", read-only = false }}\n",
        toml_path(&component)
    ));
    morgana(&["build", &manifest, "--target", "qemu"]).assert_failure_mentioning(&["read-only", "scratch"]);
    // A scratch directory bigger than the VM can hold.
    let manifest = scratch.manifest(&format!(
        "name = \"bad-dirs\"\n[components.app]\nwasm = {}\n[dirs]\n\"/tmp\" = {{ scratch = \"1G\" }}\n",
        toml_path(&component)
    ));
    morgana(&["run", &manifest, "--target", "qemu", "--", "fs", "preopens", "-"])
        .assert_failure_mentioning(&["scratch", "--memory"]);
    // --dir of a directory that does not exist.
    for target in ["unix", "qemu"] {
        let dir = fixture().display().to_string();
        let run =
            morgana(&["run", &dir, "--target", target, "--dir", "/nonexistent/dir::/x", "--", "fs", "preopens", "-"]);
        assert_eq!(run.status, 2, "{target}: {}", run.stderr);
        assert!(run.stderr.contains("/nonexistent/dir"), "{target}: {}", run.stderr);
    }
}

#[test]
fn an_unreadable_file_in_a_preopened_directory_stops_the_build() {
    // Root reads every file: run morgana as `nobody`, which cannot read one of mode 000.
    let scratch = tempfile::Builder::new().prefix("morgana-unreadable-").tempdir().unwrap();
    std::fs::create_dir(scratch.path().join("d")).unwrap();
    std::fs::write(scratch.path().join("d/secret"), "x").unwrap();
    let set_mode = |path: &Path, mode: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(&scratch.path().join("d/secret"), 0o000);
    set_mode(scratch.path(), 0o777);
    set_mode(&scratch.path().join("d"), 0o755);
    built("unix");
    let component = scratch.path().join("app.wasm");
    std::fs::copy(fixture().join("target/morgana/wasi-conformance.wasm"), &component).unwrap();
    let manifest = scratch.path().join("unikernel.toml");
    std::fs::write(
        &manifest,
        format!(
            "name = \"unreadable\"\n[components.app]\nwasm = {}\n[dirs]\n\"/d\" = {{ path = \"d\" }}\n",
            toml_path(&component)
        ),
    )
    .unwrap();
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(env!("CARGO_BIN_EXE_morgana"))
            .args(args)
            .env("NO_COLOR", "1")
            .env("HOME", scratch.path())
            .current_dir(scratch.path())
            .output()
            .expect("setpriv (util-linux) runs")
    };
    let me = Command::new("id").arg("-u").output().unwrap();
    let runs_as_root = String::from_utf8_lossy(&me.stdout).trim() == "0";
    let out = if runs_as_root {
        as_nobody(&["build", &manifest.display().to_string(), "--target", "qemu"])
    } else {
        Command::new(env!("CARGO_BIN_EXE_morgana"))
            .args(["build", &manifest.display().to_string(), "--target", "qemu"])
            .output()
            .unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot read") && stderr.contains("secret"), "{stderr}");
    assert!(stderr.contains("make it readable"), "{stderr}");
}

#[test]
fn a_kernel_command_line_longer_than_the_kernel_reads_is_refused() {
    let scratch = Scratch::new();
    let image = scratch.path().join("hello.img");
    morgana(&["build", "examples/hello", "--target", "qemu", "-o", &image.display().to_string()]).assert_success();
    let long = format!("arg={} arg=last", "x".repeat(70_000));
    let output = Command::new("qemu-system-x86_64")
        .args(["-M", "microvm,x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on"])
        .args(["-accel", "tcg", "-cpu", "max", "-m", "128M", "-nodefaults", "-no-reboot", "-display", "none"])
        // COM2, the kernel's messages, on stdout.
        .args(["-chardev", "stdio,id=messages", "-device", "isa-serial,chardev=messages,iobase=0x2f8,irq=3"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .arg("-kernel")
        .arg(&image)
        .args(["-append", &long])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The kernel's status HOST_ERROR (119) is QEMU's 2 × 119 + 1; nothing of the program ran.
    assert_eq!(output.status.code(), Some(239), "{stdout}");
    assert!(stdout.contains("longer than 65535 bytes"), "{stdout}");
    assert!(!stdout.contains("Hello from"), "{stdout}");
}
