//! Devices, each behind a small safe interface: serial consoles, the PIT (to measure the
//! TSC), the CMOS real-time clock, QEMU's debug-exit port, and virtio-net over virtio-mmio or PCI (feature `wasi-sockets`).

pub mod debug_exit;
#[cfg(feature = "wasi-sockets")]
pub mod pci;
pub mod pit;
pub mod rtc;
pub mod serial;
#[cfg(feature = "wasi-sockets")]
pub mod virtio_net;
