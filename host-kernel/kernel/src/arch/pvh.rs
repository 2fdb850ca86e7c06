//! What the PVH loader left in memory: the `hvm_start_info` structure (memory map, command
//! line) and, after the kernel, the image's payload.
//!
//! The start info lies in low memory, which `mm` leaves unmapped: the memory map is copied on
//! first use and the command line must be read before `mm::init`.

use core::ptr;

use morgana_image::boot_params::MAX_COMMAND_LINE;

unsafe extern "C" {
    static pvh_start_info: u64;
    static __kernel_end: u8;
}

const START_INFO_MAGIC: u32 = 0x336E_C578;
const E820_RAM: u32 = 1;
/// The boot page tables map this much; memory above it is not used.
const MAPPED: u64 = 4 << 30;

/// A usable RAM range.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    pub start: u64,
    pub end: u64,
}

fn start_info() -> Option<u64> {
    // SAFETY: written once by the boot code before `kernel_main`, read-only afterwards.
    let address = unsafe { ptr::read_volatile(&raw const pvh_start_info) };
    // SAFETY: the loader points %ebx at a valid start info structure in mapped low memory.
    (address != 0 && unsafe { ptr::read(address as *const u32) } == START_INFO_MAGIC).then_some(address)
}

fn read_u32(address: u64) -> u32 {
    // SAFETY: only called with addresses inside the start info structure or its memory map.
    unsafe { ptr::read_unaligned(address as *const u32) }
}

fn read_u64(address: u64) -> u64 {
    // SAFETY: as for `read_u32`.
    unsafe { ptr::read_unaligned(address as *const u64) }
}

/// The first byte after the kernel's image in memory.
pub fn kernel_end() -> u64 {
    &raw const __kernel_end as u64
}

/// The most RAM regions kept from the memory map (QEMU gives two or three).
const MAX_REGIONS: usize = 32;

struct Regions {
    list: [Region; MAX_REGIONS],
    len: usize,
}

static REGIONS: spin::Once<Regions> = spin::Once::new();

fn read_regions() -> Regions {
    let mut regions = Regions { list: [Region { start: 0, end: 0 }; MAX_REGIONS], len: 0 };
    let Some(info) = start_info() else { return regions };
    if read_u32(info + 4) < 1 {
        return regions; // version 0 has no memory map
    }
    let map = read_u64(info + 40);
    let entries = read_u32(info + 48) as u64;
    for i in 0..entries.min(128) {
        let entry = map + i * 24;
        if read_u32(entry + 16) != E820_RAM {
            continue;
        }
        let start = read_u64(entry);
        let end = start.saturating_add(read_u64(entry + 8)).min(MAPPED);
        if end > start && regions.len < MAX_REGIONS {
            regions.list[regions.len] = Region { start, end };
            regions.len += 1;
        }
    }
    regions
}

/// The RAM regions of the memory map (below 4 GiB only). The first call (before `mm::init`)
/// copies them.
pub fn ram_regions(mut each: impl FnMut(Region)) {
    let regions = REGIONS.call_once(read_regions);
    regions.list[..regions.len].iter().copied().for_each(&mut each);
}

/// The kernel command line was longer than the kernel reads ([`MAX_COMMAND_LINE`]).
pub struct CommandLineTooLong;

/// The kernel command line, if the loader passed one; an error, rather than a part of it,
/// when it is longer than [`MAX_COMMAND_LINE`] bytes. Only before `mm::init`: copy it.
pub fn command_line() -> Result<Option<&'static [u8]>, CommandLineTooLong> {
    let Some(info) = start_info() else { return Ok(None) };
    let address = read_u64(info + 24);
    if address == 0 || address >= MAPPED {
        return Ok(None);
    }
    let mut len = 0;
    // SAFETY: the loader wrote a NUL-terminated string at `address`, in mapped memory; the
    // scan stops at the limit, below the end of the map.
    while unsafe { ptr::read((address + len) as *const u8) } != 0 {
        len += 1;
        if len > MAX_COMMAND_LINE as u64 || address + len >= MAPPED {
            return Err(CommandLineTooLong);
        }
    }
    // SAFETY: the `len` bytes just read are the string; nothing writes to them afterwards.
    Ok(Some(unsafe { core::slice::from_raw_parts(address as *const u8, len as usize) }))
}

/// The memory where the image's payload starts, if memory reaches that far: `len` bytes are
/// returned, clipped to the RAM region it lies in.
pub fn payload_memory(len: u64) -> Option<&'static [u8]> {
    let start = kernel_end().next_multiple_of(morgana_image::PAYLOAD_ALIGN);
    let mut available = 0;
    ram_regions(|r| {
        if r.start <= start && start < r.end {
            available = r.end - start;
        }
    });
    let len = len.min(available);
    if len == 0 {
        return None;
    }
    // SAFETY: the range lies in RAM that the loader filled from the image and that the heap
    // does not use (it starts after the payload); nothing writes to it.
    Some(unsafe { core::slice::from_raw_parts(start as *const u8, len as usize) })
}
