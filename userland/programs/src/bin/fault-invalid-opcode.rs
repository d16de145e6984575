//! Executes `ud2`: the kernel must kill it with an invalid-opcode exception.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

fn main(_argument: u64) -> u64 {
    shoal_rt::println!("fault-invalid-opcode: executing ud2");
    // SAFETY: `ud2` only raises #UD.
    unsafe { core::arch::asm!("ud2", options(nomem, nostack)) };
    shoal_rt::println!("fault-invalid-opcode: ud2 did not fault");
    0
}
