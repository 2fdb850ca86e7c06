//! The x86-64 page-table format (4-level, 4 KiB and 2 MiB pages) and the instructions that
//! switch and flush it. `mm` decides what is mapped how; this file only knows how to write it.
//!
//! The address space is an identity map (virtual = physical), so a table's physical address is
//! also where the kernel reads and writes it. Tables come from the kernel heap, page-aligned.
//! Intermediate entries are always present, writable and executable: the leaf decides, since
//! the CPU grants the intersection of the levels' permissions.

use alloc::alloc::{Layout, alloc_zeroed};
use core::arch::asm;

/// A 4 KiB page.
pub const PAGE: u64 = 4096;
/// A 2 MiB page, mapped by one page-directory entry.
pub const LARGE_PAGE: u64 = 2 << 20;

const PRESENT: u64 = 1 << 0;
const WRITABLE: u64 = 1 << 1;
const WRITE_THROUGH: u64 = 1 << 3;
const CACHE_DISABLE: u64 = 1 << 4;
const HUGE: u64 = 1 << 7;
/// Software bit (ignored by the CPU): the entry holds a frame of its own, kept while the page is
/// inaccessible (memory-window pages only; see [`Leaf`]).
const BACKED: u64 = 1 << 9;
/// Software bit: a memory-window page that is accessible but has not been touched: not present
/// yet, its frame holding whatever it last held; the first access zeroes the frame and makes
/// the page present (`mm::windows::fault_in`). See [`Leaf::lazy`].
const LAZY: u64 = 1 << 10;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;
/// The leaf bits that say how a page may be used (a 2 MiB entry's split into 4 KiB keeps them).
const ACCESS_BITS: u64 = PRESENT | WRITABLE | WRITE_THROUGH | CACHE_DISABLE | NO_EXECUTE;

const EFER: u32 = 0xC000_0080;
const EFER_NXE: u64 = 1 << 11;
const CR0_WP: u64 = 1 << 16;

/// How a mapped page may be used. There is no writable-and-executable value: the kernel cannot
/// express one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and execute: code.
    Execute,
    /// Read only, not executable: constants, the image's payload.
    Read,
    /// Read and write, not executable: data, heap, stacks.
    ReadWrite,
    /// Read and write, uncached, not executable: device registers.
    Device,
}

impl Access {
    pub fn name(self) -> &'static str {
        match self {
            Access::Execute => "read + execute",
            Access::Read => "read-only",
            Access::ReadWrite => "read + write",
            Access::Device => "read + write, uncached",
        }
    }

    fn bits(self) -> u64 {
        match self {
            Access::Execute => PRESENT,
            Access::Read => PRESENT | NO_EXECUTE,
            Access::ReadWrite => PRESENT | WRITABLE | NO_EXECUTE,
            Access::Device => PRESENT | WRITABLE | NO_EXECUTE | CACHE_DISABLE | WRITE_THROUGH,
        }
    }

    fn from_bits(bits: u64) -> Option<Access> {
        if bits & PRESENT == 0 {
            return None;
        }
        Some(match (bits & WRITABLE != 0, bits & NO_EXECUTE != 0, bits & CACHE_DISABLE != 0) {
            (true, _, true) => Access::Device,
            (true, _, false) => Access::ReadWrite,
            (false, false, _) => Access::Execute,
            (false, true, _) => Access::Read,
        })
    }
}

/// Turns on what the protections rely on: EFER.NXE (the no-execute bit is honoured rather than
/// reserved) and CR0.WP (the kernel's own writes to read-only pages fault).
pub fn enable_protection() {
    // SAFETY: NXE and WP only make the CPU stricter; the boot tables set no NX bits yet, so
    // nothing that runs now loses execute permission.
    unsafe {
        let (low, high): (u32, u32);
        asm!("rdmsr", in("ecx") EFER, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags));
        let efer = ((high as u64) << 32 | low as u64) | EFER_NXE;
        asm!("wrmsr", in("ecx") EFER, in("eax") efer as u32, in("edx") (efer >> 32) as u32, options(nostack, preserves_flags));
        let cr0: u64;
        asm!("mov {}, cr0", out(reg) cr0, options(nomem, nostack, preserves_flags));
        asm!("mov cr0, {}", in(reg) cr0 | CR0_WP, options(nostack, preserves_flags));
    }
}

/// A 4 KiB leaf of a memory window (`mm::windows`): absent, or backed by a frame of its own
/// that it keeps whatever its access — `None` (inaccessible: any access faults) included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leaf(u64);

impl Leaf {
    pub const ABSENT: Leaf = Leaf(0);

    /// A page backed by `frame` (page-aligned), accessible as `access` says.
    pub fn backed(frame: u64, access: Option<Access>) -> Leaf {
        Leaf(frame | BACKED | access.map_or(0, Access::bits))
    }

    /// The frame behind the page, if it has one.
    pub fn frame(self) -> Option<u64> {
        (self.0 & BACKED != 0).then_some(self.0 & ADDRESS)
    }

    /// A page accessible as `access` once touched, backed by `frame` then zeroed: until its
    /// first access it is not present, and that access faults in it.
    pub fn lazy(frame: u64, access: Access) -> Leaf {
        Leaf(frame | BACKED | LAZY | (access.bits() & !PRESENT))
    }

    /// For a page not touched since it was made accessible: the access it gets when touched.
    pub fn lazy_access(self) -> Option<Access> {
        if self.0 & LAZY == 0 {
            return None;
        }
        Access::from_bits(self.0 | PRESENT)
    }
}

/// Fills a frame with zeros.
///
/// # Safety
///
/// `frame` is a page-aligned 4 KiB of identity-mapped, writable memory that nothing else uses.
pub unsafe fn zero_frame(frame: u64) {
    // SAFETY: per the caller's contract.
    unsafe { core::ptr::write_bytes(frame as *mut u8, 0, PAGE as usize) };
}

/// A page table of any level.
#[repr(C, align(4096))]
struct Table([u64; 512]);

fn new_table() -> u64 {
    let layout = Layout::new::<Table>();
    // SAFETY: the layout is 4 KiB, non-zero.
    let table = unsafe { alloc_zeroed(layout) };
    assert!(!table.is_null(), "the kernel heap has no page for a page table");
    table as u64
}

fn entries(table: u64) -> *mut u64 {
    table as *mut u64
}

fn read(table: u64, index: usize) -> u64 {
    // SAFETY: `table` is a page table this module allocated (or the root it was given), identity
    // mapped and readable; `index` < 512.
    unsafe { entries(table).add(index).read_volatile() }
}

fn write(table: u64, index: usize, entry: u64) {
    // SAFETY: as for `read`; the tables are only written here, under the caller's lock.
    unsafe { entries(table).add(index).write_volatile(entry) }
}

fn index(address: u64, level: u32) -> usize {
    ((address >> (12 + 9 * level)) & 511) as usize
}

/// One identity-mapped address space: its root table (PML4).
pub struct AddressSpace {
    root: u64,
}

impl AddressSpace {
    /// An empty address space: nothing mapped.
    pub fn new() -> Self {
        AddressSpace { root: new_table() }
    }

    /// The table the entry at `level` (3 = PML4 .. 1 = PD) points to for `address`, created
    /// when absent (`create`); a 2 MiB leaf in a PD is split into 512 4 KiB leaves with the
    /// same access.
    fn next_table(&mut self, table: u64, address: u64, level: u32, create: bool) -> Option<u64> {
        let i = index(address, level);
        let entry = read(table, i);
        if entry & PRESENT == 0 {
            if !create {
                return None;
            }
            let next = new_table();
            write(table, i, next | PRESENT | WRITABLE);
            return Some(next);
        }
        if entry & HUGE != 0 {
            debug_assert_eq!(level, 1, "only 2 MiB pages are used");
            let next = new_table();
            let base = entry & ADDRESS & !(LARGE_PAGE - 1);
            for page in 0..512 {
                write(next, page, (base + page as u64 * PAGE) | (entry & ACCESS_BITS));
            }
            write(table, i, next | PRESENT | WRITABLE);
            return Some(next);
        }
        Some(entry & ADDRESS)
    }

    /// Maps `start..end` (page-aligned) to itself with `access`, or unmaps it (`None`). Whole
    /// aligned 2 MiB blocks become 2 MiB pages when `large` allows. Returns the number of 4 KiB
    /// pages changed, for the caller to decide how to flush.
    pub fn set(&mut self, start: u64, end: u64, access: Option<Access>, large: bool) -> u64 {
        assert!(start % PAGE == 0 && end % PAGE == 0 && start <= end, "unaligned range {start:#x}..{end:#x}");
        let leaf = access.map_or(0, Access::bits);
        // Unmapping creates no tables: what has none is unmapped already.
        let create = leaf != 0;
        let mut address = start;
        while address < end {
            let block_end = (address | (LARGE_PAGE - 1)) + 1;
            let Some(pd) = self
                .next_table(self.root, address, 3, create)
                .and_then(|pdpt| self.next_table(pdpt, address, 2, create))
            else {
                address = block_end;
                continue;
            };
            let pd_entry = read(pd, index(address, 1));
            let whole_block = address % LARGE_PAGE == 0 && end >= block_end;
            if whole_block && (large || pd_entry & HUGE != 0 || leaf == 0) {
                // The whole 2 MiB changes: one entry (a table under it, if any, is left unused).
                let entry = if leaf == 0 { 0 } else { address | leaf | HUGE };
                write(pd, index(address, 1), entry);
                address = block_end;
                continue;
            }
            if leaf == 0 && pd_entry & PRESENT == 0 {
                address = block_end.min(end);
                continue;
            }
            let pt = self.next_table(pd, address, 1, true).expect("created");
            for page in (address..block_end.min(end)).step_by(PAGE as usize) {
                write(pt, index(page, 0), if leaf == 0 { 0 } else { page | leaf });
            }
            address = block_end.min(end);
        }
        (end - start) / PAGE
    }

    /// Rewrites the 4 KiB leaves of `start..end` (page-aligned, in a part of the address space
    /// mapped with 4 KiB pages only) with `update(address, leaf)`. `create`: tables are created
    /// where there are none; otherwise the leaves without a table are left absent (for updates
    /// that leave absent leaves absent).
    pub fn update_leaves(&mut self, start: u64, end: u64, create: bool, mut update: impl FnMut(u64, Leaf) -> Leaf) {
        assert!(start % PAGE == 0 && end % PAGE == 0, "unaligned range {start:#x}..{end:#x}");
        let mut address = start;
        // Where the region a missing table would have mapped ends: 512 GiB, 1 GiB or 2 MiB on.
        let past = |address: u64, span: u64| ((address | (span - 1)) + 1).min(end);
        while address < end {
            let block_end = past(address, LARGE_PAGE);
            let Some(pdpt) = self.next_table(self.root, address, 3, create) else {
                address = past(address, 512 << 30);
                continue;
            };
            let Some(pd) = self.next_table(pdpt, address, 2, create) else {
                address = past(address, 1 << 30);
                continue;
            };
            let Some(pt) = self.next_table(pd, address, 1, create) else {
                address = block_end;
                continue;
            };
            for page in (address..block_end).step_by(PAGE as usize) {
                let i = index(page, 0);
                let new = update(page, Leaf(read(pt, i)));
                write(pt, i, new.0);
            }
            address = block_end;
        }
    }

    /// How `address` is mapped, if it is.
    pub fn access(&self, address: u64) -> Option<Access> {
        let mut table = self.root;
        for level in (1..=3).rev() {
            let entry = read(table, index(address, level));
            if entry & PRESENT == 0 {
                return None;
            }
            if entry & HUGE != 0 {
                return Access::from_bits(entry);
            }
            table = entry & ADDRESS;
        }
        Access::from_bits(read(table, index(address, 0)))
    }

    /// Makes this the CPU's address space.
    ///
    /// # Safety
    ///
    /// Everything the kernel touches from now on — its code, stack, data, heap, the devices it
    /// drives — must be mapped with the access it uses it with.
    pub unsafe fn activate(&self) {
        // SAFETY: per the caller's contract; the root is a valid PML4 (page-aligned, identity mapped).
        unsafe { asm!("mov cr3, {}", in(reg) self.root, options(nostack, preserves_flags)) };
    }

    /// Drops stale translations of `start..end` after [`set`](Self::set) changed them in the
    /// active address space: page by page for a few pages, by reloading CR3 for many.
    pub fn flush(&self, start: u64, end: u64) {
        if (end - start) / PAGE > 32 {
            // SAFETY: reloading the active root changes no mapping; it only empties the TLB.
            unsafe { asm!("mov cr3, {}", in(reg) self.root, options(nostack, preserves_flags)) };
            return;
        }
        for page in (start..end).step_by(PAGE as usize) {
            // SAFETY: INVLPG only drops a cached translation.
            unsafe { asm!("invlpg [{}]", in(reg) page, options(nostack, preserves_flags)) };
        }
    }
}
