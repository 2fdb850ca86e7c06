//! Devices, each behind a small safe interface: serial consoles, the PIT (to measure the
//! TSC), the CMOS real-time clock, and QEMU's debug-exit port.

pub mod debug_exit;
pub mod pit;
pub mod rtc;
pub mod serial;
