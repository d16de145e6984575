//! Kernel-stack context switching, the first entry of a process into user mode, and FPU state.
//!
//! A process that is not running is parked inside [`switch`] on its own kernel stack: the
//! callee-saved registers are pushed there and the stack pointer is stored in its slot of a
//! static context table (one entry per process slot, plus the scheduler's). The scheduler runs on the boot stack and switches to a process and back
//! (the xv6 pattern), so a dead process's stack is never the one being freed.
//!
//! A new process's kernel stack is prepared by [`prepare_first_entry`] so that the first switch
//! to it "returns" into a trampoline that clears every general register and IRETs to the
//! process's entry point with its argument in `rdi` and interrupts enabled.
//!
//! The kernel is built without SSE (soft float), so user FPU/SSE state survives kernel code
//! untouched; the scheduler saves it with FXSAVE when a process stops running and restores it
//! with FXRSTOR before it runs again ([`FpuState`]).

extern crate alloc;

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use x86_64::VirtAddr;
use x86_64::registers::control::{Cr0, Cr0Flags, Cr4, Cr4Flags};

use super::{gdt, interrupts};
use crate::mm::paging::user::KernelStack;

/// Where a parked kernel context keeps its stack pointer.
#[derive(Clone, Debug, Default)]
#[repr(C)]
struct KernelContext {
    stack_pointer: u64,
}

core::arch::global_asm!(
    ".global shoal_switch_context",
    "shoal_switch_context:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov [rdi], rsp",
    "mov rsp, [rsi]",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".global shoal_first_entry",
    "shoal_first_entry:",
    "pop rdi",
    "xor eax, eax",
    "xor ebx, ebx",
    "xor ecx, ecx",
    "xor edx, edx",
    "xor esi, esi",
    "xor ebp, ebp",
    "xor r8d, r8d",
    "xor r9d, r9d",
    "xor r10d, r10d",
    "xor r11d, r11d",
    "xor r12d, r12d",
    "xor r13d, r13d",
    "xor r14d, r14d",
    "xor r15d, r15d",
    // The kernel's own flags do not matter to the IRET frame, but IRET with NT set raises #GP
    // in IA-32e mode: start from clean flags (IF stays clear until the IRET loads the frame's).
    "push 2",
    "popfq",
    "iretq",
);

unsafe extern "C" {
    fn shoal_switch_context(save: *mut KernelContext, load: *const KernelContext);
    fn shoal_first_entry();
}

/// Callee-saved registers pushed by `shoal_switch_context`.
const SAVED_REGISTERS: usize = 6;
/// RFLAGS for a new process: IF set, reserved bit 1 set; nothing else (no NT, AC, DF, TF, IOPL 0).
const USER_INITIAL_RFLAGS: u64 = 0x202;

/// The parked contexts: the scheduler's, and one per process slot in storage sized at boot
/// ([`init`]) from the process table's capacity.
struct ContextTable {
    scheduler: UnsafeCell<KernelContext>,
    slots: AtomicPtr<KernelContext>,
    count: AtomicUsize,
}

/// The scheduler's context index (not a process slot).
pub const SCHEDULER_CONTEXT: usize = usize::MAX;

// SAFETY: one CPU; contexts are read and written only with interrupts disabled, by the
// scheduler path (`switch`, `prepare_first_entry`, `clear`), never concurrently.
unsafe impl Sync for ContextTable {}

static CONTEXTS: ContextTable = ContextTable {
    scheduler: UnsafeCell::new(KernelContext { stack_pointer: 0 }),
    slots: AtomicPtr::new(core::ptr::null_mut()),
    count: AtomicUsize::new(0),
};

/// Allocates the contexts of `process_slots` process slots (boot path, once).
pub fn init(process_slots: usize) {
    let storage = alloc::boxed::Box::leak(alloc::vec![KernelContext { stack_pointer: 0 }; process_slots].into_boxed_slice());
    CONTEXTS.slots.store(storage.as_mut_ptr(), Ordering::Release);
    CONTEXTS.count.store(process_slots, Ordering::Release);
}

/// Returns a pointer to context `index` (a process slot, or [`SCHEDULER_CONTEXT`]).
///
/// # Panics
/// Panics for an index that is neither (a kernel bug).
fn context(index: usize) -> *mut KernelContext {
    if index == SCHEDULER_CONTEXT {
        return CONTEXTS.scheduler.get();
    }
    assert!(index < CONTEXTS.count.load(Ordering::Acquire), "no context {index}");
    // SAFETY: `init` leaked storage of `count` contexts that lives forever; `index` is below it.
    unsafe { CONTEXTS.slots.load(Ordering::Acquire).add(index) }
}

/// Parks the running context as `from` and resumes context `to`; returns when something
/// switches back to `from`.
///
/// # Panics
/// Panics if `to` is not a prepared or parked context, or an index is out of range (kernel
/// bugs: the scheduler only switches between the scheduler and live processes).
pub fn switch(from: usize, to: usize) {
    assert!(from != to, "bad context switch {from} -> {to}");
    assert!(!interrupts::are_enabled(), "context switch with interrupts enabled");
    let (save, load) = (context(from), context(to));
    // SAFETY: 1. both pointers name live contexts (`context` checks the indices).
    // 2. `to` holds a context parked by this function or prepared by `prepare_first_entry`
    // (checked: a cleared context has stack pointer 0), and the process layer clears a
    // context before it frees that process's kernel stack, so the stack is still mapped.
    // 3. Interrupts are off and there is one CPU, so nothing else touches the table.
    unsafe {
        assert!((*load).stack_pointer != 0, "switch to an empty context {to}");
        shoal_switch_context(save, load);
    }
}

/// Forgets the context of process slot `slot` (before its kernel stack is freed).
pub fn clear(slot: usize) {
    assert!(slot != SCHEDULER_CONTEXT, "clear of a non-process context {slot}");
    // SAFETY: a live context (`context` checks the index); interrupts off and one CPU
    // (scheduler path).
    unsafe { (*context(slot)).stack_pointer = 0 };
}

/// Where and how a new process enters user mode.
#[derive(Clone, Copy, Debug)]
pub struct UserEntry {
    /// The entry point.
    pub instruction_pointer: VirtAddr,
    /// The initial user stack pointer.
    pub stack_pointer: VirtAddr,
    /// The value in `rdi`.
    pub argument: u64,
}

/// Builds the first-entry frames at the top of `stack` and makes it process slot `slot`'s
/// context, which, switched to, enters user mode at `entry`.
///
/// # Panics
/// Panics if `slot` is not a process slot (a kernel bug).
pub fn prepare_first_entry(slot: usize, stack: &KernelStack, entry: UserEntry) {
    assert!(slot != SCHEDULER_CONTEXT, "prepare of a non-process context {slot}");
    let stack_top = stack.top();
    let selectors = gdt::selectors();
    let frame: [u64; SAVED_REGISTERS + 7] = [
        0, 0, 0, 0, 0, 0, // r15 r14 r13 r12 rbx rbp
        shoal_first_entry as *const () as u64, // return address of shoal_switch_context
        entry.argument,                         // popped into rdi
        entry.instruction_pointer.as_u64(),     // iretq: rip
        u64::from(selectors.user_code.0),       // cs
        USER_INITIAL_RFLAGS,                    // rflags
        entry.stack_pointer.as_u64(),           // rsp
        u64::from(selectors.user_data.0),       // ss
    ];
    let bytes = core::mem::size_of_val(&frame) as u64;
    let start = stack_top - bytes;
    // SAFETY: `KernelStack` guarantees a mapped, writable stack of PROCESS_KERNEL_STACK_BYTES
    // (far more than these 104 bytes) that only its owner uses, and its owner is preparing it;
    // `start` is 8-byte aligned because the top is 16-byte aligned. The table write happens with
    // interrupts off on the one CPU (spawn path).
    unsafe {
        core::ptr::copy_nonoverlapping(frame.as_ptr(), start.as_mut_ptr::<u64>(), frame.len());
        (*context(slot)).stack_pointer = start.as_u64();
    }
}

/// Bytes of an FXSAVE area.
const FXSAVE_BYTES: usize = 512;
/// Default x87 control word (all exceptions masked, 64-bit precision): FNINIT's value.
const DEFAULT_FPU_CONTROL_WORD: u16 = 0x037f;
/// Default MXCSR (all SSE exceptions masked): the reset value.
const DEFAULT_MXCSR: u32 = 0x1f80;
/// Byte offset of MXCSR in the FXSAVE area.
const MXCSR_OFFSET: usize = 24;

/// A process's x87/SSE register state, in the FXSAVE64 layout (Intel SDM vol. 1 §10.5.1).
#[derive(Clone)]
#[repr(C, align(16))]
pub struct FpuState([u8; FXSAVE_BYTES]);

impl FpuState {
    /// Returns the state a new process starts with (what FNINIT and reset leave).
    pub fn initial() -> FpuState {
        let mut bytes = [0u8; FXSAVE_BYTES];
        bytes[0..2].copy_from_slice(&DEFAULT_FPU_CONTROL_WORD.to_le_bytes());
        bytes[MXCSR_OFFSET..MXCSR_OFFSET + 4].copy_from_slice(&DEFAULT_MXCSR.to_le_bytes());
        FpuState(bytes)
    }

    /// Saves the CPU's x87/SSE state here.
    pub fn save(&mut self) {
        // SAFETY: FXSAVE64 writes 512 bytes at a 16-byte-aligned address (the type's alignment);
        // CR4.OSFXSR is set by `enable_fpu` before any process runs.
        unsafe { core::arch::asm!("fxsave64 [{}]", in(reg) self.0.as_mut_ptr(), options(nostack, preserves_flags)) };
    }

    /// Loads the CPU's x87/SSE state from here.
    pub fn restore(&self) {
        // SAFETY: the area holds either `initial()` or what FXSAVE64 wrote, so MXCSR's reserved
        // bits are clear and FXRSTOR64 cannot fault.
        unsafe { core::arch::asm!("fxrstor64 [{}]", in(reg) self.0.as_ptr(), options(nostack, preserves_flags)) };
    }
}

/// Enables FXSAVE/FXRSTOR and SSE for user code: CR4.OSFXSR and OSXMMEXCPT, CR0.MP set, EM and
/// TS clear. AVX stays off (CR4.OSXSAVE clear), so FXSAVE covers all user-visible state.
pub fn enable_fpu() {
    // SAFETY: these bits only allow SSE instructions and FXSAVE/FXRSTOR (which the CPU has: it
    // is 64-bit) and make x87 errors report through #MF; the kernel itself uses no FPU/SSE.
    unsafe {
        Cr0::update(|flags| {
            flags.insert(Cr0Flags::MONITOR_COPROCESSOR);
            flags.remove(Cr0Flags::EMULATE_COPROCESSOR | Cr0Flags::TASK_SWITCHED);
        });
        Cr4::update(|flags| flags.insert(Cr4Flags::OSFXSR | Cr4Flags::OSXMMEXCPT_ENABLE));
    }
}
