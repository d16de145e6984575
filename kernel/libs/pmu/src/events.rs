//! The event table: every event shoal counts, its encoding, the CPUs it applies to, its source.
//!
//! [`EVENTS`] is the one place that holds event selects and unit masks. Its order is the order
//! of priority: when a CPU has fewer counters than applicable events, the planner keeps the first
//! ones. For any one CPU at most one row per [`Event::name`] applies (a test checks this).
//!
//! Sources, and what was checked:
//! - Intel architectural events: SDM vol. 3B, chapter "Performance Monitoring", table "UMask and
//!   Event Select Encodings for Pre-Defined Architectural Performance Events" (Table 18-1 in the
//!   editions that number the chapter 18, Table 20-1 in those that number it 20; the edition
//!   boundary is not verified). The EBX bit of each event is its row in that table.
//! - Intel model-specific TLB events: Intel's perfmon event files (github.com/intel/perfmon), as
//!   carried by Linux in `tools/perf/pmu-events/arch/x86/<uarch>/virtual-memory.json`. Checked in
//!   those files: `skylake`, `skylakex`, `cascadelakex`, `icelake`, `tigerlake`, `sapphirerapids`,
//!   `alderlake` (units `cpu_core` = Golden Cove and `cpu_atom` = Gracemont); the family-model to
//!   file mapping is perf's `mapfile.csv`.
//! - AMD cycles and retired instructions: PMCx076 and PMCx0C0, the same on every AMD family
//!   (BKDGs for families 10h-16h, PPRs for 17h and 19h — from memory, not re-read here; perf's
//!   `amdzen2`-`amdzen5` files, checked, list them as `ls_not_halted_cyc` and `ex_ret_instr`).
//! - AMD Zen TLB events: the Processor Programming References for family 17h model 31h
//!   (document 55803), family 19h model 01h (55898) and family 19h model 11h (55901) —
//!   document numbers from memory, **unverified**, the PPRs themselves not read here — as carried
//!   by perf's `amdzen2/memory.json`, `amdzen3/memory.json`, `amdzen4/memory.json` (PMCx045
//!   unit masks, checked) and `amdzen3/cache.json`, `amdzen4/memory.json` (PMCx084, PMCx085 unit
//!   masks, checked; Zen 2's PMCx085 bits seen in a patch excerpt only).
//!
//! Not in the table on purpose (unverified unit masks, so not counted rather than guessed): the
//! TLB events of Intel CPUs before Skylake, of Alder Lake-N and of Meteor Lake and later, of AMD
//! Zen 1 (its perf file lists PMCx085 without a unit mask) and Zen 5, and of AMD families before
//! 17h. On those CPUs only cycles and instructions are counted.

use crate::cpuid::{CoreType, CpuFacts, Vendor};

/// A CPU microarchitecture whose model-specific events the table knows (or that the planner
/// names in its report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Microarchitecture {
    /// Intel Skylake and its derivatives: Skylake, Kaby Lake, Coffee Lake, Comet Lake clients
    /// (family 6 models 0x4E, 0x5E, 0x8E, 0x9E, 0xA5, 0xA6) and Skylake-SP, Cascade Lake,
    /// Cooper Lake servers (model 0x55).
    Skylake,
    /// Intel Sunny Cove and Willow Cove: Ice Lake clients (0x7D, 0x7E) and servers (0x6A,
    /// 0x6C), Tiger Lake (0x8C, 0x8D).
    IceLake,
    /// Intel Golden Cove and Raptor Cove performance cores: Sapphire Rapids (0x8F); Alder Lake
    /// (0x97, 0x9A) and Raptor Lake (0xB7, 0xBA, 0xBF) when the CPU is a Core-type core.
    GoldenCove,
    /// Intel Gracemont efficiency cores of Alder Lake and Raptor Lake (an Atom-type core of
    /// models 0x97, 0x9A, 0xB7, 0xBA, 0xBF).
    Gracemont,
    /// AMD Zen 1 and Zen+ (family 17h models 00h-2Fh): only named, no TLB rows.
    Zen1,
    /// AMD Zen 2 (family 17h models 30h-FFh).
    Zen2,
    /// AMD Zen 3 (family 19h models 00h-0Fh and 20h-5Fh).
    Zen3,
    /// AMD Zen 4 (the other family 19h models).
    Zen4,
    /// AMD Zen 5 (family 1Ah): only named, no TLB rows.
    Zen5,
}

/// Intel display family of every CPU in [`Microarchitecture`].
const INTEL_FAMILY_6: u32 = 6;
/// AMD family 17h (Zen, Zen+, Zen 2).
const AMD_FAMILY_17H: u32 = 0x17;
/// AMD family 19h (Zen 3, Zen 4).
const AMD_FAMILY_19H: u32 = 0x19;
/// AMD family 1Ah (Zen 5).
const AMD_FAMILY_1AH: u32 = 0x1a;

impl Microarchitecture {
    /// Returns the microarchitecture of the CPU described by `facts`, when the table knows it.
    ///
    /// On an Intel hybrid model the core type decides (the kernel runs on the boot CPU only).
    /// A hybrid model whose CPUID does not set the hybrid bit has only performance cores (an
    /// Alder Lake with its efficiency cores absent), so it is Golden Cove.
    pub fn identify(facts: &CpuFacts) -> Option<Microarchitecture> {
        match facts.vendor {
            Vendor::Intel if facts.family == INTEL_FAMILY_6 => match facts.model {
                0x4e | 0x5e | 0x55 | 0x8e | 0x9e | 0xa5 | 0xa6 => Some(Microarchitecture::Skylake),
                0x6a | 0x6c | 0x7d | 0x7e | 0x8c | 0x8d => Some(Microarchitecture::IceLake),
                0x8f => Some(Microarchitecture::GoldenCove),
                0x97 | 0x9a | 0xb7 | 0xba | 0xbf => match facts.core_type {
                    None | Some(CoreType::Core) => Some(Microarchitecture::GoldenCove),
                    Some(CoreType::Atom) => Some(Microarchitecture::Gracemont),
                    Some(CoreType::Other(_)) => None,
                },
                _ => None,
            },
            Vendor::Amd => match (facts.family, facts.model) {
                (AMD_FAMILY_17H, 0x00..=0x2f) => Some(Microarchitecture::Zen1),
                (AMD_FAMILY_17H, _) => Some(Microarchitecture::Zen2),
                (AMD_FAMILY_19H, 0x00..=0x0f | 0x20..=0x5f) => Some(Microarchitecture::Zen3),
                (AMD_FAMILY_19H, _) => Some(Microarchitecture::Zen4),
                (AMD_FAMILY_1AH, _) => Some(Microarchitecture::Zen5),
                _ => None,
            },
            _ => None,
        }
    }

    /// Returns the short name used in the boot log.
    pub const fn name(self) -> &'static str {
        match self {
            Microarchitecture::Skylake => "skylake",
            Microarchitecture::IceLake => "ice-lake",
            Microarchitecture::GoldenCove => "golden-cove",
            Microarchitecture::Gracemont => "gracemont",
            Microarchitecture::Zen1 => "zen1",
            Microarchitecture::Zen2 => "zen2",
            Microarchitecture::Zen3 => "zen3",
            Microarchitecture::Zen4 => "zen4",
            Microarchitecture::Zen5 => "zen5",
        }
    }
}

/// Which CPUs a row of the table applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    /// An Intel architectural event: every Intel CPU whose leaf 0xA reports version 1 or later,
    /// unless leaf 0xA EBX bit `bit` marks it unavailable.
    IntelArchitectural {
        /// The event's bit in CPUID.0AH:EBX.
        bit: u8,
    },
    /// An Intel model-specific event of these microarchitectures.
    Intel(&'static [Microarchitecture]),
    /// Every AMD CPU.
    AmdAll,
    /// An AMD event of these microarchitectures.
    Amd(&'static [Microarchitecture]),
}

impl Applies {
    /// Returns the vendor of the CPUs this row applies to.
    pub const fn vendor(self) -> Vendor {
        match self {
            Applies::IntelArchitectural { .. } | Applies::Intel(_) => Vendor::Intel,
            Applies::AmdAll | Applies::Amd(_) => Vendor::Amd,
        }
    }

    /// Returns whether the row applies to a CPU of `vendor` and `microarchitecture`, ignoring
    /// the availability bits of architectural events (the planner checks those).
    pub fn matches(self, vendor: Vendor, microarchitecture: Option<Microarchitecture>) -> bool {
        if vendor != self.vendor() {
            return false;
        }
        match self {
            Applies::IntelArchitectural { .. } | Applies::AmdAll => true,
            Applies::Intel(list) | Applies::Amd(list) => {
                microarchitecture.is_some_and(|known| list.contains(&known))
            }
        }
    }
}

/// One row of the event table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    /// The stable short name used in output (`pmu.<name>=<count>`).
    pub name: &'static str,
    /// Which CPUs it applies to.
    pub applies: Applies,
    /// Event select: 8 bits on Intel, 12 on AMD (bits 11:8 go to PerfEvtSel bits 35:32).
    pub event_select: u16,
    /// Unit mask (PerfEvtSel bits 15:8).
    pub unit_mask: u8,
    /// The Intel fixed-function counter that counts the same event, when there is one
    /// (IA32_FIXED_CTR0 = instructions retired, IA32_FIXED_CTR1 = unhalted core cycles).
    pub fixed_counter: Option<u8>,
    /// The vendor's name for the event.
    pub vendor_name: &'static str,
    /// Where the encoding comes from.
    pub source: &'static str,
}

/// Rows for the Intel cores whose TLB events use the Skylake encodings (event 0x08 loads, 0x49
/// stores, 0x85 instruction fetches; unit mask 0x0E completed walks, 0x20 STLB hits).
const SKYLAKE_ENCODING: &[Microarchitecture] = &[
    Microarchitecture::Skylake,
    Microarchitecture::IceLake,
    Microarchitecture::Gracemont,
];
/// The same, for the STLB-hit rows (not checked for Gracemont, so not counted there).
const SKYLAKE_ENCODING_STLB: &[Microarchitecture] =
    &[Microarchitecture::Skylake, Microarchitecture::IceLake];
/// Golden Cove moved the TLB events to 0x12 loads, 0x13 stores, 0x11 instruction fetches.
const GOLDEN_COVE: &[Microarchitecture] = &[Microarchitecture::GoldenCove];
/// AMD Zen generations whose TLB unit masks were checked.
const ZEN_2_TO_4: &[Microarchitecture] = &[
    Microarchitecture::Zen2,
    Microarchitecture::Zen3,
    Microarchitecture::Zen4,
];

/// Source of the Intel architectural rows.
const SOURCE_INTEL_ARCHITECTURAL: &str =
    "SDM vol. 3B, pre-defined architectural performance events (CPUID.0AH:EBX)";
/// Source of the AMD rows that apply to every family.
const SOURCE_AMD_ALL: &str =
    "AMD BKDGs (families 10h-16h) and PPRs (17h, 19h); perf pmu-events amdzen1-amdzen5";
/// Source of the Intel rows with the Skylake encodings.
const SOURCE_SKYLAKE: &str = "Intel perfmon files via perf pmu-events skylake, skylakex, cascadelakex, icelake, \
     tigerlake, alderlake (cpu_atom) virtual-memory.json";
/// Source of the Golden Cove rows.
const SOURCE_GOLDEN_COVE: &str = "Intel perfmon files via perf pmu-events sapphirerapids, alderlake (cpu_core) virtual-memory.json";
/// Source of the AMD Zen TLB rows.
const SOURCE_ZEN: &str = "AMD PPRs 17h model 31h (55803), 19h model 01h (55898), 19h model 11h (55901) [document \
     numbers unverified]; perf pmu-events amdzen2, amdzen3, amdzen4";

/// The event table, in order of priority.
pub static EVENTS: [Event; 20] = [
    // --- cycles and instructions: every CPU with a PMU ---
    Event {
        name: "cycles",
        applies: Applies::IntelArchitectural { bit: 0 },
        event_select: 0x3c,
        unit_mask: 0x00,
        fixed_counter: Some(1),
        vendor_name: "UnHalted Core Cycles",
        source: SOURCE_INTEL_ARCHITECTURAL,
    },
    Event {
        name: "cycles",
        applies: Applies::AmdAll,
        event_select: 0x76,
        unit_mask: 0x00,
        fixed_counter: None,
        vendor_name: "PMCx076 CPU Clocks not Halted (ls_not_halted_cyc)",
        source: SOURCE_AMD_ALL,
    },
    Event {
        name: "instructions",
        applies: Applies::IntelArchitectural { bit: 1 },
        event_select: 0xc0,
        unit_mask: 0x00,
        fixed_counter: Some(0),
        vendor_name: "Instructions Retired",
        source: SOURCE_INTEL_ARCHITECTURAL,
    },
    Event {
        name: "instructions",
        applies: Applies::AmdAll,
        event_select: 0xc0,
        unit_mask: 0x00,
        fixed_counter: None,
        vendor_name: "PMCx0C0 Retired Instructions (ex_ret_instr)",
        source: SOURCE_AMD_ALL,
    },
    // --- completed (Intel) or requested (AMD) page walks; instruction side first: the global
    // segment holds the shared code ---
    Event {
        name: "itlb_walks",
        applies: Applies::Intel(SKYLAKE_ENCODING),
        event_select: 0x85,
        unit_mask: 0x0e,
        fixed_counter: None,
        vendor_name: "ITLB_MISSES.WALK_COMPLETED",
        source: SOURCE_SKYLAKE,
    },
    Event {
        name: "itlb_walks",
        applies: Applies::Intel(GOLDEN_COVE),
        event_select: 0x11,
        unit_mask: 0x0e,
        fixed_counter: None,
        vendor_name: "ITLB_MISSES.WALK_COMPLETED",
        source: SOURCE_GOLDEN_COVE,
    },
    Event {
        name: "itlb_walks",
        applies: Applies::Amd(ZEN_2_TO_4),
        event_select: 0x85,
        unit_mask: 0x0f,
        fixed_counter: None,
        vendor_name: "PMCx085 L1 and L2 ITLB miss, walk requested (bp_l1_tlb_miss_l2_tlb_miss.all)",
        source: SOURCE_ZEN,
    },
    Event {
        name: "dtlb_load_walks",
        applies: Applies::Intel(SKYLAKE_ENCODING),
        event_select: 0x08,
        unit_mask: 0x0e,
        fixed_counter: None,
        vendor_name: "DTLB_LOAD_MISSES.WALK_COMPLETED",
        source: SOURCE_SKYLAKE,
    },
    Event {
        name: "dtlb_load_walks",
        applies: Applies::Intel(GOLDEN_COVE),
        event_select: 0x12,
        unit_mask: 0x0e,
        fixed_counter: None,
        vendor_name: "DTLB_LOAD_MISSES.WALK_COMPLETED",
        source: SOURCE_GOLDEN_COVE,
    },
    Event {
        name: "dtlb_walks",
        applies: Applies::Amd(ZEN_2_TO_4),
        event_select: 0x45,
        unit_mask: 0xf0,
        fixed_counter: None,
        vendor_name: "PMCx045 L1 DTLB miss, L2 DTLB miss, walk requested (ls_l1_d_tlb_miss.all_l2_miss)",
        source: SOURCE_ZEN,
    },
    Event {
        name: "dtlb_store_walks",
        applies: Applies::Intel(SKYLAKE_ENCODING),
        event_select: 0x49,
        unit_mask: 0x0e,
        fixed_counter: None,
        vendor_name: "DTLB_STORE_MISSES.WALK_COMPLETED",
        source: SOURCE_SKYLAKE,
    },
    Event {
        name: "dtlb_store_walks",
        applies: Applies::Intel(GOLDEN_COVE),
        event_select: 0x13,
        unit_mask: 0x0e,
        fixed_counter: None,
        vendor_name: "DTLB_STORE_MISSES.WALK_COMPLETED",
        source: SOURCE_GOLDEN_COVE,
    },
    // --- first-level TLB misses that hit the second-level TLB ---
    Event {
        name: "itlb_stlb_hits",
        applies: Applies::Intel(SKYLAKE_ENCODING_STLB),
        event_select: 0x85,
        unit_mask: 0x20,
        fixed_counter: None,
        vendor_name: "ITLB_MISSES.STLB_HIT",
        source: SOURCE_SKYLAKE,
    },
    Event {
        name: "itlb_stlb_hits",
        applies: Applies::Intel(GOLDEN_COVE),
        event_select: 0x11,
        unit_mask: 0x20,
        fixed_counter: None,
        vendor_name: "ITLB_MISSES.STLB_HIT",
        source: SOURCE_GOLDEN_COVE,
    },
    Event {
        name: "itlb_l2_hits",
        applies: Applies::Amd(ZEN_2_TO_4),
        event_select: 0x84,
        unit_mask: 0x00,
        fixed_counter: None,
        vendor_name: "PMCx084 L1 ITLB miss, L2 ITLB hit (bp_l1_tlb_miss_l2_tlb_hit)",
        source: SOURCE_ZEN,
    },
    Event {
        name: "dtlb_load_stlb_hits",
        applies: Applies::Intel(SKYLAKE_ENCODING_STLB),
        event_select: 0x08,
        unit_mask: 0x20,
        fixed_counter: None,
        vendor_name: "DTLB_LOAD_MISSES.STLB_HIT",
        source: SOURCE_SKYLAKE,
    },
    Event {
        name: "dtlb_load_stlb_hits",
        applies: Applies::Intel(GOLDEN_COVE),
        event_select: 0x12,
        unit_mask: 0x20,
        fixed_counter: None,
        vendor_name: "DTLB_LOAD_MISSES.STLB_HIT",
        source: SOURCE_GOLDEN_COVE,
    },
    Event {
        name: "dtlb_l2_hits",
        applies: Applies::Amd(ZEN_2_TO_4),
        event_select: 0x45,
        unit_mask: 0x0f,
        fixed_counter: None,
        vendor_name: "PMCx045 L1 DTLB miss, L2 DTLB hit (ls_l1_d_tlb_miss, unit mask bits 3:0)",
        source: SOURCE_ZEN,
    },
    Event {
        name: "dtlb_store_stlb_hits",
        applies: Applies::Intel(SKYLAKE_ENCODING_STLB),
        event_select: 0x49,
        unit_mask: 0x20,
        fixed_counter: None,
        vendor_name: "DTLB_STORE_MISSES.STLB_HIT",
        source: SOURCE_SKYLAKE,
    },
    Event {
        name: "dtlb_store_stlb_hits",
        applies: Applies::Intel(GOLDEN_COVE),
        event_select: 0x13,
        unit_mask: 0x20,
        fixed_counter: None,
        vendor_name: "DTLB_STORE_MISSES.STLB_HIT",
        source: SOURCE_GOLDEN_COVE,
    },
];
