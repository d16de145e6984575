//! Divides by zero with the `div` instruction: the kernel must kill it with a divide error.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

fn main(argument: u64) -> u64 {
    let divisor = core::hint::black_box(argument.saturating_sub(argument));
    shoal_rt::println!("fault-divide: dividing by {divisor}");
    let quotient: u64;
    // SAFETY: `div` by zero raises #DE; it touches only the named registers.
    unsafe {
        core::arch::asm!("div {divisor}", divisor = in(reg) divisor, inout("rax") 1u64 => quotient, inout("rdx") 0u64 => _, options(nomem, nostack));
    }
    shoal_rt::println!("fault-divide: division by zero returned {quotient}");
    0
}
