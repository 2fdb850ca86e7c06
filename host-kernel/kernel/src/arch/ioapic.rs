//! The I/O APIC: routes a device's interrupt line (GSI) to a vector on this CPU. QEMU's microvm
//! has one at 0xFEC0_0000 (GSIs 0–23) and, with `ioapic2`, a second at 0xFEC1_0000 (24–47).

const FIRST: u64 = 0xFEC0_0000;
const SECOND: u64 = 0xFEC1_0000;
const PINS: u32 = 24;

fn write(base: u64, register: u32, value: u32) {
    // SAFETY: `base` is an I/O APIC's MMIO page (identity mapped); IOREGSEL at +0 selects the
    // register that IOWIN at +0x10 writes.
    unsafe {
        ((base) as *mut u32).write_volatile(register);
        ((base + 0x10) as *mut u32).write_volatile(value);
    }
}

fn read(base: u64, register: u32) -> u32 {
    // SAFETY: as for `write`.
    unsafe {
        ((base) as *mut u32).write_volatile(register);
        ((base + 0x10) as *const u32).read_volatile()
    }
}

/// Whether the second I/O APIC is present: its version register names a version and 24 pins
/// (absent MMIO reads as zeros or ones).
pub fn has_second() -> bool {
    let version = read(SECOND, 1);
    version & 0xFF != 0 && version != u32::MAX && (version >> 16) & 0xFF == PINS - 1
}

/// Delivers `gsi` to `vector` on CPU 0, edge triggered, active high.
pub fn route(gsi: u32, vector: u8) {
    let (base, pin) = if gsi < PINS { (FIRST, gsi) } else { (SECOND, gsi - PINS) };
    write(base, 0x10 + 2 * pin + 1, 0); // destination: APIC id 0
    write(base, 0x10 + 2 * pin, vector as u32); // fixed, physical, high, edge, unmasked
}
