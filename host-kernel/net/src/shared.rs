//! A [`Stack`] behind a lock, for the kernel's idle loop and the WASI host to share.

use smoltcp::phy::Device;
use smoltcp::time::Instant;

use crate::stack::Stack;

/// A [`Stack`] that several owners use through `&self` (one vCPU: the lock is never contended;
/// it must not be taken from an interrupt handler). With feature `wasi` it is a
/// `morgana_wasi::network::Network`.
pub struct SharedStack<D: Device> {
    stack: spin::Mutex<Stack<D>>,
}

impl<D: Device> SharedStack<D> {
    pub fn new(stack: Stack<D>) -> Self {
        SharedStack { stack: spin::Mutex::new(stack) }
    }

    /// Runs `f` on the stack.
    pub fn with<R>(&self, f: impl FnOnce(&mut Stack<D>) -> R) -> R {
        f(&mut self.stack.lock())
    }

    /// [`Stack::poll`] with times in nanoseconds of a monotonic clock (the WASI platform's):
    /// what the embedder's idle loop calls before halting. It then halts no longer than the
    /// returned deadline, and not at all if that is not after `now`.
    pub fn poll_ns(&self, now: u64) -> Option<u64> {
        self.with(|stack| stack.poll(instant(now))).map(nanos)
    }

    /// Takes the stack back.
    pub fn into_inner(self) -> Stack<D> {
        self.stack.into_inner()
    }
}

/// Nanoseconds to a smoltcp instant (microseconds).
pub(crate) fn instant(nanos: u64) -> Instant {
    Instant::from_micros(i64::try_from(nanos / 1000).unwrap_or(i64::MAX))
}

/// A smoltcp instant to nanoseconds.
pub(crate) fn nanos(instant: Instant) -> u64 {
    u64::try_from(instant.total_micros()).unwrap_or(0).saturating_mul(1000)
}
