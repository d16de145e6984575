//! Prints a greeting with its process id and argument, then exits with 0.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

fn main(argument: u64) -> u64 {
    shoal_rt::println!("hello from process {} (argument {argument})", shoal_rt::syscall::getpid());
    0
}
