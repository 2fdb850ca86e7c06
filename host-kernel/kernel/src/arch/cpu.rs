//! Single instructions the rest of the kernel needs, each behind a safe function.

use core::arch::asm;

/// Writes a byte to an I/O port.
pub fn outb(port: u16, value: u8) {
    // SAFETY: port I/O has no memory effects; the ports written are the legacy devices this
    // kernel drives (serial, PIT, PIC, CMOS, debug-exit, PCI configuration), which QEMU ignores when absent.
    unsafe { asm!("out dx, al", in("dx") port, in("al") value, options(nomem, nostack, preserves_flags)) };
}

/// Reads a byte from an I/O port.
pub fn inb(port: u16) -> u8 {
    let value: u8;
    // SAFETY: as for `outb`; reading these ports has no side effect on memory.
    unsafe { asm!("in al, dx", out("al") value, in("dx") port, options(nomem, nostack, preserves_flags)) };
    value
}

/// Writes a 32-bit value to an I/O port.
pub fn outl(port: u16, value: u32) {
    // SAFETY: as for `outb`.
    unsafe { asm!("out dx, eax", in("dx") port, in("eax") value, options(nomem, nostack, preserves_flags)) };
}

/// Reads a 32-bit value from an I/O port.
pub fn inl(port: u16) -> u32 {
    let value: u32;
    // SAFETY: as for `outb`; the 32-bit ports read are PCI configuration data (0xCFC).
    unsafe { asm!("in eax, dx", out("eax") value, in("dx") port, options(nomem, nostack, preserves_flags)) };
    value
}

/// The time-stamp counter.
#[inline(always)]
pub fn rdtsc() -> u64 {
    // SAFETY: RDTSC only reads a counter; CR4.TSD is clear, so it is allowed at ring 0.
    unsafe { core::arch::x86_64::_rdtsc() }
}

/// Reads a model-specific register.
pub fn rdmsr(msr: u32) -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: callers only read architectural MSRs that exist on every x86-64 CPU with the
    // feature they checked (IA32_APIC_BASE).
    unsafe { asm!("rdmsr", in("ecx") msr, out("eax") low, out("edx") high, options(nomem, nostack, preserves_flags)) };
    ((high as u64) << 32) | low as u64
}

/// Masks interrupts.
pub fn disable_interrupts() {
    // SAFETY: only delays interrupt delivery.
    unsafe { asm!("cli", options(nomem, nostack)) };
}

/// Unmasks interrupts.
pub fn enable_interrupts() {
    // SAFETY: the IDT is loaded before the first call; every enabled vector has a handler.
    unsafe { asm!("sti", options(nomem, nostack)) };
}

/// Enables interrupts and halts until the next one.
///
/// `sti` takes effect after the following instruction, so an interrupt that became pending
/// while interrupts were masked wakes the `hlt` instead of being lost: call this with
/// interrupts masked, after deciding to sleep.
pub fn enable_interrupts_and_halt() {
    // SAFETY: as for `enable_interrupts`.
    unsafe { asm!("sti; hlt", options(nomem, nostack)) };
}

/// Stops the CPU for good.
pub fn halt_forever() -> ! {
    loop {
        // SAFETY: with interrupts off, HLT waits forever; nothing else runs.
        unsafe { asm!("cli; hlt", options(nomem, nostack)) };
    }
}

/// 64 random bits from RDSEED, if the CPU has it and it delivers within a few tries.
pub fn rdseed() -> Option<u64> {
    if !raw_cpuid::CpuId::new().get_extended_feature_info().is_some_and(|f| f.has_rdseed()) {
        return None;
    }
    for _ in 0..64 {
        let mut value = 0u64;
        // SAFETY: CPUID said RDSEED exists.
        if unsafe { core::arch::x86_64::_rdseed64_step(&mut value) } == 1 {
            return Some(value);
        }
    }
    None
}

/// 64 random bits from RDRAND, if the CPU has it.
pub fn rdrand() -> Option<u64> {
    if !raw_cpuid::CpuId::new().get_feature_info().is_some_and(|f| f.has_rdrand()) {
        return None;
    }
    for _ in 0..16 {
        let mut value = 0u64;
        // SAFETY: CPUID said RDRAND exists.
        if unsafe { core::arch::x86_64::_rdrand64_step(&mut value) } == 1 {
            return Some(value);
        }
    }
    None
}

/// CR2: the address of the last page fault.
pub fn cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) };
    value
}

/// The TSC's rate as the CPU (or the hypervisor) states it, with where it came from: the
/// hypervisor's timing leaf 0x40000010 (the TSC in kHz, as KVM with `vmware-cpuid-freq` and
/// VMware give it), else leaf 0x15 (crystal clock × TSC/crystal ratio), else leaf 0x16 (the
/// nominal base frequency, which the TSC runs at on CPUs with an invariant TSC). `None` when
/// none says: the TSC must then be measured (QEMU's TCG states none).
pub fn tsc_hz_from_cpuid() -> Option<(u64, &'static str)> {
    let cpuid = raw_cpuid::CpuId::new();
    if let Some(khz) = cpuid.get_hypervisor_info().and_then(|h| h.tsc_frequency()).filter(|khz| *khz > 0) {
        return Some((khz as u64 * 1000, "CPUID 0x40000010"));
    }
    if let Some(hz) = cpuid.get_tsc_info().and_then(|t| t.tsc_frequency()) {
        return Some((hz, "CPUID 0x15"));
    }
    let invariant = cpuid.get_advanced_power_mgmt_info().is_some_and(|p| p.has_invariant_tsc());
    match cpuid.get_processor_frequency_info().map(|f| f.processor_base_frequency()) {
        Some(mhz) if mhz > 0 && invariant => Some((mhz as u64 * 1_000_000, "CPUID 0x16")),
        _ => None,
    }
}
