//! RFLAGS attacks on the kernel: enters it (by system call or by the timer) with flags a kernel
//! must not inherit: NT (a stray IRET would fault), AC (SMAP's override: user memory open to
//! the kernel), DF (string instructions run backwards).
//!
//! Argument: 1 = set NT and `yield` 50 times, each time right after spawning a fresh child (run
//! alone, the yield leads straight to the child's first entry, an IRET); 2 = set NT and spin 200 ms (only `clock` calls) so
//! that the timer interrupts it with NT set; 3 = the same with AC; 4 = the same with DF; 5 = set
//! AC and DF and `yield` 50 times. Each phase also checks that the kernel gave the flags back
//! unchanged. Prints one line per check and exits with the number of failed checks (0 = all
//! good); an unknown argument is one failure.
#![no_std]
#![no_main]

use core::arch::asm;

use shoal_rt::abi::Syscall;
use shoal_rt::syscall;

shoal_rt::entry!(main);

/// RFLAGS.DF.
const FLAG_DF: u64 = 1 << 10;
/// RFLAGS.NT.
const FLAG_NT: u64 = 1 << 14;
/// RFLAGS.AC.
const FLAG_AC: u64 = 1 << 18;
/// The mask that clears DF, NT and AC, as an `and` immediate.
const CLEAN_FLAGS_MASK: i64 = !(FLAG_DF | FLAG_NT | FLAG_AC) as i64;
/// Yields made by the `yield` phases.
const YIELDS: u64 = 50;
/// How long the spinning phases spin.
const SPIN_NANOSECONDS: u64 = 200_000_000;
/// Loop iterations of one spin with the flag set (between two `clock` calls).
const SPIN_ITERATIONS: u64 = 100_000;
/// Spins after which a spinning phase stops even if the clock did not advance (a clock that
/// reads 0 must not hang the test).
const MAX_SPINS: u64 = 20_000;

/// Makes system call `number` (no arguments) with `flags` set in RFLAGS; returns the error code
/// and RFLAGS right after the call. The flags are cleared again before the block ends.
fn syscall_with_flags(number: u64, flags: u64) -> (u64, u64) {
    let error: u64;
    let flags_after: u64;
    // SAFETY: the block sets `flags` (some of DF, NT, AC) with PUSHFQ/POPFQ, makes a system call
    // without arguments (the kernel changes only rax, rdx, rcx and r11, all declared), reads
    // RFLAGS, and clears DF, NT and AC again before it ends. It uses the stack (no `nostack`)
    // at 8-byte aligned addresses only, so AC cannot make it fault.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {flags}",
            "popfq",
            "syscall",
            "pushfq",
            "pop {flags_after}",
            "push {flags_after}",
            "and qword ptr [rsp], {clean}",
            "popfq",
            flags = in(reg) flags,
            flags_after = out(reg) flags_after,
            clean = const CLEAN_FLAGS_MASK,
            inlateout("rax") number => error,
            out("rdi") _,
            out("rsi") _,
            out("rdx") _,
            out("r10") _,
            out("r8") _,
            out("r9") _,
            out("rcx") _,
            out("r11") _,
        );
    }
    (error, flags_after)
}

/// Spins `SPIN_ITERATIONS` times with `flags` set in RFLAGS (timer interrupts arrive with them
/// set); returns RFLAGS at the end of the spin. The flags are cleared again before the block
/// ends.
fn spin_with_flags(flags: u64) -> u64 {
    let flags_after: u64;
    // SAFETY: the block only sets `flags` (some of DF, NT, AC), counts a register down, reads
    // RFLAGS and clears DF, NT and AC again; no memory but the stack (8-byte aligned) is used.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {flags}",
            "popfq",
            "2:",
            "dec {count}",
            "jnz 2b",
            "pushfq",
            "pop {flags_after}",
            "push {flags_after}",
            "and qword ptr [rsp], {clean}",
            "popfq",
            flags = in(reg) flags,
            count = inout(reg) SPIN_ITERATIONS => _,
            flags_after = out(reg) flags_after,
            clean = const CLEAN_FLAGS_MASK,
        );
    }
    flags_after
}

/// Returns a name for a set of flags, for the report.
fn flag_names(flags: u64) -> &'static str {
    match flags {
        FLAG_NT => "NT",
        FLAG_AC => "AC",
        FLAG_DF => "DF",
        _ if flags == FLAG_AC | FLAG_DF => "AC+DF",
        _ => "flags",
    }
}

/// Prints a check's result; counts a failure.
fn check(failures: &mut u64, what: core::fmt::Arguments<'_>, ok: bool) {
    if ok {
        shoal_rt::println!("hostile-flags: {what} ok");
    } else {
        shoal_rt::println!("hostile-flags: {what} FAILED");
        *failures += 1;
    }
}

/// Yields `YIELDS` times, setting `flags` before each call; checks every call succeeded and gave
/// the flags back.
fn yield_phase(failures: &mut u64, flags: u64) {
    let name = flag_names(flags);
    shoal_rt::println!("hostile-flags: setting {name} and yielding {YIELDS} times");
    let mut errors = 0;
    let mut lost = 0;
    let mut wrong_children = 0;
    for index in 0..YIELDS {
        // A fresh child right before each yield: run alone, this process and the child are the
        // whole run queue, so the yield switches straight to the child's first entry into user
        // mode (an IRET) with whatever flags the kernel inherited from this system call.
        let child = syscall::spawn("exit-code", index).ok();
        let (error, flags_after) = syscall_with_flags(Syscall::Yield.number(), flags);
        if error != 0 {
            errors += 1;
        }
        if flags_after & flags != flags {
            lost += 1;
        }
        let exited = child.and_then(|pid| syscall::wait(pid).ok());
        if exited.map(|status| (status.reason, status.code)) != Some((0, index)) {
            wrong_children += 1;
        }
    }
    check(failures, format_args!("{YIELDS} yields with {name} set: {errors} errors"), errors == 0);
    check(failures, format_args!("{YIELDS} yields with {name} set: {name} lost {lost} times"), lost == 0);
    check(failures, format_args!("{YIELDS} fresh children entered user mode after those yields: {wrong_children} did not exit with their code"), wrong_children == 0);
}

/// Spins for `SPIN_NANOSECONDS` with `flags` set, calling only `clock` between spins; checks
/// the flags survived every interrupt.
fn spin_phase(failures: &mut u64, flags: u64) {
    let name = flag_names(flags);
    shoal_rt::println!("hostile-flags: setting {name} and spinning for {} ms", SPIN_NANOSECONDS / 1_000_000);
    let start = syscall::clock_nanoseconds();
    let mut spins = 0;
    let mut lost = 0;
    while spins < MAX_SPINS {
        if spin_with_flags(flags) & flags != flags {
            lost += 1;
        }
        spins += 1;
        if syscall::clock_nanoseconds().wrapping_sub(start) >= SPIN_NANOSECONDS {
            break;
        }
    }
    let elapsed = syscall::clock_nanoseconds().wrapping_sub(start);
    shoal_rt::println!("hostile-flags: spun {spins} times in {} ms", elapsed / 1_000_000);
    check(failures, format_args!("spinning with {name} set: {name} lost {lost} times"), lost == 0);
}

fn main(argument: u64) -> u64 {
    let mut failures = 0;
    match argument {
        1 => yield_phase(&mut failures, FLAG_NT),
        2 => spin_phase(&mut failures, FLAG_NT),
        3 => spin_phase(&mut failures, FLAG_AC),
        4 => spin_phase(&mut failures, FLAG_DF),
        5 => yield_phase(&mut failures, FLAG_AC | FLAG_DF),
        _ => check(&mut failures, format_args!("argument {argument} is not a phase (1..=5)"), false),
    }
    shoal_rt::println!("hostile-flags: {failures} failures");
    failures
}
