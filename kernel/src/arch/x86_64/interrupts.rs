//! Interrupt-flag control: the only way the rest of the kernel turns interrupts on and off.

pub use x86_64::instructions::interrupts::{are_enabled, disable, enable, without_interrupts};

use core::sync::atomic::{AtomicU64, Ordering};

/// RFLAGS.DF (bit 10), RFLAGS.NT (bit 14), RFLAGS.AC (bit 18).
const DIRECTION_FLAG: u64 = 1 << 10;
const NESTED_TASK: u64 = 1 << 14;
const ALIGNMENT_CHECK: u64 = 1 << 18;

/// Interrupts and exceptions from user mode whose interrupted flags had AC set.
static USER_ENTRIES_WITH_AC: AtomicU64 = AtomicU64::new(0);
/// Of those, how many left the kernel running with AC still set after entry (must stay 0).
static KERNEL_RAN_WITH_AC: AtomicU64 = AtomicU64::new(0);

/// Cleans the kernel's RFLAGS on an interrupt or exception from user mode, before any other
/// kernel code runs: an interrupt gate clears IF, TF, NT and RF but keeps AC and DF, so a user
/// who set AC would run the handler with SMAP lifted, and one who set DF would break Rust code,
/// which assumes DF clear. Handlers call this first; `interrupted_flags` are the saved ones.
#[inline(always)]
pub fn clean_flags_after_user_entry(interrupted_flags: u64) {
    let flags: u64;
    // SAFETY: pushfq/popfq at CPL 0 with IF already clear (interrupt gate): only DF, NT and AC
    // change, to clear, which is the state the kernel's code assumes; the stack is the kernel
    // stack the CPU switched to, with room for one word.
    unsafe {
        core::arch::asm!(
            "pushfq",
            "and qword ptr [rsp], {mask}",
            "popfq",
            "pushfq",
            "pop {flags}",
            mask = in(reg) !(DIRECTION_FLAG | NESTED_TASK | ALIGNMENT_CHECK),
            flags = out(reg) flags,
        );
    }
    if interrupted_flags & ALIGNMENT_CHECK != 0 {
        USER_ENTRIES_WITH_AC.fetch_add(1, Ordering::Relaxed);
        if flags & ALIGNMENT_CHECK != 0 {
            KERNEL_RAN_WITH_AC.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Returns (entries from user mode with AC set, how many of them left AC set in the kernel).
pub fn alignment_check_entries() -> (u64, u64) {
    (USER_ENTRIES_WITH_AC.load(Ordering::Relaxed), KERNEL_RAN_WITH_AC.load(Ordering::Relaxed))
}

/// Enables interrupts and halts until the next one, atomically (`sti; hlt`), so an interrupt
/// that arrives between the two cannot be missed.
pub fn enable_and_wait() {
    x86_64::instructions::interrupts::enable_and_hlt();
}

/// Halts with interrupts off, forever: the end of a fatal path.
pub fn halt_forever() -> ! {
    disable();
    loop {
        x86_64::instructions::hlt();
    }
}

/// Executes `int3`, which the breakpoint handler reports and returns from.
pub fn breakpoint() {
    x86_64::instructions::interrupts::int3();
}

/// Executes `ud2`, which raises #UD: for the test that checks the exception report.
pub fn raise_invalid_opcode() {
    // SAFETY: `ud2` only raises #UD; its handler reports and stops the kernel.
    unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
}
