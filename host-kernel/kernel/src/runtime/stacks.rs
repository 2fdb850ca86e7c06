//! wasmtime's fiber stacks, from the kernel heap, each with an unmapped guard page below it: a
//! host function that overflows the stack the component runs on faults on the guard page and is
//! reported as the application's stack overflow, instead of overwriting the heap below.
//! (Wasm itself never gets that far: wasmtime checks its stack depth against `max_wasm_stack`.)

use alloc::alloc::{Layout, alloc, alloc_zeroed, dealloc};
use alloc::boxed::Box;
use core::ops::Range;

use wasmtime::{StackCreator, StackMemory};

use crate::mm::{self, Stack};

const GUARD: usize = 4096;

pub struct GuardedStacks;

// SAFETY: every stack is a fresh, page-aligned heap allocation of the size asked for (rounded up
// to pages) plus a guard page below it, zeroed when asked, owned by the `FiberStack` until
// wasmtime drops it.
unsafe impl StackCreator for GuardedStacks {
    fn new_stack(&self, size: usize, zeroed: bool) -> wasmtime::Result<Box<dyn StackMemory>> {
        let size = size.next_multiple_of(GUARD).max(GUARD);
        let layout = Layout::from_size_align(size + GUARD, GUARD)?;
        // SAFETY: the layout's size is non-zero.
        let base = unsafe { if zeroed { alloc_zeroed(layout) } else { alloc(layout) } };
        if base.is_null() {
            wasmtime::bail!("the kernel heap has no room for a {} KiB fiber stack", size >> 10);
        }
        let base = base as usize;
        let stack = FiberStack { base, size };
        mm::add_guard(stack.guard(), stack.stack(), Stack::Fiber);
        Ok(Box::new(stack))
    }
}

/// A stack and its guard page: `base..base + GUARD` is the guard, the stack lies above it.
struct FiberStack {
    base: usize,
    size: usize,
}

impl FiberStack {
    fn guard(&self) -> Range<u64> {
        self.base as u64..(self.base + GUARD) as u64
    }

    fn stack(&self) -> Range<u64> {
        (self.base + GUARD) as u64..(self.base + GUARD + self.size) as u64
    }

    fn layout(&self) -> Layout {
        Layout::from_size_align(self.size + GUARD, GUARD).expect("the layout it was allocated with")
    }
}

// SAFETY: the ranges describe the allocation made in `new_stack`, which lives until `drop`.
unsafe impl StackMemory for FiberStack {
    fn top(&self) -> *mut u8 {
        (self.base + GUARD + self.size) as *mut u8
    }
    fn range(&self) -> Range<usize> {
        self.base + GUARD..self.base + GUARD + self.size
    }
    fn guard_range(&self) -> Range<*mut u8> {
        self.base as *mut u8..(self.base + GUARD) as *mut u8
    }
}

impl Drop for FiberStack {
    fn drop(&mut self) {
        mm::remove_guard(self.guard(), self.stack());
        // SAFETY: `base` was allocated with this layout in `new_stack`; wasmtime no longer runs
        // on the stack once it drops it. The guard page is mapped again, so the allocator may
        // write to it.
        unsafe { dealloc(self.base as *mut u8, self.layout()) };
    }
}
