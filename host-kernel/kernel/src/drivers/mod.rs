//! Devices, each behind a small safe interface: serial consoles, the PIT (to measure the
//! TSC), the CMOS real-time clock, QEMU's debug-exit port, PCI configuration, and virtio
//! devices over virtio-mmio or PCI: the console channel and (feature `wasi-sockets`) the network.

pub mod debug_exit;
pub mod pci;
pub mod pit;
pub mod rtc;
pub mod serial;
pub mod virtio;
pub mod virtio_console;
#[cfg(feature = "wasi-sockets")]
pub mod virtio_net;
