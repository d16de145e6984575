//! User processes: thousands at once, preemption, faults that kill only the offender, broken
//! ELF files refused, bad system-call arguments answered with error codes.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use abi::EndReason;

use super::{Checks, Failed, fail, run_all, start};
use crate::arch::x86_64::cpu;
use crate::mm::frame;
use crate::process::spawn::SpawnError;
use crate::process::scheduler;
use crate::ramdisk;

/// Processes in the density check: more than the 4095 PCIDs that exist.
const MANY_PROCESSES: u64 = 5000;
/// Spinners in the preemption check.
const SPINNERS: u64 = 4;
/// How long each spinner spins, in milliseconds of the kernel's clock.
const SPIN_MILLISECONDS: u64 = 150;
/// Yields of the sibling that runs next to each faulting program.
const SIBLING_YIELDS: u64 = 20;
/// Spawns timed in the cost report.
const TIMED_SPAWNS: u64 = 200;
/// Yields per process in the context-switch cost report.
const TIMED_YIELDS: u64 = 1000;



/// 5000 processes of one program, alive at once, each exits with its own code; every frame
/// comes back.
pub fn many(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("5000 processes (more than there are PCIDs) all run and exit with their own code");
    let free_before = frame::free_count();
    let mut expected = BTreeMap::new();
    let start_cycles = cpu::read_tsc();
    for index in 0..MANY_PROCESSES {
        let pid = start(checks, "exit-code", index)?;
        expected.insert(pid, index);
    }
    let spawn_cycles = cpu::read_tsc() - start_cycles;
    let free_while_alive = frame::free_count();
    crate::println!(
        "ktest: processes: {MANY_PROCESSES} processes alive, using {} frames ({} per process)",
        free_before - free_while_alive,
        (free_before - free_while_alive) as u64 / MANY_PROCESSES
    );
    let finished = run_all();
    if finished.len() != expected.len() {
        fail!(checks, "{} of {} processes reported", finished.len(), expected.len());
    }
    for (pid, code) in &expected {
        let Some(process) = finished.get(pid) else { fail!(checks, "process {pid} never reported") };
        if process.reason() != Some(EndReason::Exited) || process.status.code != *code {
            fail!(checks, "process {pid} ended {:?}, expected exit code {code}", process.status);
        }
    }
    crate::println!(
        "ktest: processes: spawn cost {} cycles per process ({})",
        spawn_cycles / MANY_PROCESSES,
        super::cycles_note()
    );
    checks.pass();

    checks.check("every frame the 5000 processes used came back");
    let free_after = frame::free_count();
    if free_after != free_before {
        fail!(checks, "{free_before} frames free before, {free_after} after");
    }
    checks.pass();
    Ok(())
}

/// CPU-bound spinners that never yield all make progress: they overlap in time and each is
/// preempted.
pub fn preemption(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("spinners that never yield are preempted and all finish");
    let mut pids = Vec::new();
    for _ in 0..SPINNERS {
        pids.push(start(checks, "spinner", SPIN_MILLISECONDS)?);
    }
    let finished = run_all();
    let mut latest_start = 0;
    let mut earliest_end = u64::MAX;
    for pid in &pids {
        let Some(process) = finished.get(pid) else { fail!(checks, "spinner {pid} never reported") };
        if process.reason() != Some(EndReason::Exited) || process.status.code != 0 {
            fail!(checks, "spinner {pid} ended {:?}", process.status);
        }
        if process.stats.preemptions == 0 {
            fail!(checks, "spinner {pid} was never preempted");
        }
        crate::println!(
            "ktest: preemption: spinner {pid}: first ran at tick {:?}, ended at tick {}, preempted {} times",
            process.stats.first_run_tick,
            process.stats.end_tick,
            process.stats.preemptions
        );
        latest_start = latest_start.max(process.stats.first_run_tick.unwrap_or(u64::MAX));
        earliest_end = earliest_end.min(process.stats.end_tick);
    }
    if latest_start >= earliest_end {
        fail!(checks, "the spinners did not overlap: the last started at tick {latest_start}, the first ended at {earliest_end}");
    }
    checks.pass();
    Ok(())
}

/// One faulting program and the end it must meet.
struct FaultCase {
    program: &'static str,
    reason: EndReason,
}

const FAULT_CASES: &[FaultCase] = &[
    FaultCase { program: "fault-write-ro", reason: EndReason::PageFault },
    FaultCase { program: "fault-exec-nx", reason: EndReason::PageFault },
    FaultCase { program: "fault-exec-window", reason: EndReason::PageFault },
    FaultCase { program: "fault-kernel-address", reason: EndReason::PageFault },
    FaultCase { program: "fault-divide", reason: EndReason::DivideError },
    FaultCase { program: "fault-invalid-opcode", reason: EndReason::InvalidOpcode },
];

/// Each fault program is killed with the right reason while a sibling keeps running.
pub fn user_faults(checks: &mut Checks) -> Result<(), Failed> {
    for case in FAULT_CASES {
        checks.check(case.program);
        let free_before = frame::free_count();
        let faulting = start(checks, case.program, 0)?;
        let sibling = start(checks, "yield-loop", SIBLING_YIELDS)?;
        let finished = run_all();
        let (Some(faulted), Some(sibling_end)) = (finished.get(&faulting), finished.get(&sibling)) else {
            fail!(checks, "a process never reported");
        };
        if faulted.reason() != Some(case.reason) {
            fail!(checks, "{} ended {:?}, expected {}", case.program, faulted.status, case.reason.name());
        }
        if sibling_end.reason() != Some(EndReason::Exited) || sibling_end.status.code != 0 {
            fail!(checks, "the sibling ended {:?}", sibling_end.status);
        }
        if frame::free_count() != free_before {
            fail!(checks, "{} frames free after, {free_before} before", frame::free_count());
        }
        crate::println!("ktest: user-faults: {} killed ({}), sibling exited with 0, frames all back", case.program, case.reason.name());
        checks.pass();
    }
    Ok(())
}

/// Every broken ELF file in the ramdisk is refused with its own error; the kernel survives and
/// still runs a valid program afterwards.
pub fn bad_elf(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("every broken ELF file is refused with its expected error");
    let free_before = frame::free_count();
    let corpus = elf_check::corpus::broken();
    let mut refused = 0;
    for broken in &corpus {
        let name = alloc::format!("corpus-{}", broken.name);
        if ramdisk::find(&name).is_none() {
            fail!(checks, "{name} is not in the ramdisk");
        }
        match scheduler::spawn(&name, 0, None) {
            Err(SpawnError::BadExecutable(error)) if error.kind() == broken.expected => {
                crate::println!("ktest: bad-elf: {name}: refused ({}): {error}", error.kind());
                refused += 1;
            }
            Err(error) => fail!(checks, "{name}: refused with {error}, expected kind {}", broken.expected),
            Ok(pid) => fail!(checks, "{name}: started as process {pid}"),
        }
    }
    if frame::free_count() != free_before {
        fail!(checks, "{} frames free after, {free_before} before", frame::free_count());
    }
    crate::println!("ktest: bad-elf: {refused} broken files refused, no frame lost");
    checks.pass();

    checks.check("a valid program still runs after the refusals");
    let pid = start(checks, "exit-code", 7)?;
    let finished = run_all();
    if finished.get(&pid).map(|process| process.status.code) != Some(7) {
        fail!(checks, "exit-code did not exit with 7");
    }
    checks.pass();
    Ok(())
}

/// A user program passes bad pointers and bad arguments to every system call and gets error
/// codes (it exits with the number of wrong answers).
pub fn bad_syscalls(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("every bad system call returns its error code");
    let pid = start(checks, "bad-syscalls", 0)?;
    let finished = run_all();
    match finished.get(&pid) {
        Some(process) if process.reason() == Some(EndReason::Exited) && process.status.code == 0 => {}
        Some(process) => fail!(checks, "bad-syscalls ended {:?} (code = number of wrong answers)", process.status),
        None => fail!(checks, "bad-syscalls never reported"),
    }
    checks.pass();

    checks.check("no system call changes the window or the kernel half; digests verify");
    let pid = start(checks, "window-guard", 0)?;
    let finished = run_all();
    match finished.get(&pid) {
        Some(process) if process.reason() == Some(EndReason::Exited) && process.status.code == 0 => {}
        other => fail!(checks, "window-guard ended {:?} (code = number of failed checks)", other.map(|process| process.status)),
    }
    checks.pass();

    checks.check("spawn and wait from user mode");
    let pid = start(checks, "spawn-wait", 8)?;
    let finished = run_all();
    if finished.get(&pid).map(|process| (process.reason(), process.status.code)) != Some((Some(EndReason::Exited), 0)) {
        fail!(checks, "spawn-wait failed: {:?}", finished.get(&pid).map(|process| process.status));
    }
    checks.pass();
    Ok(())
}

/// Prints the cost of spawning a process and of a context switch (figures, not assertions).
pub fn costs(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("spawn and context-switch costs are measured");
    let start_cycles = cpu::read_tsc();
    for _ in 0..TIMED_SPAWNS {
        start(checks, "exit-code", 0)?;
    }
    let spawn_cycles = (cpu::read_tsc() - start_cycles) / TIMED_SPAWNS;
    run_all();

    start(checks, "yield-loop", TIMED_YIELDS)?;
    start(checks, "yield-loop", TIMED_YIELDS)?;
    let start_cycles = cpu::read_tsc();
    let switches = scheduler::run();
    let total_cycles = cpu::read_tsc() - start_cycles;
    scheduler::take_finished();
    if switches < 2 * TIMED_YIELDS {
        fail!(checks, "only {switches} switches for {} yields", 2 * TIMED_YIELDS);
    }
    crate::println!("ktest: costs: spawn {spawn_cycles} cycles per process ({})", super::cycles_note());
    crate::println!(
        "ktest: costs: context switch {} cycles per switch, yield system call included, over {switches} switches ({})",
        total_cycles / switches,
        super::cycles_note()
    );
    checks.pass();

    checks.check("a FaaS instance of each runtime starts, from its spawn until it waits for work");
    let tlbsim = crate::boot_facts().args.tlbsim;
    for (index, runtime) in INSTANCE_STARTS.iter().enumerate() {
        // Loaded first: the start measured is an instance's, not the binary's one-time load.
        if let Err(error) = crate::mm::global_segment::load(runtime) {
            fail!(checks, "loading {runtime}: {error}");
        }
        let phase = INSTANCE_START_PHASE + index as u64;
        let start_cycles = cpu::read_tsc();
        let started = super::in_phase(tlbsim, phase, "instance-start", || crate::faas::start_instances(runtime, 1, |_| 0));
        let cycles = cpu::read_tsc() - start_cycles;
        let instances = match started {
            Ok(instances) => instances,
            Err(error) => fail!(checks, "{runtime}: {error}"),
        };
        crate::println!(
            "ktest: costs: instance start {runtime} phase={phase}: {cycles} cycles from the spawn until it waits for its first invocation ({}; under tlbsim the phase counts its instructions)",
            super::cycles_note()
        );
        if let Err(error) = crate::faas::shut_down(&instances) {
            fail!(checks, "{runtime}: {error}");
        }
    }
    checks.pass();
    Ok(())
}

/// The runtimes whose instance start `costs` measures (handler 0 for the language runtimes).
const INSTANCE_STARTS: [&str; 4] = ["synth-small", "wasm-runtime", "js-runtime", "lua-runtime"];
/// The tlbsim phase id of the first instance start (one per runtime after it).
const INSTANCE_START_PHASE: u64 = 900_000;
