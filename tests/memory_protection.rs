//! The VM's memory protection, on the running kernel under real QEMU, on both machines:
//!
//! - every probe (boot parameter `probe=NAME`, in the spirit of Solo5's test_wnox and
//!   test_zeropage) attempts one access the address space forbids — a write to code, executing
//!   the heap, a stack, data or the payload, a null dereference, a kernel and a fiber stack
//!   overflow — and must be stopped with its own message and status, written down here;
//! - the page tables of a VM serving requests, read from outside through QEMU's monitor
//!   (`info tlb`), hold no page both writable and executable, nothing in the first 64 KiB,
//!   executable code (the kernel's and the component's), and uncached device memory.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{Scratch, morgana};
use morgana_image::exit;

/// The machines an image boots on, with the `-M` and virtio-net device arguments `morgana run` uses.
const MACHINES: &[(&str, &str, &str)] = &[
    ("microvm", "microvm,x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on", "virtio-net-device"),
    ("q35", "q35", "virtio-net-pci,disable-legacy=on"),
];

/// A probe, the kernel status it must stop with, and what its report must say.
struct Case {
    probe: &'static str,
    status: u8,
    says: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case { probe: "null-read", status: exit::CPU_EXCEPTION, says: &["null pointer dereference: read of 0x0,"] },
    Case { probe: "null-write", status: exit::CPU_EXCEPTION, says: &["null pointer dereference: write of 0x8,"] },
    Case {
        probe: "write-code",
        status: exit::CPU_EXCEPTION,
        says: &["memory protection: write to read-only memory at", "(kernel code, read + execute)"],
    },
    Case {
        probe: "write-rodata",
        status: exit::CPU_EXCEPTION,
        says: &["memory protection: write to read-only memory at", "(kernel constants, read-only)"],
    },
    Case {
        probe: "write-component-code",
        status: exit::CPU_EXCEPTION,
        says: &["memory protection: write to read-only memory at", "(the component's code, read + execute)"],
    },
    Case {
        probe: "exec-heap",
        status: exit::CPU_EXCEPTION,
        says: &["memory protection: execution of non-executable memory at", "(the kernel heap, read + write)"],
    },
    Case {
        probe: "exec-stack",
        status: exit::CPU_EXCEPTION,
        says: &["memory protection: execution of non-executable memory at", "(the kernel's boot stack, read + write)"],
    },
    Case {
        probe: "exec-data",
        status: exit::CPU_EXCEPTION,
        says: &["memory protection: execution of non-executable memory at", "(kernel data, read + write)"],
    },
    Case {
        probe: "exec-payload",
        status: exit::CPU_EXCEPTION,
        says: &["memory protection: execution of non-executable memory at", "(the image's payload, read-only)"],
    },
    Case {
        probe: "kernel-stack-overflow",
        status: exit::STACK_OVERFLOW,
        says: &["kernel stack overflow: the kernel's boot stack ran into its guard page at"],
    },
    Case {
        probe: "fiber-stack-overflow",
        status: exit::TRAP,
        says: &["error: the application overflowed its stack: the component's fiber stack ran into its guard page at"],
    },
];

/// Images built once for all the tests here: (scratch directory kept alive, hello, udp-echo).
fn images() -> &'static (Scratch, PathBuf, PathBuf) {
    static IMAGES: OnceLock<(Scratch, PathBuf, PathBuf)> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let scratch = Scratch::new();
        let build = |example: &str| {
            let image = scratch.path().join(format!("{example}.img"));
            morgana(&["build", &format!("examples/{example}"), "--target", "qemu", "-o", &image.display().to_string()])
                .assert_success();
            image
        };
        let (hello, echo) = (build("hello"), build("udp-echo"));
        (scratch, hello, echo)
    })
}

/// QEMU as `morgana run` starts it, without the console channel: the application's output on
/// COM1 (stdout), the kernel's on COM2 (stderr).
fn qemu(machine: &str, image: &Path, append: &str) -> Command {
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(["-M", machine, "-accel", "tcg", "-cpu", "max", "-m", "128M"])
        .args(["-display", "none", "-no-reboot", "-nodefaults", "-no-user-config", "-serial", "stdio"])
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(["-chardev", "file,id=err,path=/dev/stderr", "-device", "isa-serial,chardev=err,iobase=0x2f8,irq=3"])
        .arg("-kernel")
        .arg(image)
        .args(["-append", append])
        .stdin(Stdio::null());
    qemu
}

/// Boots hello with `probe=NAME` and checks the report against the case.
fn check_probe(machine: &(&str, &str, &str), case: &Case) -> Result<(), String> {
    let output = qemu(machine.1, &images().1, &format!("probe={}", case.probe))
        .output()
        .map_err(|e| format!("qemu-system-x86_64 does not run: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let status = output.status.code();
    let expected = exit::qemu_status(case.status);
    let missing: Vec<_> = case.says.iter().filter(|needle| !stderr.contains(*needle)).collect();
    if status != Some(expected) || !missing.is_empty() || stdout.contains("Hello from") {
        return Err(format!(
            "{} probe={}: QEMU status {status:?}, expected {expected} (kernel status {}); missing {missing:?}\nstdout:\n{stdout}\nstderr:\n{stderr}",
            machine.0, case.probe, case.status
        ));
    }
    Ok(())
}

#[test]
fn every_forbidden_access_is_stopped_and_reported_as_what_it_is() {
    images();
    let jobs: Vec<_> = MACHINES.iter().flat_map(|m| CASES.iter().map(move |c| (m, c))).collect();
    // Two VMs at a time: one per core.
    let failures: Vec<String> = jobs
        .chunks(2)
        .flat_map(|pair| {
            std::thread::scope(|scope| {
                let running: Vec<_> =
                    pair.iter().map(|(machine, case)| scope.spawn(move || check_probe(machine, case))).collect();
                running.into_iter().filter_map(|r| r.join().unwrap().err()).collect::<Vec<_>>()
            })
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} probes failed:\n{}", failures.len(), jobs.len(), failures.join("\n\n"));
}

#[test]
fn an_unknown_probe_is_refused_with_the_list_of_probes() {
    let output = qemu(MACHINES[0].1, &images().1, "probe=write-everything").output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(exit::qemu_status(exit::HOST_ERROR)), "{stderr}");
    assert!(stderr.contains("unknown probe `write-everything`; the probes are: null-read,"), "{stderr}");
}

/// A udp-echo VM with QEMU's monitor on a socket, serving on a forwarded port.
struct MonitoredVm {
    child: Child,
    monitor: BufReader<UnixStream>,
}

impl MonitoredVm {
    fn start(machine: &(&str, &str, &str), scratch: &Path) -> MonitoredVm {
        let socket = scratch.join(format!("monitor-{}.sock", machine.0));
        let port = std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = qemu(machine.1, &images().2, "")
            .args(["-netdev", &format!("user,id=net,hostfwd=udp:127.0.0.1:{port}-:7777")])
            .args(["-device", &format!("{},netdev=net", machine.2)])
            .args(["-monitor", &format!("unix:{},server=on,wait=off", socket.display())])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Serving: it said so, and it echoes.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("listening") {
            line.clear();
            if stdout.read_line(&mut line).unwrap() == 0 {
                let mut stderr = String::new();
                child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
                panic!("{}: udp-echo stopped before listening:\n{stderr}", machine.0);
            }
        }
        let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        let mut echoed = [0u8; 64];
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            client.send_to(b"page tables", ("127.0.0.1", port)).unwrap();
            if let Ok(n) = client.recv(&mut echoed) {
                assert_eq!(&echoed[..n], b"page tables");
                break;
            }
            assert!(Instant::now() < deadline, "{}: udp-echo does not echo", machine.0);
        }
        let monitor = BufReader::new(UnixStream::connect(&socket).unwrap());
        let mut vm = MonitoredVm { child, monitor };
        vm.until_prompt();
        vm
    }

    /// Reads the monitor's output up to its next prompt.
    fn until_prompt(&mut self) -> String {
        let mut text = Vec::new();
        let mut byte = [0u8];
        while !text.ends_with(b"(qemu) ") {
            self.monitor.read_exact(&mut byte).unwrap();
            text.push(byte[0]);
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    fn command(&mut self, command: &str) -> String {
        self.monitor.get_mut().write_all(format!("{command}\n").as_bytes()).unwrap();
        self.until_prompt()
    }
}

impl Drop for MonitoredVm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A leaf of the page tables as `info tlb` prints it: `VADDR: PADDR XGPDACTUW`, where X is the
/// no-execute bit, P a 2 MiB page, C cache-disable and W writable.
struct Page {
    address: u64,
    size: u64,
    no_execute: bool,
    uncached: bool,
    writable: bool,
}

fn pages(tlb: &str) -> Vec<Page> {
    tlb.lines()
        .filter_map(|line| {
            let (address, rest) = line.trim().split_once(": ")?;
            let address = u64::from_str_radix(address, 16).ok()?;
            let flags: Vec<char> = rest.split_whitespace().nth(1)?.chars().collect();
            (flags.len() == 9).then(|| Page {
                address,
                size: if flags[2] == 'P' { 2 << 20 } else { 4096 },
                no_execute: flags[0] == 'X',
                uncached: flags[5] == 'C',
                writable: flags[8] == 'W',
            })
        })
        .collect()
}

#[test]
fn a_running_vm_has_no_page_both_writable_and_executable_and_no_page_zero() {
    let scratch = Scratch::new();
    for machine in MACHINES {
        let mut vm = MonitoredVm::start(machine, scratch.path());
        let tlb = vm.command("info tlb");
        let pages = pages(&tlb);
        assert!(pages.len() > 100, "{}: `info tlb` lists too few pages to be the kernel's map:\n{tlb}", machine.0);
        let both: Vec<_> = pages.iter().filter(|p| p.writable && !p.no_execute).map(|p| p.address).collect();
        assert!(both.is_empty(), "{}: pages writable and executable: {both:#x?}", machine.0);
        let low: Vec<_> = pages.iter().filter(|p| p.address < 64 << 10).map(|p| p.address).collect();
        assert!(low.is_empty(), "{}: pages mapped in the first 64 KiB: {low:#x?}", machine.0);
        // Code is mapped (read + execute): the kernel's text and the component's.
        let executable: u64 = pages.iter().filter(|p| !p.no_execute).map(|p| p.size).sum();
        assert!(executable > 1 << 20, "{}: only {executable} bytes executable", machine.0);
        // Device memory (the local APIC at 0xfee00000) is uncached and not executable.
        let apic = pages.iter().find(|p| p.address <= 0xFEE0_0000 && 0xFEE0_0000 < p.address + p.size);
        assert!(
            apic.is_some_and(|p| p.uncached && p.no_execute && p.writable),
            "{}: the local APIC's page is not mapped uncached, writable, not executable",
            machine.0
        );
    }
}
