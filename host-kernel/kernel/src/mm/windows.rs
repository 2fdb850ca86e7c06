//! Memory windows: virtual address ranges above the identity map, reserved whole and backed by
//! frames only where made accessible — what wasmtime's virtual-memory hooks ask for
//! (`runtime::virtual_memory`). A linear memory lives in one: it is reserved for its largest
//! size at once, so `memory.grow` makes more pages accessible where they are instead of copying
//! the memory to a bigger allocation, and what lies beyond its end faults.
//!
//! Frames come from the kernel heap, 2 MiB at a time, and go back to a free list of this module
//! (not to the heap) when a window lets them go. Pages made accessible are given a frame at
//! once but stay absent until first touched ([`Leaf::lazy`]): the page fault that follows
//! zeroes the frame and maps it ([`fault_in`]), so a memory costs the zeroing of the pages it
//! uses, not of its whole initial size (a component's 1 MiB and more, for every instance of a
//! served `wasi:http` handler). A window unmapped whole ([`unreserve`]) is
//! reused for the next reservation of the same span, so a server that instantiates a component
//! for every request (8 GiB of window each) never runs out of the window space (1 TiB .. 64
//! TiB, about 8000 such memories at once).

use alloc::alloc::Layout;
use alloc::vec::Vec;
use core::ops::Range;

use spin::Mutex;

use super::{Access, page_up, with_space};
use crate::arch::paging::{LARGE_PAGE, Leaf, PAGE, zero_frame};

/// Where windows start: past the identity map's 512 GiB (the first PML4 entry).
const WINDOWS_START: u64 = 1 << 40;
const WINDOWS_END: u64 = 64 << 40;
/// Unmapped space left after each window, beyond any guard region wasmtime asks for.
const GAP: u64 = LARGE_PAGE;

/// The window space: where the next fresh window goes, the windows reserved now and those
/// unmapped whole, each as (start, span).
struct Space {
    next: u64,
    live: Vec<(u64, u64)>,
    free: Vec<(u64, u64)>,
}

static SPACE: Mutex<Space> = Mutex::new(Space { next: WINDOWS_START, live: Vec::new(), free: Vec::new() });

/// Frames for windows: a free list, and the rest of the last chunk taken from the heap.
struct Frames {
    free: Vec<u64>,
    chunk: Range<u64>,
}

static FRAMES: Mutex<Frames> = Mutex::new(Frames { free: Vec::new(), chunk: 0..0 });

/// The kernel heap cannot back the pages asked for.
#[derive(Debug)]
pub struct OutOfMemory;

impl Frames {
    /// A frame, holding whatever it held (a lazy page's: zeroed when the page is first touched).
    fn take(&mut self) -> Result<u64, OutOfMemory> {
        let frame = match self.free.pop() {
            Some(frame) => frame,
            None => {
                if self.chunk.is_empty() {
                    let layout = Layout::from_size_align(LARGE_PAGE as usize, PAGE as usize).expect("a valid layout");
                    let chunk = crate::arch::heap::allocate(layout).ok_or(OutOfMemory)?;
                    self.chunk = chunk..chunk + LARGE_PAGE;
                }
                let frame = self.chunk.start;
                self.chunk.start += PAGE;
                frame
            }
        };
        Ok(frame)
    }
}

/// Zeroes a frame of this module's.
#[allow(unsafe_code)]
fn zero(frame: u64) {
    // SAFETY: the frame is a page of the heap this module owns, backing (or about to back) one
    // window page only, whose contents are being discarded.
    unsafe { zero_frame(frame) };
}

/// A page fault at `address`: if it is on a window page not touched since it was made
/// accessible, zeroes its frame and makes it present (the access is then retried); whether it
/// was one. Called from the page-fault handler, so it never waits for a lock: with the page
/// tables busy (a fault inside the kernel's own update of them) it is not one.
pub fn fault_in(address: u64) -> bool {
    if !contains(address) {
        return false;
    }
    let page = address & !(PAGE - 1);
    super::try_with_space(|space| {
        let mut faulted_in = false;
        space.update_leaves(page, page + PAGE, false, |_, leaf| match (leaf.lazy_access(), leaf.frame()) {
            (Some(access), Some(frame)) => {
                zero(frame);
                faulted_in = true;
                Leaf::backed(frame, Some(access))
            }
            _ => leaf,
        });
        if faulted_in {
            space.flush(page, page + PAGE);
        }
        faulted_in
    })
    .unwrap_or(false)
}

/// The address space a window of `size` bytes takes: whole large pages and a gap.
fn span_of(size: usize) -> u64 {
    page_up(size as u64).max(PAGE).next_multiple_of(LARGE_PAGE) + GAP
}

/// Reserves a window of `size` bytes (rounded up to pages), all inaccessible; its address. A
/// window of the same span unmapped before is reused (its pages are all absent).
pub fn reserve(size: usize) -> Option<u64> {
    let span = span_of(size);
    let mut space = SPACE.lock();
    let start = match space.free.iter().position(|&(_, s)| s == span) {
        Some(at) => space.free.swap_remove(at).0,
        None => {
            let start = space.next;
            if start + span > WINDOWS_END {
                return None;
            }
            space.next += span;
            start
        }
    };
    space.live.push((start, span));
    Some(start)
}

/// `start..start + size` was unmapped ([`release`]d): if it is a whole window, its space is
/// free for another.
pub fn unreserve(start: u64, size: usize) {
    let window = (start, span_of(size));
    let mut space = SPACE.lock();
    if let Some(at) = space.live.iter().position(|&w| w == window) {
        space.live.swap_remove(at);
        space.free.push(window);
    }
}

/// Whether `address` is in the window space.
pub fn contains(address: u64) -> bool {
    (WINDOWS_START..WINDOWS_END).contains(&address)
}

fn in_windows(range: &Range<u64>) -> bool {
    WINDOWS_START <= range.start && range.end <= WINDOWS_END && range.start % PAGE == 0
}

/// Gives `range` of a window the access `access` (`None`: inaccessible), backing its pages with
/// frames where they have none. `fresh`: the pages' contents are discarded (they read as zeros
/// again), as a fresh mapping's would; otherwise kept.
pub fn set_access(range: Range<u64>, access: Option<Access>, fresh: bool) -> Result<(), OutOfMemory> {
    let range = range.start..page_up(range.end);
    assert!(in_windows(&range), "{range:#x?} is not in the window space");
    let mut result = Ok(());
    with_space(|space| {
        let mut frames = FRAMES.lock();
        // Tables are needed only where pages become accessible.
        space.update_leaves(range.start, range.end, access.is_some(), |_, leaf| {
            if result.is_err() {
                return leaf;
            }
            let kept = match (leaf.frame(), fresh) {
                (Some(frame), true) => {
                    frames.free.push(frame);
                    None
                }
                (frame, _) => frame,
            };
            match (kept, access, leaf.lazy_access().is_some()) {
                // Untouched, its contents are zeros still to be written.
                (Some(frame), Some(access), true) => Leaf::lazy(frame, access),
                (Some(frame), None, true) => {
                    zero(frame);
                    Leaf::backed(frame, None)
                }
                (Some(frame), access, false) => Leaf::backed(frame, access),
                (None, None, _) => Leaf::ABSENT,
                (None, Some(access), _) => match frames.take() {
                    Ok(frame) => Leaf::lazy(frame, access),
                    Err(e) => {
                        result = Err(e);
                        Leaf::ABSENT
                    }
                },
            }
        });
        space.flush(range.start, range.end);
    });
    result
}

/// Lets `range` of a window go: its frames return to the free list and any access faults.
pub fn release(range: Range<u64>) {
    let range = range.start..page_up(range.end);
    assert!(in_windows(&range), "{range:#x?} is not in the window space");
    with_space(|space| {
        let mut frames = FRAMES.lock();
        space.update_leaves(range.start, range.end, false, |_, leaf| {
            if let Some(frame) = leaf.frame() {
                frames.free.push(frame);
            }
            Leaf::ABSENT
        });
        space.flush(range.start, range.end);
    });
}
