//! 16550 UARTs by port I/O. COM1 carries the application's standard output byte for byte;
//! COM2 carries its standard error and the kernel's own messages.

use crate::arch::cpu::{inb, outb};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Port(u16);

/// The application's standard output.
pub const COM1: Port = Port(0x3F8);
/// Standard error and kernel messages.
pub const COM2: Port = Port(0x2F8);

const LINE_STATUS: u16 = 5;
const TRANSMIT_EMPTY: u8 = 0x20;

impl Port {
    /// 115200 baud, 8N1, FIFOs on, no interrupts.
    pub fn init(self) {
        let base = self.0;
        outb(base + 1, 0x00);
        outb(base + 3, 0x80);
        outb(base, 0x01);
        outb(base + 1, 0x00);
        outb(base + 3, 0x03);
        outb(base + 2, 0xC7);
        outb(base + 4, 0x03);
    }

    pub fn write(self, bytes: &[u8]) {
        for &b in bytes {
            let mut spins = 0u32;
            while inb(self.0 + LINE_STATUS) & TRANSMIT_EMPTY == 0 && spins < 100_000 {
                spins += 1;
            }
            outb(self.0, b);
        }
    }
}
