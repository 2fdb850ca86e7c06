//! The local APIC's timer, in one-shot mode: the only interrupt source this kernel uses. It
//! wakes the CPU from `hlt` at the next deadline and ticks wasmtime's epoch.

use core::sync::atomic::{AtomicU64, Ordering};

use super::cpu;
use super::idt::{SPURIOUS_VECTOR, TIMER_VECTOR};

const IA32_APIC_BASE: u32 = 0x1B;
const REG_EOI: usize = 0xB0;
const REG_SPURIOUS: usize = 0xF0;
const REG_LVT_TIMER: usize = 0x320;
const REG_INITIAL_COUNT: usize = 0x380;
const REG_CURRENT_COUNT: usize = 0x390;
const REG_DIVIDE: usize = 0x3E0;
const LVT_MASKED: u32 = 1 << 16;
const DIVIDE_BY_1: u32 = 0b1011;

static BASE: AtomicU64 = AtomicU64::new(0);
/// APIC timer ticks per millisecond, measured against the TSC.
static TICKS_PER_MS: AtomicU64 = AtomicU64::new(0);

fn register(offset: usize) -> *mut u32 {
    (BASE.load(Ordering::Relaxed) as usize + offset) as *mut u32
}

fn write(offset: usize, value: u32) {
    // SAFETY: `BASE` is the local APIC's MMIO page (from IA32_APIC_BASE, identity mapped);
    // the offsets are architectural registers.
    unsafe { register(offset).write_volatile(value) }
}

fn read(offset: usize) -> u32 {
    // SAFETY: as for `write`.
    unsafe { register(offset).read_volatile() }
}

/// Enables the local APIC with the timer masked, and masks the legacy 8259 PICs.
pub fn init() {
    // Mask both 8259s: their vectors would collide with CPU exceptions.
    cpu::outb(0x21, 0xFF);
    cpu::outb(0xA1, 0xFF);
    BASE.store(cpu::rdmsr(IA32_APIC_BASE) & 0xF_FFFF_F000, Ordering::Relaxed);
    write(REG_SPURIOUS, 0x100 | SPURIOUS_VECTOR as u32);
    write(REG_DIVIDE, DIVIDE_BY_1);
    write(REG_LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
}

/// Starts measuring the timer's rate: it counts down from its maximum while the caller waits
/// (measuring the TSC, say); [`finish_measuring`] takes the rate. Returns the TSC at the start.
pub fn start_measuring() -> u64 {
    write(REG_INITIAL_COUNT, u32::MAX);
    cpu::rdtsc()
}

/// Takes the timer's rate from the ticks it counted since [`start_measuring`] returned
/// `started_tsc`, given the TSC's rate, and stops it.
pub fn finish_measuring(started_tsc: u64, tsc_hz: u64) {
    let elapsed = (u32::MAX - read(REG_CURRENT_COUNT)) as u128;
    let tsc_ticks = (cpu::rdtsc() - started_tsc).max(1) as u128;
    write(REG_INITIAL_COUNT, 0);
    let per_ms = elapsed * tsc_hz as u128 / 1000 / tsc_ticks;
    TICKS_PER_MS.store((per_ms as u64).max(1), Ordering::Relaxed);
}

/// Measures the timer's rate over `window_ms` of TSC time, when nothing else is measured.
pub fn calibrate(tsc_per_ms: u64, window_ms: u64) {
    let start = start_measuring();
    while cpu::rdtsc() - start < tsc_per_ms * window_ms {
        core::hint::spin_loop();
    }
    finish_measuring(start, tsc_per_ms * 1000);
}

/// Timer ticks per millisecond, once measured.
pub fn ticks_per_ms() -> u64 {
    TICKS_PER_MS.load(Ordering::Relaxed)
}

/// Fires the timer interrupt once, `nanoseconds` from now (at least one tick).
pub fn arm(nanoseconds: u64) {
    let ticks = (nanoseconds as u128 * ticks_per_ms() as u128 / 1_000_000).clamp(1, u32::MAX as u128) as u32;
    write(REG_LVT_TIMER, TIMER_VECTOR as u32);
    write(REG_INITIAL_COUNT, ticks);
}

/// Device interrupts seen: the CPU woke for each; whoever polls the device looks at it.
pub static DEVICE_INTERRUPTS: AtomicU64 = AtomicU64::new(0);

/// A device's interrupt (from the interrupt stub): acknowledged here, handled by the poller.
pub fn device_interrupt() {
    write(REG_EOI, 0);
    DEVICE_INTERRUPTS.fetch_add(1, Ordering::Relaxed);
    crate::time::wake_now();
}

/// Called from the interrupt stub.
pub fn timer_interrupt() {
    write(REG_EOI, 0);
    crate::time::on_timer_interrupt();
}
