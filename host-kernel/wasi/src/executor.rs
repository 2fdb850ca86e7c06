//! The executor that drives a component's async calls on one vCPU.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use crate::platform::Platform;

/// Runs `future` to completion, e.g. `instantiate_async` or `call_async` on a store whose
/// linker came from [`add_to_linker_async`](crate::add_to_linker_async).
///
/// It polls with a no-op waker; whenever the future is pending it calls [`Platform::idle`] and
/// polls again. That is enough because every future this crate's host functions wait on
/// registers what would make it ready before returning `Pending`: a clock pollable passes its
/// deadline to [`Platform::wake_at`], so `idle` never sleeps past it, and console and stdin
/// streams are always ready. A future that can only be made ready by an interrupt (a network
/// device, later) relies on `idle` returning when one arrives.
pub fn block_on<F: Future>(platform: &dyn Platform, future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        platform.idle();
    }
}
