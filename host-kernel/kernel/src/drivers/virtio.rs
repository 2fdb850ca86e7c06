//! What every virtio driver here shares: DMA in one identity-mapped address space, and finding
//! a device of a kind on either transport — virtio-mmio (QEMU microvm; the transport
//! Firecracker uses too) or virtio-pci (q35) — with the interrupt line it raises.

use core::ptr::NonNull;

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::pci::bus::{Command, PciRoot};
use virtio_drivers::transport::pci::{PciTransport, virtio_device_type};
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use crate::arch::ioapic;
use crate::drivers::pci::{self, PortCam};

const PAGE: usize = 4096;
/// QEMU microvm's virtio-mmio transports: 512 bytes each from here.
const MMIO_BASE: u64 = 0xFEB0_0000;
const MMIO_SIZE: usize = 512;
const MMIO_SLOTS: u64 = 24;

/// DMA for virtio-drivers in one identity-mapped address space: physical = virtual.
pub struct IdentityHal;

// SAFETY: allocations are page-aligned, zeroed and owned by the driver until `dma_dealloc`;
// addresses are identity mapped, so the physical address given to the device is the virtual
// one the driver uses; nothing here is cached differently from what the device sees (QEMU).
unsafe impl Hal for IdentityHal {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = Layout::from_size_align(pages * PAGE, PAGE).expect("a valid DMA layout");
        // SAFETY: the layout has a non-zero size (virtio-drivers asks for at least one page).
        let pointer = NonNull::new(unsafe { alloc_zeroed(layout) }).expect("memory for virtio DMA");
        (pointer.as_ptr() as PhysAddr, pointer)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        let layout = Layout::from_size_align(pages * PAGE, PAGE).expect("a valid DMA layout");
        // SAFETY: the caller passes back what `dma_alloc` returned, with the same page count.
        unsafe { dealloc(vaddr.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).expect("a non-null MMIO address")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr() as *mut u8 as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// A virtio device found at boot, not yet driven.
pub struct Found {
    pub transport: SomeTransport<'static>,
    /// The interrupt line (GSI) it raises.
    pub gsi: u32,
}

/// The first device of `kind`: on the PCI bus when the machine has one (q35), else in the
/// microvm's virtio-mmio slots. `announced` are the slots QEMU announced on the command line
/// (`virtio_mmio.device=`, base and GSI), which say the interrupt line best.
pub fn find(kind: DeviceType, announced: &[(u64, u32)]) -> Option<Found> {
    find_pci(kind).or_else(|| find_mmio(kind, announced))
}

fn find_mmio(kind: DeviceType, announced: &[(u64, u32)]) -> Option<Found> {
    // Unless announced, microvm numbers its virtio-mmio interrupts from GSI 24 with a second
    // I/O APIC, else from 16 (with ACPI on, as when nothing was announced).
    let irq_base = if ioapic::has_second() { 24 } else { 16 };
    (0..MMIO_SLOTS).rev().find_map(|slot| {
        let base = MMIO_BASE + slot * MMIO_SIZE as u64;
        let header = NonNull::new(base as *mut VirtIOHeader)?;
        // SAFETY: each slot is a 512-byte virtio-mmio register window that QEMU maps (an
        // empty one reports device id 0, which `new` refuses); identity mapped, 'static.
        let transport = unsafe { MmioTransport::new(header, MMIO_SIZE) }.ok()?;
        if transport.device_type() != kind {
            // Dropping a transport resets its device, which another driver may be driving
            // (the console channel's, say): let go of it untouched.
            core::mem::forget(transport);
            return None;
        }
        let gsi = announced.iter().find(|(b, _)| *b == base).map_or(irq_base + slot as u32, |(_, irq)| *irq);
        Some(Found { transport: SomeTransport::from(transport), gsi })
    })
}

/// The first function of `kind` on PCI bus 0, its BARs placed by the firmware.
fn find_pci(kind: DeviceType) -> Option<Found> {
    let mut root = PciRoot::new(PortCam);
    let (function, _) = root.enumerate_bus(0).find(|(_, info)| virtio_device_type(info) == Some(kind))?;
    let Some(gsi) = pci::legacy_interrupt_gsi(&PortCam, function) else {
        crate::kprintln!(
            "morgana kernel: warning: virtio {kind:?} at PCI {function} has no interrupt line we can route"
        );
        return None;
    };
    let (_, command) = root.get_status_command(function);
    root.set_command(function, command | Command::MEMORY_SPACE | Command::BUS_MASTER);
    match PciTransport::new::<IdentityHal, _>(&mut root, function) {
        Ok(transport) => Some(Found { transport: SomeTransport::from(transport), gsi }),
        Err(e) => {
            crate::kprintln!("morgana kernel: warning: virtio {kind:?} at PCI {function} is unusable: {e}");
            None
        }
    }
}
