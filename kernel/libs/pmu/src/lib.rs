//! Performance-counter planning for shoal: what to count, on which counter, with which encoding.
//!
//! The density harness reads hardware counters around each measured phase where the CPU has a
//! performance-monitoring unit. This crate holds every decision about that which does not touch
//! hardware, so the host can test it:
//!
//! - [`cpuid`]: [`RawCpuid`] (the leaves, as CPUID returned them) decoded into [`CpuFacts`]:
//!   vendor, family and model, Intel leaf 0xA (version, counters, widths, the EBX "event not
//!   available" vector, fixed counters), the hybrid core type, AMD PerfCtrExtCore and PerfMonV2;
//! - [`events`]: [`EVENTS`], the one table of event encodings, each row with its stable output
//!   name, the CPUs it applies to, and its source;
//! - [`encoding`]: PerfEvtSel values, MSR addresses, counter-width masking;
//! - [`plan`](mod@plan): [`plan()`] picks the counters for a CPU or says why there are none
//!   ([`Unavailable`]); [`Counts`] is what one measurement reads back, printed as
//!   `pmu=<availability> pmu.<name>=<count> ...`.
//!
//! What is counted, in priority order: `cycles` and `instructions` (Intel architectural events
//! on fixed counters where there are some, AMD PMCx076 and PMCx0C0), then page walks
//! (`itlb_walks`, `dtlb_load_walks`, `dtlb_store_walks` on Intel; `itlb_walks`, `dtlb_walks` on
//! AMD), then first-level TLB misses that hit the second level (`itlb_stlb_hits`,
//! `dtlb_load_stlb_hits`, `dtlb_store_stlb_hits` on Intel; `itlb_l2_hits`, `dtlb_l2_hits` on AMD).
//! Intel walk counts are completed walks, AMD's are walks requested; both count every ring.
//!
//! Nothing here has been measured: no machine this project runs on exposes a PMU (QEMU TCG,
//! this machine's PVM `/dev/kvm` and Bochs all lack one), so only the decoding, the encodings
//! and the plans are tested, on CPUID values written down from the manuals.
//!
//! Neighbours: `kernel/src/arch/x86_64/pmu.rs` runs CPUID and writes and reads the MSRs a plan
//! names; `kernel/src/drivers/pmu.rs` is the kernel's start/stop interface for the harness.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

pub mod cpuid;
pub mod encoding;
pub mod events;
pub mod plan;

pub use cpuid::{AmdPerfmon, CoreType, CpuFacts, CpuidLeaf, IntelPerfmon, RawCpuid, Vendor};
pub use encoding::{counter_delta, counter_mask, perf_event_select};
pub use events::{Applies, EVENTS, Event, Microarchitecture};
pub use plan::{
    Availability, Counts, MAX_PLANNED, MsrWrite, Plan, Planned, PmuKind, SkipReason, Slot,
    Unavailable, plan,
};

#[cfg(test)]
mod tests;
