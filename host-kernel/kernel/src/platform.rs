//! The machine as the WASI host sees it (`morgana_wasi::Platform`): TSC clocks, the RTC,
//! the ChaCha20 generator, the serial consoles, and halting until the next deadline.

use morgana_wasi::{ConsoleStream, Platform, WallTime};

use crate::drivers::serial::{COM1, COM2};
use crate::random::Random;
use crate::time;

pub struct KernelPlatform {
    pub random: Random,
    /// The network stack, polled whenever the application waits.
    #[cfg(feature = "wasi-sockets")]
    pub network: Option<alloc::sync::Arc<crate::net::Network>>,
}

impl Platform for KernelPlatform {
    fn monotonic_now(&self) -> u64 {
        time::now_ns()
    }
    fn monotonic_resolution(&self) -> u64 {
        time::resolution_ns()
    }
    fn wall_now(&self) -> WallTime {
        let (seconds, nanoseconds) = time::wall_now();
        WallTime { seconds, nanoseconds }
    }
    fn wall_resolution(&self) -> WallTime {
        WallTime { seconds: 0, nanoseconds: time::resolution_ns() as u32 }
    }
    fn secure_random(&self, buf: &mut [u8]) {
        self.random.fill(buf);
    }
    fn insecure_random(&self) -> u64 {
        self.random.next_u64()
    }
    fn insecure_seed(&self) -> (u64, u64) {
        self.random.insecure_seed()
    }
    fn console_write(&self, stream: ConsoleStream, bytes: &[u8]) {
        match stream {
            ConsoleStream::Stdout => COM1.write(bytes),
            ConsoleStream::Stderr => COM2.write(bytes),
        }
    }
    fn wake_at(&self, deadline: u64) {
        time::wake_at(deadline);
    }
    fn idle(&self) {
        #[cfg(feature = "wasi-sockets")]
        if let Some(network) = &self.network {
            return crate::net::idle(network);
        }
        time::idle();
    }
}
