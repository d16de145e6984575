//! Interrupt-flag control: the only way the rest of the kernel turns interrupts on and off.

pub use x86_64::instructions::interrupts::{are_enabled, disable, enable, without_interrupts};

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
