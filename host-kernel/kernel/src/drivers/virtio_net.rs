//! virtio-net with the `virtio-drivers` crate, over virtio-mmio or virtio-pci (see
//! [`virtio`](crate::drivers::virtio)), presented to the network stack as a
//! `smoltcp::phy::Device`; or, in a VM without one, an absent device, so that the stack (and
//! its loopback interface) still runs.
//!
//! Received frames are announced by an interrupt (see `arch::ioapic`); the stack drains the
//! receive queue when it polls. Transmission completes synchronously.

use core::cell::RefCell;

use morgana_net::smoltcp::phy::{self, DeviceCapabilities, Medium};
use morgana_net::smoltcp::time::Instant;
use virtio_drivers::device::net::{RxBuffer, VirtIONet};
use virtio_drivers::transport::{DeviceType, SomeTransport};

use crate::drivers::virtio::{self, IdentityHal};

const QUEUE_SIZE: usize = 16;
const BUFFER_LEN: usize = 2048;
const MTU: usize = 1514;

type Nic = VirtIONet<IdentityHal, SomeTransport<'static>, QUEUE_SIZE>;

/// The network device the stack runs on: the virtio-net device found at boot, or none.
#[allow(clippy::large_enum_variant, reason = "one per VM, inside the stack")]
pub enum NetDevice {
    Virtio(VirtioNet),
    /// No network device: never receives, never transmits (the stack serves loopback only).
    Absent,
}

/// A virtio-net device found at boot.
pub struct VirtioNet {
    nic: RefCell<Nic>,
    /// The interrupt line (GSI) the device raises.
    pub gsi: u32,
}

impl VirtioNet {
    /// The first virtio-net device, on PCI or virtio-mmio (`announced`: the slots QEMU named
    /// on the command line).
    pub fn probe(announced: &[(u64, u32)]) -> Option<Self> {
        let found = virtio::find(DeviceType::Network, announced)?;
        let nic = VirtIONet::new(found.transport, BUFFER_LEN).ok()?;
        Some(VirtioNet { nic: RefCell::new(nic), gsi: found.gsi })
    }

    pub fn mac_address(&self) -> [u8; 6] {
        self.nic.borrow().mac_address()
    }
}

impl NetDevice {
    /// Acknowledges the device's interrupt, lowering its line so the next frame raises it again.
    pub fn acknowledge_interrupt(&self) {
        if let NetDevice::Virtio(device) = self {
            device.nic.borrow_mut().ack_interrupt();
        }
    }

    /// Whether received frames wait in the queue.
    pub fn has_pending_frames(&self) -> bool {
        match self {
            NetDevice::Virtio(device) => device.nic.borrow().can_recv(),
            NetDevice::Absent => false,
        }
    }
}

impl phy::Device for NetDevice {
    type RxToken<'a> = Received<'a>;
    type TxToken<'a> = Transmit<'a>;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let NetDevice::Virtio(device) = self else { return None };
        let buffer = device.nic.borrow_mut().receive().ok()?;
        Some((Received { nic: &device.nic, buffer: Some(buffer) }, Transmit { nic: &device.nic }))
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        let NetDevice::Virtio(device) = self else { return None };
        device.nic.borrow().can_send().then_some(Transmit { nic: &device.nic })
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
