//! `morgana`: build single-purpose virtual machines out of WebAssembly components.
//!
//! The CLI only parses what the user typed and calls the pipeline crates: `morgana-compose`
//! (manifest → one component), `morgana-aot` (component → bootable image) and the target
//! hosts (`morgana-unix` runs a component under wasmtime; QEMU boots an image).

#![forbid(unsafe_code)]

mod channel;
mod compose;
mod input;
mod inspect;
mod keys;
mod qemu;
mod report;
mod unix;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};

use input::Input;

/// Status of `morgana` itself failing (bad input, build failure, an image that cannot run),
/// as opposed to the status of the application it ran.
const FAILURE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "morgana",
    version,
    about = "Build single-purpose virtual machines out of WebAssembly components",
    long_about = "Build single-purpose virtual machines out of WebAssembly components.\n\n\
        An application is described by a manifest, unikernel.toml: the application's component \
        and the library components it needs, wired together by the interfaces they import and \
        export. `morgana run` builds the composition and runs it: `--target unix` as a process \
        under wasmtime, `--target qemu` as a virtual machine (the component compiled ahead of \
        time into a small kernel, booted by QEMU).\n\n\
        MANIFEST may be a unikernel.toml, a directory holding one, a component file (.wasm or \
        .wat) or, for the qemu target, an image built by `morgana build --target qemu`. Without \
        it, morgana uses ./unikernel.toml, or the default example (examples/hello) when there is \
        none.",
    after_help = "Examples:\n  morgana run examples/hello -- a b\n  morgana run examples/hello --target qemu\n  \
        morgana run examples/kv-demo\n  morgana build examples/kv-demo --target qemu\n  \
        morgana inspect examples/kv-demo/target/morgana/kv-demo.img\n\n\
        Exit status: `run` exits with the application's status; 134 when it trapped, 124 when \
        its timeout stopped it, 125 when the kernel failed, and 2 when morgana itself failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compose the manifest's components into one component, or a bootable image
    #[command(long_about = "Compose the manifest's components into one component for a target.\n\n\
        Cargo crates are built for wasm32-wasip2 in release (incrementally), [kv.NAME] directories \
        are baked into generated morgana:kv/store components, and imports are wired to exports. \
        The composed component is written to target/morgana/NAME.wasm beside the manifest. With \
        --target qemu, it is then compiled ahead of time and linked with a kernel that has only \
        the host interfaces it imports, into target/morgana/NAME.img, bootable with \
        `qemu-system-x86_64 -kernel`.")]
    Build {
        /// unikernel.toml, a directory holding one, or a component file
        manifest: Option<PathBuf>,
        #[command(flatten)]
        build: BuildOptions,
        /// Write the result here instead of target/morgana/NAME.{wasm,img}
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Build if needed, then run the application
    Run {
        /// unikernel.toml, a directory holding one, a component file, or an image
        manifest: Option<PathBuf>,
        #[command(flatten)]
        build: BuildOptions,
        #[command(flatten)]
        run: RunOptions,
        /// Arguments for the application
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Show what a component, image or manifest is made of
    #[command(long_about = "Show what a component, image or manifest is made of.\n\n\
        A component: its size, imports (and whether the target provides each), exports, and \
        what `morgana build` baked into it. An image: kernel and component sizes, the host \
        interfaces linked into the kernel, the baked configuration, the wasmtime version and \
        target it was compiled for. A manifest: its components, their sizes, and the wiring.")]
    Inspect {
        /// A component, an image, unikernel.toml, or a directory holding one
        file: Option<PathBuf>,
        /// Check imports against this target's host
        #[arg(long, value_enum, default_value_t = Target::Unix)]
        target: Target,
    },
}

#[derive(Args, Clone)]
struct BuildOptions {
    /// Where the composition will run
    #[arg(long, value_enum, default_value_t = Target::Unix)]
    target: Target,
    /// qemu target: build the kernel with the size-optimised profile
    #[arg(long)]
    small: bool,
}

/// Where a wasi:http handler is served unless `--listen` says otherwise (`wasmtime serve`'s).
const DEFAULT_LISTEN: &str = "0.0.0.0:8080";

#[derive(Args, Clone)]
struct RunOptions {
    /// Set an environment variable for the application (overrides the manifest's [env]);
    /// `--env NAME` passes this process's value of NAME
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    env: Vec<String>,
    /// Let the application use this machine's network, even if the manifest does not
    #[arg(long)]
    network: bool,
    /// Preopen a directory of this machine for the application, as `wasmtime run --dir`
    /// (GUEST defaults to HOST): read-write on unix; on qemu a read-only copy
    #[arg(long = "dir", value_name = "HOST[::GUEST]")]
    dirs: Vec<String>,
    /// Give the host a TLS key to sign with for the application's TLS component (adds to, or
    /// replaces by name, the manifest's [keys]): PEM files of the certificate chain, leaf
    /// first, and the private key; one file may hold both
    #[arg(long = "key", value_name = "NAME=CERT[,KEY]")]
    keys: Vec<String>,
    /// For a component that exports `wasi:http/incoming-handler` (a `wasi:http` proxy, as
    /// `wasmtime serve` serves): the address to serve HTTP on (qemu target: QEMU forwards it to
    /// the same port of the VM)
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: std::net::SocketAddr,
    /// For a served wasi:http handler: requests one instance serves, one after another, before
    /// it is dropped (1, the default: a fresh instance per request, as `wasmtime serve` does for
    /// wasi:http 0.2)
    #[arg(long, value_name = "N", default_value_t = 1)]
    max_instance_reuse_count: usize,
    /// The application's `argv[0]` (by default the composed component's file name, as
    /// `wasmtime run` gives it)
    #[arg(long, value_name = "NAME")]
    argv0: Option<String>,
    /// Stop the application after this long (e.g. 500ms, 30s, 5m); overrides [run] timeout.
    /// For a served wasi:http handler: how long each request may take
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    timeout: Option<u64>,
    /// qemu target: the VM's memory (e.g. 64M, 1G); overrides [run] memory
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,
    /// qemu target: the accelerator; auto uses KVM only on hardware virtualization
    #[arg(long, value_enum, default_value_t = qemu::Accel::Auto)]
    accel: qemu::Accel,
    /// qemu target: the machine QEMU emulates: microvm (virtio-mmio devices, fastest boot) or
    /// q35 (a PC with firmware and PCI: virtio-pci devices)
    #[arg(long, value_enum, default_value_t = qemu::Machine::Microvm)]
    machine: qemu::Machine,
    /// qemu target: the kernel reports its boot steps with timestamps on standard error
    #[arg(long)]
    verbose: bool,
    /// qemu target: forward a host port to the VM, `[ADDRESS:]HOST:GUEST[/udp]` (the address
    /// defaults to 127.0.0.1); adds to the manifest's [run] ports
    #[arg(long = "publish", short = 'p', value_name = "PORTS")]
    publish: Vec<String>,
    /// qemu target: the VM's network: `user` (QEMU user networking, the default), `tap=NAME`
    /// (an existing tap device), or `none`
    #[arg(long, value_name = "MODE", default_value = "user")]
    net: qemu::NetMode,
    /// qemu target: a static address for the VM instead of DHCP, ADDRESS/PREFIX (e.g. 10.0.0.2/24)
    #[arg(long, value_name = "ADDRESS/PREFIX")]
    ip: Option<String>,
    /// qemu target: the default gateway, with --ip
    #[arg(long, value_name = "ADDRESS")]
    gateway: Option<String>,
    /// qemu target: a DNS server, with --ip (repeatable)
    #[arg(long, value_name = "ADDRESS")]
    dns: Vec<String>,
}

/// Where a composition runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Target {
    /// A process on this machine, under wasmtime
    Unix,
    /// A virtual machine under QEMU (x86-64, microvm)
    Qemu,
}

impl Target {
    fn host(self) -> morgana_compose::HostInterfaces {
        match self {
            Target::Unix => morgana_compose::HostInterfaces { target: "unix", packages: morgana_unix::HOST_PACKAGES },
            Target::Qemu => {
                morgana_compose::HostInterfaces { target: "qemu", packages: morgana_aot::kernel::HOST_PACKAGES }
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli.command) {
        Ok(status) => ExitCode::from(status),
        Err(error) => {
            report::error(&error);
            ExitCode::from(FAILURE)
        }
    }
}

fn execute(command: Command) -> Result<u8> {
    match command {
        Command::Build { manifest, build, output } => {
            let input = Input::locate(manifest.as_deref())?;
            match build.target {
                Target::Unix => {
                    compose::component(&input, build.target.host(), output)?;
                }
                Target::Qemu => {
                    qemu::build_image(&input, build.small, output)?;
                }
            }
            Ok(0)
        }
        Command::Run { manifest, build, run, args } => {
            let input = Input::locate(manifest.as_deref())?;
            let env = parse_env(&run.env)?;
            match build.target {
                Target::Unix => {
                    if matches!(input, Input::Image(_)) {
                        bail!("an image runs on the qemu target; add --target qemu");
                    }
                    let argv0 = run.argv0.clone().or_else(|| input.default_argv0());
                    let (bytes, app) = compose::component(&input, build.target.host(), None)?;
                    unix::run(&bytes, app, argv0, env, args, &run)
                }
                Target::Qemu => {
                    let argv0 = run.argv0.clone().or_else(|| input.default_argv0());
                    let image = qemu::build_image(&input, build.small, None)?;
                    qemu::run(&image, argv0, env, args, &run)
                }
            }
        }
        Command::Inspect { file, target } => {
            let input = Input::locate(file.as_deref())?;
            inspect::print(&input, target.host())?;
            Ok(0)
        }
    }
}

fn parse_duration(text: &str) -> Result<u64, String> {
    morgana_compose::manifest::parse_duration_ms(text)
        .ok_or_else(|| format!("`{text}` is not a duration; write e.g. 500ms, 30s or 5m"))
}

fn parse_size(text: &str) -> Result<u64, String> {
    morgana_compose::manifest::parse_size_mib(text)
        .ok_or_else(|| format!("`{text}` is not a memory size; write e.g. 64M or 1G"))
}

/// `NAME=VALUE`, or `NAME` to pass this process's value.
fn parse_env(pairs: &[String]) -> Result<Vec<(String, String)>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.is_empty() => bail!("--env {pair}: the variable name is empty"),
            Some((name, value)) => Ok((name.to_string(), value.to_string())),
            None => {
                let value = std::env::var(pair).with_context(|| {
                    format!("--env {pair}: {pair} is not set here; write --env {pair}=VALUE to give it a value")
                })?;
                Ok((pair.clone(), value))
            }
        })
        .collect()
}

/// `--dir HOST[::GUEST]` as wasmtime reads it: the guest path is the host's when not given.
fn parse_dir(text: &str) -> (&str, &str) {
    text.split_once("::").unwrap_or((text, text))
}

/// Baked environment with command-line values laid over it.
fn merge_env(baked: Vec<(String, String)>, overrides: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut env = baked;
    for (key, value) in overrides {
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
    }
    env
}
