//! The quick density sweep as a suite: every configuration runs, every invocation's self-check
//! passes (a wrong answer ends the instance and fails the suite), and every frame comes back.

#![deny(unsafe_code)]

use super::{Checks, Failed, fail};
use crate::bench::density;
use crate::mm::frame;

/// Phase id of the sweep's first configuration.
const FIRST_PHASE_ID: u64 = 100;

/// Runs the quick sweep.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("the quick density sweep runs every configuration with correct answers");
    if let Err(error) = crate::mm::global_segment::load(density::QUICK.workload) {
        fail!(checks, "loading {}: {error}", density::QUICK.workload);
    }
    let free_before = frame::free_count();
    match density::run(&density::QUICK, FIRST_PHASE_ID) {
        Ok(configurations) => crate::println!("ktest: density: {configurations} configurations measured"),
        Err(error) => fail!(checks, "{error}"),
    }
    if frame::free_count() != free_before {
        fail!(checks, "{} frames free after, {free_before} before", frame::free_count());
    }
    checks.pass();
    Ok(())
}
