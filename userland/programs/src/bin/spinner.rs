//! Burns CPU without ever yielding for `argument` milliseconds of the kernel's clock, then exits
//! with 0. Several spinners finish together only if the kernel preempts them.
#![no_std]
#![no_main]

use shoal_rt::syscall;

shoal_rt::entry!(main);

const NANOSECONDS_PER_MILLISECOND: u64 = 1_000_000;

fn main(argument: u64) -> u64 {
    let deadline = syscall::clock_nanoseconds() + argument * NANOSECONDS_PER_MILLISECOND;
    let mut rounds: u64 = 0;
    while syscall::clock_nanoseconds() < deadline {
        for _ in 0..1000 {
            rounds = core::hint::black_box(rounds.wrapping_add(1));
        }
    }
    0
}
