//! Hostile users: processes attack the kernel the way a tenant could, and the kernel must stay
//! up, answer with error codes, kill only the attacker, and get every frame and every byte of
//! kernel heap back.
//!
//! The attacks are user programs (`hostile-*`, `fork-bomb`, `spawn-flood`, `keys-syscall`,
//! `forge-verdict`, `stray-invoke`, `spawn-refusals`, `umip-probe`), each of which checks the
//! kernel's answers itself and exits with the number of wrong ones. This suite starts them,
//! checks how each ended, and after each check that the free frames and the kernel heap are
//! exactly as before. `tests/qemu.rs` boots it with `--memory 2048`, so the exhaustion checks
//! use up the guest's real memory; `max_frames=` makes them end sooner, and the README documents
//! an 8 GiB run and a long fuzzing command.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use abi::EndReason;

use super::{Checks, Failed, fail, run_all, start};
use crate::arch::x86_64::interrupts;
use crate::mm::layout::{PAGE_BYTES, USER_HEAP_MAX_BYTES};
use crate::mm::{frame, heap};
use crate::process::{Finished, scheduler};
use crate::time;

/// The fuzzer's first seed; the `fuzz_seeds` argument says how many follow it (each printed, so
/// a failure can be replayed with the same seed), `fuzz_calls` how many calls each makes.
const FIRST_FUZZ_SEED: u64 = 0x5eed_0001;
/// Where the fuzzer's argument keeps the call count, and how it ends.
const FUZZ_CALLS_SHIFT: u32 = 32;
const FUZZ_ENDING_SHIFT: u32 = 62;
/// Fuzzer endings: exit normally; set TF (#DB next); set AC and load unaligned (#AC with CR0.AM).
const FUZZ_ENDING_TRAP_FLAG: u64 = 1;
const FUZZ_ENDING_ALIGNMENT_CHECK: u64 = 2;
/// Calls before the fuzzer sets TF or AC at its end.
const FUZZ_CALLS_BEFORE_ENDING: u64 = 1000;
/// Exception vectors the fuzzer's endings raise (Intel SDM vol. 3A table 6-1).
const DEBUG_VECTOR: u64 = 1;
const ALIGNMENT_CHECK_VECTOR: u64 = 17;
/// Heap growers that run at once.
const GROWERS: u64 = 16;
/// `hostile-heap` roles (argument bits 0..7) and the count in bits 8...
const HEAP_ROLE_HOG: u64 = 1;
const HEAP_ROLE_WEDGE: u64 = 2;
const HEAP_ROLE_GROWER: u64 = 3;
const HEAP_COUNT_SHIFT: u32 = 8;
/// Yields of each hog after it exhausted memory, while the wedge checks.
const HOG_YIELDS: u64 = 2000;
/// Yields of the wedge before it asks, while the hogs exhaust memory.
const WEDGE_YIELDS: u64 = 300;
/// Frames left free while the spawn flood runs (16 MiB).
const SPAWN_FLOOD_FREE_FRAMES: usize = 4096;
/// The most children `spawn-flood` starts on its own (its `MAX_CHILDREN`).
const SPAWN_FLOOD_CAP: u64 = 8192;
/// Frames left free while the fork bomb runs (64 MiB; the rest are held back for the check), so
/// that it exhausts memory after about 1,500 processes in any guest instead of after 45,000 in
/// 2 GiB.
const FORK_BOMB_FREE_FRAMES: usize = 16_384;

/// Returns the fork bomb's depth for `free_frames` free frames: a tree of depth D has
/// 2^(D+1) - 1 processes, more than could live in that memory (or than the process table has
/// slots), so a spawn must be refused.
fn fork_bomb_depth(free_frames: usize) -> u64 {
    let most = (free_frames as u64 / crate::mm::layout::MIN_FRAMES_PER_PROCESS).min(crate::boot_facts().space.process_slots);
    u64::from((most + 1).next_power_of_two().trailing_zeros())
}
/// Marks the fork bomb's top process (it prints the summary line).
const FORK_BOMB_TOP: u64 = 1 << 63;
/// Yields of a sibling that runs beside an attacker.
const SIBLING_YIELDS: u64 = 20;

/// Free frames (with those the heap grew by) and kernel-heap bytes in use, to compare before
/// and after an attack.
struct Baseline {
    free_frames: usize,
    heap_used: usize,
}

impl Baseline {
    fn take() -> Baseline {
        // Frames the kernel heap grew by stay with the heap (its freed blocks are reused), so
        // they count as free here: what must come back is every frame and every heap byte.
        Baseline { free_frames: frame::free_count() + heap::grown_frames() as usize, heap_used: heap::usage_bytes().0 }
    }

    /// Fails the check unless every frame and every heap byte came back.
    fn expect_restored(&self, checks: &Checks) -> Result<(), Failed> {
        let now = Baseline::take();
        if now.free_frames != self.free_frames {
            fail!(checks, "{} frames free before, {} after", self.free_frames, now.free_frames);
        }
        if now.heap_used != self.heap_used {
            fail!(checks, "kernel heap: {} bytes in use before, {} after", self.heap_used, now.heap_used);
        }
        Ok(())
    }
}



/// Returns how `pid` ended, failing the check if it never reported.
fn ended(checks: &Checks, finished: &BTreeMap<u64, Finished>, pid: u64) -> Result<(Option<EndReason>, u64), Failed> {
    match finished.get(&pid) {
        Some(process) => Ok((process.reason(), process.status.code)),
        None => fail!(checks, "process {pid} never reported"),
    }
}

/// Fails unless `pid` exited with 0 (the attack programs exit with their number of failures).
fn expect_clean_exit(checks: &Checks, finished: &BTreeMap<u64, Finished>, pid: u64, what: &str) -> Result<(), Failed> {
    match ended(checks, finished, pid)? {
        (Some(EndReason::Exited), 0) => Ok(()),
        (Some(EndReason::Exited), failures) => fail!(checks, "{what}: {failures} of its checks failed (see its lines above)"),
        other => fail!(checks, "{what} ended {other:?}, expected a clean exit"),
    }
}

/// Runs `program` with `argument` next to a yielding sibling; both must exit cleanly.
fn attack_with_sibling(checks: &Checks, program: &str, argument: u64) -> Result<(), Failed> {
    let attacker = start(checks, program, argument)?;
    // Started after the attacker: its first entry into user mode (an IRET from a fresh kernel
    // stack) follows the attacker's system calls and preemptions.
    let sibling = start(checks, "yield-loop", SIBLING_YIELDS)?;
    let finished = run_all();
    expect_clean_exit(checks, &finished, attacker, program)?;
    expect_clean_exit(checks, &finished, sibling, "the sibling")
}

/// Runs `program` with `argument` alone; it must exit cleanly.
fn attack(checks: &Checks, program: &str, argument: u64) -> Result<(), Failed> {
    let pid = start(checks, program, argument)?;
    let finished = run_all();
    expect_clean_exit(checks, &finished, pid, program)
}

/// The suite.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    rflags(checks)?;
    fuzz(checks)?;
    boundaries(checks)?;
    exhaustion(checks)?;
    Ok(())
}

/// RFLAGS a user may set and the kernel must not inherit.
fn rflags(checks: &mut Checks) -> Result<(), Failed> {
    const CASES: [(&str, u64); 5] = [
        ("NT set, then yield to a fresh child (its first entry is an IRET)", 1),
        ("NT set while the timer preempts (the return is an IRET)", 2),
        ("AC set while the timer interrupts (AC lifts SMAP for the kernel)", 3),
        ("DF set while the timer interrupts (Rust code assumes DF clear)", 4),
        ("AC and DF set, then yield to a fresh child", 5),
    ];
    for (name, argument) in CASES {
        checks.check(name);
        let baseline = Baseline::take();
        let (ac_entries_before, ac_leaks_before) = interrupts::alignment_check_entries();
        if argument == 1 || argument == 5 {
            // Alone: each yield goes straight to a fresh child's first entry (an IRET).
            attack(checks, "hostile-flags", argument)?;
        } else {
            attack_with_sibling(checks, "hostile-flags", argument)?;
        }
        if argument == 3 {
            let (entries, leaks) = interrupts::alignment_check_entries();
            let (entries, leaks) = (entries - ac_entries_before, leaks - ac_leaks_before);
            crate::println!("ktest: hostile: {entries} interrupts from user mode with AC set; the kernel ran {leaks} of them with AC set");
            if entries == 0 {
                fail!(checks, "no interrupt hit the process while AC was set: the check saw nothing");
            }
            if leaks != 0 {
                fail!(checks, "{leaks} handlers ran with the user's AC (SMAP lifted)");
            }
        }
        baseline.expect_restored(checks)?;
        checks.pass();
    }
    Ok(())
}

/// Random system calls with random registers and flags, for fixed seeds; then the fuzzer's own
/// TF and AC endings, which must kill it (and only it) with #DB and #AC.
fn fuzz(checks: &mut Checks) -> Result<(), Failed> {
    let args = &crate::boot_facts().args;
    let calls = u64::from(args.fuzz_calls);
    let fuzz_started = time::ticks();
    for seed in (FIRST_FUZZ_SEED..).take(args.fuzz_seeds as usize) {
        checks.check("random system calls keep the register convention and the kernel up");
        let baseline = Baseline::take();
        let started = time::ticks();
        crate::println!("ktest: hostile: fuzzing seed {seed:#x}: {calls} calls");
        attack(checks, "hostile-fuzz", seed | calls << FUZZ_CALLS_SHIFT)?;
        crate::println!("ktest: hostile: seed {seed:#x}: {calls} calls in {} timer ticks, no mismatch", time::ticks() - started);
        baseline.expect_restored(checks)?;
        checks.pass();
    }
    crate::println!(
        "ktest: hostile: fuzzing done: {} seeds x {calls} calls = {} system calls in {} timer ticks of {} Hz, kernel up, every frame and heap byte back",
        args.fuzz_seeds,
        u64::from(args.fuzz_seeds) * calls,
        time::ticks() - fuzz_started,
        args.timer_hz
    );

    checks.check("a fuzzer that sets TF is killed by #DB, and the next one runs");
    let baseline = Baseline::take();
    let calls = FUZZ_CALLS_BEFORE_ENDING << FUZZ_CALLS_SHIFT;
    let trapped = start(checks, "hostile-fuzz", 0x5eed_0004 | calls | FUZZ_ENDING_TRAP_FLAG << FUZZ_ENDING_SHIFT)?;
    let next = start(checks, "hostile-fuzz", 0x5eed_0005 | calls)?;
    let finished = run_all();
    let end = ended(checks, &finished, trapped)?;
    if end != (Some(EndReason::OtherException), DEBUG_VECTOR) {
        fail!(checks, "the TF fuzzer ended {end:?}, expected killed by #DB (vector 1)");
    }
    expect_clean_exit(checks, &finished, next, "the next fuzzer")?;
    drop(finished);
    baseline.expect_restored(checks)?;
    checks.pass();

    checks.check("a fuzzer that sets AC and loads unaligned is killed by #AC (CR0.AM is on; not emulated by TCG)");
    let baseline = Baseline::take();
    let aligned = start(checks, "hostile-fuzz", 0x5eed_0006 | calls | FUZZ_ENDING_ALIGNMENT_CHECK << FUZZ_ENDING_SHIFT)?;
    let finished = run_all();
    let end = ended(checks, &finished, aligned)?;
    // QEMU TCG does not emulate alignment checking: there the load succeeds and the fuzzer
    // exits with its "no #AC" code. Everywhere else CR0.AM is on and #AC must kill it.
    let facts = crate::boot_facts();
    let tcg = facts.features.engine == crate::arch::x86_64::cpu::Engine::QemuTcg;
    let expected = if facts.enabled.alignment_mask && !tcg {
        (Some(EndReason::OtherException), ALIGNMENT_CHECK_VECTOR)
    } else {
        (Some(EndReason::Exited), 2000)
    };
    if end != expected {
        fail!(checks, "the AC fuzzer ended {end:?}, expected {expected:?}");
    }
    if tcg {
        crate::println!("ktest: hostile: QEMU TCG does not emulate #AC: the unaligned load with AC set went through, as expected here");
    }
    drop(finished);
    baseline.expect_restored(checks)?;
    checks.pass();
    Ok(())
}

/// Boundary pointers, calls that are not the caller's to make, and reads the caller's protection
/// keys forbid.
fn boundaries(checks: &mut Checks) -> Result<(), Failed> {
    const PROGRAMS: [(&str, &str); 5] = [
        ("every call with boundary pointers gets its exact error code", "hostile-boundary"),
        ("invoke_wait and invoke_done from a process that is no instance fail at once", "stray-invoke"),
        ("spawn refusals say what happened (bad-executable, not-found)", "spawn-refusals"),
        ("output cannot forge the kernel's verdict line (the host checks the lines)", "forge-verdict"),
        ("bad-syscalls still gets its error codes", "bad-syscalls"),
    ];
    for (name, program) in PROGRAMS {
        checks.check(name);
        let baseline = Baseline::take();
        attack(checks, program, 0)?;
        baseline.expect_restored(checks)?;
        checks.pass();
    }

    checks.check("system calls honour the caller's protection keys");
    let baseline = Baseline::take();
    super::global_segment::keys_through_system_calls(checks)?;
    baseline.expect_restored(checks)?;
    checks.pass();

    checks.check("SGDT at CPL 3 is refused where the CPU has UMIP (no kernel address leaks)");
    let umip = crate::boot_facts().enabled.umip;
    let pid = start(checks, "umip-probe", 0)?;
    let finished = run_all();
    let end = ended(checks, &finished, pid)?;
    let expected = if umip { Some(EndReason::GeneralProtection) } else { Some(EndReason::Exited) };
    if end.0 != expected {
        fail!(checks, "umip-probe ended {end:?} with umip={umip}, expected {expected:?}");
    }
    crate::println!("ktest: hostile: umip={umip}: umip-probe ended {:?}", end.0);
    checks.pass();
    Ok(())
}

/// Memory and process-slot exhaustion: the one who asks gets an error code, the kernel stays
/// up, and everything comes back. Also a suite of its own (`hostile-exhaustion`), run with a
/// small kernel heap: per-process bookkeeping on the heap would run it out.
pub fn exhaustion(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("16 processes grow their heaps at once until memory runs out");
    let baseline = Baseline::take();
    let mut growers = Vec::new();
    for _ in 0..GROWERS {
        growers.push(start(checks, "hostile-heap", HEAP_ROLE_GROWER)?);
    }
    let finished = run_all();
    for pid in &growers {
        expect_clean_exit(checks, &finished, *pid, "a heap grower")?;
    }
    drop((finished, growers));
    baseline.expect_restored(checks)?;
    checks.pass();

    checks.check("a heap growth refused for lack of memory leaves the heap as it was");
    let baseline = Baseline::take();
    // Enough hogs to take every free frame (a heap stops at 1 GiB); each grows 64 KiB at a time,
    // so when they are done fewer than 16 pages are left and the wedge's 64 MiB growth fails
    // part way: the pages it mapped must be given back.
    let hogs_needed = (frame::free_count() as u64 * PAGE_BYTES).div_ceil(USER_HEAP_MAX_BYTES) + 1;
    let mut hogs = Vec::new();
    for _ in 0..hogs_needed {
        hogs.push(start(checks, "hostile-heap", HEAP_ROLE_HOG | HOG_YIELDS << HEAP_COUNT_SHIFT)?);
    }
    let wedge = start(checks, "hostile-heap", HEAP_ROLE_WEDGE | WEDGE_YIELDS << HEAP_COUNT_SHIFT)?;
    let finished = run_all();
    for hog in &hogs {
        expect_clean_exit(checks, &finished, *hog, "a hog")?;
    }
    expect_clean_exit(checks, &finished, wedge, "the wedge")?;
    drop((finished, hogs));
    baseline.expect_restored(checks)?;
    checks.pass();

    checks.check("a fork bomb is refused when slots or memory run out");
    let baseline = Baseline::take();
    // Hold back all but FORK_BOMB_FREE_FRAMES frames while the bomb runs.
    let held: Vec<frame::OwnedFrame> =
        (FORK_BOMB_FREE_FRAMES..frame::free_count()).map_while(|_| frame::allocate()).collect();
    let depth = fork_bomb_depth(frame::free_count());
    let pid = start(checks, "fork-bomb", depth | FORK_BOMB_TOP)?;
    let finished = run_all();
    drop(held);
    let (reason, code) = ended(checks, &finished, pid)?;
    let (started, refused) = (code & 0xffff_ffff, code >> 32);
    crate::println!("ktest: hostile: fork bomb of depth {depth}: {started} processes started, {refused} spawns refused");
    if reason != Some(EndReason::Exited) || started < 2 || refused == 0 {
        fail!(checks, "the fork bomb ended {reason:?} with {started} started and {refused} refused");
    }
    drop(finished);
    baseline.expect_restored(checks)?;
    checks.pass();

    checks.check("spawning until refused, then every child is reaped");
    let baseline = Baseline::take();
    // With all but 16 MiB held back, memory runs out after a few hundred children, long before
    // the flood's own cap of 8192 and before its first children end (with 64 MiB, children that
    // had already exited gave their memory back and the flood sometimes reached its cap).
    let held: Vec<frame::OwnedFrame> =
        (SPAWN_FLOOD_FREE_FRAMES..frame::free_count()).map_while(|_| frame::allocate()).collect();
    let pid = start(checks, "spawn-flood", 0)?;
    let finished = run_all();
    drop(held);
    let (reason, started) = ended(checks, &finished, pid)?;
    crate::println!("ktest: hostile: spawn-flood started {started} children before the refusal");
    if reason != Some(EndReason::Exited) || started == 0 || started >= SPAWN_FLOOD_CAP {
        fail!(checks, "spawn-flood ended {reason:?} after {started} children (never refused below its cap of {SPAWN_FLOOD_CAP})");
    }
    drop(finished);
    baseline.expect_restored(checks)?;
    checks.pass();
    Ok(())
}

/// A function instance waits for an invocation that no driver will ever send (the kernel runs
/// the scheduler without a driver): the run must end with a report naming it, not idle forever.
/// Fatal by design.
pub fn stuck(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("a run in which no process can ever run again ends with a report");
    let pid = match scheduler::spawn_instance("synth-small", 0) {
        Ok(pid) => pid,
        Err(error) => fail!(checks, "starting an instance of synth-small: {error}"),
    };
    crate::println!("ktest: stuck: instance {pid} started; running the scheduler with no driver");
    scheduler::run();
    fail!(checks, "the scheduler returned while instance {pid} waited for an invocation")
}
