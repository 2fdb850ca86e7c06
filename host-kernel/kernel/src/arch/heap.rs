//! The kernel heap: one free-list allocator over the largest RAM region after the image.

use linked_list_allocator::LockedHeap;

#[global_allocator]
static ALLOCATOR: LockedHeap = LockedHeap::empty();

/// Hands `start..end` to the allocator. Called once, before the first allocation.
pub fn init(start: u64, end: u64) {
    // SAFETY: the caller passes RAM that nothing else uses (above the kernel and payload,
    // from the loader's memory map, identity mapped), and calls this exactly once.
    unsafe { ALLOCATOR.lock().init(start as *mut u8, (end - start) as usize) };
}

/// Bytes handed out and still free.
pub fn usage() -> (usize, usize) {
    let heap = ALLOCATOR.lock();
    (heap.used(), heap.free())
}

/// Memory for `layout` straight from the allocator, as an address (for page frames, which are
/// never handed back to it).
pub fn allocate(layout: core::alloc::Layout) -> Option<u64> {
    ALLOCATOR.lock().allocate_first_fit(layout).ok().map(|block| block.as_ptr() as u64)
}
