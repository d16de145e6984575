//! A process that is no function instance calls `invoke_wait` and `invoke_done`: each must be
//! refused at once with not-an-instance (never block), before any buffer is looked at. Prints
//! one line per check and exits with the number of failed checks (0 = all good).
#![no_std]
#![no_main]

use shoal_rt::abi::{ErrorCode, Syscall};
use shoal_rt::syscall::raw;

shoal_rt::entry!(main);

/// End of user space: a buffer here is invalid (checked only after the caller is an instance).
const USER_END: u64 = 0x0000_8000_0000_0000;
/// Bytes of the valid buffer (the largest payload).
const BUFFER_BYTES: usize = 64;

/// Checks that `result` is not-an-instance; prints a line.
fn check(failures: &mut u64, what: &str, result: (u64, u64)) {
    let found = ErrorCode::from_value(result.0);
    if found == Some(ErrorCode::NotAnInstance) {
        shoal_rt::println!("stray-invoke: {what} -> not-an-instance ok");
    } else {
        let name = found.map_or("not a code", ErrorCode::name);
        shoal_rt::println!("stray-invoke: {what} -> {name} (raw {}), expected not-an-instance FAILED", result.0);
        *failures += 1;
    }
}

fn main(_argument: u64) -> u64 {
    let mut failures = 0;
    let mut buffer = [0u8; BUFFER_BYTES];
    let pointer = buffer.as_mut_ptr() as u64;
    check(&mut failures, "invoke_wait(valid buffer, 64)", raw(Syscall::InvokeWait.number(), [pointer, BUFFER_BYTES as u64, 0, 0, 0, 0]));
    check(&mut failures, "invoke_wait(end of user space, 0)", raw(Syscall::InvokeWait.number(), [USER_END, 0, 0, 0, 0, 0]));
    check(&mut failures, "invoke_done(5)", raw(Syscall::InvokeDone.number(), [5, 0, 0, 0, 0, 0]));
    shoal_rt::println!("stray-invoke: {failures} failures");
    failures
}
