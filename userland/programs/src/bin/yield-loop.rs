//! Yields the CPU `argument` times, then exits with 0.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

fn main(argument: u64) -> u64 {
    for _ in 0..argument {
        shoal_rt::syscall::yield_now();
    }
    0
}
