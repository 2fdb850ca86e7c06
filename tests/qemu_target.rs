//! The qemu target through the real CLI: images built from the examples and from small
//! components, booted under real QEMU (microvm, TCG), with every way a run can end.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;

#[test]
fn arguments_and_environment_reach_the_guest_from_the_command_line() {
    let run = morgana(&[
        "run",
        "examples/hello",
        "--target",
        "qemu",
        "--env",
        "GREETING=Ahoy",
        "--env",
        "NEW=x y",
        "--",
        "--exit",
        "3",
    ]);
    assert_eq!(run.status, 1, "exit(3) is status 1 under WASI 0.2, as on unix\n{}", run.stderr);
    assert!(run.stdout.contains("Ahoy from hello.wasm!"), "{}", run.stdout);
    assert!(run.stdout.contains("env: NEW=x y"), "{}", run.stdout);
    assert!(run.stdout.contains(r#"args: ["--exit", "3"]"#), "{}", run.stdout);
    assert!(run.stderr.contains("hello: exiting with status 3"), "{}", run.stderr);
}

/// Writes a command component whose `run` executes `body`; it imports nothing, so the
/// kernel links no WASI package but `wasi:io`.
fn command_file(scratch: &Scratch, name: &str, body: &str) -> String {
    scratch.file(&format!("{name}.wat"), command_wat(body)).display().to_string()
}

#[test]
fn traps_are_reported_like_on_unix() {
    let scratch = Scratch::new();
    let cases = [
        ("unreachable", "unreachable", "unreachable"),
        ("divide", "i32.const 1 i32.const 0 i32.div_u", "divide by zero"),
        ("bounds", "i32.const 0x7fffff00 i32.load", "out of bounds memory access"),
        ("overflow", "call $deep", "call stack exhausted"),
    ];
    for (name, body, message) in cases {
        let wat = command_wat(body).replace("(core module $m", "(core module $m (memory 1)");
        let file = scratch.file(&format!("{name}.wat"), wat).display().to_string();
        let run = morgana(&["run", &file, "--target", "qemu"]);
        assert_eq!(run.status, 134, "{name}: {}", run.stderr);
        assert!(run.stderr.contains("the application trapped"), "{name}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{name}: {}", run.stderr);
        assert!(run.stderr.contains("deep"), "{name}: the backtrace names the function:\n{}", run.stderr);
        let unix = morgana(&["run", &file, "--target", "unix"]);
        assert_eq!(unix.status, 134, "{name} on unix: {}", unix.stderr);
        assert!(unix.stderr.contains(message), "{name} on unix: {}", unix.stderr);
    }
}

#[test]
fn a_runaway_component_is_stopped_by_its_timeout() {
    let scratch = Scratch::new();
    let spin = command_file(&scratch, "spin", "(loop br 0) i32.const 0");
    let started = std::time::Instant::now();
    let run = morgana(&["run", &spin, "--target", "qemu", "--timeout", "700ms"]);
    assert_eq!(run.status, 124, "{}", run.stderr);
    assert!(run.stderr.contains("timeout of 700 ms"), "{}", run.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(60));

    let unix = morgana(&["run", &spin, "--target", "unix", "--timeout", "700ms"]);
    assert_eq!(unix.status, 124, "{}", unix.stderr);
    assert!(unix.stderr.contains("timeout of 700 ms"), "{}", unix.stderr);

    // The manifest's [run] timeout is baked into the image.
    let manifest =
        scratch.manifest("name = \"spin\"\n[components.spin]\nwasm = \"spin.wat\"\n[run]\ntimeout = \"500ms\"\n");
    let run = morgana(&["run", &manifest, "--target", "qemu"]);
    assert_eq!(run.status, 124, "{}", run.stderr);
    assert!(run.stderr.contains("timeout of 500 ms"), "{}", run.stderr);
}

/// Boots an image with plain QEMU, as a user of `qemu-system-x86_64 -kernel` would.
fn boot_with_qemu(image: &Path, cpu: &str) -> (i32, String, String) {
    let output = Command::new("qemu-system-x86_64")
        .args(["-M", "microvm,x-option-roms=off,pit=on,pic=off,rtc=on", "-accel", "tcg", "-cpu", cpu])
        .args(["-m", "128M", "-display", "none", "-no-reboot", "-nodefaults", "-serial", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-chardev", "file,id=err,path=/dev/stderr", "-device", "isa-serial,chardev=err,iobase=0x2f8,irq=3"])
        .arg("-kernel")
        .arg(image)
        .stdin(Stdio::null())
        .output()
        .expect("qemu-system-x86_64 runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn hello_image(scratch: &Scratch) -> PathBuf {
    let image = scratch.path().join("hello.img");
    morgana(&["build", "examples/hello", "--target", "qemu", "-o", &image.display().to_string()]).assert_success();
    image
}

#[test]
fn an_image_boots_with_plain_qemu() {
    let scratch = Scratch::new();
    let image = hello_image(&scratch);
    let (status, stdout, stderr) = boot_with_qemu(&image, "max");
    assert_eq!(status, 1, "isa-debug-exit status 0 is QEMU status 1\n{stderr}");
    assert!(stdout.contains("Hello from hello.wasm!"), "{stdout}");
}

#[test]
fn a_corrupted_image_is_refused() {
    let scratch = Scratch::new();
    let image = hello_image(&scratch);
    let mut bytes = std::fs::read(&image).unwrap();
    let payload = morgana_aot::elf::find_payload(&bytes).unwrap();
    bytes[payload.start + payload.len() / 2] ^= 0x40;
    let corrupted = scratch.file("corrupted.img", &bytes);

    // morgana checks before booting...
    morgana(&["run", &corrupted.display().to_string(), "--target", "qemu"]).assert_failure_mentioning(&["corrupted"]);
    morgana(&["inspect", &corrupted.display().to_string()]).assert_failure_mentioning(&["corrupted"]);
    // ...and the kernel checks again at boot.
    let (status, stdout, stderr) = boot_with_qemu(&corrupted, "max");
    assert_eq!(status, morgana_image::exit::qemu_status(morgana_image::exit::BAD_IMAGE), "{stderr}");
    assert!(stderr.contains("corrupted"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");

    // A file that is not an image at all.
    let truncated = scratch.file("truncated.img", &bytes[..1000]);
    morgana(&["run", &truncated.display().to_string(), "--target", "qemu"]).assert_failure_mentioning(&["ELF"]);
}

/// Rewrites the image's precompiled component as if another wasmtime version had made it.
fn image_from_another_wasmtime(image: &Path, out: &Path) {
    let bytes = std::fs::read(image).unwrap();
    let range = morgana_aot::elf::find_payload(&bytes).unwrap();
    let payload = morgana_aot::Payload::decode(&bytes[range.clone()]).unwrap();
    let mut component = payload.component.to_vec();
    // wasmtime records its major version in the engine section: format byte 0, length, text.
    let major = morgana_image::WASMTIME_VERSION.split('.').next().unwrap();
    let recorded = [&[0u8, major.len() as u8][..], major.as_bytes()].concat();
    let at = component.windows(recorded.len()).position(|w| w == recorded).expect("the version is recorded");
    component[at + 2..at + 4].copy_from_slice(b"47");
    let forged = morgana_aot::Payload { component: &component, ..payload.clone() };
    std::fs::write(out, morgana_aot::elf::replace_payload(&bytes, &forged.encode()).unwrap()).unwrap();
}

#[test]
fn an_incompatible_precompiled_component_is_refused_at_boot() {
    let scratch = Scratch::new();
    let image = hello_image(&scratch);
    let forged = scratch.path().join("forged.img");
    image_from_another_wasmtime(&image, &forged);
    let run = morgana(&["run", &forged.display().to_string(), "--target", "qemu"]);
    run.assert_failure_mentioning(&["cannot run on this machine", "incompatible version '47'"]);
    assert!(run.stdout.is_empty(), "{}", run.stdout);

    // Code compiled for SSE4 does not run on a CPU without it: the kernel says which feature.
    let (status, stdout, stderr) = boot_with_qemu(&image, "qemu64");
    assert_eq!(status, morgana_image::exit::qemu_status(morgana_image::exit::INCOMPATIBLE), "{stderr}");
    assert!(stderr.contains("not available"), "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
}

#[test]
fn an_import_the_kernel_cannot_provide_stops_the_build() {
    let scratch = Scratch::new();
    // wasi:keyvalue is not provided (yet) by either target.
    let kv = scratch.file(
        "kv.wat",
        command_wat("i32.const 0")
            .replace("(core module", "(import \"wasi:keyvalue/store@0.2.0-draft\" (instance))\n(core module"),
    );
    let run = morgana(&["build", &kv.display().to_string(), "--target", "qemu"]);
    run.assert_failure_mentioning(&["wasi:keyvalue/store@0.2.0-draft", "qemu"]);
    assert!(!scratch.path().join("kv.img").exists());
}

#[test]
fn inspect_shows_what_is_inside_an_image() {
    let scratch = Scratch::new();
    let image = hello_image(&scratch);
    let run = morgana(&["inspect", &image.display().to_string()]);
    run.assert_success();
    for needle in
        ["kernel", "wasmtime   48.0.8", "x86_64-unknown-none", "app        hello", "wasi:cli/stdout", "GREETING=Hello"]
    {
        assert!(run.stdout.contains(needle), "missing {needle:?}:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains("wasi:random/random"), "hello imports no randomness:\n{}", run.stdout);
}

#[test]
fn too_little_memory_is_reported() {
    let run = morgana(&["run", "examples/hello", "--target", "qemu", "--memory", "4M"]);
    assert_ne!(run.status, 0);
    assert!(run.stderr.contains("memory"), "{}", run.stderr);
}

#[test]
fn sleeping_halts_the_cpu_instead_of_spinning() {
    let run = morgana(&["run", "examples/hello", "--target", "qemu", "--verbose"]);
    run.assert_success();
    assert!(run.stdout.contains("slept at least 20 ms: yes"), "{}", run.stdout);
    let line =
        run.stderr.lines().find(|l| l.contains("[kernel]") && l.contains(" exit (halted")).unwrap_or_else(|| {
            panic!("no exit line in the kernel log:\n{}", run.stderr);
        });
    let halted_ms: u64 =
        line.split(", ").nth(1).and_then(|rest| rest.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(halted_ms >= 15, "the 20 ms sleep should be spent halted: {line}");
    for step in ["booted", "component entry"] {
        assert!(run.stderr.contains(step), "{step} missing:\n{}", run.stderr);
    }
}

/// http-std in a VM, through a QEMU user-networking forward, with curl as the client: 200
/// connections one after another, then 50 at once (queued in the listen backlog, as the server
/// takes them in turn), and no failure.
#[test]
fn a_server_in_the_vm_takes_many_connections_in_turn_and_at_once() {
    let (server, url) = http_std_in_a_vm("250", &[]);

    // One curl, 200 URLs, `Connection: close`: a new connection for each.
    curl_in_turn(&url, 200, &["-H", "Connection: close"]);

    for out in curl_at_once(&url, 50, "60") {
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{}", String::from_utf8_lossy(&out.stderr));
    }

    let run = server.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("served 250 requests"), "{}", run.stdout);
}

/// The same image on a PC (q35, firmware, PCI Express): the network device is virtio-pci, its
/// interrupt a PCI INTx line routed through the I/O APIC.
#[test]
fn on_q35_the_network_device_is_virtio_pci() {
    let (server, url) = http_std_in_a_vm("21", &["--machine", "q35"]);
    curl_in_turn(&url, 20, &[]);
    // A megabyte takes many interrupts' worth of frames, in both directions.
    let download = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-o", "/dev/null", "-w", "%{size_download}", &format!("{url}bytes/1000000")])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&download.stdout), "1000000", "{}", String::from_utf8_lossy(&download.stderr));
    let run = server.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("served 21 requests"), "{}", run.stdout);
}

/// A static network configuration from the manifest's [net] table, instead of DHCP, baked
/// into the image; a bad address is refused when the image is built.
#[test]
fn a_static_network_configuration_replaces_dhcp() {
    let scratch = Scratch::new();
    let server = toml_path(&repo().join("examples/http-std"));
    let manifest = scratch.manifest(&format!(
        "name = \"static-net\"\n[components.server]\npath = {server}\n[env]\nPORT = \"8080\"\n\
         [net]\naddress = \"10.0.2.15/24\"\ngateway = \"10.0.2.2\"\ndns = [\"10.0.2.3\"]\n"
    ));
    let port = free_port();
    let forward = format!("{port}:8080");
    let vm =
        Server::start(&["run", &manifest, "--target", "qemu", "--verbose", "-p", &forward, "--", "--requests", "1"]);
    let page = Command::new("curl")
        .args(["-sS", "--max-time", "30", &format!("http://127.0.0.1:{port}/status")])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&page.stdout).contains("\"requests\":1"),
        "{}",
        String::from_utf8_lossy(&page.stderr)
    );
    let run = vm.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("10.0.2.15/24 via 10.0.2.2, dns 10.0.2.3"), "{}", run.stderr);
    assert!(!run.stderr.contains("(dhcp)"), "{}", run.stderr);

    let bad = scratch.manifest(&format!(
        "name = \"static-net\"\n[components.server]\npath = {server}\n[net]\naddress = \"10.0.2.300/24\"\n"
    ));
    morgana(&["build", &bad, "--target", "qemu"]).assert_failure_mentioning(&["[net]", "not an IP address"]);
}

/// A network namespace of the test's own with a tap device `tap0` at 10.9.0.1/24, for a VM at
/// 10.9.0.2 (static configuration); removed again when dropped.
struct TapNamespace {
    name: String,
}

impl TapNamespace {
    const VM: &str = "10.9.0.2";

    fn new(purpose: &str) -> TapNamespace {
        if !running_as_root() {
            panic!("this test needs root (it makes a network namespace and a tap device)");
        }
        let namespace = TapNamespace { name: format!("morgana-{purpose}-{}", std::process::id()) };
        let status = Command::new("ip").args(["netns", "add", &namespace.name]).status().expect("iproute2's ip runs");
        assert!(status.success(), "ip netns add {} failed", namespace.name);
        namespace.ip(&["link", "set", "lo", "up"]);
        namespace.ip(&["tuntap", "add", "dev", "tap0", "mode", "tap"]);
        namespace.ip(&["addr", "add", "10.9.0.1/24", "dev", "tap0"]);
        namespace.ip(&["link", "set", "tap0", "up"]);
        namespace
    }

    /// `program` run inside the namespace.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }

    /// `ip ARGS` inside the namespace, which must succeed.
    fn ip(&self, args: &[&str]) {
        let status = self.command("ip").args(args).status().expect("iproute2's ip runs");
        assert!(status.success(), "ip {args:?} failed in {}", self.name);
    }

    /// `morgana run ARGS` on the tap device, with the VM's static address.
    fn vm(&self, args: &[&str]) -> Server {
        let mut command = self.command(env!("CARGO_BIN_EXE_morgana"));
        command
            .args(["run", "--target", "qemu", "--net", "tap=tap0", "--verbose"])
            .args(["--ip", &format!("{}/24", Self::VM), "--gateway", "10.9.0.1"])
            .args(args)
            .current_dir(repo());
        Server::start_command(command)
    }

    /// What curl printed for `path` on the VM's port 8080, its complaints included.
    fn curl(&self, path: &str, max_time: &str) -> String {
        let out = self
            .command("curl")
            .args(["-sS", "--max-time", max_time, &format!("http://{}:8080{path}", Self::VM)])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
}

impl Drop for TapNamespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// The VM on a tap device in a network namespace: curl from inside the namespace, then a burst
/// of malformed frames written to the tap, which the kernel drops and counts while the server
/// keeps serving.
#[test]
fn a_vm_on_a_tap_device_serves_and_survives_malformed_frames() {
    let namespace = TapNamespace::new("frames");
    let vm = namespace.vm(&["examples/http-std", "--", "--requests", "2"]);
    assert!(namespace.curl("/", "30").contains("Hello from a unikernel"));

    // QEMU's default MAC for the first NIC.
    let injector = repo().join("tests/fixtures/inject_frames.py");
    let injected =
        namespace.command("python3").arg(&injector).args(["tap0", "52:54:00:12:34:56", "600"]).output().unwrap();
    assert!(injected.status.success(), "{}", String::from_utf8_lossy(&injected.stderr));
    assert_eq!(String::from_utf8_lossy(&injected.stdout).trim(), "600");

    assert!(
        namespace.curl("/status", "30").contains("\"requests\":2"),
        "the server stopped serving after the malformed frames"
    );
    let run = vm.finish();
    let stderr = run.stderr;
    assert_eq!(run.status, 0, "{stderr}");
    let stats = stderr.lines().find(|l| l.contains("[kernel] network: received")).unwrap_or_else(|| panic!("{stderr}"));
    let malformed: u64 =
        stats.split('(').nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()).unwrap();
    assert!(malformed >= 300, "most of the 600 frames are malformed at the IP layer or below: {stats}");
}

/// A client that vanishes in the middle of a long download (its address disappears: no FIN, no
/// RST, nothing more from it) must not hold the server's connection forever: the kernel's TCP
/// gives up on the unacknowledged data after its timeout (60 s), the write fails, and the
/// server, which serves one connection at a time, gets to the client waiting behind it.
#[test]
fn a_peer_that_vanishes_mid_transfer_frees_its_connection() {
    let namespace = TapNamespace::new("vanish");
    namespace.ip(&["addr", "add", "10.9.0.3/24", "dev", "tap0"]);
    let vm = namespace.vm(&["examples/http-std", "--", "--requests", "2"]);
    assert!(namespace.curl("/", "30").contains("Hello from a unikernel"), "the VM did not come up");

    // From 10.9.0.3: ask for 100 MB, read the first megabyte, then lose the address.
    let vanishing = namespace
        .command("curl")
        .args(["-sS", "--interface", "10.9.0.3", "--max-time", "200", "-o", "/dev/null"])
        .args(["--limit-rate", "512K", &format!("http://{}:8080/bytes/100000000", TapNamespace::VM)])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    namespace.ip(&["addr", "del", "10.9.0.3/24", "dev", "tap0"]);

    // The next client waits in the backlog until the vanished one's connection is given up.
    let started = std::time::Instant::now();
    let page = namespace.curl("/status", "150");
    let waited = started.elapsed();
    assert!(page.contains("\"requests\":2"), "the server never got to the next client: {page}");
    let run = vm.finish();
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(waited.as_secs() >= 30, "served after {waited:?}: the vanished client's transfer was not in progress");
    let mut vanishing = vanishing;
    let _ = vanishing.kill();
    let _ = vanishing.wait();
}

fn running_as_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// A flood of connections beyond the listen backlog: the ones that do not fit are refused
/// (reset), none hangs, and the server keeps serving afterwards.
#[test]
fn a_connection_flood_beyond_the_backlog_is_refused_and_the_server_keeps_serving() {
    let (_server, url) = http_std_in_a_vm("100000", &[]);
    // 150 connections at once, each holding on (an unfinished request) for a second: more than
    // the stack's backlog of 64 can queue.
    let mut served = 0;
    for out in curl_at_once(&url, 150, "30") {
        let code = String::from_utf8_lossy(&out.stdout).into_owned();
        let error = String::from_utf8_lossy(&out.stderr).into_owned();
        if code == "200" {
            served += 1;
        } else {
            // Refused cleanly: reset or closed, never a timeout.
            assert!(!error.contains("timed out"), "a flooding client hung: {error}");
        }
    }
    assert!(served > 0, "no flooding client was served");
    let after = Command::new("curl").args(["-sS", "--max-time", "30", &url]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&after.stdout).contains("Hello from a unikernel"),
        "the server does not serve after the flood: {}",
        String::from_utf8_lossy(&after.stderr)
    );
}

/// http-std booted under QEMU, listening on a free port forwarded from this machine, stopping
/// after `requests` requests; and its URL.
fn http_std_in_a_vm(requests: &str, options: &[&str]) -> (Server, String) {
    let port = free_port();
    let (env, forward) = (format!("PORT={port}"), format!("{port}:{port}"));
    let mut args = vec!["run", "examples/http-std", "--target", "qemu", "--env", &env, "-p", &forward];
    args.extend(options);
    args.extend(["--", "--requests", requests]);
    let server = Server::start(&args);
    (server, format!("http://127.0.0.1:{port}/"))
}

/// One curl fetching `url` `count` times in turn (with `options`), each answered with 200.
fn curl_in_turn(url: &str, count: usize, options: &[&str]) {
    let urls: Vec<&str> = std::iter::repeat_n(url, count).collect();
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-o", "/dev/null", "-w", "%{http_code}\n"])
        .args(options)
        .args(&urls)
        .output()
        .unwrap();
    let codes = String::from_utf8_lossy(&out.stdout);
    let answered = codes.lines().filter(|c| *c == "200").count();
    assert_eq!(answered, count, "{codes}\n{}", String::from_utf8_lossy(&out.stderr));
}

/// `count` curls of `url` started at once (each giving up after `max_time` seconds), and what
/// each printed: its HTTP status on stdout, its complaint on stderr.
fn curl_at_once(url: &str, count: usize, max_time: &str) -> Vec<std::process::Output> {
    let clients: Vec<_> = (0..count)
        .map(|_| {
            Command::new("curl")
                .args(["-sS", "--max-time", max_time, "-o", "/dev/null", "-w", "%{http_code}", url])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    clients.into_iter().map(|client| client.wait_with_output().unwrap()).collect()
}
