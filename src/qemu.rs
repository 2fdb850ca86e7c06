//! The qemu target: building a bootable image (compose, precompile, kernel, link) and booting
//! it under `qemu-system-x86_64 -M microvm` (or `-M q35`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use morgana_aot::{BootConfig, Payload};
use morgana_compose::manifest::{DirSource, DirSpec, KeySource, KeySpec, PortForward};
use morgana_compose::{AppInfo, ComponentInfo, human_size};
use morgana_image::boot_params::{BootParams, MAX_COMMAND_LINE};
use morgana_image::channel::Start;
use morgana_image::exit;

use crate::channel::{self, StdinSource};
use crate::input::Input;
use crate::{FAILURE, RunOptions, Target, report};

/// The kernel's sources, built on demand for each set of host interfaces.
const KERNEL_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/host-kernel/kernel");
/// The VM's memory when neither the manifest nor the command line says.
const DEFAULT_MEMORY_MIB: u64 = 128;
/// Status when the kernel itself failed (panic, CPU exception).
const KERNEL_FAILURE: u8 = 125;

/// How QEMU executes the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Accel {
    /// KVM when this machine has hardware virtualization (kvm_intel or kvm_amd), else TCG
    Auto,
    /// QEMU's own binary translation, `-accel tcg -cpu max`
    Tcg,
    /// The kernel's KVM, `-accel kvm -cpu host`
    Kvm,
}

/// The machine QEMU emulates. The same image boots on both (PVH entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Machine {
    /// QEMU's minimal machine: no firmware, no PCI, virtio-mmio devices
    Microvm,
    /// A PC (ICH9 chipset) with SeaBIOS and PCI Express: virtio-pci devices
    Q35,
}

impl Machine {
    fn args(self) -> [&'static str; 2] {
        match self {
            Machine::Microvm => ["-M", "microvm,x-option-roms=off,pit=on,pic=off,rtc=on,isa-serial=on"],
            Machine::Q35 => ["-M", "q35"],
        }
    }

    /// The `-device` name of a virtio device (`net`, …) on this machine's transport.
    fn virtio_device(self, kind: &str) -> String {
        match self {
            Machine::Microvm => format!("virtio-{kind}-device"),
            // Modern (virtio 1.0) only: the kernel's driver speaks no legacy virtio-pci.
            Machine::Q35 => format!("virtio-{kind}-pci,disable-legacy=on"),
        }
    }
}

/// Builds (or reuses) the image for `input` and returns its path.
pub fn build_image(input: &Input, small: bool, output: Option<PathBuf>) -> Result<PathBuf> {
    let (bytes, app, default_path) = match input {
        Input::Image(path) => {
            if let Some(output) = output {
                std::fs::copy(path, &output)
                    .with_context(|| format!("cannot copy the image to {}", output.display()))?;
                return Ok(output);
            }
            return Ok(path.clone());
        }
        Input::Manifest(manifest) => {
            let (bytes, app) = crate::compose::component(input, Target::Qemu.host(), None)?;
            (bytes, app, morgana_compose::output_path(manifest).with_extension("img"))
        }
        Input::Component(path) => {
            let (bytes, app) = crate::compose::component(input, Target::Qemu.host(), None)?;
            (bytes, app, path.with_extension("img"))
        }
    };
    let path = output.unwrap_or(default_path);
    let info = ComponentInfo::read(&bytes)?;
    let features = morgana_aot::kernel::features_for(info.imports.iter().map(|i| i.name.as_str()))?;

    // The directories and keys first: an unreadable file stops the build before the kernel is built.
    let dirs = baked_dirs(app.as_ref().map_or(&[][..], |app| &app.dirs))?;
    let keys = baked_keys(app.as_ref().map_or(&[][..], |app| &app.keys), &info)?;

    if !morgana_compose::cargo::target_installed(morgana_image::KERNEL_TARGET) {
        bail!("the Rust target {0} is not installed; run `rustup target add {0}`", morgana_image::KERNEL_TARGET);
    }
    let profile = if small { "release-small" } else { "release" };
    report::step("Building", &format!("kernel with {} ({profile})", features.join(", ")));
    let kernel = morgana_aot::kernel::build(Path::new(KERNEL_DIR), &features, profile)?;

    let app = app.unwrap_or_else(|| {
        AppInfo::unnamed(path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "app".into()))
    });
    let config = BootConfig {
        app_name: app.name.clone(),
        env: app.env.clone(),
        timeout_ms: app.timeout_ms,
        memory_mib: app.memory_mib,
        ports: app.ports.clone(),
        boot_params: match &app.net {
            Some(net) => static_network(&net.address, net.gateway.as_deref(), &net.dns)
                .context("the manifest's [net] table")?
                .encode(),
            None => String::new(),
        },
        host_interfaces: linked_interfaces(&features),
        component_size: bytes.len() as u64,
        parts: app.parts.iter().map(|part| (part.name.clone(), part.size)).collect(),
        stdin_null: app.stdin == morgana_compose::manifest::StdinMode::Null,
        serves_http: morgana_unix::is_http_handler(info.exports.iter().map(|e| e.name.as_str())),
    };

    // The same kernel, component, configuration and directories make the same image: reuse it.
    let key = image_key(&kernel, &bytes, &config, &app, &dirs, &keys);
    let key_path = path.with_extension("img.key");
    if path.is_file() && std::fs::read_to_string(&key_path).is_ok_and(|k| k == key) {
        report::step("Fresh", &path.display().to_string());
        return Ok(path);
    }

    report::step("Compiling", &format!("`{}` for {} (Cranelift)", app.name, morgana_image::KERNEL_TARGET));
    let precompiled = morgana_aot::precompile::precompile(&bytes)?;
    let payload = Payload {
        wasmtime_version: morgana_image::WASMTIME_VERSION.into(),
        target: morgana_image::KERNEL_TARGET.into(),
        config,
        component: &precompiled,
        dirs: dirs
            .iter()
            .map(|(guest, dir)| morgana_image::PayloadDir {
                guest: guest.clone(),
                contents: match dir {
                    BakedDir::Archive(bytes) => morgana_image::DirContents::Archive(bytes),
                    BakedDir::Scratch(capacity) => morgana_image::DirContents::Scratch { capacity: *capacity },
                },
            })
            .collect(),
        keys: keys
            .iter()
            .map(|key| morgana_image::PayloadKey {
                name: key.name.clone(),
                certificate_pem: &key.certificate_pem,
                key_pem: &key.key_pem,
            })
            .collect(),
    };
    let image = morgana_aot::link_image(&kernel, &payload)?;
    let _ = std::fs::remove_file(&key_path);
    morgana_compose::write_atomically(&path, &image)?;
    std::fs::write(&key_path, key).with_context(|| format!("cannot write {}", key_path.display()))?;
    report::step(
        "Wrote",
        &format!(
            "{} ({}: kernel {}, component {})",
            path.display(),
            human_size(image.len() as u64),
            human_size(kernel.len() as u64),
            human_size(precompiled.len() as u64)
        ),
    );
    Ok(path)
}

/// A `[dirs]` entry as an image carries it.
enum BakedDir {
    /// A read-only copy: the directory's archive.
    Archive(Vec<u8>),
    /// An empty writable directory of at most this many bytes.
    Scratch(u64),
}

/// Archives the manifest's directories for the image, in order.
fn baked_dirs(dirs: &[DirSpec]) -> Result<Vec<(String, BakedDir)>> {
    let mut baked = Vec::new();
    for dir in dirs {
        let contents = match &dir.source {
            DirSource::Host { read_only: false, path } => bail!(
                "[dirs] \"{}\": {} is writable (read-only = false), but an image carries a read-only copy and the VM has nowhere to write back to; make it read-only, or use `scratch` for a writable directory in memory",
                dir.guest,
                path.display()
            ),
            DirSource::Host { path, .. } => BakedDir::Archive(archive(&dir.guest, path)?),
            DirSource::Scratch { bytes } => BakedDir::Scratch(*bytes),
        };
        baked.push((dir.guest.clone(), contents));
    }
    Ok(baked)
}

/// A `[keys]` entry as an image carries it: the PEM files as read, checked.
struct BakedKey {
    name: String,
    /// The public key's fingerprint: what identifies the key in the image's cache key.
    fingerprint: String,
    certificate_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

/// Reads the application's keys for the image, each checked as the kernel will check it. An
/// application that does not import `morgana:crypto/signing` gets none: a key goes into an
/// image only when something there can sign with it.
fn baked_keys(keys: &[KeySpec], info: &ComponentInfo) -> Result<Vec<BakedKey>> {
    let signs = info.imports.iter().any(|i| i.name.starts_with("morgana:crypto/signing@"));
    if !signs {
        if !keys.is_empty() {
            report::warning(
                "the application has [keys] but nothing in it signs (no morgana:crypto/signing import); the image carries no key",
            );
        }
        return Ok(Vec::new());
    }
    keys.iter()
        .map(|spec| {
            let KeySource::Files { certificate, key } = &spec.source else {
                bail!("key `{}` has no files; build the application with `morgana build` first", spec.name)
            };
            read_key(&spec.name, certificate, key)
        })
        .collect()
}

/// A key's files, checked as the kernel will check them, and read.
fn read_key(name: &str, certificate: &Path, key: &Path) -> Result<BakedKey> {
    let fingerprint = morgana_compose::keys::load(name, certificate, key)?.fingerprint_hex();
    let read = |path: &Path| std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    Ok(BakedKey { name: name.into(), fingerprint, certificate_pem: read(certificate)?, key_pem: read(key)? })
}

/// `--key` files for the kernel, checked here first (status 2 for a key that cannot be used).
fn sent_keys(options: &[String], payload: &morgana_image::Payload<'_>) -> Result<Vec<morgana_image::channel::SentKey>> {
    let specs = crate::keys::specs(&[], options)?;
    if !specs.is_empty() && !payload.config.host_interfaces.iter().any(|i| i == "morgana:crypto/signing") {
        report::warning("--key: nothing in this image signs (its kernel has no morgana:crypto); the key is not sent");
        return Ok(Vec::new());
    }
    specs
        .iter()
        .map(|spec| {
            let KeySource::Files { certificate, key } = &spec.source else { unreachable!("--key names files") };
            let read = read_key(&spec.name, certificate, key)?;
            Ok(morgana_image::channel::SentKey {
                name: read.name,
                certificate_pem: read.certificate_pem,
                key_pem: read.key_pem,
            })
        })
        .collect()
}

/// A directory's archive, saying what it left out.
fn archive(guest: &str, path: &Path) -> Result<Vec<u8>> {
    let (bytes, skipped) = morgana_compose::dirs::archive_dir(guest, path)?;
    for skip in skipped {
        report::warning(&format!("{} is left out of \"{guest}\": {}", skip.path.display(), skip.reason));
    }
    Ok(bytes)
}

/// Boot parameters for a static network configuration, checked.
fn static_network(address: &str, gateway: Option<&str>, dns: &[String]) -> Result<BootParams> {
    let mut tokens = vec![format!("ip={address}")];
    tokens.extend(gateway.map(|g| format!("gateway={g}")));
    tokens.extend(dns.iter().map(|d| format!("dns={d}")));
    let params = BootParams::parse(&tokens.join(" ")).map_err(|e| anyhow::anyhow!("{e}"))?;
    if !params.unknown.is_empty() {
        bail!("`{}` is not an address", params.unknown.join(" "));
    }
    Ok(params)
}

/// The interfaces the kernel is built with: its packages' interfaces, less TCP or UDP when
/// only the other was asked for.
fn linked_interfaces(features: &[String]) -> Vec<String> {
    let has = |feature: &str| features.iter().any(|f| f == feature);
    morgana_compose::host::interfaces_of(&morgana_aot::kernel::packages_of(features))
        .into_iter()
        .filter(|i| !i.starts_with("wasi:sockets/tcp") || has("wasi-sockets-tcp"))
        .filter(|i| !i.starts_with("wasi:sockets/udp") || has("wasi-sockets-udp"))
        .collect()
}

fn image_key(
    kernel: &[u8],
    component: &[u8],
    config: &BootConfig,
    app: &AppInfo,
    dirs: &[(String, BakedDir)],
    keys: &[BakedKey],
) -> String {
    let mut text = format!("{config:?} {} {}", app.name, morgana_image::WASMTIME_VERSION);
    text.push_str(&format!(" {:016x}", morgana_image::fnv1a(kernel)));
    for (guest, dir) in dirs {
        match dir {
            BakedDir::Archive(bytes) => text.push_str(&format!(" {guest}={:016x}", morgana_image::fnv1a(bytes))),
            BakedDir::Scratch(capacity) => text.push_str(&format!(" {guest}=scratch:{capacity}")),
        }
    }
    for key in keys {
        let chain = morgana_image::fnv1a(&key.certificate_pem);
        text.push_str(&format!(" key:{}={}:{chain:016x}", key.name, key.fingerprint));
    }
    format!("{text} {:016x}\n", morgana_image::fnv1a(component))
}

/// Boots the image and returns the status `morgana` should exit with. `args` and `env` come on
/// top of what the image has baked in.
pub fn run(
    image: &Path,
    argv0: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    options: &RunOptions,
) -> Result<u8> {
    let file = morgana_aot::read_image(image)?;
    let payload = file.payload()?;
    if payload.wasmtime_version != morgana_image::WASMTIME_VERSION || payload.target != morgana_image::KERNEL_TARGET {
        bail!(
            "{} was built for wasmtime {} on {}, but this morgana runs wasmtime {} on {}; rebuild it with `morgana build --target qemu`",
            image.display(),
            payload.wasmtime_version,
            payload.target,
            morgana_image::WASMTIME_VERSION,
            morgana_image::KERNEL_TARGET
        );
    }
    let memory_mib = options.memory.or(payload.config.memory_mib).unwrap_or(DEFAULT_MEMORY_MIB);
    // The image, then the smallest heap the kernel starts with (4 MiB); what the application
    // needs beyond that, the kernel reports if it runs out.
    let needed_mib = morgana_aot::elf::memory_end(&file.bytes)?.div_ceil(1 << 20) + 4;
    if memory_mib < needed_mib {
        bail!(
            "{memory_mib} MiB of memory cannot hold this image and a heap; give the VM at least {needed_mib} MiB (--memory {needed_mib}M)"
        );
    }
    let network = match &options.ip {
        Some(address) => static_network(address, options.gateway.as_deref(), &options.dns)?,
        None if options.gateway.is_some() || !options.dns.is_empty() => bail!("--gateway and --dns go with --ip"),
        None => BootParams::default(),
    };
    let serves_http = payload.config.serves_http;
    if serves_http && (!options.listen.is_ipv4() || options.listen.port() == 0) {
        bail!(
            "--listen {}: QEMU forwards an IPv4 address and a port to the VM; give one such as 127.0.0.1:8080",
            options.listen
        );
    }
    if !serves_http && options.listen != crate::DEFAULT_LISTEN.parse().expect("a socket address") {
        report::note("--listen applies to a wasi:http handler; this application is not one");
    }
    let reuse = u32::try_from(options.max_instance_reuse_count).ok().filter(|n| *n > 0);
    if serves_http && reuse.is_none() {
        bail!("--max-instance-reuse-count {}: give a count from 1 to {}", options.max_instance_reuse_count, u32::MAX);
    }
    let params = BootParams {
        http_listen: serves_http.then_some(options.listen),
        http_instance_reuse: reuse.filter(|n| serves_http && *n > 1),
        timeout_ms: options.timeout,
        wall_clock: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs()),
        verbose: options.verbose,
        console_channel: true,
        ..network
    };
    let command_line = params.encode();
    if command_line.len() > MAX_COMMAND_LINE {
        bail!(
            "the kernel command line would be {} bytes, more than the {MAX_COMMAND_LINE} the kernel reads; shorten the network settings",
            command_line.len()
        );
    }
    // Arguments, environment and `--dir` copies travel over the console channel, whatever
    // their size; what the VM's memory cannot hold is refused here rather than lost there.
    let mut dirs = Vec::new();
    for dir in &options.dirs {
        let (host, guest) = crate::parse_dir(dir);
        dirs.push((guest.to_string(), archive(guest, Path::new(host))?));
    }
    if !dirs.is_empty() {
        report::note("on the qemu target, --dir gives the VM a read-only copy of the directory");
    }
    let keys = sent_keys(&options.keys, &payload)?;
    let start = Start { argv0, args, env, dirs, keys };
    let start_len: usize = start.args.iter().map(String::len).sum::<usize>()
        + start.env.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>()
        + start.dirs.iter().map(|(_, archive)| archive.len()).sum::<usize>();
    if start_len > morgana_image::channel::MAX_START || (start_len as u64) * 4 > memory_mib << 20 {
        bail!(
            "the arguments, environment and --dir copies take {}, too much for a VM with {memory_mib} MiB of memory; give it more (--memory) or pass less",
            morgana_compose::human_size(start_len as u64)
        );
    }
    let scratch: u64 = payload
        .dirs
        .iter()
        .map(|d| match d.contents {
            morgana_image::DirContents::Scratch { capacity } => capacity,
            morgana_image::DirContents::Archive(_) => 0,
        })
        .sum();
    if scratch > (memory_mib << 20) / 2 {
        bail!(
            "the scratch directories may hold {}, more than half the VM's {memory_mib} MiB of memory; give it more (--memory {}M) or make them smaller",
            morgana_compose::human_size(scratch),
            (scratch >> 20) * 2 + needed_mib
        );
    }
    let mut ports = Vec::new();
    for text in payload.config.ports.iter().chain(&options.publish) {
        ports.push(PortForward::parse(text).ok_or_else(|| {
            anyhow::anyhow!("`{text}` is not a port forward; write [ADDRESS:]HOST:GUEST[/udp], e.g. 8080:80")
        })?);
    }
    if serves_http {
        ports.push(PortForward {
            udp: false,
            host_address: options.listen.ip().to_string(),
            host_port: options.listen.port(),
            guest_port: options.listen.port(),
        });
    }
    let wants_network = serves_http || payload.config.host_interfaces.iter().any(|i| i.starts_with("wasi:sockets/"));
    let network = network_args(&options.net, &ports, wants_network, options.machine)?;
    let mut qemu = Command::new("qemu-system-x86_64");
    qemu.args(options.machine.args())
        .args(["-nodefaults", "-no-user-config", "-display", "none", "-no-reboot"])
        .args(["-m", &format!("{memory_mib}M")])
        .args(accel_args(options.accel))
        .args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"])
        .args(&network)
        // The console channel: the application's standard streams, arguments and environment,
        // over a virtio-console port that is QEMU's standard input and output, pipes of ours.
        // A serial port, not a console one: QEMU drops what a console port cannot write at once.
        .args(["-chardev", "stdio,id=channel,signal=off"])
        .args(["-device", &options.machine.virtio_device("serial")])
        .args(["-device", "virtserialport,chardev=channel,name=org.morgana.channel"])
        // COM2, the kernel's messages: QEMU's stderr, a pipe we copy to ours (a pipe, so
        // QEMU reopening it cannot write at an offset of its own into a file we also write).
        .args(["-chardev", "file,id=err,path=/proc/self/fd/2"])
        .args(["-device", "isa-serial,chardev=err,iobase=0x2f8,irq=3"])
        .arg("-kernel")
        .arg(image)
        .args(["-append", &command_line])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = qemu.spawn().map_err(|e| {
        anyhow::anyhow!(
            "cannot start qemu-system-x86_64: {e}; install QEMU (Debian: `apt-get install qemu-system-x86`)"
        )
    })?;
    // If morgana is told to stop (SIGINT, SIGTERM, SIGHUP), the VM stops with it. A served
    // wasi:http handler runs until then, so that is its normal end (status 0, as on unix).
    let qemu_pid = child.id().to_string();
    let stopped_status = if serves_http { 0 } else { 143 };
    let _ = ctrlc::set_handler(move || {
        let _ = Command::new("kill").args(["-s", "KILL", "--", &qemu_pid]).status();
        std::process::exit(stopped_status);
    });
    let mut qemu_stderr = child.stderr.take().expect("stderr is piped");
    let copier = std::thread::spawn(move || std::io::copy(&mut qemu_stderr, &mut std::io::stderr()));
    let stdin = if payload.config.stdin_null { StdinSource::Null } else { StdinSource::Inherit };
    let console = channel::attach(
        child.stdin.take().expect("stdin is piped"),
        child.stdout.take().expect("stdout is piped"),
        start,
        stdin,
    );
    let status = child.wait().context("waiting for QEMU")?;
    let _ = copier.join();
    let exit_status = console.finish().unwrap_or_else(|error| {
        report::warning(&error);
        None
    });
    let Some(code) = status.code() else {
        bail!("QEMU was killed by a signal ({status})");
    };
    Ok(match exit::kernel_status(code) {
        // The channel carries the application's status whole; QEMU's exit device only part.
        Some(status) if status < exit::FIRST_RESERVED => exit_status.unwrap_or(status),
        Some(exit::TRAP) => morgana_unix::TRAP_EXIT_STATUS as u8,
        Some(exit::TIMEOUT) => morgana_unix::TIMEOUT_EXIT_STATUS as u8,
        Some(exit::KERNEL_PANIC | exit::CPU_EXCEPTION | exit::STACK_OVERFLOW) => KERNEL_FAILURE,
        Some(_) => FAILURE, // the kernel said why on standard error
        None if code == 0 => {
            report::error(&anyhow::anyhow!(
                "the VM stopped without reporting a status (a triple fault or a reset); run with --verbose to see how far it got"
            ));
            KERNEL_FAILURE
        }
        None => {
            report::error(&anyhow::anyhow!("QEMU failed with status {code} (its message is above)"));
            FAILURE
        }
    })
}

/// How the VM is attached to a network (`--net`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetMode {
    /// QEMU user networking with port forwards: no root needed (the default).
    User,
    /// A tap device on the host, e.g. one in a network namespace the caller set up.
    Tap(String),
    /// No network device.
    None,
}

impl std::str::FromStr for NetMode {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "user" => Ok(NetMode::User),
            "none" => Ok(NetMode::None),
            _ => match text.strip_prefix("tap=") {
                Some(name) if !name.is_empty() && !name.contains(',') => Ok(NetMode::Tap(name.to_string())),
                _ => Err(format!("`{text}` is not a network; write user, tap=NAME or none")),
            },
        }
    }
}

/// QEMU's arguments for the network device; none when the application has no network and
/// nothing asks for one.
fn network_args(mode: &NetMode, ports: &[PortForward], wants_network: bool, machine: Machine) -> Result<Vec<String>> {
    let device = ["-device".to_string(), format!("{},netdev=net0", machine.virtio_device("net"))];
    match mode {
        NetMode::None => {
            if !ports.is_empty() {
                bail!("ports are published but --net none gives the VM no network");
            }
            Ok(Vec::new())
        }
        NetMode::Tap(name) => {
            if !ports.is_empty() {
                bail!(
                    "ports are forwarded by QEMU user networking; with --net tap={name}, reach the VM at its own address instead"
                );
            }
            Ok([vec!["-netdev".into(), format!("tap,id=net0,ifname={name},script=no,downscript=no")], device.to_vec()]
                .concat())
        }
        NetMode::User if !wants_network && ports.is_empty() => Ok(Vec::new()),
        NetMode::User => {
            let mut netdev = "user,id=net0".to_string();
            for p in ports {
                let protocol = if p.udp { "udp" } else { "tcp" };
                netdev.push_str(&format!(",hostfwd={protocol}:{}:{}-:{}", p.host_address, p.host_port, p.guest_port));
            }
            Ok([vec!["-netdev".into(), netdev], device.to_vec()].concat())
        }
    }
}

fn accel_args(accel: Accel) -> Vec<&'static str> {
    let kvm = match accel {
        Accel::Tcg => false,
        Accel::Kvm => true,
        Accel::Auto => hardware_kvm(),
    };
    if kvm { vec!["-accel", "kvm", "-cpu", "host"] } else { vec!["-accel", "tcg", "-cpu", "max"] }
}

/// Hardware virtualization: a KVM module for a real CPU is loaded and /dev/kvm is usable.
/// (Software-nested KVM modules run guests far slower than TCG.)
fn hardware_kvm() -> bool {
    let hardware_module = Path::new("/sys/module/kvm_intel").exists() || Path::new("/sys/module/kvm_amd").exists();
    hardware_module && std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_devices_follow_the_mode_and_the_ports() {
        let ports = [PortForward::parse("8080:80").unwrap(), PortForward::parse("0.0.0.0:5353:53/udp").unwrap()];
        let microvm = Machine::Microvm;
        let user = network_args(&NetMode::User, &ports, true, microvm).unwrap().join(" ");
        assert!(user.contains("hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=udp:0.0.0.0:5353-:53"), "{user}");
        assert!(user.contains("virtio-net-device,netdev=net0"), "{user}");
        let q35 = network_args(&NetMode::User, &ports, true, Machine::Q35).unwrap().join(" ");
        assert!(q35.contains("virtio-net-pci,disable-legacy=on,netdev=net0"), "{q35}");
        assert!(network_args(&NetMode::User, &[], false, microvm).unwrap().is_empty());
        let tap = network_args(&NetMode::Tap("tap0".into()), &[], true, microvm).unwrap().join(" ");
        assert!(tap.contains("tap,id=net0,ifname=tap0,script=no,downscript=no"), "{tap}");
        assert!(network_args(&NetMode::None, &ports, true, microvm).is_err());
        assert!(network_args(&NetMode::Tap("tap0".into()), &ports, true, microvm).is_err());
        assert_eq!("tap=t1".parse::<NetMode>(), Ok(NetMode::Tap("t1".into())));
        assert!("tap=".parse::<NetMode>().is_err());
    }
}
