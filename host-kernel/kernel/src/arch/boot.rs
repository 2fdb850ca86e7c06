//! The PVH entry point: QEMU (or Xen, Firecracker) loads the ELF at its physical addresses,
//! finds `XEN_ELFNOTE_PHYS32_ENTRY` and jumps to `pvh_start` in 32-bit protected mode with
//! paging off and `%ebx` pointing at the `hvm_start_info` structure.
//!
//! This code clears `.bss`, identity-maps the first 4 GiB with 2 MiB pages (a provisional map,
//! writable and executable, that `mm::init` replaces as soon as the heap exists), enables SSE
//! (Cranelift's code uses it), switches to long mode and calls `kernel_main` on a 1 MiB boot
//! stack with a guard page below it (unmapped by `mm`). The TSC read at the very first
//! instruction is the boot's time zero.

core::arch::global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4                 /* name size: "Xen\0" */
    .long 8                 /* descriptor size */
    .long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start
    .balign 4

    .section .text.boot, "ax"
    .code32
    .global pvh_start
pvh_start:
    cli
    cld
    rdtsc                           /* the boot's time zero, before anything else */
    movl %eax, %edi
    movl %edx, %ebp
    movl %ebx, %esi                 /* keep the start info pointer out of the way */
    movl %edi, boot_tsc
    movl %ebp, boot_tsc + 4
    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl
    movl %esi, pvh_start_info

    /* PML4[0] -> PDPT; PDPT[0..4] -> four page directories of 512 x 2 MiB pages */
    movl $boot_pdpt, %eax
    orl $3, %eax
    movl %eax, boot_pml4
    movl $boot_pd, %eax
    orl $3, %eax
    movl $boot_pdpt, %edi
    movl $4, %ecx
1:  movl %eax, (%edi)
    addl $4096, %eax
    addl $8, %edi
    loop 1b
    movl $boot_pd, %edi
    movl $0x83, %eax                /* present | writable | 2 MiB page */
    movl $2048, %ecx
2:  movl %eax, (%edi)
    addl $0x200000, %eax
    addl $8, %edi
    loop 2b

    movl %cr4, %eax                 /* PAE | OSFXSR | OSXMMEXCPT */
    orl $((1 << 5) | (1 << 9) | (1 << 10)), %eax
    movl %eax, %cr4
    movl $boot_pml4, %eax
    movl %eax, %cr3
    movl $0xC0000080, %ecx          /* EFER.LME */
    rdmsr
    orl $(1 << 8), %eax
    wrmsr
    movl %cr0, %eax                 /* PG | PE | MP, EM off */
    andl $~(1 << 2), %eax
    orl $0x80000003, %eax
    movl %eax, %cr0
    lgdt boot_gdt_pointer
    ljmp $0x08, $long_mode

    .code64
long_mode:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $boot_stack_top, %rsp
    xorl %ebp, %ebp
    call kernel_main
3:  cli
    hlt
    jmp 3b

    .section .rodata.boot, "a"
    .balign 8
boot_gdt:
    .quad 0
    .quad 0x00AF9A000000FFFF        /* 0x08: 64-bit code */
    .quad 0x00CF92000000FFFF        /* 0x10: data */
boot_gdt_end:
boot_gdt_pointer:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .data.boot, "aw"
    .balign 8
    .global pvh_start_info
pvh_start_info:
    .quad 0
    .global boot_tsc
boot_tsc:
    .quad 0

    .section .bss.boot, "aw", @nobits
    .balign 4096
boot_pml4:  .skip 4096
boot_pdpt:  .skip 4096
boot_pd:    .skip 4096 * 4

    .section .stacks, "aw", @nobits
    .balign 4096
    .global boot_stack_guard
boot_stack_guard:
    .skip 4096
    .global boot_stack_bottom
boot_stack_bottom:
    .skip 1024 * 1024
    .global boot_stack_top
boot_stack_top:
"#,
    options(att_syntax)
);

unsafe extern "C" {
    static boot_tsc: u64;
}

/// The first Rust code: called by the boot code above, on the boot stack, interrupts off.
#[unsafe(no_mangle)]
extern "C" fn kernel_main() -> ! {
    // SAFETY: written once by `pvh_start` (in .data, outside the .bss it clears), read-only after.
    crate::main(unsafe { core::ptr::read_volatile(&raw const boot_tsc) })
}
