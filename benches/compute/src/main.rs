//! CPU-bound workloads for `benches/compute.py`, built from this one source as a wasm32-wasip2
//! component and as a static native Linux binary.
//!
//!     compute sha256 [MIB]      SHA-256 over MIB MiB (default 64): a 1 MiB buffer of xorshift
//!                               output, fed to one hasher MIB times, its first 8 bytes set to the
//!                               round number each time (so no two MiB are alike)
//!     compute sort [MILLIONS]   sort_unstable of MILLIONS million (default 10) xorshift u32s
//!     compute grow [MIB]        4 rounds of: fill 1 MiB Vec<u64>s by pushing one element at a
//!                               time (each Vec doubling as it goes) until MIB MiB (default 64)
//!                               are held, read one element per 4 KiB back, free them all
//!
//! Each prints one line:
//!
//!     compute: workload=sha256 size=64MiB checksum=<hex> ms=<elapsed>
//!
//! `checksum` depends only on the workload and its size (the same on every target: it is what
//! keeps the work from being optimised away and shows the same work was done); `ms` is the
//! workload's time by `std::time::Instant`, from after the arguments are read to before the line
//! is printed. The default sizes take seconds under QEMU's TCG (256 MiB for sha256 and grow took
//! tens of seconds). On wasm32, `grow` also reports how many times the allocator grew the linear
//! memory (`memory_grows=`) and the memory's final size (`memory=` MiB).

use std::process::ExitCode;
use std::time::Instant;

use sha2::{Digest, Sha256};

const MIB: usize = 1 << 20;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;
const GROW_ROUNDS: usize = 4;
const GROW_CHUNK: usize = MIB;

/// Marsaglia's xorshift64 with a fixed seed: the same numbers on every target.
struct XorShift(u64);

impl XorShift {
    fn new() -> Self {
        XorShift(SEED)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// FNV-1a-style folding of 64-bit values into a checksum.
fn fold(hash: u64, value: u64) -> u64 {
    (hash ^ value).wrapping_mul(0x0000_0100_0000_01B3)
}

const FOLD_START: u64 = 0xCBF2_9CE4_8422_2325;

fn sha256(mib: usize) -> String {
    let mut rng = XorShift::new();
    let mut buffer = vec![0u8; MIB];
    for word in buffer.chunks_exact_mut(8) {
        word.copy_from_slice(&rng.next().to_le_bytes());
    }
    let mut hasher = Sha256::new();
    for round in 0..mib as u64 {
        buffer[..8].copy_from_slice(&round.to_le_bytes());
        hasher.update(&buffer);
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn sort(millions: usize) -> String {
    let mut rng = XorShift::new();
    let mut values: Vec<u32> = (0..millions * 1_000_000).map(|_| (rng.next() >> 32) as u32).collect();
    values.sort_unstable();
    assert!(values.windows(2).all(|w| w[0] <= w[1]), "not sorted");
    let hash = values.iter().fold(FOLD_START, |h, &v| fold(h, v as u64));
    format!("{hash:016x}")
}

fn grow(mib: usize) -> String {
    let per_chunk = GROW_CHUNK / 8;
    let chunks = mib * MIB / GROW_CHUNK;
    let mut rng = XorShift::new();
    let mut hash = FOLD_START;
    for _ in 0..GROW_ROUNDS {
        let mut held: Vec<Vec<u64>> = Vec::new();
        for _ in 0..chunks {
            let mut chunk = Vec::new();
            for _ in 0..per_chunk {
                chunk.push(rng.next());
            }
            held.push(chunk);
        }
        for chunk in &held {
            for value in chunk.iter().step_by(4096 / 8) {
                hash = fold(hash, *value);
            }
        }
        drop(held);
    }
    format!("{hash:016x}")
}

/// (workload, size, size's unit) from `WORKLOAD [SIZE]`.
fn parse(args: &[String]) -> Option<(&str, usize, &'static str)> {
    let (workload, default, unit) = match args.first()?.as_str() {
        w @ ("sha256" | "grow") => (w, 64, "MiB"),
        w @ "sort" => (w, 10, "M"),
        _ => return None,
    };
    let size = match args.get(1) {
        None => default,
        Some(text) => text.parse().ok().filter(|&n| n > 0)?,
    };
    (args.len() <= 2).then_some((workload, size, unit))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((workload, size, unit)) = parse(&args) else {
        eprintln!("usage: compute sha256|sort|grow [SIZE]   (MiB for sha256 and grow, millions of integers for sort)");
        return ExitCode::from(2);
    };
    memory::reset();
    let began = Instant::now();
    let checksum = match workload {
        "sha256" => sha256(size),
        "sort" => sort(size),
        _ => grow(size),
    };
    let ms = began.elapsed().as_secs_f64() * 1000.0;
    println!("compute: workload={workload} size={size}{unit} checksum={checksum} ms={ms:.3}{}", memory::report(workload));
    ExitCode::SUCCESS
}

/// On wasm32: counts the times the linear memory grew, by looking at its size after every
/// allocation (the allocator grows it with `memory.grow` when it runs out).
#[cfg(target_arch = "wasm32")]
mod memory {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

    const PAGE: usize = 65536;
    static PAGES: AtomicUsize = AtomicUsize::new(0);
    static GROWS: AtomicUsize = AtomicUsize::new(0);

    struct Counting;

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    fn observe() {
        let now = core::arch::wasm32::memory_size(0);
        if now > PAGES.load(Relaxed) {
            PAGES.store(now, Relaxed);
            GROWS.fetch_add(1, Relaxed);
        }
    }

    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc(layout) };
            observe();
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            let p = unsafe { System.alloc_zeroed(layout) };
            observe();
            p
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            observe();
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    pub fn reset() {
        PAGES.store(core::arch::wasm32::memory_size(0), Relaxed);
        GROWS.store(0, Relaxed);
    }

    pub fn report(workload: &str) -> String {
        if workload != "grow" {
            return String::new();
        }
        let bytes = core::arch::wasm32::memory_size(0) * PAGE;
        format!(" memory_grows={} memory={}MiB", GROWS.load(Relaxed), bytes >> 20)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod memory {
    pub fn reset() {}

    pub fn report(_workload: &str) -> String {
        String::new()
    }
}
