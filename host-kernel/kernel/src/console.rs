//! The kernel's own messages: to COM2, which `morgana run` shows on standard error.

use core::fmt;

use crate::drivers::serial::COM2;

pub struct KernelLog;

impl fmt::Write for KernelLog {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        COM2.write(s.as_bytes());
        Ok(())
    }
}

/// Prints a line to the kernel log.
#[macro_export]
macro_rules! kprintln {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::console::KernelLog, $($arg)*);
    }};
}
