//! The plan: which events go on which counters, and what to write to start them.
//!
//! [`plan`] takes [`CpuFacts`] and walks [`EVENTS`] in order, giving each applicable event the
//! next free counter: on Intel version 2 and later, cycles and instructions take fixed counters
//! 1 and 0 when the CPU has them, leaving the general-purpose counters to the TLB events. It never
//! plans more general-purpose counters than the CPU reports, skips architectural events that
//! CPUID.0AH:EBX marks unavailable, and returns an [`Unavailable`] reason instead of a plan when
//! there is nothing safe to program. [`Counts`] is what one measurement reads back.

use core::fmt;

use crate::cpuid::{CpuFacts, Vendor};
use crate::encoding::{
    self, AMD_COUNTER_BITS, AMD_EXTENDED_CORE_COUNTERS, AMD_LEGACY_COUNTERS,
    AMD_PERF_CNTR_GLOBAL_CTL, CounterBank, FIXED_CTRL_BITS_PER_COUNTER, FIXED_CTRL_OS,
    FIXED_CTRL_USR, GLOBAL_CTRL_FIXED_SHIFT, IA32_FIXED_CTR_CTRL, IA32_PERF_GLOBAL_CTRL,
    SELECT_FLAGS,
};
use crate::events::{Applies, EVENTS, Event, Microarchitecture};

/// The most events one plan counts (the longest per-vendor list of names in [`EVENTS`]).
pub const MAX_PLANNED: usize = 8;

/// Which counter interface a plan programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmuKind {
    /// Intel architectural performance monitoring of this version (leaf 0xA `EAX[7:0]`).
    Intel {
        /// The version.
        version: u8,
    },
    /// AMD's four legacy counters.
    AmdLegacy,
    /// AMD's six core counters (PerfCtrExtCore).
    AmdExtendedCore,
    /// AMD core counters with the global control register (PerfMonV2).
    AmdPerfMonV2,
}

impl fmt::Display for PmuKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PmuKind::Intel { version } => write!(f, "intel-v{version}"),
            PmuKind::AmdLegacy => write!(f, "amd-legacy"),
            PmuKind::AmdExtendedCore => write!(f, "amd-ext-core"),
            PmuKind::AmdPerfMonV2 => write!(f, "amd-perfmon-v2"),
        }
    }
}

/// Why no counters are planned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unavailable {
    /// The vendor string is neither `GenuineIntel` nor `AuthenticAMD`.
    UnknownVendor,
    /// An Intel CPU whose highest basic leaf is below 0xA.
    NoPerfmonLeaf {
        /// The highest basic leaf.
        max_basic_leaf: u32,
    },
    /// CPUID leaf 0xA reports version 0: no architectural performance monitoring (QEMU TCG,
    /// and KVM without a virtual PMU).
    VersionZero,
    /// CPUID reports no usable core counter.
    NoCounters,
    /// CPUID reports 0-bit-wide general-purpose counters.
    ZeroCounterWidth,
    /// An AMD CPU without PerfCtrExtCore under a hypervisor: the four legacy counters exist on
    /// every AMD64 CPU, but nothing promises that the hypervisor backs their MSRs (writing a
    /// missing MSR raises #GP). QEMU TCG's default AMD model is such a CPU.
    AmdLegacyUnderHypervisor,
    /// No row of the event table applies to this CPU.
    NoEvents,
    /// The kernel runs on an emulator that implements no performance-counter register, whatever
    /// its CPUID says (Bochs 2.7 copies real CPUs' leaf 0xA and PerfCtrExtCore bit, and raises #GP
    /// on the first PerfEvtSel write). The planner never returns this: the kernel does, from what
    /// it knows about its engine.
    Emulator {
        /// The emulator's name.
        name: &'static str,
    },
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::UnknownVendor => write!(f, "unknown vendor"),
            Unavailable::NoPerfmonLeaf { max_basic_leaf } => {
                write!(
                    f,
                    "CPUID has no leaf 0xA (highest basic leaf {max_basic_leaf:#x})"
                )
            }
            Unavailable::VersionZero => write!(f, "CPUID leaf 0xA reports version 0"),
            Unavailable::NoCounters => write!(f, "no core counters"),
            Unavailable::ZeroCounterWidth => write!(f, "CPUID reports 0-bit counters"),
            Unavailable::AmdLegacyUnderHypervisor => {
                write!(
                    f,
                    "AMD CPU without PerfCtrExtCore under a hypervisor: the legacy counters are not promised"
                )
            }
            Unavailable::NoEvents => write!(f, "no event of the table applies to this CPU"),
            Unavailable::Emulator { name } => write!(
                f,
                "{name} emulates no performance counters, whatever CPUID says"
            ),
        }
    }
}

/// Where a planned event is counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A general-purpose counter: select MSR, counter MSR, the select value (enable bit set).
    General {
        /// The counter's index.
        index: u8,
        /// Its event-select MSR.
        select_msr: u32,
        /// Its counter MSR.
        counter_msr: u32,
        /// The PerfEvtSel value that starts it (USR, OS, EN set).
        select: u64,
    },
    /// An Intel fixed-function counter.
    Fixed {
        /// The counter's index.
        index: u8,
        /// Its counter MSR.
        counter_msr: u32,
    },
}

impl Slot {
    /// Returns the MSR the count is read from.
    pub const fn counter_msr(&self) -> u32 {
        match *self {
            Slot::General { counter_msr, .. } | Slot::Fixed { counter_msr, .. } => counter_msr,
        }
    }
}

/// One event on one counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Planned {
    /// The event.
    pub event: &'static Event,
    /// Its counter.
    pub slot: Slot,
    /// The counter's width in bits (for masking reads).
    pub width_bits: u8,
}

/// One MSR write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MsrWrite {
    /// The MSR.
    pub msr: u32,
    /// The value.
    pub value: u64,
}

/// Why an applicable event is not counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// Every counter is taken by events earlier in the table.
    NoCounterLeft,
    /// CPUID.0AH:EBX marks the architectural event unavailable.
    MarkedUnavailable,
}

/// What to program: the events, their counters, and the control registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The counter interface.
    pub kind: PmuKind,
    /// The microarchitecture, when the table knows it.
    pub microarchitecture: Option<Microarchitecture>,
    /// General-purpose counters the CPU has.
    pub general_counters: u8,
    /// Their width in bits.
    pub general_counter_bits: u8,
    /// Fixed counters the plan may use (0 on AMD and on Intel version 1).
    pub fixed_counters: u8,
    /// IA32_FIXED_CTR_CTRL value that enables the planned fixed counters, when any are planned.
    pub fixed_control: Option<MsrWrite>,
    /// The global enable (IA32_PERF_GLOBAL_CTRL or PerfCntrGlobalCtl), when the CPU has one:
    /// the value enables exactly the planned counters.
    pub global_control: Option<MsrWrite>,
    /// Planned events, in table order; `planned_count` of them are valid.
    planned: [Option<Planned>; MAX_PLANNED],
    /// Number of planned events.
    planned_count: usize,
    /// Applicable events left out, with the reason.
    skipped: [Option<(&'static Event, SkipReason)>; MAX_PLANNED],
    /// Number of skipped events.
    skipped_count: usize,
}

impl Plan {
    /// Returns an empty plan for `kind`.
    const fn empty(kind: PmuKind, microarchitecture: Option<Microarchitecture>) -> Plan {
        Plan {
            kind,
            microarchitecture,
            general_counters: 0,
            general_counter_bits: 0,
            fixed_counters: 0,
            fixed_control: None,
            global_control: None,
            planned: [None; MAX_PLANNED],
            planned_count: 0,
            skipped: [None; MAX_PLANNED],
            skipped_count: 0,
        }
    }

    /// Returns the planned events in table order.
    pub fn planned(&self) -> impl Iterator<Item = &Planned> + '_ {
        self.planned[..self.planned_count].iter().flatten()
    }

    /// Returns the number of planned events.
    pub const fn len(&self) -> usize {
        self.planned_count
    }

    /// Returns whether nothing is planned (never true for a plan [`plan`] returned).
    pub const fn is_empty(&self) -> bool {
        self.planned_count == 0
    }

    /// Returns the applicable events left out, with the reason.
    pub fn skipped(&self) -> impl Iterator<Item = (&'static Event, SkipReason)> + '_ {
        self.skipped[..self.skipped_count].iter().flatten().copied()
    }

    /// Returns whether an event of this name is planned.
    fn has(&self, name: &str) -> bool {
        self.planned().any(|planned| planned.event.name == name)
    }

    /// Appends a planned event (the caller checked the capacity).
    fn push(&mut self, planned: Planned) {
        self.planned[self.planned_count] = Some(planned);
        self.planned_count += 1;
    }

    /// Records a skipped event (dropped silently past the capacity: a report, not a plan).
    fn skip(&mut self, event: &'static Event, reason: SkipReason) {
        if self.skipped_count < MAX_PLANNED {
            self.skipped[self.skipped_count] = Some((event, reason));
            self.skipped_count += 1;
        }
    }
}

impl fmt::Display for Plan {
    /// Formats the boot-log summary, e.g. `intel-v4 skylake, 4 general-purpose counters (48
    /// bits) and 3 fixed counters; counting cycles instructions itlb_walks ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}, ",
            self.kind,
            self.microarchitecture
                .map_or("unknown-microarchitecture", Microarchitecture::name)
        )?;
        write!(
            f,
            "{} general-purpose counters ({} bits)",
            self.general_counters, self.general_counter_bits
        )?;
        if self.fixed_counters > 0 {
            write!(f, " and {} fixed counters", self.fixed_counters)?;
        }
        write!(f, "; counting")?;
        for planned in self.planned() {
            write!(f, " {}", planned.event.name)?;
        }
        for (reason, words) in [
            (SkipReason::NoCounterLeft, "no counter left"),
            (SkipReason::MarkedUnavailable, "marked unavailable by CPUID"),
        ] {
            let mut names = self.skipped().filter(|(_, why)| *why == reason).peekable();
            if names.peek().is_some() {
                write!(f, "; not counted ({words}):")?;
                for (event, _) in names {
                    write!(f, " {}", event.name)?;
                }
            }
        }
        Ok(())
    }
}

/// Plans the counters for the CPU `facts` describes, or says why there are none.
///
/// # Errors
/// Returns the [`Unavailable`] reason when the CPU has no counters this crate can program safely.
pub fn plan(facts: &CpuFacts) -> Result<Plan, Unavailable> {
    let microarchitecture = Microarchitecture::identify(facts);
    match facts.vendor {
        Vendor::Intel => plan_intel(facts, microarchitecture),
        Vendor::Amd => plan_amd(facts, microarchitecture),
        Vendor::Other => Err(Unavailable::UnknownVendor),
    }
}

/// Plans Intel architectural performance monitoring.
fn plan_intel(
    facts: &CpuFacts,
    microarchitecture: Option<Microarchitecture>,
) -> Result<Plan, Unavailable> {
    let Some(perfmon) = facts.intel else {
        return Err(Unavailable::NoPerfmonLeaf {
            max_basic_leaf: facts.max_basic_leaf,
        });
    };
    if perfmon.version == 0 {
        return Err(Unavailable::VersionZero);
    }
    let fixed_usable = |index: u8| perfmon.fixed_counter_supported(index);
    let any_fixed = (0..2).any(fixed_usable);
    if perfmon.general_counters == 0 && !any_fixed {
        return Err(Unavailable::NoCounters);
    }
    if perfmon.general_counters > 0 && perfmon.general_counter_bits == 0 {
        return Err(Unavailable::ZeroCounterWidth);
    }

    let mut plan = Plan::empty(
        PmuKind::Intel {
            version: perfmon.version,
        },
        microarchitecture,
    );
    plan.general_counters = perfmon.general_counters;
    plan.general_counter_bits = perfmon.general_counter_bits;
    plan.fixed_counters = if perfmon.version >= 2 && perfmon.fixed_counter_bits > 0 {
        perfmon.fixed_counters
    } else {
        0
    };
    let mut next_general = 0u8;
    let mut fixed_control = 0u64;
    let mut global_control = 0u64;
    for event in EVENTS
        .iter()
        .filter(|event| event.applies.matches(Vendor::Intel, microarchitecture))
    {
        if plan.has(event.name) || plan.len() == MAX_PLANNED {
            continue;
        }
        if let Some(index) = event.fixed_counter.filter(|&index| fixed_usable(index)) {
            plan.push(Planned {
                event,
                slot: Slot::Fixed {
                    index,
                    counter_msr: encoding::fixed_counter_msr(index),
                },
                width_bits: perfmon.fixed_counter_bits,
            });
            fixed_control |=
                (FIXED_CTRL_OS | FIXED_CTRL_USR) << (FIXED_CTRL_BITS_PER_COUNTER * index as u32);
            global_control |= 1 << (GLOBAL_CTRL_FIXED_SHIFT + index as u32);
            continue;
        }
        if let Applies::IntelArchitectural { bit } = event.applies
            && !perfmon.architectural_event_available(bit)
        {
            plan.skip(event, SkipReason::MarkedUnavailable);
            continue;
        }
        if next_general >= perfmon.general_counters {
            plan.skip(event, SkipReason::NoCounterLeft);
            continue;
        }
        plan.push(general(
            event,
            CounterBank::Intel,
            next_general,
            perfmon.general_counter_bits,
        ));
        global_control |= 1 << next_general;
        next_general += 1;
    }
    if plan.is_empty() {
        return Err(Unavailable::NoEvents);
    }
    if fixed_control != 0 {
        plan.fixed_control = Some(MsrWrite {
            msr: IA32_FIXED_CTR_CTRL,
            value: fixed_control,
        });
    }
    if perfmon.version >= 2 {
        plan.global_control = Some(MsrWrite {
            msr: IA32_PERF_GLOBAL_CTRL,
            value: global_control,
        });
    }
    Ok(plan)
}

/// Plans AMD core counters.
fn plan_amd(
    facts: &CpuFacts,
    microarchitecture: Option<Microarchitecture>,
) -> Result<Plan, Unavailable> {
    let amd = facts.amd;
    let (kind, bank, counters) = if amd.perfmon_v2 {
        (
            PmuKind::AmdPerfMonV2,
            CounterBank::AmdExtendedCore,
            amd.perfmon_v2_counters,
        )
    } else if amd.extended_core {
        (
            PmuKind::AmdExtendedCore,
            CounterBank::AmdExtendedCore,
            AMD_EXTENDED_CORE_COUNTERS,
        )
    } else if facts.hypervisor {
        return Err(Unavailable::AmdLegacyUnderHypervisor);
    } else {
        (
            PmuKind::AmdLegacy,
            CounterBank::AmdLegacy,
            AMD_LEGACY_COUNTERS,
        )
    };
    if counters == 0 {
        return Err(Unavailable::NoCounters);
    }
    let mut plan = Plan::empty(kind, microarchitecture);
    plan.general_counters = counters;
    plan.general_counter_bits = AMD_COUNTER_BITS;
    let mut next = 0u8;
    let mut global_control = 0u64;
    for event in EVENTS
        .iter()
        .filter(|event| event.applies.matches(Vendor::Amd, microarchitecture))
    {
        if plan.has(event.name) || plan.len() == MAX_PLANNED {
            continue;
        }
        if next >= counters {
            plan.skip(event, SkipReason::NoCounterLeft);
            continue;
        }
        plan.push(general(event, bank, next, AMD_COUNTER_BITS));
        global_control |= 1 << next;
        next += 1;
    }
    if plan.is_empty() {
        return Err(Unavailable::NoEvents);
    }
    if kind == PmuKind::AmdPerfMonV2 {
        plan.global_control = Some(MsrWrite {
            msr: AMD_PERF_CNTR_GLOBAL_CTL,
            value: global_control,
        });
    }
    Ok(plan)
}

/// Returns `event` planned on general-purpose counter `index` of `bank`.
fn general(event: &'static Event, bank: CounterBank, index: u8, width_bits: u8) -> Planned {
    Planned {
        event,
        slot: Slot::General {
            index,
            select_msr: bank.select_msr(index),
            counter_msr: bank.counter_msr(index),
            select: encoding::perf_event_select(event.event_select, event.unit_mask, SELECT_FLAGS),
        },
        width_bits,
    }
}

/// Whether counts exist, and from which interface; `Display` gives the word used in result lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// No counters (the boot log says why).
    Unavailable,
    /// Counters of this interface.
    Available(PmuKind),
}

impl fmt::Display for Availability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Availability::Unavailable => write!(f, "unavailable"),
            Availability::Available(kind) => write!(f, "{kind}"),
        }
    }
}

/// The counts of one measurement: fixed size, no allocation.
///
/// `Display` prints `pmu=<availability>` followed by ` pmu.<name>=<count>` for each counted
/// event in table order, e.g. `pmu=intel-v4 pmu.cycles=1200 pmu.instructions=800`, or just
/// `pmu=unavailable`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counts {
    /// Where the counts come from.
    availability: Availability,
    /// Event names; `count` of them are valid.
    names: [&'static str; MAX_PLANNED],
    /// Counts, parallel to `names`.
    values: [u64; MAX_PLANNED],
    /// Number of valid entries.
    count: usize,
}

impl Counts {
    /// Returns the counts of a machine without counters.
    pub const fn unavailable() -> Counts {
        Counts {
            availability: Availability::Unavailable,
            names: [""; MAX_PLANNED],
            values: [0; MAX_PLANNED],
            count: 0,
        }
    }

    /// Returns the counts of `plan`'s events: `raw[i]` is the value read from the counter of
    /// the *i*-th planned event, masked here to the counter's width (the counters start at zero).
    pub fn from_raw(plan: &Plan, raw: &[u64; MAX_PLANNED]) -> Counts {
        let mut counts = Counts {
            availability: Availability::Available(plan.kind),
            ..Counts::unavailable()
        };
        for (planned, &value) in plan.planned().zip(raw.iter()) {
            counts.names[counts.count] = planned.event.name;
            counts.values[counts.count] = encoding::counter_delta(0, value, planned.width_bits);
            counts.count += 1;
        }
        counts
    }

    /// Returns where the counts come from.
    pub const fn availability(&self) -> Availability {
        self.availability
    }

    /// Returns the count of the event named `name`, when it was counted.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.iter()
            .find(|(counted, _)| *counted == name)
            .map(|(_, value)| value)
    }

    /// Returns the (name, count) pairs in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.names[..self.count]
            .iter()
            .copied()
            .zip(self.values[..self.count].iter().copied())
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pmu={}", self.availability)?;
        for (name, value) in self.iter() {
            write!(f, " pmu.{name}={value}")?;
        }
        Ok(())
    }
}
