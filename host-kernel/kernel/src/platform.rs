//! The machine as the WASI host sees it (`morgana_wasi::Platform`): TSC clocks, the RTC,
//! the ChaCha20 generator, the standard streams (the console channel when `morgana run` set
//! one up, else the serial ports and an empty input), and halting until the next deadline.

use morgana_wasi::{ConsoleClosed, ConsoleStream, Platform, StdinRead, WallTime};
use spin::Mutex;

use crate::channel::Channel;
use crate::drivers::serial::{COM1, COM2};
use crate::random::Random;
use crate::time;

pub struct KernelPlatform {
    pub random: Random,
    /// The console channel to `morgana run`, when there is one.
    pub channel: Option<Mutex<Channel>>,
    /// The network stack, polled whenever the application waits.
    #[cfg(feature = "wasi-sockets")]
    pub network: Option<alloc::sync::Arc<crate::net::Network>>,
}

impl KernelPlatform {
    /// Waits until the host has written out all the application's output.
    pub fn flush_console(&self) {
        if let Some(channel) = &self.channel {
            channel.lock().flush();
        }
    }
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
    fn console_write(&self, stream: ConsoleStream, bytes: &[u8]) -> Result<(), ConsoleClosed> {
        crate::mm::probe::on_host_call();
        if let Some(channel) = &self.channel {
            return channel.lock().write(stream, bytes);
        }
        match stream {
            ConsoleStream::Stdout => COM1.write(bytes),
            ConsoleStream::Stderr => COM2.write(bytes),
        }
        Ok(())
    }
    fn console_capacity(&self, stream: ConsoleStream) -> Result<usize, ConsoleClosed> {
        crate::mm::probe::on_host_call();
        match &self.channel {
            Some(channel) => channel.lock().capacity(stream),
            None => Ok(usize::MAX),
        }
    }
    fn stdin_read(&self, max: usize) -> StdinRead {
        match &self.channel {
            Some(channel) => channel.lock().read_stdin(max),
            None => StdinRead::End,
        }
    }
    fn stdin_ready(&self) -> bool {
        self.channel.as_ref().is_none_or(|channel| channel.lock().stdin_ready())
    }
    fn wake_at(&self, deadline: u64) {
        time::wake_at(deadline);
    }
    fn idle(&self) {
        if let Some(channel) = &self.channel {
            let mut channel = channel.lock();
            channel.pump();
            if channel.is_busy() {
                return;
            }
        }
        #[cfg(feature = "wasi-sockets")]
        if let Some(network) = &self.network {
            return crate::net::idle(network);
        }
        time::idle();
    }
}
