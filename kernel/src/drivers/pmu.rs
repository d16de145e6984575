//! Hardware performance counters around a measured region: the density harness's interface.
//!
//! Where the CPU has a performance-monitoring unit, shoal counts unhalted core `cycles`, retired
//! `instructions`, page walks (`itlb_walks`, `dtlb_load_walks`, `dtlb_store_walks` on Intel;
//! `itlb_walks`, `dtlb_walks` on AMD Zen 2-4) and first-level TLB misses that hit the second
//! level (`itlb_stlb_hits`, `dtlb_load_stlb_hits`, `dtlb_store_stlb_hits` on Intel;
//! `itlb_l2_hits`, `dtlb_l2_hits` on AMD), in every ring, as many as the CPU has counters for.
//! Intel counts use the architectural events (SDM vol. 3B) and the model-specific events of
//! Skylake, Ice Lake, Golden Cove and Gracemont (Intel's perfmon files); AMD counts use the core
//! counters (APM vol. 2) with the Zen events of the PPRs. `kernel/libs/pmu` holds the event
//! table with every encoding's source and what is unverified, the CPUID decoding and the plan;
//! `arch/x86_64/pmu.rs` writes the MSRs.
//!
//! Nothing could be measured while writing this: QEMU TCG, this machine's PVM `/dev/kvm` and
//! Bochs have no PMU (Bochs advertises one in CPUID but raises #GP on its registers, so the kernel
//! refuses it by engine), so there the plan is "unavailable" and no PMU register is ever touched;
//! only the encodings and the plans are tested (on the host). Counts need bare metal or KVM with
//! a virtual PMU (`-enable-kvm -cpu host`).
//!
//! # Interface
//!
//! ```text
//! pub fn init(engine: Engine) -> Availability  // once, at boot (main.rs); prints the `pmu:` lines
//! pub fn start()                                // zero and enable the planned counters
//! pub fn stop() -> Counts                       // disable them and read them
//! ```
//!
//! The harness calls [`start`] just before its timed region and [`stop`] just after it, outside
//! the region: neither prints, allocates or takes a lock, and without a PMU both return at once.
//! [`Counts`] is `Copy` and fixed-size; its `Display` prints `pmu=<availability>` followed by one
//! ` pmu.<name>=<count>` per counted event, e.g.
//! `pmu=intel-v4 pmu.cycles=81234 pmu.instructions=40200 pmu.itlb_walks=12 ...`, or just
//! `pmu=unavailable` — a drop-in for the `pmu=unavailable` field of the density result line.
//! [`Counts::availability`] gives the word alone and [`Counts::get`] one count by name. The
//! counts include the few instructions of `start` and `stop` themselves: [`init`] measures one
//! empty start/stop pair and prints it (`pmu: start and stop alone: ...`), the overhead to report
//! next to the results.

#![deny(unsafe_code)]

pub use ::pmu::{Availability, Counts};

use ::pmu::MAX_PLANNED;

use crate::arch::x86_64::cpu::Engine;
use crate::arch::x86_64::pmu as registers;
use crate::println;

/// Plans the counters from CPUID, prints the plan (or why there is none), and measures the cost
/// of an empty start/stop pair. Call once, at boot, after the CPU features are printed; `engine`
/// is the one they name (no plan on Bochs, whose CPUID advertises counters it does not emulate).
pub fn init(engine: Engine) -> Availability {
    match registers::init(engine) {
        Ok(plan) => {
            println!("pmu: {plan}");
            start();
            let overhead = stop();
            println!("pmu: start and stop alone: {overhead}");
            Availability::Available(plan.kind)
        }
        Err(reason) => {
            println!("pmu: unavailable ({reason})");
            Availability::Unavailable
        }
    }
}

/// Zeroes and enables the planned counters; does nothing without a plan.
pub fn start() {
    registers::start();
}

/// Disables the planned counters and returns their counts since [`start`]; returns
/// [`Counts::unavailable`] without a plan.
pub fn stop() -> Counts {
    let mut raw = [0u64; MAX_PLANNED];
    if !registers::stop(&mut raw) {
        return Counts::unavailable();
    }
    match registers::plan() {
        Some(plan) => Counts::from_raw(plan, &raw),
        None => Counts::unavailable(),
    }
}
