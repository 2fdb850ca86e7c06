//! Randomness: a ChaCha20 generator seeded from the CPU's RDSEED or RDRAND. Without either,
//! the seed comes from timing jitter and the console says the randomness is weak.

use rand_chacha::ChaCha20Rng;
use rand_core::{Rng, SeedableRng};
use spin::Mutex;

use crate::arch::cpu;

pub struct Random {
    generator: Mutex<ChaCha20Rng>,
    insecure_seed: (u64, u64),
    /// Where the seed came from, for the boot log.
    pub source: &'static str,
}

impl Random {
    pub fn new() -> Self {
        let (words, source) = seed_words();
        let mut seed = [0u8; 32];
        for (chunk, word) in seed.chunks_mut(8).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let mut generator = ChaCha20Rng::from_seed(seed);
        let insecure_seed = (generator.next_u64(), generator.next_u64());
        Random { generator: Mutex::new(generator), insecure_seed, source }
    }

    pub fn fill(&self, buf: &mut [u8]) {
        self.generator.lock().fill_bytes(buf);
    }

    pub fn next_u64(&self) -> u64 {
        self.generator.lock().next_u64()
    }

    pub fn insecure_seed(&self) -> (u64, u64) {
        self.insecure_seed
    }

    /// Whether the seed came from a hardware random source.
    pub fn is_strong(&self) -> bool {
        self.source != "timing jitter"
    }
}

fn seed_words() -> ([u64; 4], &'static str) {
    let mut words = [0u64; 4];
    if words.iter_mut().all(|w| cpu::rdseed().map(|v| *w = v).is_some()) {
        return (words, "RDSEED");
    }
    if words.iter_mut().all(|w| cpu::rdrand().map(|v| *w = v).is_some()) {
        return (words, "RDRAND");
    }
    // Weak: the low bits of the TSC around short busy loops.
    for word in &mut words {
        for _ in 0..64 {
            let start = cpu::rdtsc();
            for _ in 0..(start & 0xFF) {
                core::hint::spin_loop();
            }
            *word = word.rotate_left(5) ^ cpu::rdtsc().wrapping_sub(start);
        }
    }
    (words, "timing jitter")
}
