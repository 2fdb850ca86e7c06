//! `wasi:clocks`: the platform's monotonic and wall clocks.
//!
//! A pollable from `monotonic-clock.subscribe-instant` or `subscribe-duration` is ready once
//! [`Platform::monotonic_now`] has reached its deadline. Until then, each time it is polled it
//! passes the deadline to [`Platform::wake_at`] before returning `Pending`, so the executor's
//! [`Platform::idle`] wakes in time. A deadline too far away to represent is never reached, as
//! in wasmtime-wasi.

use alloc::boxed::Box; // async_trait's expansion names `Box`
use alloc::sync::Arc;
use core::future::poll_fn;
use core::task::Poll;
use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime_wasi_io::poll::{DynPollable, Pollable, subscribe};

use crate::bindings::wasi::clocks::monotonic_clock::{self, Duration, Instant};
use crate::bindings::wasi::clocks::wall_clock::{self, Datetime};
use crate::ctx::{WasiHost, WasiHostCtxView, WasiHostView};
use crate::platform::{Platform, WallTime};

/// Adds `wasi:clocks/monotonic-clock` and `wasi:clocks/wall-clock` to `linker`.
pub fn add_to_linker<T: WasiHostView + 'static>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    monotonic_clock::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    wall_clock::add_to_linker::<T, WasiHost>(linker, T::wasi)?;
    Ok(())
}

impl monotonic_clock::Host for WasiHostCtxView<'_> {
    fn now(&mut self) -> wasmtime::Result<Instant> {
        Ok(self.ctx.platform().monotonic_now())
    }

    fn resolution(&mut self) -> wasmtime::Result<Duration> {
        Ok(self.ctx.platform().monotonic_resolution())
    }

    fn subscribe_instant(&mut self, when: Instant) -> wasmtime::Result<Resource<DynPollable>> {
        subscribe_deadline(self.table, self.ctx.platform(), Some(when))
    }

    fn subscribe_duration(&mut self, duration: Duration) -> wasmtime::Result<Resource<DynPollable>> {
        let deadline = self.ctx.platform().monotonic_now().checked_add(duration);
        subscribe_deadline(self.table, self.ctx.platform(), deadline)
    }
}

impl wall_clock::Host for WasiHostCtxView<'_> {
    fn now(&mut self) -> wasmtime::Result<Datetime> {
        Ok(datetime(self.ctx.platform().wall_now()))
    }

    fn resolution(&mut self) -> wasmtime::Result<Datetime> {
        Ok(datetime(self.ctx.platform().wall_resolution()))
    }
}

fn datetime(WallTime { seconds, nanoseconds }: WallTime) -> Datetime {
    Datetime { seconds, nanoseconds }
}

/// Makes a pollable for `deadline` (monotonic nanoseconds; `None`: never).
fn subscribe_deadline(
    table: &mut ResourceTable,
    platform: &Arc<dyn Platform>,
    deadline: Option<u64>,
) -> wasmtime::Result<Resource<DynPollable>> {
    // The deadline resource is not handed to the guest: it is the parent that `subscribe`
    // needs, and deleting the pollable deletes it too.
    let deadline = table.push(Deadline { platform: Arc::clone(platform), deadline })?;
    subscribe(table, deadline)
}

/// A point on the monotonic clock that a pollable waits for.
struct Deadline {
    platform: Arc<dyn Platform>,
    deadline: Option<u64>,
}

#[wasmtime_wasi_io::async_trait]
impl Pollable for Deadline {
    async fn ready(&mut self) {
        poll_fn(|_cx| match self.deadline {
            Some(deadline) if self.platform.monotonic_now() >= deadline => Poll::Ready(()),
            Some(deadline) => {
                self.platform.wake_at(deadline);
                Poll::Pending
            }
            None => Poll::Pending,
        })
        .await
    }
}
