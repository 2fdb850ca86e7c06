//! The interrupt descriptor table: every CPU exception is reported on the console with the
//! faulting address and stops the machine with [`morgana_image::exit::CPU_EXCEPTION`]; the
//! local APIC timer's vector drives the clock's wake-ups and wasmtime's epoch.

use core::arch::{asm, global_asm};
use core::ptr::addr_of;

use super::gdt::{EMERGENCY_IST, PAGE_FAULT_IST};

const DIVIDE_ERROR: u8 = 0;
const INVALID_OPCODE: u8 = 6;
const PAGE_FAULT: u8 = 14;

/// The local APIC timer's vector.
pub const TIMER_VECTOR: u8 = 0x20;
/// The vector of every device interrupt (network, console): each only wakes the CPU, and the
/// idle loop looks at every device.
pub const DEVICE_VECTOR: u8 = 0x30;
/// The local APIC's spurious-interrupt vector.
pub const SPURIOUS_VECTOR: u8 = 0xFF;

/// Registers as the entry stubs save them, lowest address first.
#[repr(C)]
#[derive(Debug)]
pub struct InterruptFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

// Entry stubs: push a zero error code where the CPU pushes none, push the vector, save the
// registers and call `interrupt_dispatch` on a 16-byte aligned stack.
global_asm!(
    r#"
    .macro STUB_NOERR n
    .balign 16
    isr_stub_\n:
        push 0
        push \n
        jmp isr_common
    .endm
    .macro STUB_ERR n
    .balign 16
    isr_stub_\n:
        push \n
        jmp isr_common
    .endm

    .section .text
    STUB_NOERR 0
    STUB_NOERR 1
    STUB_NOERR 2
    STUB_NOERR 3
    STUB_NOERR 4
    STUB_NOERR 5
    STUB_NOERR 6
    STUB_NOERR 7
    STUB_ERR   8
    STUB_NOERR 9
    STUB_ERR   10
    STUB_ERR   11
    STUB_ERR   12
    STUB_ERR   13
    STUB_ERR   14
    STUB_NOERR 15
    STUB_NOERR 16
    STUB_ERR   17
    STUB_NOERR 18
    STUB_NOERR 19
    STUB_NOERR 20
    STUB_ERR   21
    STUB_NOERR 22
    STUB_NOERR 23
    STUB_NOERR 24
    STUB_NOERR 25
    STUB_NOERR 26
    STUB_NOERR 27
    STUB_NOERR 28
    STUB_ERR   29
    STUB_ERR   30
    STUB_NOERR 31
    STUB_NOERR 32
    STUB_NOERR 48
    STUB_NOERR 255

    isr_common:
        push rax
        push rbx
        push rcx
        push rdx
        push rsi
        push rdi
        push rbp
        push r8
        push r9
        push r10
        push r11
        push r12
        push r13
        push r14
        push r15
        mov rdi, rsp
        mov rbx, rsp
        and rsp, -16
        cld
        call interrupt_dispatch
        mov rsp, rbx
        pop r15
        pop r14
        pop r13
        pop r12
        pop r11
        pop r10
        pop r9
        pop r8
        pop rbp
        pop rdi
        pop rsi
        pop rdx
        pop rcx
        pop rbx
        pop rax
        add rsp, 16
        iretq

    .section .rodata
    .balign 8
    .global isr_stub_table
    isr_stub_table:
    .quad isr_stub_0, isr_stub_1, isr_stub_2, isr_stub_3, isr_stub_4, isr_stub_5, isr_stub_6, isr_stub_7
    .quad isr_stub_8, isr_stub_9, isr_stub_10, isr_stub_11, isr_stub_12, isr_stub_13, isr_stub_14, isr_stub_15
    .quad isr_stub_16, isr_stub_17, isr_stub_18, isr_stub_19, isr_stub_20, isr_stub_21, isr_stub_22, isr_stub_23
    .quad isr_stub_24, isr_stub_25, isr_stub_26, isr_stub_27, isr_stub_28, isr_stub_29, isr_stub_30, isr_stub_31
    .quad isr_stub_32, isr_stub_48, isr_stub_255
    "#
);

unsafe extern "C" {
    static isr_stub_table: [u64; 35];
}

#[repr(C, align(16))]
struct Table([u128; 256]);

static mut IDT: Table = Table([0; 256]);

fn gate(handler: u64, ist: u8) -> u128 {
    let low = (handler & 0xFFFF)
        | (0x08 << 16) // kernel code selector
        | ((ist as u64 & 7) << 32)
        | (0x8E << 40) // present, ring 0, 64-bit interrupt gate
        | (((handler >> 16) & 0xFFFF) << 48);
    (low as u128) | ((handler >> 32) as u128) << 64
}

/// Installs the IDT. Called once, early, with interrupts off.
pub fn load() {
    // SAFETY: runs once on the only CPU before interrupts are enabled; the table and the stub
    // addresses are statics that live for the kernel's lifetime.
    unsafe {
        let stubs = &*addr_of!(isr_stub_table);
        let idt = &mut (*(&raw mut IDT)).0;
        for (vector, &stub) in stubs.iter().take(32).enumerate() {
            // Double faults (8) and NMIs (2) run on a stack of their own, page faults (14) on
            // another: a fault on a stack's guard page leaves no stack to push its frame on.
            let ist = match vector {
                2 | 8 => EMERGENCY_IST,
                14 => PAGE_FAULT_IST,
                _ => 0,
            };
            idt[vector] = gate(stub, ist);
        }
        idt[TIMER_VECTOR as usize] = gate(stubs[32], 0);
        idt[DEVICE_VECTOR as usize] = gate(stubs[33], 0);
        idt[SPURIOUS_VECTOR as usize] = gate(stubs[34], 0);
        #[repr(C, packed)]
        struct Pointer {
            limit: u16,
            base: u64,
        }
        let pointer = Pointer { limit: (core::mem::size_of::<Table>() - 1) as u16, base: addr_of!(IDT) as u64 };
        asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags));
    }
}

#[unsafe(no_mangle)]
extern "C" fn interrupt_dispatch(frame: &InterruptFrame) {
    match frame.vector as u8 {
        TIMER_VECTOR => super::apic::timer_interrupt(),
        DEVICE_VECTOR => super::apic::device_interrupt(),
        SPURIOUS_VECTOR => {}
        vector => {
            let cr2 = super::cpu::cr2();
            // A memory-window page's first access: mapped now, and the access retried.
            if vector == PAGE_FAULT && crate::mm::windows::fault_in(cr2) {
                return;
            }
            // Wasm's own traps (an access beyond a linear memory, a division by zero, `ud2`)
            // are wasmtime's to handle; it does not return here when one is.
            if matches!(vector, DIVIDE_ERROR | INVALID_OPCODE | PAGE_FAULT) {
                crate::runtime::offer_trap(frame.rip, frame.rbp, (vector == PAGE_FAULT).then_some(cr2));
            }
            crate::fault::cpu_exception(frame, cr2)
        }
    }
}
