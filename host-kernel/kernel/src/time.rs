//! Clocks and sleeping. The monotonic clock is the TSC, scaled by a rate measured at boot;
//! the wall clock is the RTC's reading at boot plus the monotonic time since. Sleeping halts
//! the CPU with the APIC timer armed for the earliest deadline anyone asked for; the same timer
//! ticks wasmtime's epoch while a timeout is set.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::arch::{apic, cpu};

static TSC_HZ: AtomicU64 = AtomicU64::new(1_000_000_000);
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);
static WALL_AT_BOOT: AtomicU64 = AtomicU64::new(0);
static WAKE_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);
/// Epoch tick period in nanoseconds; 0 while no timeout is set.
static EPOCH_PERIOD: AtomicU64 = AtomicU64::new(0);
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(u64::MAX);

static HALTS: AtomicU64 = AtomicU64::new(0);
static HALTED_NS: AtomicU64 = AtomicU64::new(0);

/// The epoch tick: a timeout is counted in these.
pub const EPOCH_TICK_NS: u64 = 10_000_000;

/// Starts the clocks: `boot_tsc` is time zero; `wall_seconds` is the wall clock then.
pub fn init(boot_tsc: u64, tsc_hz: u64, wall_seconds: u64) {
    BOOT_TSC.store(boot_tsc, Ordering::Relaxed);
    TSC_HZ.store(tsc_hz.max(1), Ordering::Relaxed);
    WALL_AT_BOOT.store(wall_seconds, Ordering::Relaxed);
}

pub fn tsc_hz() -> u64 {
    TSC_HZ.load(Ordering::Relaxed)
}

/// Nanoseconds since boot.
pub fn now_ns() -> u64 {
    let ticks = cpu::rdtsc().saturating_sub(BOOT_TSC.load(Ordering::Relaxed));
    (ticks as u128 * 1_000_000_000 / tsc_hz() as u128) as u64
}

/// The monotonic clock's resolution in nanoseconds (one TSC tick, at least 1 ns).
pub fn resolution_ns() -> u64 {
    (1_000_000_000 / tsc_hz()).max(1)
}

/// Wall clock: (seconds, nanoseconds) since the Unix epoch.
pub fn wall_now() -> (u64, u32) {
    let since_boot = now_ns();
    (WALL_AT_BOOT.load(Ordering::Relaxed) + since_boot / 1_000_000_000, (since_boot % 1_000_000_000) as u32)
}

/// Asks the next [`idle`] to return no later than `deadline` (ns since boot).
pub fn wake_at(deadline: u64) {
    WAKE_DEADLINE.fetch_min(deadline, Ordering::Relaxed);
}

/// Makes the next [`idle`] return at once. For device interrupts (interrupt context: one
/// atomic store): an interrupt that arrives after the poller last looked at the device but
/// before [`idle`] masks interrupts would otherwise be slept through until the next deadline.
pub fn wake_now() {
    WAKE_DEADLINE.store(0, Ordering::Relaxed);
}

/// Halts until an interrupt or the earliest deadline requested with [`wake_at`].
pub fn idle() {
    cpu::disable_interrupts();
    let deadline = WAKE_DEADLINE.swap(u64::MAX, Ordering::Relaxed);
    let now = now_ns();
    if deadline <= now {
        cpu::enable_interrupts();
        return;
    }
    let next = deadline.min(NEXT_EPOCH.load(Ordering::Relaxed));
    if next != u64::MAX {
        apic::arm(next.saturating_sub(now));
    }
    cpu::enable_interrupts_and_halt();
    HALTS.fetch_add(1, Ordering::Relaxed);
    HALTED_NS.fetch_add(now_ns().saturating_sub(now), Ordering::Relaxed);
}

/// How often the CPU halted in [`idle`], and for how long in total (ns).
pub fn halt_stats() -> (u64, u64) {
    (HALTS.load(Ordering::Relaxed), HALTED_NS.load(Ordering::Relaxed))
}

/// Starts ticking the epoch every [`EPOCH_TICK_NS`].
pub fn start_epoch_ticks() {
    EPOCH_PERIOD.store(EPOCH_TICK_NS, Ordering::Relaxed);
    NEXT_EPOCH.store(now_ns() + EPOCH_TICK_NS, Ordering::Relaxed);
    apic::arm(EPOCH_TICK_NS);
}

/// The APIC timer fired (interrupt context: atomics only).
pub fn on_timer_interrupt() {
    let period = EPOCH_PERIOD.load(Ordering::Relaxed);
    if period == 0 {
        return;
    }
    let now = now_ns();
    let mut next = NEXT_EPOCH.load(Ordering::Relaxed);
    if now >= next {
        crate::runtime::tick_epoch();
        next = now + period;
        NEXT_EPOCH.store(next, Ordering::Relaxed);
    }
    apic::arm(next - now);
}

/// Seconds since the Unix epoch for a civil UTC date and time (proleptic Gregorian).
pub fn civil_to_unix(year: u64, month: u64, day: u64, hour: u64, minute: u64, second: u64) -> Option<u64> {
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days from 1970-01-01, after Howard Hinnant's `days_from_civil`.
    let (y, m) = if month <= 2 { (year as i64 - 1, month as i64 + 9) } else { (year as i64, month as i64 - 3) };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days as u64 * 86_400 + hour * 3600 + minute * 60 + second)
}
