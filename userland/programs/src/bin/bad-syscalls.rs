//! Calls every system call with bad pointers and bad arguments and checks the error codes.
//! Prints one line per check and exits with the number of checks that failed (0 = all good).
#![no_std]
#![no_main]

use shoal_rt::abi::{self, ErrorCode, ExitStatus, Syscall};
use shoal_rt::syscall::{self, raw};

shoal_rt::entry!(main);

/// An address in the kernel half.
const KERNEL_ADDRESS: u64 = 0xffff_8000_0000_0000;
/// A user address nothing maps (the private region is sparse).
const UNMAPPED_USER_ADDRESS: u64 = 0x0000_2000_0000_0000;
/// The last page of the user half: a range starting here runs past the end of user space.
const LAST_USER_PAGE: u64 = 0x0000_7fff_ffff_f000;
/// A process id that no process has.
const NO_SUCH_PROCESS: u64 = 1 << 40;

static READ_ONLY_STATUS: [u8; 16] = [0; 16];

fn check(failures: &mut u64, name: &str, result: (u64, u64), expected: ErrorCode) {
    let found = ErrorCode::from_value(result.0);
    if found == Some(expected) {
        shoal_rt::println!("bad-syscalls: {name} -> {expected} ok");
    } else {
        shoal_rt::println!("bad-syscalls: {name} -> {:?} (raw {}), expected {expected} FAILED", found, result.0);
        *failures += 1;
    }
}

fn call(call: Syscall, arguments: [u64; 6]) -> (u64, u64) {
    raw(call.number(), arguments)
}

fn main(_argument: u64) -> u64 {
    let mut failures = 0;
    let text = b"bad-syscalls: a valid write\n";
    let text_pointer = text.as_ptr() as u64;
    let name = "exit-code";

    check(&mut failures, "unknown call 99", raw(99, [0; 6]), ErrorCode::UnknownSyscall);
    check(&mut failures, "unknown call u64::MAX", raw(u64::MAX, [0; 6]), ErrorCode::UnknownSyscall);

    check(&mut failures, "write null", call(Syscall::Write, [0, 8, 0, 0, 0, 0]), ErrorCode::BadAddress);
    check(&mut failures, "write kernel address", call(Syscall::Write, [KERNEL_ADDRESS, 8, 0, 0, 0, 0]), ErrorCode::BadAddress);
    check(&mut failures, "write unmapped user address", call(Syscall::Write, [UNMAPPED_USER_ADDRESS, 8, 0, 0, 0, 0]), ErrorCode::BadAddress);
    check(&mut failures, "write past the end of user space", call(Syscall::Write, [LAST_USER_PAGE + 0xff0, 0x100, 0, 0, 0, 0]), ErrorCode::BadAddress);
    check(&mut failures, "write wrapping around", call(Syscall::Write, [u64::MAX - 4, 16, 0, 0, 0, 0]), ErrorCode::BadAddress);
    check(&mut failures, "write too long", call(Syscall::Write, [text_pointer, abi::WRITE_MAX_BYTES + 1, 0, 0, 0, 0]), ErrorCode::TooLarge);
    check(&mut failures, "write valid", call(Syscall::Write, [text_pointer, text.len() as u64, 0, 0, 0, 0]), ErrorCode::Success);

    check(&mut failures, "heap_grow zero", call(Syscall::HeapGrow, [0; 6]), ErrorCode::InvalidArgument);
    check(&mut failures, "heap_grow too large", call(Syscall::HeapGrow, [abi::HEAP_GROW_MAX_BYTES + 1, 0, 0, 0, 0, 0]), ErrorCode::TooLarge);

    check(&mut failures, "spawn null name", call(Syscall::Spawn, [0, 5, 0, 0, 0, 0]), ErrorCode::BadAddress);
    check(&mut failures, "spawn kernel name", call(Syscall::Spawn, [KERNEL_ADDRESS, 5, 0, 0, 0, 0]), ErrorCode::BadAddress);
    check(&mut failures, "spawn name too long", call(Syscall::Spawn, [name.as_ptr() as u64, abi::NAME_MAX_BYTES + 1, 0, 0, 0, 0]), ErrorCode::TooLarge);
    check(&mut failures, "spawn empty name", call(Syscall::Spawn, [name.as_ptr() as u64, 0, 0, 0, 0, 0]), ErrorCode::InvalidArgument);
    let invalid_utf8 = [0xffu8, 0xfe];
    check(&mut failures, "spawn name not UTF-8", call(Syscall::Spawn, [invalid_utf8.as_ptr() as u64, 2, 0, 0, 0, 0]), ErrorCode::InvalidArgument);
    let missing = "no-such-binary";
    check(&mut failures, "spawn unknown binary", call(Syscall::Spawn, [missing.as_ptr() as u64, missing.len() as u64, 0, 0, 0, 0]), ErrorCode::NotFound);

    let mut status = ExitStatus::default();
    let status_pointer = &mut status as *mut ExitStatus as u64;
    check(&mut failures, "wait for a process that does not exist", call(Syscall::Wait, [NO_SUCH_PROCESS, status_pointer, 0, 0, 0, 0]), ErrorCode::NoSuchChild);
    match syscall::spawn(name, 42) {
        Ok(child) => {
            check(&mut failures, "wait with null status", call(Syscall::Wait, [child, 0, 0, 0, 0, 0]), ErrorCode::BadAddress);
            check(&mut failures, "wait with kernel status", call(Syscall::Wait, [child, KERNEL_ADDRESS, 0, 0, 0, 0]), ErrorCode::BadAddress);
            check(&mut failures, "wait with read-only status", call(Syscall::Wait, [child, READ_ONLY_STATUS.as_ptr() as u64, 0, 0, 0, 0]), ErrorCode::BadAddress);
            check(&mut failures, "wait valid", call(Syscall::Wait, [child, status_pointer, 0, 0, 0, 0]), ErrorCode::Success);
            if status.reason != 0 || status.code != 42 {
                shoal_rt::println!("bad-syscalls: child status {status:?}, expected exited with 42 FAILED");
                failures += 1;
            }
            check(&mut failures, "wait twice", call(Syscall::Wait, [child, status_pointer, 0, 0, 0, 0]), ErrorCode::NoSuchChild);
        }
        Err(error) => {
            shoal_rt::println!("bad-syscalls: spawn {name} failed: {error} FAILED");
            failures += 1;
        }
    }
    shoal_rt::println!("bad-syscalls: {failures} failures");
    failures
}
