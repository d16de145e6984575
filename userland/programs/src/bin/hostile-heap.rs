//! Heap exhaustion: takes memory until the kernel refuses, and checks that a refused growth
//! leaves the heap as it was.
//!
//! Argument: bits 0..7 = role, bits 8.. = a count for the role.
//! - role 1, "hog": grows the heap 64 KiB at a time until refused, prints how much it got and
//!   the error, yields `argument >> 8` times (others see the exhaustion), exits 0;
//! - role 2, "wedge": learns where its heap ends, yields `argument >> 8` times (20 when 0) while
//!   the hogs exhaust memory,
//!   asks for 64 MiB (expects out-of-memory), checks that no page was mapped past the heap end,
//!   then yields and retries 4 KiB until memory is back, and checks the growth starts exactly
//!   at the old end (the refused call moved nothing); exits with the number of failed checks;
//! - role 3, "grower": grows 64 KiB at a time until refused, prints the count and the error,
//!   exits 0.
//!
//! An unknown role prints a line and exits with 1.
#![no_std]
#![no_main]

use shoal_rt::abi::{self, ErrorCode};
use shoal_rt::syscall;

shoal_rt::entry!(main);

/// Bytes of one growth step of the hog and the grower.
const STEP_BYTES: u64 = 64 * 1024;
/// Bytes of a page.
const PAGE_BYTES: u64 = 4096;
/// Yields of the wedge before its large request.
const WEDGE_YIELDS: u64 = 20;
/// Tries of the wedge to get a page back once the hog is gone.
const WEDGE_RETRIES: u64 = 100_000;
/// Growth steps after which the hog and the grower stop even if never refused (1 GiB of 64 KiB
/// steps, plus a margin): a kernel without a limit must not keep them running forever.
const MAX_STEPS: u64 = 16 * 1024 + 16;

/// Grows the heap `STEP_BYTES` at a time until refused; returns the steps that succeeded and the
/// error (None if `MAX_STEPS` were all granted).
fn grow_until_refused() -> (u64, Option<ErrorCode>) {
    let mut steps = 0;
    while steps < MAX_STEPS {
        match syscall::heap_grow(STEP_BYTES) {
            Ok(_) => steps += 1,
            Err(error) => return (steps, Some(error)),
        }
    }
    (steps, None)
}

/// Prints how much a role got and why it stopped.
fn report(role: &str, steps: u64, error: Option<ErrorCode>) {
    let kibibytes = steps * STEP_BYTES / 1024;
    match error {
        Some(error) => shoal_rt::println!("hostile-heap: {role}: got {kibibytes} KiB, then {error}"),
        None => shoal_rt::println!("hostile-heap: {role}: got {kibibytes} KiB and was never refused"),
    }
}

/// Role 1: takes all the memory it can, holds it while yielding `yields` times.
fn hog(yields: u64) -> u64 {
    let (steps, error) = grow_until_refused();
    report("hog", steps, error);
    for _ in 0..yields {
        syscall::yield_now();
    }
    shoal_rt::println!("hostile-heap: hog: done after {yields} yields");
    0
}

/// Prints a check's result; counts a failure.
fn check(failures: &mut u64, what: core::fmt::Arguments<'_>, ok: bool) {
    if ok {
        shoal_rt::println!("hostile-heap: wedge: {what} ok");
    } else {
        shoal_rt::println!("hostile-heap: wedge: {what} FAILED");
        *failures += 1;
    }
}

/// Role 2: checks that a growth refused for lack of memory is all-or-nothing.
fn wedge(yields: u64) -> u64 {
    let yields = if yields == 0 { WEDGE_YIELDS } else { yields };
    let mut failures = 0;
    let end = match syscall::heap_grow(PAGE_BYTES) {
        Ok(start) => start + PAGE_BYTES,
        Err(error) => {
            check(&mut failures, format_args!("first heap_grow(4096) -> {error}"), false);
            return failures;
        }
    };
    shoal_rt::println!("hostile-heap: wedge: heap ends at {end:#x}");
    for _ in 0..yields {
        syscall::yield_now();
    }
    let large = syscall::heap_grow(abi::HEAP_GROW_MAX_BYTES);
    check(
        &mut failures,
        format_args!("heap_grow(64 MiB) while memory is exhausted -> {large:x?}, expected out-of-memory"),
        large == Err(ErrorCode::OutOfMemory),
    );
    let end = match large {
        // Not refused: the check above failed; carry on from the new end.
        Ok(start) => start + abi::HEAP_GROW_MAX_BYTES,
        Err(_) => end,
    };
    let past_end = syscall::protect(end, PAGE_BYTES, abi::ACCESS_WRITE);
    check(
        &mut failures,
        format_args!("protect(heap end {end:#x}) -> {past_end:?}, expected bad-address (nothing mapped)"),
        past_end == Err(ErrorCode::BadAddress),
    );
    let mut tries = 0;
    let regrown = loop {
        if tries == WEDGE_RETRIES {
            break None;
        }
        tries += 1;
        syscall::yield_now();
        if let Ok(start) = syscall::heap_grow(PAGE_BYTES) {
            break Some(start);
        }
    };
    match regrown {
        Some(start) => check(
            &mut failures,
            format_args!("heap_grow(4096) succeeded after {tries} tries at {start:#x}, expected {end:#x}"),
            start == end,
        ),
        None => check(&mut failures, format_args!("heap_grow(4096) still refused after {tries} tries"), false),
    }
    shoal_rt::println!("hostile-heap: wedge: {failures} failures");
    failures
}

/// Role 3: takes memory until refused, then exits (several run at once).
fn grower() -> u64 {
    let (steps, error) = grow_until_refused();
    report("grower", steps, error);
    0
}

fn main(argument: u64) -> u64 {
    match argument & 0xff {
        1 => hog(argument >> 8),
        2 => wedge(argument >> 8),
        3 => grower(),
        role => {
            shoal_rt::println!("hostile-heap: unknown role {role}");
            1
        }
    }
}
