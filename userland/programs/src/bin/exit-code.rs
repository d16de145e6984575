//! Yields once, then exits with its argument as the exit code: the smallest process that still
//! interleaves with its siblings.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

fn main(argument: u64) -> u64 {
    shoal_rt::syscall::yield_now();
    argument
}
