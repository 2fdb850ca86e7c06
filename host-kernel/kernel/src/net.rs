//! The network device: found at boot, its interrupt routed to this CPU. The stack on top of it
//! (`morgana-net`) is polled by the executor's idle loop.

use crate::arch::{idt, ioapic};
use crate::drivers::virtio_net::NetDevice;

/// Finds the virtio-net device, if the VM has one, and routes its interrupt. `announced` are
/// the (base, interrupt) pairs QEMU put on the command line, when it did (ACPI off).
pub fn init(announced: &[(u64, u32)]) -> Option<NetDevice> {
    // Otherwise microvm numbers its virtio-mmio interrupts from GSI 24 when it has a second
    // I/O APIC, else from 16 (with ACPI on, as when nothing was announced).
    let irq_base = if ioapic::has_second() { 24 } else { 16 };
    let mut device = NetDevice::probe(irq_base)?;
    if let Some((_, irq)) = announced.iter().find(|(base, _)| *base == device.base) {
        device.gsi = *irq;
    }
    ioapic::route(device.gsi, idt::NET_VECTOR);
    device.acknowledge_interrupt();
    Some(device)
}
