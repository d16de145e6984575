//! The density sweep as a suite: every configuration runs, every invocation's self-check
//! passes (a wrong answer ends the instance and fails the suite), and every frame comes back.

#![deny(unsafe_code)]

use super::{Checks, Failed, fail};
use crate::bench::density;
use crate::mm::frame;
use crate::mm::global_segment::Mode;

/// Phase id of the sweep's first configuration.
const FIRST_PHASE_ID: u64 = 100;

/// Runs the sweep the kernel arguments describe (`workload`, `binary`, `instances`, `modes`, `warmup`,
/// `invocations`).
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("the density sweep runs every configuration with correct answers");
    let args = &crate::boot_facts().args;
    let counts: alloc::vec::Vec<usize> = args.instances.as_slice().iter().map(|&count| count as usize).collect();
    let modes: alloc::vec::Vec<Mode> =
        args.modes.as_slice().iter().map(|mode| Mode { global: mode.global(), share_tables: mode.share_tables() }).collect();
    let sweep = density::Sweep {
        workload: args.workload,
        build: args.workload_build(),
        instances: &counts,
        modes: &modes,
        warmup: u64::from(args.warmup),
        invocations: u64::from(args.invocations),
        code_pages: args.code_pages,
        data_pages: args.data_pages,
    };
    if let Err(error) = crate::mm::global_segment::load(sweep.binary()) {
        fail!(checks, "loading {}: {error}", sweep.binary());
    }
    let free_before = frame::free_count();
    match density::run(&sweep, FIRST_PHASE_ID) {
        Ok(phases) => crate::println!("ktest: density: {} configurations measured", phases / density::PHASES_PER_CONFIGURATION),
        Err(error) => fail!(checks, "{error}"),
    }
    if frame::free_count() != free_before {
        fail!(checks, "{} frames free after, {free_before} before", frame::free_count());
    }
    checks.pass();
    Ok(())
}
