//! Morgana's `unix` target: runs a composed component's `wasi:cli/run` as an ordinary process,
//! under wasmtime with wasmtime-wasi's WASI 0.2 host.
//!
//! It promises what `wasmtime run` promises for the same component: the same host interfaces
//! ([`HOST_PACKAGES`]), standard streams inherited, arguments and environment as given, the
//! exit status as wasmtime reports it (`wasi:cli/exit` carries ok or err, so 0 or 1), a trap
//! reported with its message and wasm backtrace and status [`TRAP_EXIT_STATUS`], and a host
//! function's error (poll on an empty list, say) reported with status
//! [`HOST_ERROR_EXIT_STATUS`]. The
//! network is reachable only when the caller allows it; directories are preopened as the caller
//! lists them ([`Preopen`]), read-only ones refusing every change.
//!
//! Besides WASI, it provides `wasi:http` (wasmtime-wasi-http: outgoing requests, as `wasmtime
//! run -Shttp`) and `morgana:crypto` over the keys the caller gives ([`RunConfig::keys`]): the
//! TLS component signs with them and never sees them.
//!
//! A component that exports `wasi:http/incoming-handler` instead of `wasi:cli/run` is served
//! over HTTP/1.1 by [`serve`], as `wasmtime serve` serves it.
//!
//! Compiled code is cached the way the wasmtime CLI caches it (`~/.cache/wasmtime`), so a
//! second run of the same component starts without compiling.

#![forbid(unsafe_code)]

mod serve;

pub use serve::{ERROR_PAGE, INCOMING_HANDLER, ServeConfig, is_http_handler, serve};

use morgana_keys::host::HostKeys;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

/// The WASI 0.2 packages this target's host provides (wasmtime-wasi and wasmtime-wasi-http 48,
/// any 0.2.x version), and Morgana's own.
pub const HOST_PACKAGES: &[&str] = &[
    "wasi:cli",
    "wasi:clocks",
    "wasi:filesystem",
    "wasi:io",
    "wasi:random",
    "wasi:sockets",
    "wasi:http",
    "morgana:crypto",
];

/// The status of a run that trapped, as the wasmtime CLI reports it on Unix (128 + SIGABRT).
pub const TRAP_EXIT_STATUS: i32 = 134;

/// The status of a run that a host function stopped with an error, as `wasmtime run` reports it.
pub const HOST_ERROR_EXIT_STATUS: i32 = 1;

/// The status of a run stopped by its timeout, as `timeout(1)` reports it.
pub const TIMEOUT_EXIT_STATUS: i32 = 124;

/// How to run a component.
#[derive(Debug, Default)]
pub struct RunConfig {
    /// `argv[0]` as the component sees it.
    pub program: String,
    /// The arguments after `argv[0]`.
    pub args: Vec<String>,
    /// Whether the component reads this process's standard input (else an empty one).
    pub stdin: bool,
    /// Directories of this machine the component finds preopened, in this order.
    pub preopens: Vec<Preopen>,
    /// Environment variables in order; a later value for the same name wins.
    pub env: Vec<(String, String)>,
    /// Whether the component may use the host's network (sockets and name lookup).
    pub network: bool,
    /// Stop the component after this long.
    pub timeout: Option<std::time::Duration>,
    /// The private keys `morgana:crypto/signing` signs with, in this order.
    pub keys: Vec<morgana_keys::Key>,
}

/// A directory of this machine given to the component, as `wasmtime run --dir HOST::GUEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preopen {
    pub host: std::path::PathBuf,
    /// Where the component finds it, e.g. `/data`.
    pub guest: String,
    /// Every change is refused (`not-permitted`), as wasmtime-wasi's `FsPerms::ReadOnly`.
    pub read_only: bool,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    /// The component returned from `run` or called `wasi:cli/exit`.
    Status(i32),
    /// The component ran past its timeout.
    Timeout(std::time::Duration),
    /// A host function failed in a way that stops the component without a trap (such as
    /// `poll` on an empty list, or dropping a resource that still has children): `wasmtime run`
    /// reports the error and exits with 1.
    HostError(String),
    /// The component trapped.
    Trap {
        /// What trapped, e.g. "wasm `unreachable` instruction executed".
        message: String,
        /// The wasm backtrace, one frame a line, when wasmtime captured one.
        backtrace: Option<String>,
    },
}

impl Exit {
    /// The status the `morgana` process should exit with.
    pub fn status(&self) -> i32 {
        match self {
            Exit::Status(status) => *status,
            Exit::Timeout(_) => TIMEOUT_EXIT_STATUS,
            Exit::HostError(_) => HOST_ERROR_EXIT_STATUS,
            Exit::Trap { .. } => TRAP_EXIT_STATUS,
        }
    }
}

/// Why a component could not be run at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("cannot set up wasmtime: {0}")]
    Engine(String),
    #[error("wasmtime cannot compile this component: {0}")]
    Compile(String),
    #[error(
        "the component does not export `wasi:cli/run`, so it is not a command this target can run; build it as a binary (`fn main`) for wasm32-wasip2"
    )]
    NotACommand,
    #[error("the unix host cannot satisfy this component's imports: {0}")]
    Link(String),
    #[error(
        "the component does not export `wasi:http/incoming-handler`, so there is nothing to serve; build it for the wasi:http/proxy world (e.g. `wasi::http::proxy::export!`)"
    )]
    NotAHandler,
    #[error("cannot listen on {addr}: {error}; choose another address with --listen")]
    Listen { addr: std::net::SocketAddr, error: String },
    #[error("cannot preopen {} as `{guest}`: {error}", host.display())]
    Preopen { host: std::path::PathBuf, guest: String, error: String },
}

/// A wasmtime engine configured for running components, reusable across runs.
pub struct Runner {
    engine: Engine,
}

impl Runner {
    pub fn new() -> Result<Self, RunError> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        config.wasm_backtrace_details(wasmtime::WasmBacktraceDetails::Enable);
        // Timeouts interrupt running wasm at the next epoch check.
        config.epoch_interruption(true);
        // The same compilation cache the wasmtime CLI uses; running without one is only slower.
        if let Ok(cache) = wasmtime::Cache::from_file(None) {
            config.cache(Some(cache));
        }
        // For `perf`: MORGANA_PERFMAP=1 writes /tmp/perf-PID.map naming the compiled wasm
        // functions, as `wasmtime run --profile=perfmap` does (cargo feature `profiling`).
        #[cfg(feature = "profiling")]
        if std::env::var_os("MORGANA_PERFMAP").is_some() {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config).map_err(|e| RunError::Engine(format!("{e:#}")))?;
        Ok(Runner { engine })
    }

    /// Compiles (or loads from the cache) and runs the component's `wasi:cli/run`.
    pub fn run(&self, component: &[u8], config: RunConfig) -> Result<Exit, RunError> {
        let component = Component::new(&self.engine, component).map_err(|e| RunError::Compile(format!("{e:#}")))?;
        let exports_run = component
            .component_type()
            .exports(&self.engine)
            .any(|(name, _)| name.split('@').next() == Some("wasi:cli/run"));
        if !exports_run {
            return Err(RunError::NotACommand);
        }

        let mut linker = Linker::<Host>::new(&self.engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| RunError::Engine(format!("{e:#}")))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
            .map_err(|e| RunError::Engine(format!("{e:#}")))?;
        morgana_keys::host::add_to_linker(&mut linker, |host| &mut host.keys)
            .map_err(|e| RunError::Engine(format!("{e:#}")))?;
        let pre = linker.instantiate_pre(&component).map_err(|e| RunError::Link(format!("{e:#}")))?;

        let setup = WasiSetup {
            program: config.program.clone(),
            args: config.args.clone(),
            env: config.env.clone(),
            stdin: config.stdin,
            preopens: config.preopens.clone(),
            network: config.network,
        };
        let host = Host {
            wasi: setup.build()?,
            table: ResourceTable::new(),
            http: wasmtime_wasi_http::WasiHttpCtx::new(),
            keys: HostKeys::new(config.keys, Box::new(os_seeded_rng())),
        };
        let mut store = Store::new(&self.engine, host);
        match config.timeout {
            Some(_) => {
                store.set_epoch_deadline(1);
                store.epoch_deadline_trap();
            }
            None => store.set_epoch_deadline(u64::MAX / 2),
        }
        // Dropped when this function returns, which stops the watchdog.
        let _watchdog = config.timeout.map(|timeout| watch(self.engine.clone(), timeout));

        // Instantiating runs the component's start functions: what fails there fails the run,
        // as it does under `wasmtime run`.
        let result = pre
            .instantiate(&mut store)
            .and_then(|i| Command::new(&mut store, &i))
            .and_then(|command| command.wasi_cli_run().call_run(&mut store));
        match result {
            Ok(Ok(())) => Ok(Exit::Status(0)),
            Ok(Err(())) => Ok(Exit::Status(1)),
            Err(e) => Ok(classify(e, config.timeout)),
        }
    }
}

/// Interrupts wasm when `timeout` has passed. A component blocked in a host call cannot be
/// interrupted there, so after a grace second the process itself ends, with the same message.
/// The watchdog stops when the returned sender is dropped.
fn watch(engine: Engine, timeout: std::time::Duration) -> std::sync::mpsc::Sender<()> {
    use std::sync::mpsc::RecvTimeoutError::Timeout;
    let (done, finished) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        if finished.recv_timeout(timeout) != Err(Timeout) {
            return;
        }
        engine.increment_epoch();
        if finished.recv_timeout(std::time::Duration::from_secs(1)) == Err(Timeout) {
            eprintln!("{}", timeout_message(timeout));
            std::process::exit(TIMEOUT_EXIT_STATUS);
        }
    });
    done
}

/// What a timeout is reported as, on every target.
pub fn timeout_message(timeout: std::time::Duration) -> String {
    format!("error: the application ran longer than its timeout of {} ms and was stopped", timeout.as_millis())
}

/// Sorts an error out of the guest into an exit, a timeout, a trap, or a host error.
fn classify(error: wasmtime::Error, timeout: Option<std::time::Duration>) -> Exit {
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Exit::Status(exit.0);
    }
    if let (Some(wasmtime::Trap::Interrupt), Some(timeout)) = (error.downcast_ref::<wasmtime::Trap>(), timeout) {
        return Exit::Timeout(timeout);
    }
    if let Some(trap) = error.downcast_ref::<wasmtime::Trap>() {
        let backtrace = error.downcast_ref::<wasmtime::WasmBacktrace>().map(|b| b.to_string());
        return Exit::Trap { message: trap.to_string(), backtrace };
    }
    Exit::HostError(morgana_image::exit::host_error_message(&error))
}

struct Host {
    wasi: WasiCtx,
    table: ResourceTable,
    http: wasmtime_wasi_http::WasiHttpCtx,
    keys: HostKeys,
}

impl wasmtime_wasi_http::WasiHttpView for Host {
    fn http(&mut self) -> wasmtime_wasi_http::WasiHttpCtxView<'_> {
        wasmtime_wasi_http::WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// What a component's WASI context is made from; a server builds one per request.
#[derive(Debug, Clone)]
struct WasiSetup {
    program: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: bool,
    preopens: Vec<Preopen>,
    network: bool,
}

impl WasiSetup {
    /// Standard output and error inherited, standard input when asked, the arguments, the
    /// environment, the preopened directories, and the network when allowed.
    fn build(&self) -> Result<WasiCtx, RunError> {
        let mut wasi = WasiCtx::builder();
        wasi.inherit_stdout().inherit_stderr().arg(&self.program).args(&self.args).envs(&self.env);
        if self.stdin {
            wasi.inherit_stdin();
        }
        for preopen in &self.preopens {
            let perms =
                if preopen.read_only { wasmtime_wasi::FsPerms::ReadOnly } else { wasmtime_wasi::FsPerms::ReadWrite };
            wasi.preopened_dir(&preopen.host, &preopen.guest, perms).map_err(|e| RunError::Preopen {
                host: preopen.host.clone(),
                guest: preopen.guest.clone(),
                error: format!("{e:#}"),
            })?;
        }
        if self.network {
            wasi.inherit_network().allow_tcp(true).allow_udp(true).allow_ip_name_lookup(true);
        }
        Ok(wasi.build())
    }
}

/// ChaCha20 seeded from the operating system's generator, for RSA signatures' randomness.
fn os_seeded_rng() -> rand_chacha::ChaCha20Rng {
    use rand_chacha::rand_core::SeedableRng;
    let mut seed = [0; 32];
    getrandom::fill(&mut seed).expect("the operating system's random generator is unavailable");
    rand_chacha::ChaCha20Rng::from_seed(seed)
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A command whose `run` executes `body` (core wasm instructions returning i32: 0 ok, 1 err).
    fn command(body: &str) -> Vec<u8> {
        wat::parse_str(format!(
            r#"(component
                (core module $m
                  (func $run_body (export "run") (result i32) {body}))
                (core instance $i (instantiate $m))
                (func $run (result (result)) (canon lift (core func $i "run")))
                (instance $e (export "run" (func $run)))
                (export "wasi:cli/run@0.2.0" (instance $e)))"#
        ))
        .unwrap()
    }

    #[test]
    fn run_result_becomes_the_status() {
        let runner = Runner::new().unwrap();
        assert_eq!(runner.run(&command("i32.const 0"), RunConfig::default()).unwrap(), Exit::Status(0));
        assert_eq!(runner.run(&command("i32.const 1"), RunConfig::default()).unwrap(), Exit::Status(1));
    }

    #[test]
    fn traps_are_reported_with_a_backtrace() {
        let runner = Runner::new().unwrap();
        let exit = runner.run(&command("unreachable"), RunConfig::default()).unwrap();
        let Exit::Trap { message, backtrace } = &exit else { panic!("{exit:?}") };
        assert!(message.contains("unreachable"), "{message}");
        assert!(backtrace.as_deref().unwrap_or("").contains("run_body"), "{backtrace:?}");
        assert_eq!(exit.status(), TRAP_EXIT_STATUS);
    }

    #[test]
    fn a_runaway_loop_is_stopped_by_its_timeout() {
        let runner = Runner::new().unwrap();
        let config = RunConfig { timeout: Some(std::time::Duration::from_millis(200)), ..RunConfig::default() };
        let started = std::time::Instant::now();
        let exit = runner.run(&command("(loop br 0) i32.const 0"), config).unwrap();
        assert_eq!(exit, Exit::Timeout(std::time::Duration::from_millis(200)));
        assert_eq!(exit.status(), TIMEOUT_EXIT_STATUS);
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn components_without_run_are_refused() {
        let runner = Runner::new().unwrap();
        let err = runner.run(&wat::parse_str("(component)").unwrap(), RunConfig::default()).unwrap_err();
        assert!(matches!(err, RunError::NotACommand));
    }

    fn line_of(host: &morgana_compose::HostInterfaces, interface: &str) -> &'static str {
        host.line_of(interface.split('/').next().unwrap())
    }

    #[test]
    fn every_listed_host_interface_is_linked() {
        // Import each listed interface (as an empty instance type, which any instance satisfies)
        // and check the linker accepts them all.
        let host = morgana_compose::HostInterfaces { target: "unix", packages: HOST_PACKAGES };
        let imports: String = host
            .interfaces()
            .iter()
            .map(|i| format!("(import \"{i}@{}.0\" (instance))\n", line_of(&host, i)))
            .collect();
        let bytes = wat::parse_str(format!(
            r#"(component {imports}
                (core module $m (func (export "run") (result i32) i32.const 0))
                (core instance $i (instantiate $m))
                (func $run (result (result)) (canon lift (core func $i "run")))
                (instance $e (export "run" (func $run)))
                (export "wasi:cli/run@0.2.0" (instance $e)))"#
        ))
        .unwrap();
        assert_eq!(Runner::new().unwrap().run(&bytes, RunConfig::default()).unwrap(), Exit::Status(0));
    }
}
