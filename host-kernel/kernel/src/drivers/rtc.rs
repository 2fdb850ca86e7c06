//! The CMOS real-time clock: the wall clock at boot, to the second.

use crate::arch::cpu::{inb, outb};

fn register(index: u8) -> u8 {
    outb(0x70, index | 0x80); // keep NMIs disabled while selecting
    inb(0x71)
}

fn update_in_progress() -> bool {
    register(0x0A) & 0x80 != 0
}

struct Reading {
    second: u8,
    minute: u8,
    hour: u8,
    day: u8,
    month: u8,
    year: u8,
    century: u8,
}

fn read_once() -> Reading {
    Reading {
        second: register(0x00),
        minute: register(0x02),
        hour: register(0x04),
        day: register(0x07),
        month: register(0x08),
        year: register(0x09),
        century: register(0x32),
    }
}

/// Seconds since the Unix epoch, or `None` when there is no RTC.
pub fn unix_seconds() -> Option<u64> {
    if register(0x0A) == 0xFF && register(0x0B) == 0xFF {
        return None;
    }
    let mut spins = 0;
    while update_in_progress() {
        spins += 1;
        if spins > 10_000_000 {
            return None;
        }
    }
    // Read until two readings agree, so an update between reads does not tear the value.
    let mut reading = read_once();
    for _ in 0..8 {
        let again = read_once();
        if again.second == reading.second && again.minute == reading.minute {
            reading = again;
            break;
        }
        reading = again;
    }
    let status_b = register(0x0B);
    let bcd = status_b & 0x04 == 0;
    let decode = |v: u8| if bcd { (v & 0x0F) + (v >> 4) * 10 } else { v };
    let pm = reading.hour & 0x80 != 0;
    let mut hour = decode(reading.hour & 0x7F);
    if status_b & 0x02 == 0 {
        // 12-hour mode
        hour %= 12;
        if pm {
            hour += 12;
        }
    }
    let year_in_century = decode(reading.year) as u64;
    let century = match decode(reading.century) {
        c @ 19..=30 => c as u64,
        _ => 20,
    };
    crate::time::civil_to_unix(
        century * 100 + year_in_century,
        decode(reading.month) as u64,
        decode(reading.day) as u64,
        hour as u64,
        decode(reading.minute) as u64,
        decode(reading.second) as u64,
    )
}
