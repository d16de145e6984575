//! PCIDs: the mode follows the CPU, address spaces run under their own PCIDs, and recycling
//! (more live address spaces than PCIDs) flushes the reused PCID. On a CPU without PCID (QEMU
//! TCG) the suite checks that the mode is reported unavailable and every switch flushes.

#![deny(unsafe_code)]

use abi::EndReason;
use x86_64::registers::control::{Cr4, Cr4Flags};

use super::{Checks, Failed, fail};
use crate::mm::pcid;
use crate::process::scheduler;

/// Processes yielding to each other in the switching check.
const YIELDERS: u64 = 4;
/// Yields each makes.
const YIELDS: u64 = 20;

/// Runs the PCID checks.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    let facts = crate::boot_facts();
    checks.check("the pcid mode follows the CPU and the `pcid` argument");
    let pcide = Cr4::read().contains(Cr4Flags::PCID);
    let expected = facts.features.pcid && facts.args.pcid;
    if pcid::enabled() != expected || (facts.features.pcid && !pcide) {
        fail!(checks, "CPU pcid={} argument pcid={} CR4.PCIDE={} mode on={}", facts.features.pcid, facts.args.pcid, pcide, pcid::enabled());
    }
    crate::println!("ktest: pcid: CPU pcid={} CR4.PCIDE={pcide} mode on={}", facts.features.pcid, pcid::enabled());
    checks.pass();

    checks.check("processes switching under PCIDs (or flushing without them) all run correctly");
    let pool_size = facts.args.pcids as u64;
    // More live address spaces than usable PCIDs, so the pool must recycle.
    let processes = YIELDERS.max(pool_size + 2);
    let before = pcid::stats().unwrap_or_default();
    for _ in 0..processes {
        if let Err(error) = scheduler::spawn("yield-loop", YIELDS, None) {
            fail!(checks, "spawn: {error}");
        }
    }
    scheduler::run();
    for process in scheduler::take_finished() {
        if process.reason() != Some(EndReason::Exited) || process.status.code != 0 {
            fail!(checks, "process {} ended {:?}", process.pid, process.status);
        }
    }
    let after = pcid::stats().unwrap_or_default();
    let assignments = after.assignments - before.assignments;
    let kept = after.reuses_without_flush - before.reuses_without_flush;
    let evictions = after.evictions - before.evictions;
    crate::println!(
        "ktest: pcid: {processes} processes, {} PCIDs: {assignments} assignments (each flushed), {kept} switches kept their entries, {evictions} PCIDs taken back",
        pool_size - 1
    );
    if pcid::enabled() {
        if assignments < processes || kept == 0 || evictions == 0 {
            fail!(checks, "assignments {assignments}, kept {kept}, evictions {evictions}");
        }
    } else if assignments != 0 {
        fail!(checks, "{assignments} PCID assignments with the mode off");
    }
    checks.pass();
    Ok(())
}
