//! The 8254 programmable interval timer, used once at boot as a reference clock to measure
//! the TSC's rate. Polled through channel 0's counter; no interrupt, no speaker port.

use crate::arch::cpu::{inb, outb, rdtsc};

const FREQUENCY_HZ: u64 = 1_193_182;
const CHANNEL0: u16 = 0x40;
const COMMAND: u16 = 0x43;

fn read_counter() -> u16 {
    outb(COMMAND, 0x00); // latch channel 0
    let low = inb(CHANNEL0) as u16;
    let high = inb(CHANNEL0) as u16;
    (high << 8) | low
}

/// TSC ticks per second, measured over `window_ms`; `None` without a working PIT.
pub fn measure_tsc_hz(window_ms: u64) -> Option<u64> {
    outb(COMMAND, 0x34); // channel 0, low then high byte, mode 2, binary
    outb(CHANNEL0, 0xFF);
    outb(CHANNEL0, 0xFF);
    let target = FREQUENCY_HZ * window_ms / 1000;
    let mut previous = read_counter();
    let tsc_start = rdtsc();
    let mut elapsed: u64 = 0;
    let mut unchanged: u32 = 0;
    while elapsed < target {
        let now = read_counter();
        let delta = previous.wrapping_sub(now) as u64;
        if delta == 0 {
            unchanged += 1;
            if unchanged > 5_000_000 {
                return None; // the counter never moves: no PIT
            }
        } else {
            unchanged = 0;
        }
        elapsed += delta;
        previous = now;
    }
    let tsc_ticks = rdtsc() - tsc_start;
    Some(tsc_ticks * FREQUENCY_HZ / elapsed)
}
