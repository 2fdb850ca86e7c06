//! The executor that drives a component's async calls on one vCPU.

use alloc::sync::Arc;
use alloc::task::Wake;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

use crate::platform::Platform;

/// Runs `future` to completion, e.g. `instantiate_async` or `call_async` on a store whose
/// linker came from [`add_to_linker_async`](crate::add_to_linker_async).
///
/// Whenever the future is pending it calls [`Platform::idle`] and polls again, unless it was
/// woken while being polled (a guest that yields at an epoch tick, say): then it polls again at
/// once. That is enough because every future this crate's host functions wait on
/// registers what would make it ready before returning `Pending`: a clock pollable passes its
/// deadline to [`Platform::wake_at`], so `idle` never sleeps past it, and console and stdin
/// streams are always ready. A future that can only be made ready by an interrupt (a network
/// device, later) relies on `idle` returning when one arrives.
pub fn block_on<F: Future>(platform: &dyn Platform, future: F) -> F::Output {
    let mut future = pin!(future);
    let woken = Arc::new(Woken(AtomicBool::new(false)));
    let waker = Waker::from(woken.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        if !woken.0.swap(false, Ordering::Relaxed) {
            platform.idle();
        }
    }
}

/// Whether the future was woken since it was last polled.
struct Woken(AtomicBool);

impl Wake for Woken {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}
