//! The tlbsim end-to-end scenario: N processes touch P shared window pages in turn for R
//! rounds, in each global mode, with and without the pages, each run one marked phase.
//!
//! Under the tlbsim plugin the host test (`tests/tlbsim.rs`) subtracts the phase without the
//! pages from the phase with them and checks the law the SDM predicts: with G=0 and no PCID every
//! switch flushes, so N*P*R data walks; with G=1 the P pages are walked once in total; with G=0
//! and (simulated) PCIDs each address space walks them once, N*P. Without the plugin the markers
//! are NOPs and the suite checks that every process ran correctly.

#![deny(unsafe_code)]

extern crate alloc;

use abi::EndReason;

use super::{Checks, Failed, fail};
use crate::arch::x86_64::marker;
use crate::drivers::apic;
use crate::mm::global_segment::{self, Mode};
use crate::mm::pcid;
use crate::process::scheduler;

/// Address spaces that take turns.
pub const PROCESSES: u64 = 4;
/// Window pages each touches per round.
pub const PAGES: u64 = 16;
/// Rounds (each ends with a yield, so a switch).
pub const ROUNDS: u64 = 8;
/// Bit position of the round count in `touch-window`'s argument.
const ROUNDS_SHIFT: u64 = 16;

/// Runs the four phases.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    let mut phase_id = 0;
    for global in [false, true] {
        if let Err(error) = global_segment::set_mode(Mode { global, share_tables: true }) {
            fail!(checks, "mode: {error}");
        }
        for pages in [0, PAGES] {
            phase_id += 1;
            checks.check("a measured phase of processes touching window pages");
            let name = alloc::format!("touch-g{}-p{pages}", u8::from(global));
            marker::reset();
            for _ in 0..PROCESSES {
                if let Err(error) = scheduler::spawn("touch-window", pages | ROUNDS << ROUNDS_SHIFT, None) {
                    fail!(checks, "spawn: {error}");
                }
            }
            // The processes yield, so they need no preemption; without ticks in the phase its
            // counts are exact.
            let quiet = apic::mask_timer();
            marker::begin_phase(phase_id, &name);
            scheduler::run();
            marker::end_phase(phase_id);
            drop(quiet);
            for process in scheduler::take_finished() {
                if process.reason() != Some(EndReason::Exited) || process.status.code != 0 {
                    fail!(checks, "process {} ended {:?}", process.pid, process.status);
                }
            }
            crate::println!(
                "result: tlbsim-phase id={phase_id} name={name} processes={PROCESSES} pages={pages} rounds={ROUNDS} global={} pcid={}",
                u8::from(global),
                u8::from(pcid::enabled())
            );
            checks.pass();
        }
    }
    if let Err(error) = global_segment::set_mode(Mode { global: true, share_tables: true }) {
        fail!(checks, "mode: {error}");
    }
    Ok(())
}
