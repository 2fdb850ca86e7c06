//! `morgana`: build single-purpose virtual machines out of WebAssembly components.
//!
//! The CLI only parses what the user typed and calls the pipeline crates: `morgana-compose`
//! (manifest → one component) and the target hosts (`morgana-unix` runs it under wasmtime).

#![forbid(unsafe_code)]

mod input;
mod inspect;
mod report;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};

use input::Input;

/// Status of `morgana` itself failing (bad input, build failure), as opposed to the status of
/// the application it ran.
const FAILURE: u8 = 2;

#[derive(Parser)]
#[command(
    name = "morgana",
    version,
    about = "Build single-purpose virtual machines out of WebAssembly components",
    long_about = "Build single-purpose virtual machines out of WebAssembly components.\n\n\
        An application is described by a manifest, unikernel.toml: the application's component \
        and the library components it needs, wired together by the interfaces they import and \
        export. `morgana run` builds the composition and runs it; `--target unix` runs it as a \
        process under wasmtime.\n\n\
        MANIFEST may be a unikernel.toml, a directory holding one, or a component file (.wasm). \
        Without it, morgana uses ./unikernel.toml, or the default example (examples/hello) when \
        there is none.",
    after_help = "Examples:\n  morgana run examples/hello -- a b\n  morgana run examples/kv-demo\n  \
        morgana build examples/kv-demo && morgana inspect examples/kv-demo/target/morgana/kv-demo.wasm\n\n\
        Exit status: `run` exits with the application's status; 2 means morgana itself failed."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compose the manifest's components into one component for a target
    #[command(long_about = "Compose the manifest's components into one component for a target.\n\n\
        Cargo crates are built for wasm32-wasip2 in release (incrementally), [kv.NAME] directories \
        are baked into generated morgana:kv/store components, and imports are wired to exports. \
        The result is written to target/morgana/NAME.wasm beside the manifest. Given a component \
        file, checks that the target can run it.")]
    Build {
        /// unikernel.toml, a directory holding one, or a component file
        manifest: Option<PathBuf>,
        /// Where the composition will run
        #[arg(long, value_enum, default_value_t = Target::Unix)]
        target: Target,
        /// Write the composed component here instead of target/morgana/NAME.wasm
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Build if needed, then run the application
    Run {
        /// unikernel.toml, a directory holding one, or a component file
        manifest: Option<PathBuf>,
        /// Where to run it
        #[arg(long, value_enum, default_value_t = Target::Unix)]
        target: Target,
        /// Set an environment variable for the application (overrides the manifest's [env]);
        /// `--env NAME` passes this process's value of NAME
        #[arg(long = "env", value_name = "NAME[=VALUE]")]
        env: Vec<String>,
        /// Let the application use this machine's network, even if the manifest does not
        #[arg(long)]
        network: bool,
        /// Arguments for the application
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Show what a component or manifest is made of: imports, exports, sizes, wiring
    Inspect {
        /// A component file, unikernel.toml, or a directory holding one
        file: Option<PathBuf>,
    },
}

/// Where a composition runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Target {
    /// A process on this machine, under wasmtime
    Unix,
}

impl Target {
    fn host(self) -> morgana_compose::HostInterfaces {
        match self {
            Target::Unix => morgana_compose::HostInterfaces {
                target: "unix",
                interfaces: morgana_unix::HOST_INTERFACES,
                version_line: morgana_unix::HOST_VERSION_LINE,
            },
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
        Command::Build { manifest, target, output } => {
            let input = Input::locate(manifest.as_deref())?;
            build(&input, target, output)?;
            Ok(0)
        }
        Command::Run { manifest, target, env, network, args } => {
            let input = Input::locate(manifest.as_deref())?;
            let overrides = parse_env(&env)?;
            let (bytes, info) = build(&input, target, None)?;
            run(target, &bytes, info, overrides, network, args)
        }
        Command::Inspect { file } => {
            let input = Input::locate(file.as_deref())?;
            inspect::print(&input, Target::Unix.host())?;
            Ok(0)
        }
    }
}

/// Produces the component to run: composes a manifest, or checks a component file.
fn build(input: &Input, target: Target, output: Option<PathBuf>) -> Result<(Vec<u8>, Option<morgana_compose::AppInfo>)> {
    let host = target.host();
    match input {
        Input::Manifest(manifest) => {
            let parts = morgana_compose::load_parts(manifest, &mut |status, step| report::step(status, &step))?;
            report::step("Composing", &format!("`{}` for the {} target", manifest.name, host.target));
            let composition = morgana_compose::compose(manifest, &parts, &host)?;
            for unused in &composition.unused {
                report::warning(&format!("component `{unused}` is not used by the application; it is left out"));
            }
            let path = output.unwrap_or_else(|| morgana_compose::output_path(manifest));
            morgana_compose::write_atomically(&path, &composition.bytes)?;
            report::step(
                "Wrote",
                &format!("{} ({})", path.display(), morgana_compose::human_size(composition.bytes.len() as u64)),
            );
            Ok((composition.bytes, Some(composition.info)))
        }
        Input::Component(path) => {
            let (bytes, info) = input::read_component(path)?;
            if let Some(import) = info.imports.iter().find(|i| !host.provides(&i.name)) {
                bail!(
                    "{} imports `{}`, which the `{}` target does not provide: {}",
                    path.display(),
                    import.name,
                    host.target,
                    morgana_compose::wiring::unsatisfied_hint(&[], &import.name, &host)
                );
            }
            if let Some(output) = output {
                morgana_compose::write_atomically(&output, &bytes)?;
            }
            let app = morgana_compose::AppInfo::read_from(&bytes)?;
            Ok((bytes, app))
        }
    }
}

fn run(
    target: Target,
    bytes: &[u8],
    info: Option<morgana_compose::AppInfo>,
    overrides: Vec<(String, String)>,
    network: bool,
    args: Vec<String>,
) -> Result<u8> {
    let (program, mut env, baked_network) = match info {
        Some(info) => (info.name, info.env, info.network),
        None => ("app".to_string(), Vec::new(), false),
    };
    for (key, value) in overrides {
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
    }
    match target {
        Target::Unix => {
            let runner = morgana_unix::Runner::new()?;
            let config = morgana_unix::RunConfig { program, args, env, network: network || baked_network };
            let exit = runner.run(bytes, &config)?;
            if let morgana_unix::Exit::Trap { message, backtrace } = &exit {
                report::trap(message, backtrace.as_deref());
            }
            Ok(u8::try_from(exit.status()).unwrap_or(FAILURE))
        }
    }
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
