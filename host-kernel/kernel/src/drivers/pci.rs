//! PCI configuration space through the legacy I/O ports (0xCF8 address, 0xCFC data), which every
//! PC-compatible machine QEMU emulates has (q35, pc), and the interrupt line of a device on q35.
//!
//! The firmware that runs before a PVH kernel on q35 (SeaBIOS) has already sized and placed the
//! BARs below 4 GiB, where this kernel's identity map reaches; nothing is reassigned here.

use virtio_drivers::transport::pci::bus::{ConfigurationAccess, DeviceFunction};

use crate::arch::cpu;

const ADDRESS_PORT: u16 = 0xCF8;
const DATA_PORT: u16 = 0xCFC;

/// Offset of the register holding interrupt line (bits 0–7) and interrupt pin (bits 8–15).
const INTERRUPT_REGISTER: u8 = 0x3C;
/// Vendor and device id of q35's host bridge (Intel MCH 82Q35).
const Q35_HOST_BRIDGE: u32 = 0x29C0_8086;

/// Configuration space access through ports 0xCF8/0xCFC ("configuration mechanism #1").
pub struct PortCam;

impl PortCam {
    fn select(device_function: DeviceFunction, register_offset: u8) {
        let address = 1 << 31
            | (device_function.bus as u32) << 16
            | (device_function.device as u32) << 11
            | (device_function.function as u32) << 8
            | (register_offset & 0xFC) as u32;
        cpu::outl(ADDRESS_PORT, address);
    }
}

impl ConfigurationAccess for PortCam {
    fn read_word(&self, device_function: DeviceFunction, register_offset: u8) -> u32 {
        Self::select(device_function, register_offset);
        cpu::inl(DATA_PORT)
    }

    fn write_word(&mut self, device_function: DeviceFunction, register_offset: u8, data: u32) {
        Self::select(device_function, register_offset);
        cpu::outl(DATA_PORT, data);
    }

    unsafe fn unsafe_clone(&self) -> Self {
        PortCam
    }
}

/// The I/O APIC input (GSI) that `device_function`'s legacy interrupt (INTx) arrives on, if the
/// device uses one and the machine's routing is known.
///
/// q35 (ICH9) connects INTA–INTD of bus 0's slot `s` to PIRQ E–H, rotated by slot
/// (`4 + (s + pin) % 4`), and PIRQ A–H to GSIs 16–23 — the table QEMU's ACPI `_PRT` publishes.
/// Elsewhere (i440fx) the firmware's interrupt line is the ISA IRQ, which is also the GSI.
pub fn legacy_interrupt_gsi(cam: &PortCam, device_function: DeviceFunction) -> Option<u32> {
    let register = cam.read_word(device_function, INTERRUPT_REGISTER);
    let line = register & 0xFF;
    let pin = (register >> 8) & 0xFF; // 1 = INTA … 4 = INTD, 0 = none
    if !(1..=4).contains(&pin) {
        return None;
    }
    let host_bridge = cam.read_word(DeviceFunction { bus: 0, device: 0, function: 0 }, 0);
    if host_bridge == Q35_HOST_BRIDGE && device_function.bus == 0 {
        let pirq = 4 + (device_function.device as u32 + pin - 1) % 4;
        Some(16 + pirq)
    } else {
        (line < 16).then_some(line)
    }
}
