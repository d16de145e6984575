//! SYSCALL/SYSRET: the MSR setup and the entry stub.
//!
//! `init` sets EFER.SCE, IA32_STAR (kernel CS/SS for entry; user base for SYSRET), IA32_LSTAR
//! (the entry stub), and IA32_FMASK (RFLAGS bits cleared on entry, as Linux clears them: IF, so
//! system calls run with interrupts off; DF, which Rust code assumes clear; TF, or the kernel
//! would single-step; AC, so SMAP stays in force; NT, or the kernel's next IRET — the first entry
//! of another process, or a timer return — raises #GP in ring 0; IOPL, so the kernel never runs
//! with user-chosen I/O privilege bits). Intel SDM vol. 2B "SYSCALL", "SYSRET".
//!
//! The stub swaps GS only for the three instructions that fetch the kernel stack from the
//! per-CPU block, so Rust code never runs with the user's GS swapped out and no path has to
//! remember the GS state across a process switch. It then pushes a [`SyscallFrame`], calls
//! `crate::syscall::dispatch`, and returns with SYSRET. SYSRET to a non-canonical RCX raises #GP
//! in ring 0 on Intel CPUs, on the user's stack (CVE-2012-0217): `dispatch` never returns with a
//! user RIP outside the user half (it ends such a process instead), and SYSRET restores RFLAGS
//! from the r11 SYSCALL saved, which the kernel never changes.

use core::cell::UnsafeCell;

use x86_64::VirtAddr;
use x86_64::registers::model_specific::{Efer, EferFlags, KernelGsBase, LStar, SFMask, Star};
use x86_64::registers::rflags::RFlags;

use super::gdt;
use super::trap::SyscallFrame;

/// RFLAGS bits SYSCALL clears on entry (IA32_FMASK): what Linux clears.
pub const ENTRY_CLEARED_FLAGS: RFlags = RFlags::INTERRUPT_FLAG
    .union(RFlags::DIRECTION_FLAG)
    .union(RFlags::TRAP_FLAG)
    .union(RFlags::ALIGNMENT_CHECK)
    .union(RFlags::NESTED_TASK)
    .union(RFlags::IOPL_LOW)
    .union(RFlags::IOPL_HIGH);

/// The per-CPU block the entry stub reaches through GS after `swapgs`.
#[repr(C)]
struct PerCpu {
    /// Offset 0: top of the running process's kernel stack.
    kernel_stack_top: u64,
    /// Offset 8: scratch slot for the user stack pointer during entry.
    user_stack_pointer: u64,
}

struct PerCpuCell(UnsafeCell<PerCpu>);

// SAFETY: one CPU; the block is written only with interrupts disabled (process switch) and read
// only by the entry stub, which runs with interrupts disabled too.
unsafe impl Sync for PerCpuCell {}

static PER_CPU: PerCpuCell = PerCpuCell(UnsafeCell::new(PerCpu { kernel_stack_top: 0, user_stack_pointer: 0 }));

core::arch::global_asm!(
    ".global shoal_syscall_entry",
    "shoal_syscall_entry:",
    "swapgs",
    "mov gs:[8], rsp",
    "mov rsp, gs:[0]",
    "push qword ptr gs:[8]",
    "swapgs",
    "push rcx",
    "push r11",
    "push rax",
    "push rbx",
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r10",
    "push r9",
    "push r8",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov rdi, rsp",
    "call {dispatch}",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r8",
    "pop r9",
    "pop r10",
    "pop rbp",
    "pop rdi",
    "pop rsi",
    "pop rdx",
    "pop rbx",
    "pop rax",
    "pop r11",
    "pop rcx",
    "pop rsp",
    "sysretq",
    dispatch = sym syscall_dispatch_trampoline,
);

unsafe extern "C" {
    fn shoal_syscall_entry();
}

/// Calls the kernel's dispatcher with the frame the stub pushed.
extern "C" fn syscall_dispatch_trampoline(frame: &mut SyscallFrame) {
    crate::syscall::dispatch(frame);
}

/// Enables SYSCALL/SYSRET and points them at the entry stub.
pub fn init() {
    let selectors = gdt::selectors();
    // SAFETY: 1. EFER.SCE only enables the SYSCALL/SYSRET instructions. 2. The STAR selectors
    // follow the GDT order `gdt.rs` builds (kernel code, kernel data, user data, user code), as
    // `Star::write` checks. 3. LSTAR points at the entry stub above, which is kernel text.
    // 4. FMASK clears IF/DF/TF/AC/NT/IOPL on entry, which is what the stub and dispatcher assume.
    // 5. KERNEL_GS_BASE points at the static per-CPU block the stub reads.
    unsafe {
        Efer::update(|flags| flags.insert(EferFlags::SYSTEM_CALL_EXTENSIONS));
        Star::write(selectors.user_code, selectors.user_data, selectors.kernel_code, selectors.kernel_data)
            .expect("the GDT order matches what SYSCALL/SYSRET require");
        LStar::write(VirtAddr::new(shoal_syscall_entry as *const () as u64));
        SFMask::write(ENTRY_CLEARED_FLAGS);
        KernelGsBase::write(VirtAddr::from_ptr(PER_CPU.0.get()));
    }
}

/// Sets the kernel stack the next system call enters on (the running process's).
///
/// Called with interrupts disabled, on every switch to a process.
pub fn set_kernel_stack(top: VirtAddr) {
    // SAFETY: one CPU with interrupts disabled: the entry stub cannot run concurrently.
    unsafe { (*PER_CPU.0.get()).kernel_stack_top = top.as_u64() };
}
