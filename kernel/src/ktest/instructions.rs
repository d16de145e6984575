//! The tlbsim instruction-count scenario: two marked phases whose instructions are fixed by
//! their `asm!` (`arch::x86_64::marker::counted_loop_phase` and `counted_copy_phase`).
//!
//! Under the tlbsim plugin the host test (`tests/tlbsim.rs`) checks the phases'
//! `instructions.kernel` exactly: the loop phase executes `mov ecx, n`, n rounds of
//! `dec ecx; jnz` and the EndPhase marker, `2n + 2` instructions; the copy phase executes one
//! `rep movsb` of `COPY_BYTES` bytes and the EndPhase marker (how QEMU counts the REP
//! instruction is what the test pins). The timer is masked in both, so no interrupt handler
//! adds instructions. Without the plugin the markers are NOPs and the suite checks the copy.

#![deny(unsafe_code)]

extern crate alloc;

use super::{Checks, Failed, fail};
use crate::arch::x86_64::marker;
use crate::drivers::apic;

/// Rounds of the counted loop.
pub const LOOP_ITERATIONS: u32 = 1000;
/// Bytes the short `rep movsb` copies (within one page).
pub const COPY_BYTES: usize = 100;
/// Bytes the long `rep movsb` copies (across pages).
pub const LONG_COPY_BYTES: usize = 65536;

/// Runs the two phases.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("a marked phase of a counted loop");
    let quiet = apic::mask_timer();
    marker::counted_loop_phase(1, "insn-loop", LOOP_ITERATIONS);
    drop(quiet);
    crate::println!(
        "result: instructions-phase id=1 name=insn-loop iterations={LOOP_ITERATIONS} expected_kernel={}",
        2 * u64::from(LOOP_ITERATIONS) + 2
    );
    checks.pass();

    checks.check("a marked phase of one rep movsb");
    let source: [u8; COPY_BYTES] = core::array::from_fn(|index| index as u8 ^ 0x5a);
    let mut destination = [0u8; COPY_BYTES];
    let quiet = apic::mask_timer();
    marker::counted_copy_phase(2, "insn-rep-movsb", &mut destination, &source);
    drop(quiet);
    if destination != source {
        fail!(checks, "rep movsb copied {destination:?}, not {source:?}");
    }
    crate::println!("result: instructions-phase id=2 name=insn-rep-movsb bytes={COPY_BYTES}");
    checks.pass();

    checks.check("a marked phase of one long rep movsb");
    let source: alloc::vec::Vec<u8> = (0..LONG_COPY_BYTES).map(|index| (index % 251) as u8).collect();
    let mut destination = alloc::vec![0u8; LONG_COPY_BYTES];
    let quiet = apic::mask_timer();
    marker::counted_copy_phase(3, "insn-rep-movsb-long", &mut destination, &source);
    drop(quiet);
    if destination != source {
        fail!(checks, "the long rep movsb copied wrong bytes");
    }
    crate::println!("result: instructions-phase id=3 name=insn-rep-movsb-long bytes={LONG_COPY_BYTES}");
    checks.pass();
    Ok(())
}
