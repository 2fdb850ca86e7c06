//! Memory management: the kernel's one address space, what is mapped in it and how.
//!
//! The map is an identity map (virtual = physical) built once at boot from the linker's section
//! boundaries and the loader's memory map, replacing the boot code's writable-and-executable
//! 4 GiB:
//!
//! ```text
//! 0 .. 2 MiB              unmapped: a null pointer (or any low address) faults
//! kernel text             read + execute
//! kernel rodata, notes    read only
//! kernel data, bss        read + write; every stack in it has an unmapped guard page below
//! payload (the image's)   read only; the component's code in it becomes read + execute once
//!                         wasmtime has loaded it (`publish_code`), and never writable again
//! heap                    read + write; fiber stacks carved from it get a guard page
//! devices (above RAM)     read + write, uncached
//! windows (1 TiB ..)      linear memories and other wasmtime reservations (`windows`):
//!                         accessible only where wasmtime made them so
//! anything else           unmapped
//! ```
//!
//! Nothing is ever both writable and executable: [`Access`] has no such value. A page fault is
//! explained by [`describe`] — which region the address is in, and whether it is a stack's
//! guard page — so an overflow is reported as one, with the stack it came from.

#[allow(unsafe_code)]
pub mod probe;
pub mod windows;

use core::ops::Range;
use core::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use spin::{Mutex, Once};

pub use crate::arch::paging::Access;
pub use crate::arch::paging::PAGE;
use crate::arch::paging::{AddressSpace, LARGE_PAGE, enable_protection};
use crate::arch::{gdt, sections};

/// The first bytes that are never mapped, whatever else changes: a null dereference, or one at a
/// small offset from null (a field of a null struct pointer), always faults.
pub const NULL_GUARD: u64 = 64 << 10;

/// What an address range of the layout holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Region {
    Null,
    LowMemory,
    KernelCode,
    KernelConstants,
    KernelData,
    Payload,
    ComponentCode,
    Heap,
    /// A stack (with a guard page below it), in the kernel's data or in the heap.
    Stack(Stack),
    /// A memory window: linear memories and wasmtime's other reservations.
    Window,
    Devices,
    Unmapped,
}

impl Region {
    pub fn name(self) -> &'static str {
        match self {
            Region::Null => "the null page (the first 64 KiB are never mapped)",
            Region::LowMemory => "low memory (unmapped)",
            Region::KernelCode => "kernel code",
            Region::KernelConstants => "kernel constants",
            Region::KernelData => "kernel data",
            Region::Payload => "the image's payload",
            Region::ComponentCode => "the component's code",
            Region::Heap => "the kernel heap",
            Region::Stack(stack) => stack.name(),
            Region::Window => "a memory window (linear memory or a wasmtime reservation)",
            Region::Devices => "device memory",
            Region::Unmapped => "unmapped memory",
        }
    }
}

/// The stacks that have guard pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Stack {
    /// The boot stack, which the kernel's own code and the executor run on.
    Boot = 1,
    /// The stack double faults and NMIs run on.
    DoubleFault = 2,
    /// The stack page faults run on (so that a stack overflow can be reported).
    PageFault = 3,
    /// A wasmtime fiber stack: the component's wasm and the host functions it calls.
    Fiber = 4,
}

impl Stack {
    fn from_u8(value: u8) -> Option<Stack> {
        [Stack::Boot, Stack::DoubleFault, Stack::PageFault, Stack::Fiber].into_iter().find(|s| *s as u8 == value)
    }

    pub fn name(self) -> &'static str {
        match self {
            Stack::Boot => "the kernel's boot stack",
            Stack::DoubleFault => "the double-fault stack",
            Stack::PageFault => "the page-fault stack",
            Stack::Fiber => "the component's fiber stack",
        }
    }

    /// Whether the stack is the guest's (wasm and the host calls it makes) rather than the kernel's.
    pub fn is_guest(self) -> bool {
        self == Stack::Fiber
    }
}

/// Ranges registered while the kernel runs (guard pages, published code), readable from a fault
/// handler without taking a lock: start, end, tag; a zero end is a free slot.
struct Registry<const N: usize> {
    slots: [(AtomicU64, AtomicU64, AtomicU8); N],
}

impl<const N: usize> Registry<N> {
    const fn new() -> Self {
        Registry { slots: [const { (AtomicU64::new(0), AtomicU64::new(0), AtomicU8::new(0)) }; N] }
    }

    /// Records a range; `false` when every slot is taken (the range then goes unnamed).
    fn add(&self, range: &Range<u64>, tag: u8) -> bool {
        for (start, end, slot_tag) in &self.slots {
            if end.load(Ordering::Acquire) == 0 {
                start.store(range.start, Ordering::Relaxed);
                slot_tag.store(tag, Ordering::Relaxed);
                end.store(range.end, Ordering::Release);
                return true;
            }
        }
        false
    }

    fn remove(&self, range: &Range<u64>) {
        for (start, end, _) in &self.slots {
            if start.load(Ordering::Relaxed) == range.start && end.load(Ordering::Acquire) == range.end {
                end.store(0, Ordering::Release);
            }
        }
    }

    fn find(&self, address: u64) -> Option<(Range<u64>, u8)> {
        self.slots.iter().find_map(|(start, end, tag)| {
            let (start, end) = (start.load(Ordering::Relaxed), end.load(Ordering::Acquire));
            (start <= address && address < end).then(|| (start..end, tag.load(Ordering::Relaxed)))
        })
    }
}

/// The regions fixed at boot.
struct Layout {
    /// The ELF notes the loader reads, before the text.
    notes: Range<u64>,
    text: Range<u64>,
    rodata: Range<u64>,
    data: Range<u64>,
    payload: Range<u64>,
    heap: Range<u64>,
    devices: Range<u64>,
}

static LAYOUT: Once<Layout> = Once::new();
static SPACE: Mutex<Option<AddressSpace>> = Mutex::new(None);
static GUARDS: Registry<64> = Registry::new();
/// The stacks above the guards, for naming faults in them.
static STACKS: Registry<64> = Registry::new();
static CODE: Registry<16> = Registry::new();

/// The top of the physical address range the kernel maps devices in (the 32-bit PCI and
/// platform device hole ends at 4 GiB).
const DEVICES_END: u64 = 4 << 30;

fn page_down(address: u64) -> u64 {
    address & !(PAGE - 1)
}

fn page_up(address: u64) -> u64 {
    address.next_multiple_of(PAGE)
}

/// Builds the kernel's address space and switches to it. `payload` is the image's payload,
/// `heap` the kernel heap (already handed to the allocator: the page tables come from it),
/// `ram_end` the end of the highest RAM below 4 GiB (devices are mapped from there up).
#[allow(unsafe_code)]
pub fn init(payload: Range<u64>, heap: Range<u64>, ram_end: u64) {
    let kernel = sections::kernel();
    let layout = Layout {
        notes: kernel.start..kernel.text.start,
        text: kernel.text,
        rodata: kernel.rodata,
        data: kernel.data,
        payload: page_down(payload.start)..page_up(payload.end),
        heap: page_up(heap.start)..page_down(heap.end),
        devices: ram_end.next_multiple_of(LARGE_PAGE)..DEVICES_END,
    };
    let mut space = AddressSpace::new();
    space.set(layout.text.start, layout.text.end, Some(Access::Execute), false);
    space.set(layout.notes.start, layout.notes.end, Some(Access::Read), false);
    space.set(layout.rodata.start, layout.rodata.end, Some(Access::Read), false);
    space.set(layout.data.start, layout.data.end, Some(Access::ReadWrite), false);
    space.set(layout.payload.start, layout.payload.end, Some(Access::Read), true);
    space.set(layout.heap.start, layout.heap.end, Some(Access::ReadWrite), true);
    space.set(layout.devices.start, layout.devices.end, Some(Access::Device), true);
    let [double_fault, page_fault] = gdt::stacks();
    let stacks =
        [(Stack::Boot, sections::boot_stack()), (Stack::DoubleFault, double_fault), (Stack::PageFault, page_fault)];
    for (stack, (guard, range)) in stacks {
        space.set(guard.start, guard.end, None, false);
        GUARDS.add(&guard, stack as u8);
        STACKS.add(&range, stack as u8);
    }
    LAYOUT.call_once(|| layout);
    enable_protection();
    // SAFETY: the map covers what the kernel uses from here on: its sections (the stacks in its
    // data, but for their guard pages), the payload, the heap and the device hole; the code
    // running now is in the text mapped executable, its stack is the boot stack in the data.
    unsafe { space.activate() };
    *SPACE.lock() = Some(space);
}

fn with_space<T>(f: impl FnOnce(&mut AddressSpace) -> T) -> T {
    let mut space = SPACE.lock();
    f(space.as_mut().expect("mm::init has run"))
}

/// As [`with_space`], unless the page tables are busy (then `None`): for the page-fault handler,
/// which must not wait for the code it interrupted.
fn try_with_space<T>(f: impl FnOnce(&mut AddressSpace) -> T) -> Option<T> {
    let mut space = SPACE.try_lock()?;
    space.as_mut().map(f)
}

/// Changes the access of `range` (rounded out to pages), or unmaps it.
fn set(range: &Range<u64>, access: Option<Access>) {
    let (start, end) = (page_down(range.start), page_up(range.end));
    with_space(|space| {
        space.set(start, end, access, false);
        space.flush(start, end);
    });
}

/// Makes a loaded component's code read + execute (it must fill whole pages of its own: the
/// pages it shares are no longer writable).
pub fn publish_code(range: Range<u64>) {
    set(&range, Some(Access::Execute));
    CODE.add(&(page_down(range.start)..page_up(range.end)), 0);
}

/// Takes execute permission from code again, giving its pages back the access of their region.
pub fn unpublish_code(range: Range<u64>) {
    let access = match LAYOUT.get() {
        Some(layout) if layout.payload.contains(&range.start) => Access::Read,
        _ => Access::ReadWrite,
    };
    CODE.remove(&(page_down(range.start)..page_up(range.end)));
    set(&range, Some(access));
}

/// Unmaps the page-aligned `guard` below the stack `range`, so that an overflow faults.
pub fn add_guard(guard: Range<u64>, range: Range<u64>, stack: Stack) {
    set(&guard, None);
    GUARDS.add(&guard, stack as u8);
    STACKS.add(&range, stack as u8);
}

/// Maps a guard read + write again (its stack is being freed).
pub fn remove_guard(guard: Range<u64>, range: Range<u64>) {
    GUARDS.remove(&guard);
    STACKS.remove(&range);
    set(&guard, Some(Access::ReadWrite));
}

/// What a faulting address was.
pub struct Description {
    pub region: Region,
    /// The stack whose guard page the address is in, if it is one.
    pub guard_of: Option<Stack>,
}

/// Explains an address, for fault reports. Takes no lock: safe to call from a fault handler
/// whatever the faulting code held.
pub fn describe(address: u64) -> Description {
    if let Some((_, tag)) = GUARDS.find(address) {
        return Description { region: Region::KernelData, guard_of: Stack::from_u8(tag) };
    }
    let region = match LAYOUT.get() {
        _ if address < NULL_GUARD => Region::Null,
        None => Region::Unmapped,
        Some(layout) => {
            if let Some(stack) = STACKS.find(address).and_then(|(_, tag)| Stack::from_u8(tag)) {
                Region::Stack(stack)
            } else if CODE.find(address).is_some() {
                Region::ComponentCode
            } else if layout.text.contains(&address) {
                Region::KernelCode
            } else if layout.rodata.contains(&address) || layout.notes.contains(&address) {
                Region::KernelConstants
            } else if layout.data.contains(&address) {
                Region::KernelData
            } else if layout.payload.contains(&address) {
                Region::Payload
            } else if layout.heap.contains(&address) {
                Region::Heap
            } else if layout.devices.contains(&address) {
                Region::Devices
            } else if windows::contains(address) {
                Region::Window
            } else if address < layout.text.start {
                Region::LowMemory
            } else {
                Region::Unmapped
            }
        }
    };
    Description { region, guard_of: None }
}

/// How `address` is mapped now (`None`: not at all), or `None` when the page tables are busy.
pub fn access(address: u64) -> Option<Access> {
    SPACE.try_lock().and_then(|space| space.as_ref().and_then(|space| space.access(address)))
}
