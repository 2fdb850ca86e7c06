//! What the tests share: a `Platform` over `std`, store data, an engine, and `hello.wasm`.

#![allow(dead_code)] // each test file uses a different part of this module

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use morgana_wasi::{ConsoleClosed, ConsoleStream, Platform, WallTime, WasiCtx, WasiHostCtxView, WasiHostView};
use wasmtime::component::ResourceTable;
use wasmtime::{Config, Engine};

/// A `Platform` over `std`: `std::time` clocks, captured console output, deterministic
/// "random" numbers (each source its own counter, so a test can tell which one was used), and
/// an `idle` that sleeps until the earliest deadline given to `wake_at`, or 1 ms without one.
pub struct FakePlatform {
    start: Instant,
    pub stdout: Mutex<Vec<u8>>,
    pub stderr: Mutex<Vec<u8>>,
    deadline: Mutex<Option<u64>>,
    /// Every deadline passed to `wake_at`, in order.
    pub wake_ats: Mutex<Vec<u64>>,
    pub idle_calls: AtomicUsize,
    pub secure_calls: AtomicUsize,
    secure_counter: AtomicU64,
    insecure_counter: AtomicU64,
}

pub const SEED: (u64, u64) = (0x5eed_0001, 0x5eed_0002);

impl FakePlatform {
    pub fn new() -> Arc<Self> {
        Arc::new(FakePlatform {
            start: Instant::now(),
            stdout: Mutex::default(),
            stderr: Mutex::default(),
            deadline: Mutex::default(),
            wake_ats: Mutex::default(),
            idle_calls: AtomicUsize::new(0),
            secure_calls: AtomicUsize::new(0),
            secure_counter: AtomicU64::new(0),
            insecure_counter: AtomicU64::new(1 << 32),
        })
    }

    pub fn stdout(&self) -> String {
        String::from_utf8(self.stdout.lock().unwrap().clone()).unwrap()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8(self.stderr.lock().unwrap().clone()).unwrap()
    }

    pub fn monotonic_now_for_test(&self) -> u64 {
        self.monotonic_now()
    }

    pub fn idle_calls(&self) -> usize {
        self.idle_calls.load(Ordering::SeqCst)
    }
}

/// SplitMix64: distinct, well-mixed outputs for distinct counters.
pub fn splitmix(counter: u64) -> u64 {
    let mut z = counter.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Platform for FakePlatform {
    fn monotonic_now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    fn monotonic_resolution(&self) -> u64 {
        1
    }

    fn wall_now(&self) -> WallTime {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        WallTime { seconds: now.as_secs(), nanoseconds: now.subsec_nanos() }
    }

    fn wall_resolution(&self) -> WallTime {
        WallTime { seconds: 0, nanoseconds: 1 }
    }

    fn secure_random(&self, buf: &mut [u8]) {
        self.secure_calls.fetch_add(1, Ordering::SeqCst);
        for chunk in buf.chunks_mut(8) {
            let word = splitmix(self.secure_counter.fetch_add(1, Ordering::SeqCst)).to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }

    fn insecure_random(&self) -> u64 {
        splitmix(self.insecure_counter.fetch_add(1, Ordering::SeqCst))
    }

    fn insecure_seed(&self) -> (u64, u64) {
        SEED
    }

    fn console_write(&self, stream: ConsoleStream, bytes: &[u8]) -> Result<(), ConsoleClosed> {
        let sink = match stream {
            ConsoleStream::Stdout => &self.stdout,
            ConsoleStream::Stderr => &self.stderr,
        };
        sink.lock().unwrap().extend_from_slice(bytes);
        Ok(())
    }

    fn wake_at(&self, deadline: u64) {
        self.wake_ats.lock().unwrap().push(deadline);
        let mut earliest = self.deadline.lock().unwrap();
        *earliest = Some(earliest.map_or(deadline, |d| d.min(deadline)));
    }

    fn idle(&self) {
        self.idle_calls.fetch_add(1, Ordering::SeqCst);
        let deadline = self.deadline.lock().unwrap().take();
        let pause = match deadline {
            Some(deadline) => Duration::from_nanos(deadline.saturating_sub(self.monotonic_now())),
            None => Duration::from_millis(1),
        };
        std::thread::sleep(pause);
    }
}

/// A store's data: the WASI context and the resource table.
pub struct Host {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
}

impl Host {
    pub fn new(platform: &Arc<FakePlatform>, args: &[&str], env: &[(&str, &str)]) -> Self {
        let platform: Arc<dyn Platform> = platform.clone();
        let args = args.iter().map(|a| a.to_string()).collect();
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Host { wasi: WasiCtx::new(platform, args, env), table: ResourceTable::new() }
    }
}

impl WasiHostView for Host {
    fn wasi(&mut self) -> WasiHostCtxView<'_> {
        WasiHostCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// One engine for every test in a file: std wasmtime with Cranelift.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new(&Config::new()).unwrap())
}

/// `examples/hello` built for wasm32-wasip2, building it first if it is missing.
pub fn hello_wasm() -> &'static [u8] {
    static HELLO: OnceLock<Vec<u8>> = OnceLock::new();
    HELLO.get_or_init(|| {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let wasm = repo.join("examples/target/wasm32-wasip2/release/hello.wasm");
        if !wasm.exists() {
            let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .args(["build", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
                .arg(repo.join("examples/hello/Cargo.toml"))
                .status()
                .expect("cannot run cargo to build examples/hello");
            assert!(status.success(), "building examples/hello failed");
        }
        std::fs::read(&wasm).unwrap_or_else(|e| panic!("{}: {e}", wasm.display()))
    })
}
