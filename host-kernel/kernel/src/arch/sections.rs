//! Where the linker put the kernel's sections (linker.ld), and the boot stack's guard page.

use core::ops::Range;

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __data_start: u8;
    static __kernel_end: u8;
    static boot_stack_guard: u8;
    static boot_stack_bottom: u8;
    static boot_stack_top: u8;
}

/// The kernel's sections in memory, each page-aligned.
pub struct Kernel {
    pub start: u64,
    pub text: Range<u64>,
    pub rodata: Range<u64>,
    /// `.data` and `.bss`, the boot stack among them, up to the kernel's end.
    pub data: Range<u64>,
}

pub fn kernel() -> Kernel {
    // Only the symbols' addresses are taken, never their contents.
    Kernel {
        start: &raw const __kernel_start as u64,
        text: &raw const __text_start as u64..&raw const __text_end as u64,
        rodata: &raw const __rodata_start as u64..&raw const __rodata_end as u64,
        data: &raw const __data_start as u64..&raw const __kernel_end as u64,
    }
}

/// The boot stack (boot.rs): its guard page, left unmapped, and the stack above it.
pub fn boot_stack() -> (Range<u64>, Range<u64>) {
    let bottom = &raw const boot_stack_bottom as u64;
    (&raw const boot_stack_guard as u64..bottom, bottom..&raw const boot_stack_top as u64)
}
