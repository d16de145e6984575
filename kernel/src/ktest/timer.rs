//! The local APIC timer delivers periodic interrupts.

#![deny(unsafe_code)]

use super::{Checks, Failed, fail};
use crate::arch::x86_64::interrupts;
use crate::time;

/// Ticks to wait for.
const TICKS_TO_WAIT: u64 = 5;

/// Runs the timer checks.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    let facts = crate::boot_facts();

    checks.check("calibration measured a running APIC timer");
    let Some((_, calibration)) = facts.apic.get() else { fail!(checks, "no APIC calibration recorded") };
    if calibration.apic_timer_hz == 0 {
        fail!(checks, "APIC timer rate 0");
    }
    checks.pass();

    checks.check("5 timer interrupts arrive while the kernel halts");
    let start = time::ticks();
    time::wait_ticks(TICKS_TO_WAIT);
    let end = time::ticks();
    if end < start + TICKS_TO_WAIT || !interrupts::are_enabled() {
        fail!(checks, "ticks went from {start} to {end}");
    }
    crate::println!("ktest: timer: ticks {start} -> {end}");
    checks.pass();
    Ok(())
}
