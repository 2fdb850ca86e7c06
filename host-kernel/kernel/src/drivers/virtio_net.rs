//! virtio-net with the `virtio-drivers` crate, over virtio-mmio (QEMU microvm; the transport
//! Firecracker uses too) or virtio-pci (q35), presented to the network stack as a
//! `smoltcp::phy::Device`.
//!
//! Received frames are announced by an interrupt (see `arch::ioapic`); the stack drains the
//! receive queue when it polls. Transmission completes synchronously.

use core::cell::RefCell;
use core::ptr::NonNull;

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use morgana_net::smoltcp::phy::{self, DeviceCapabilities, Medium};
use morgana_net::smoltcp::time::Instant;
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::pci::bus::{Command, PciRoot};
use virtio_drivers::transport::pci::{PciTransport, virtio_device_type};
use virtio_drivers::transport::{DeviceType, SomeTransport, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use crate::drivers::pci::{self, PortCam};

const PAGE: usize = 4096;
const QUEUE_SIZE: usize = 16;
const BUFFER_LEN: usize = 2048;
const MTU: usize = 1514;
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

type Nic = VirtIONet<IdentityHal, SomeTransport<'static>, QUEUE_SIZE>;

/// A virtio-net device found at boot.
pub struct NetDevice {
    nic: RefCell<Nic>,
    /// The interrupt line (GSI) the device raises.
    pub gsi: u32,
    /// The base address of its virtio-mmio window (none on PCI).
    pub mmio_base: Option<u64>,
}

impl NetDevice {
    /// Looks for a virtio-net device: on the PCI bus when the machine has one (q35), else in the
    /// microvm's virtio-mmio slots, whose interrupts are numbered from `mmio_irq_base`.
    pub fn probe(mmio_irq_base: u32) -> Option<Self> {
        Self::probe_pci().or_else(|| Self::probe_mmio(mmio_irq_base))
    }

    fn probe_mmio(irq_base: u32) -> Option<Self> {
        (0..MMIO_SLOTS).rev().find_map(|slot| {
            let header = NonNull::new((MMIO_BASE + slot * MMIO_SIZE as u64) as *mut VirtIOHeader)?;
            // SAFETY: each slot is a 512-byte virtio-mmio register window that QEMU maps (an
            // empty one reports device id 0, which `new` refuses); identity mapped, 'static.
            let transport = unsafe { MmioTransport::new(header, MMIO_SIZE) }.ok()?;
            if transport.device_type() != DeviceType::Network {
                return None;
            }
            let nic = VirtIONet::new(SomeTransport::from(transport), BUFFER_LEN).ok()?;
            Some(NetDevice {
                nic: RefCell::new(nic),
                gsi: irq_base + slot as u32,
                mmio_base: Some(MMIO_BASE + slot * MMIO_SIZE as u64),
            })
        })
    }

    /// The first virtio-net function on PCI bus 0, its BARs placed by the firmware.
    fn probe_pci() -> Option<Self> {
        let mut root = PciRoot::new(PortCam);
        let (function, _) =
            root.enumerate_bus(0).find(|(_, info)| virtio_device_type(info) == Some(DeviceType::Network))?;
        let Some(gsi) = pci::legacy_interrupt_gsi(&PortCam, function) else {
            crate::kprintln!(
                "morgana kernel: warning: virtio-net at PCI {function} has no interrupt line we can route"
            );
            return None;
        };
        let (_, command) = root.get_status_command(function);
        root.set_command(function, command | Command::MEMORY_SPACE | Command::BUS_MASTER);
        let transport = match PciTransport::new::<IdentityHal, _>(&mut root, function) {
            Ok(transport) => transport,
            Err(e) => {
                crate::kprintln!("morgana kernel: warning: virtio-net at PCI {function} is unusable: {e}");
                return None;
            }
        };
        let nic = VirtIONet::new(SomeTransport::from(transport), BUFFER_LEN).ok()?;
        Some(NetDevice { nic: RefCell::new(nic), gsi, mmio_base: None })
    }

    pub fn mac_address(&self) -> [u8; 6] {
        self.nic.borrow().mac_address()
    }

    /// Acknowledges the device's interrupt, lowering its line so the next frame raises it again.
    pub fn acknowledge_interrupt(&self) {
        self.nic.borrow_mut().ack_interrupt();
    }

    /// Whether received frames wait in the queue.
    pub fn has_pending_frames(&self) -> bool {
        self.nic.borrow().can_recv()
    }
}

impl phy::Device for NetDevice {
    type RxToken<'a> = Received<'a>;
    type TxToken<'a> = Transmit<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let buffer = self.nic.borrow_mut().receive().ok()?;
        Some((Received { nic: &self.nic, buffer: Some(buffer) }, Transmit { nic: &self.nic }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        self.nic.borrow().can_send().then_some(Transmit { nic: &self.nic })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut capabilities = DeviceCapabilities::default();
        capabilities.medium = Medium::Ethernet;
        capabilities.max_transmission_unit = MTU;
        capabilities.max_burst_size = Some(QUEUE_SIZE);
        capabilities
    }
}

pub struct Received<'a> {
    nic: &'a RefCell<Nic>,
    buffer: Option<RxBuffer>,
}

impl phy::RxToken for Received<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(mut self, f: F) -> R {
        let buffer = self.buffer.take().expect("a received buffer");
        let result = f(buffer.packet());
        let _ = self.nic.borrow_mut().recycle_rx_buffer(buffer);
        result
    }
}

impl Drop for Received<'_> {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            let _ = self.nic.borrow_mut().recycle_rx_buffer(buffer);
        }
    }
}

pub struct Transmit<'a> {
    nic: &'a RefCell<Nic>,
}

impl phy::TxToken for Transmit<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buffer = self.nic.borrow().new_tx_buffer(len);
        let result = f(buffer.packet_mut());
        let _ = self.nic.borrow_mut().send(buffer);
        result
    }
}
