//! Performance-counter registers: CPUID for the PMU leaves, and the MSR writes and reads a plan
//! names.
//!
//! [`init`] runs CPUID once, decodes it and plans the counters with the pure `pmu` crate, and
//! keeps the result here, where nothing else can change it. [`start`] and [`stop`] program and
//! read only the MSRs of that plan: each of them exists because CPUID promised it (Intel SDM vol.
//! 3B, "Performance Monitoring"; AMD APM vol. 2, "Performance Monitoring Counters"). Without a
//! plan they touch no MSR at all — QEMU TCG, this machine's PVM `/dev/kvm` and Bochs have no PMU,
//! and writing a missing MSR raises #GP.
//!
//! One engine lies: Bochs 2.7 copies real CPUs' CPUID (leaf 0xA version 3 on
//! `corei7_haswell_4770`, 5 on `corei7_icelake_u`; PerfCtrExtCore on `ryzen`) but implements no
//! counter MSR, so the first counter-MSR write raises #GP (measured on all three models). On
//! [`Engine::Bochs`] no plan is made. QEMU TCG needs no such rule: its CPUID reports no PMU, and it
//! never raises #GP for an MSR anyway. The event choice, the encodings and the boot-log wording
//! live in `kernel/libs/pmu`; the harness's interface is `drivers/pmu.rs`.

use core::arch::x86_64::__cpuid_count;

use ::pmu::{CpuFacts, CpuidLeaf, MAX_PLANNED, Plan, RawCpuid, Slot, Unavailable, encoding};
use spin::Once;
use x86_64::registers::model_specific::Msr;

use crate::arch::x86_64::cpu::Engine;

/// The plan made from this CPU's CPUID, or why there is none; set once by [`init`].
static PLAN: Once<Result<Plan, Unavailable>> = Once::new();

/// Runs CPUID leaf `leaf`, subleaf `subleaf`.
fn cpuid(leaf: u32, subleaf: u32) -> CpuidLeaf {
    let result = __cpuid_count(leaf, subleaf);
    CpuidLeaf { eax: result.eax, ebx: result.ebx, ecx: result.ecx, edx: result.edx }
}

/// Plans the counters from this CPU's CPUID, unless `engine` is known to implement none (once;
/// later calls return the first answer).
///
/// # Errors
/// Returns why the CPU has no counters shoal can program.
pub fn init(engine: Engine) -> Result<&'static Plan, Unavailable> {
    PLAN.call_once(|| match engine {
        Engine::Bochs => Err(Unavailable::Emulator { name: "Bochs" }),
        _ => ::pmu::plan(&CpuFacts::decode(&RawCpuid::read(cpuid))),
    })
    .as_ref()
    .map_err(|reason| *reason)
}

/// Returns the plan, when [`init`] made one.
pub fn plan() -> Option<&'static Plan> {
    PLAN.get().and_then(|plan| plan.as_ref().ok())
}

/// Writes `value` to the PMU MSR `msr`.
///
/// Private: its callers pass only MSRs of the plan in [`PLAN`].
fn write_msr(msr: u32, value: u64) {
    let mut register = Msr::new(msr);
    // SAFETY: `msr` is one of the registers of the plan in `PLAN`, which only `init` sets, from
    // this CPU's own CPUID and never on Bochs (whose CPUID promises registers it lacks): the
    // event-select, counter, fixed-counter control or global-control MSR of a counter whose
    // existence CPUID reported (leaf 0xA counts and version, or PerfCtrExtCore / PerfMonV2), so
    // the write does not raise #GP. The values set only USR, OS, EN, the event and
    // the unit mask (never INT: no performance-monitoring interrupt is ever raised), and counter
    // values: a PMU register only counts events, it changes no translation, memory or control
    // state the kernel relies on.
    unsafe { register.write(value) };
}

/// Reads the PMU MSR `msr`.
fn read_msr(msr: u32) -> u64 {
    let register = Msr::new(msr);
    // SAFETY: as in `write_msr`, `msr` is a counter MSR of the plan, which CPUID promised; reading
    // a counter has no side effect.
    unsafe { register.read() }
}

/// Zeroes and enables the planned counters; returns whether a plan exists (without one, nothing
/// is written).
///
/// With a global control (Intel version 2 and later, AMD PerfMonV2) all counters start together
/// at the last write; otherwise each starts when its event select is written, a few instructions
/// apart.
pub fn start() -> bool {
    let Some(plan) = plan() else {
        return false;
    };
    if let Some(global) = plan.global_control {
        write_msr(global.msr, 0);
    }
    if let Some(fixed) = plan.fixed_control {
        write_msr(fixed.msr, 0);
    }
    for planned in plan.planned() {
        match planned.slot {
            Slot::General { select_msr, counter_msr, select, .. } => {
                write_msr(select_msr, 0);
                write_msr(counter_msr, 0);
                write_msr(select_msr, select);
            }
            Slot::Fixed { counter_msr, .. } => write_msr(counter_msr, 0),
        }
    }
    if let Some(fixed) = plan.fixed_control {
        write_msr(fixed.msr, fixed.value);
    }
    if let Some(global) = plan.global_control {
        write_msr(global.msr, global.value);
    }
    true
}

/// Disables the planned counters and reads them into `raw` (entry *i* for the *i*-th planned
/// event, unmasked; the rest left as they are); returns whether a plan exists.
pub fn stop(raw: &mut [u64; MAX_PLANNED]) -> bool {
    let Some(plan) = plan() else {
        return false;
    };
    match plan.global_control {
        Some(global) => write_msr(global.msr, 0),
        None => {
            for planned in plan.planned() {
                if let Slot::General { select_msr, select, .. } = planned.slot {
                    write_msr(select_msr, select & !encoding::SELECT_ENABLE);
                }
            }
        }
    }
    for (value, planned) in raw.iter_mut().zip(plan.planned()) {
        *value = read_msr(planned.slot.counter_msr());
    }
    true
}
