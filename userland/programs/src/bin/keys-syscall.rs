//! With protection keys, another binary's read-only data in the window is unreadable to this
//! process; the kernel must not read it on the process's behalf either (a confused deputy).
//! Checks that `write`, `spawn` and `verify_binary` refuse such an address with bad-address,
//! byte by byte (a different code for some bytes would leak them), and that the process's own
//! read-only data stays readable through the kernel.
//!
//! Argument: bits 0..62 = the address of another binary's read-only, non-executable data page in
//! the window; bit 63 set = the CPU has no protection keys, so the window is readable by all and
//! the kernel must read the page (the opposite expectations).
//!
//! Prints one line per check and exits with the number of failed checks (0 = all good).
#![no_std]
#![no_main]

use shoal_rt::abi::{ErrorCode, Syscall};
use shoal_rt::syscall::raw;

shoal_rt::entry!(main);

/// The bit of the argument that says protection keys are off.
const KEYS_OFF: u64 = 1 << 63;
/// Bytes of the other binary's page probed one at a time as a one-byte name.
const PROBED_BYTES: u64 = 64;
/// Text written from its own read-only data.
static OWN_TEXT: [u8; 38] = *b"keys-syscall: own read-only data read\n";

/// Prints a check's result; counts a failure.
fn check(failures: &mut u64, what: core::fmt::Arguments<'_>, ok: bool) {
    if ok {
        shoal_rt::println!("keys-syscall: {what} ok");
    } else {
        shoal_rt::println!("keys-syscall: {what} FAILED");
        *failures += 1;
    }
}

/// Returns the name of a raw error code.
fn code_name(code: u64) -> &'static str {
    ErrorCode::from_value(code).map_or("not a code", ErrorCode::name)
}

fn main(argument: u64) -> u64 {
    let keys_off = argument & KEYS_OFF != 0;
    let address = argument & !KEYS_OFF;
    let mut failures = 0;
    let bad = ErrorCode::BadAddress.value();
    shoal_rt::println!(
        "keys-syscall: other binary's page at {address:#x}, protection keys {}",
        if keys_off { "off" } else { "on" }
    );

    let own = raw(Syscall::Write.number(), [OWN_TEXT.as_ptr() as u64, OWN_TEXT.len() as u64, 0, 0, 0, 0]);
    check(
        &mut failures,
        format_args!("write own read-only data -> {} ({} bytes)", code_name(own.0), own.1),
        own == (ErrorCode::Success.value(), OWN_TEXT.len() as u64),
    );

    // Keys on: refused. Keys off: the kernel reads the 16 bytes (put on a line of their own).
    if keys_off {
        shoal_rt::print!("keys-syscall: the other binary's bytes: ");
    }
    let written = raw(Syscall::Write.number(), [address, 16, 0, 0, 0, 0]);
    if keys_off {
        shoal_rt::println!();
        check(&mut failures, format_args!("write(other, 16) -> {}, expected success", code_name(written.0)), written.0 == 0);
    } else {
        check(&mut failures, format_args!("write(other, 16) -> {}, expected bad-address", code_name(written.0)), written.0 == bad);
    }

    for (call, name) in [(Syscall::Spawn, "spawn"), (Syscall::VerifyBinary, "verify_binary")] {
        let result = raw(call.number(), [address, 8, 0, 0, 0, 0]);
        if keys_off {
            // Read: some bytes that are no binary's name (not-found, or invalid-argument when
            // they are not UTF-8).
            check(
                &mut failures,
                format_args!("{name}(other, 8) -> {}, expected anything but bad-address", code_name(result.0)),
                result.0 != bad,
            );
            if call == Syscall::Spawn && result.0 == 0 {
                // The bytes named a real program: do not leave it a zombie.
                let _ = shoal_rt::syscall::wait(result.1);
            }
        } else {
            check(&mut failures, format_args!("{name}(other, 8) -> {}, expected bad-address", code_name(result.0)), result.0 == bad);
        }
    }

    // One-byte names: no program has one, so a read byte gives not-found or invalid-argument;
    // with keys on every one must be bad-address, whatever the byte.
    let mut unexpected = 0;
    let mut first_unexpected = None;
    for offset in 0..PROBED_BYTES {
        let result = raw(Syscall::Spawn.number(), [address + offset, 1, 0, 0, 0, 0]);
        let ok = if keys_off { result.0 != bad && result.0 != 0 } else { result.0 == bad };
        if !ok {
            unexpected += 1;
            first_unexpected.get_or_insert((offset, result.0));
        }
    }
    let expected = if keys_off { "never bad-address" } else { "always bad-address" };
    match first_unexpected {
        None => check(&mut failures, format_args!("spawn(other + i, 1) for i in 0..{PROBED_BYTES}: {expected}"), true),
        Some((offset, code)) => check(
            &mut failures,
            format_args!(
                "spawn(other + i, 1) for i in 0..{PROBED_BYTES}: {unexpected} unexpected, first at {offset}: {}; expected {expected}",
                code_name(code)
            ),
            false,
        ),
    }

    shoal_rt::println!("keys-syscall: {failures} failures");
    failures
}
