//! Running on the unix target: the composed component under wasmtime, as this process: its
//! `wasi:cli/run`, or, for a `wasi:http/incoming-handler`, an HTTP server calling it.

use std::time::Duration;

use anyhow::Result;
use morgana_compose::AppInfo;
use morgana_compose::manifest::DirSource;

use crate::{FAILURE, RunOptions, merge_env, report};

pub fn run(
    bytes: &[u8],
    app: Option<AppInfo>,
    argv0: Option<String>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    options: &RunOptions,
) -> Result<u8> {
    let app = app.unwrap_or_else(|| AppInfo::unnamed("app"));
    // Scratch directories live as long as the run.
    let mut scratch = Vec::new();
    let mut preopens = Vec::new();
    for dir in &app.dirs {
        let (host, read_only) = match &dir.source {
            DirSource::Host { path, read_only } => (path.clone(), *read_only),
            DirSource::Scratch { .. } => {
                let temp = tempfile::Builder::new().prefix("morgana-scratch-").tempdir()?;
                let path = temp.path().to_path_buf();
                scratch.push(temp);
                (path, false)
            }
        };
        preopens.push(morgana_unix::Preopen { host, guest: dir.guest.clone(), read_only });
    }
    for dir in &options.dirs {
        let (host, guest) = crate::parse_dir(dir);
        preopens.push(morgana_unix::Preopen { host: host.into(), guest: guest.into(), read_only: false });
    }
    let program = argv0.unwrap_or_else(|| format!("{}.wasm", app.name));
    let env = merge_env(app.env.clone(), env);
    let network = options.network || app.network;
    let timeout = options.timeout.or(app.timeout_ms).map(Duration::from_millis);
    let keys = crate::keys::load(&crate::keys::specs(&app.keys, &options.keys)?)?;
    if !options.publish.is_empty() {
        report::note(
            "-p/--publish applies to the qemu target; on unix the application listens on this machine's ports directly",
        );
    }
    let exports = morgana_compose::ComponentInfo::read(bytes)?.exports;
    if morgana_unix::is_http_handler(exports.iter().map(|e| e.name.as_str())) {
        if !args.is_empty() {
            report::note("a served wasi:http handler takes no arguments; the ones given are ignored");
        }
        let config = morgana_unix::ServeConfig {
            listen: options.listen,
            program,
            env,
            preopens,
            network,
            timeout,
            keys,
            max_instance_reuse: options.max_instance_reuse_count,
        };
        morgana_unix::serve(bytes, config)?;
        return Ok(0);
    }
    let config = morgana_unix::RunConfig {
        program,
        stdin: app.stdin == morgana_compose::manifest::StdinMode::Inherit,
        preopens,
        args,
        env,
        network,
        timeout,
        keys,
    };
    let exit = morgana_unix::Runner::new()?.run(bytes, config)?;
    match &exit {
        morgana_unix::Exit::Trap { message, backtrace } => report::trap(message, backtrace.as_deref()),
        morgana_unix::Exit::Timeout(timeout) => eprintln!("{}", morgana_unix::timeout_message(*timeout)),
        morgana_unix::Exit::HostError(message) => report::application_failed(message),
        morgana_unix::Exit::Status(_) => {}
    }
    Ok(u8::try_from(exit.status()).unwrap_or(FAILURE))
}
