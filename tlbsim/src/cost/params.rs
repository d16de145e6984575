//! Per-preset parameters of the walk-cost model, with the source of every figure.
//!
//! [`CostParameters`] is what a [`super::WalkCostModel`] is built from: the organisation and
//! size of the paging-structure caches ([`PscOrganization`]), three data-cache levels
//! ([`CacheGeometry`]), the memory latency and a base CPI. [`CostParameters::for_preset`] looks
//! them up by the names of [`crate::presets::PRESET_NAMES`], with a [`PscSensitivity`] that picks
//! the low, nominal or high paging-structure-cache sizes; [`PRESET_COSTS`] holds the tables.
//!
//! Paging-structure-cache sizes are not architectural (Intel SDM vol. 3A §4.10.3.1: "a processor
//! may support any or all of" them) and no vendor manual consulted here gives them, so they come
//! from measurement papers and simulator defaults, and each preset carries a low/high range for
//! sensitivity runs. Latencies are load-to-use cycles at the core clock; the memory latency is
//! a core-clock estimate of a DRAM access and depends on the memory and the clock of the machine,
//! so it is approximate everywhere.
//!
//! Sources (tags used in the comments below). "Verified" means the figure was read in a source
//! consulted while writing this file; "as remembered" means it was not re-checked and is marked
//! approximate:
//! - \[ORM\] Intel 64 and IA-32 Architectures Optimization Reference Manual (document 248966),
//!   Skylake client cache-parameter table: L1D 32 KiB 8-way 4 cycles, L2 256 KiB 4-way
//!   12 cycles, L3 up to 2 MiB per core, up to 16 ways, 44 cycles ("fastest latency"). Verified
//!   through a reproduction of the table and AnandTech's Skylake-SP review (2017), which lists
//!   the same figures for Skylake-S except an 11-cycle L2.
//! - \[ORM-GLC\] the same manual's Golden Cove chapter, as remembered: L1D 48 KiB 12-way
//!   5 cycles, L2 1.25 MiB (client) 10-way about 15 cycles. The 48 KiB 12-way 5-cycle L1D matches
//!   uops.info's measurement of the preceding Sunny Cove core (Ice Lake, Core i5-1035G1), which
//!   was verified; Hennessy and Patterson's Alder Lake case study (\[CAQA\], as summarised in
//!   notes consulted here) lists the L1D as 6-way, the ORM's 12 ways are used.
//! - \[ADL\] Intel Core i9-12900K specifications as reported by the press (guru3d review, 2021,
//!   verified): 30 MiB L3 shared by 8 P-cores and 2 E-core clusters, 1.25 MiB L2 per P-core.
//!   L3 associativity (12) and latency (about 65 cycles) as remembered from Chips and Cheese and
//!   AnandTech measurements: approximate.
//! - \[AMD-SOG\] Software Optimization Guide for the AMD Zen 4 Microarchitecture (publication
//!   57647), as remembered: L1D 32 KiB 8-way 4-cycle integer load-to-use, L2 1 MiB 8-way
//!   14 cycles, L3 32 MiB per CCD 16-way about 50 cycles on average, dispatch of 6 macro-ops per
//!   cycle. Not checked against a second source here (like every Zen 4 figure in
//!   `presets.rs`): approximate.
//! - \[AMD-16H\] Software Optimization Guide for AMD Family 16h Processors (publication 52128,
//!   revision 1.1, March 2013), §2.6.3: "The table walker includes a 16-entry Page Directory
//!   Cache (PDC)". Verified. The only AMD paging-structure-cache size found in a vendor manual.
//! - \[BARR\] T. W. Barr, A. L. Cox, S. Rixner, "Translation Caching: Skip, Don't Walk (the Page
//!   Table)", ISCA 2010. Describes Intel's split, virtually tagged paging-structure caches and
//!   AMD's unified page walk cache; the 24-entry size it gives for AMD's cache is as remembered:
//!   approximate.
//! - \[BHATT\] A. Bhattacharjee, "Large-Reach Memory Management Unit Caches", MICRO 2013. Uses an
//!   Intel-like split cache with a few PML4E and PDPTE entries and about 32 PDE entries as its
//!   baseline (as remembered: approximate).
//! - \[MMU\] S. van Schaik, C. Giuffrida, H. Bos, K. Razavi, "Malicious Management Unit: Why
//!   Stopping Cache Attacks in Software is Harder Than You Think", USENIX Security 2018.
//!   Reverse-engineers the translation caches of many Intel and AMD cores with an MMU side
//!   channel; as remembered, Intel cores of this era show a PDE cache of roughly 24 to 32
//!   entries and a PDPTE cache of a few entries: approximate.
//! - \[CHAMPSIM\] ChampSim's default configuration (`champsim_config.json`, `PTW` section,
//!   verified): PML4E cache 1 set x 4 ways, PDPTE cache 2 x 4, PDE cache 4 x 8 (4, 8 and 32
//!   entries). A simulator default, not a measurement; it corroborates the magnitudes.
//! - \[WIDTH\] Intel's optimization manual (Skylake client: 4 micro-ops allocated per cycle)
//!   and Intel Architecture Day 2021 (Golden Cove: 6-wide allocation), as remembered.
//!
//! The base CPI is an assumption, not a measurement: 1.0 cycle per instruction for every preset
//! (the CPI of the measured code without translation stalls depends on the workload and was
//! not measured for shoal). `peak_cpi_milli` (one over the allocation or dispatch
//! width) is the smallest CPI a core can reach; using it in
//! [`CostParameters::translation_overhead_percent`] gives the most pessimistic overhead.
//!
//! Neighbours: `psc.rs` and `cache.rs` define the types; `mod.rs` builds the model from them.

use core::fmt;

use super::cache::CacheGeometry;
use super::psc::PscOrganization;

/// Which paging-structure-cache sizes of a preset to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PscSensitivity {
    /// The small end of the range: fewer walks skip levels, walks cost more.
    Low,
    /// The best estimate from the sources.
    Nominal,
    /// The large end of the range: more walks skip levels, walks cost less.
    High,
}

impl PscSensitivity {
    /// Every sensitivity, low first.
    pub const ALL: [PscSensitivity; 3] = [
        PscSensitivity::Low,
        PscSensitivity::Nominal,
        PscSensitivity::High,
    ];

    /// Returns the name used in arguments and output: `low`, `nominal` or `high`.
    pub const fn name(self) -> &'static str {
        match self {
            PscSensitivity::Low => "low",
            PscSensitivity::Nominal => "nominal",
            PscSensitivity::High => "high",
        }
    }

    /// Parses [`PscSensitivity::name`] back.
    pub fn from_name(name: &str) -> Option<PscSensitivity> {
        PscSensitivity::ALL
            .into_iter()
            .find(|sensitivity| sensitivity.name() == name)
    }
}

/// The low, nominal and high paging-structure-cache sizes of a preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PscRange {
    /// Sizes for [`PscSensitivity::Low`].
    pub low: PscOrganization,
    /// Sizes for [`PscSensitivity::Nominal`].
    pub nominal: PscOrganization,
    /// Sizes for [`PscSensitivity::High`].
    pub high: PscOrganization,
}

impl PscRange {
    /// Returns the sizes for `sensitivity`.
    pub const fn get(&self, sensitivity: PscSensitivity) -> PscOrganization {
        match sensitivity {
            PscSensitivity::Low => self.low,
            PscSensitivity::Nominal => self.nominal,
            PscSensitivity::High => self.high,
        }
    }
}

/// The cost parameters of one preset, before a sensitivity is chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PresetCost {
    /// The preset name, as in [`crate::presets::PRESET_NAMES`].
    pub name: &'static str,
    /// Paging-structure-cache sizes.
    pub psc: PscRange,
    /// The L1 data cache.
    pub l1d: CacheGeometry,
    /// The unified second-level cache.
    pub l2: CacheGeometry,
    /// The last-level cache: the whole LLC reachable by one core running alone.
    pub llc: CacheGeometry,
    /// Load-to-use cycles of a reference that misses every cache level.
    pub memory_latency_cycles: u32,
    /// Assumed cycles per instruction without translation stalls, in thousandths.
    pub base_cpi_milli: u32,
    /// One over the core's allocation or dispatch width, in thousandths: the smallest CPI.
    pub peak_cpi_milli: u32,
}

/// Number of bytes in a KiB.
const KIB: u64 = 1 << 10;
/// Number of bytes in a MiB.
const MIB: u64 = 1 << 20;

/// Intel's split paging-structure caches, nominal: PML4E 4 (\[CHAMPSIM\]; \[BHATT\] uses a few),
/// PDPTE 4 (\[BHATT\], \[MMU\]: a few; \[CHAMPSIM\] has 8), PDE 32 (\[BHATT\], \[CHAMPSIM\];
/// \[MMU\]: roughly 24 to 32). Low and high halve and double each: the measured range is
/// narrow, but it was measured on older cores than Golden Cove.
const INTEL_PSC: PscRange = PscRange {
    low: PscOrganization::Split {
        pml4e_entries: 2,
        pdpte_entries: 2,
        pde_entries: 16,
    },
    nominal: PscOrganization::Split {
        pml4e_entries: 4,
        pdpte_entries: 4,
        pde_entries: 32,
    },
    high: PscOrganization::Split {
        pml4e_entries: 8,
        pdpte_entries: 8,
        pde_entries: 64,
    },
};

/// Every preset's cost parameters, in the order of [`crate::presets::PRESET_NAMES`].
pub const PRESET_COSTS: [PresetCost; 3] = [
    PresetCost {
        name: "skylake-client",
        // [BHATT], [MMU], [CHAMPSIM]: see INTEL_PSC. [MMU] measured Skylake-era cores.
        psc: INTEL_PSC,
        // [ORM]: 32 KiB, 8 ways, 64-byte lines, 4 cycles (5 with complex addressing).
        l1d: CacheGeometry::new(32 * KIB, 8, 4),
        // [ORM]: 256 KiB, 4 ways, 12 cycles (AnandTech: 11).
        l2: CacheGeometry::new(256 * KIB, 4, 12),
        // [ORM]: up to 2 MiB per core and up to 16 ways, 44 cycles; a 4-core part (Core
        // i7-6700K) has 8 MiB, all of it reachable by one core.
        llc: CacheGeometry::new(8 * MIB, 16, 44),
        // Approximate: DRAM load-to-use on DDR4 desktops is about 60 to 80 ns, 240 to 320
        // cycles at 4 GHz; 250 taken. Not from a vendor manual.
        memory_latency_cycles: 250,
        // Assumption (module documentation).
        base_cpi_milli: 1000,
        // [WIDTH]: 4 micro-ops allocated per cycle.
        peak_cpi_milli: 250,
    },
    PresetCost {
        name: "golden-cove",
        // No measurement of Golden Cove's caches found: Skylake's range assumed (INTEL_PSC).
        psc: INTEL_PSC,
        // [ORM-GLC]: 48 KiB, 12 ways, 5 cycles.
        l1d: CacheGeometry::new(48 * KIB, 12, 5),
        // [ORM-GLC], [ADL]: 1.25 MiB (client), 10 ways; about 15 cycles (approximate, 14-16).
        l2: CacheGeometry::new(1280 * KIB, 10, 15),
        // [ADL]: 30 MiB on a Core i9-12900K; 12 ways and about 65 cycles approximate
        // (measurements range from about 55 to 80 cycles depending on clock ratios).
        llc: CacheGeometry::new(30 * MIB, 12, 65),
        // Approximate: DDR5-4800 load-to-use of about 80 to 100 ns at about 4.5-5 GHz, 350 to
        // 500 cycles; 400 taken.
        memory_latency_cycles: 400,
        // Assumption (module documentation).
        base_cpi_milli: 1000,
        // [WIDTH]: 6-wide allocation, CPI 1/6.
        peak_cpi_milli: 167,
    },
    PresetCost {
        name: "zen4",
        // AMD's unified page walk cache [BARR], modelled as one unified translation cache.
        // Nominal 24 entries ([BARR], approximate); low 16 ([AMD-16H], the only vendor
        // figure, for a small core); high 48 (double the nominal: Zen 4 is not measured).
        psc: PscRange {
            low: PscOrganization::Unified { entries: 16 },
            nominal: PscOrganization::Unified { entries: 24 },
            high: PscOrganization::Unified { entries: 48 },
        },
        // [AMD-SOG]: 32 KiB, 8 ways, 4 cycles (integer loads). Approximate.
        l1d: CacheGeometry::new(32 * KIB, 8, 4),
        // [AMD-SOG]: 1 MiB, 8 ways, 14 cycles. Approximate.
        l2: CacheGeometry::new(MIB, 8, 14),
        // [AMD-SOG]: 32 MiB per CCD (a core reaches only its CCD's L3), 16 ways, about 50
        // cycles on average. Approximate. The real L3 is a victim cache of L2 (see mod.rs).
        llc: CacheGeometry::new(32 * MIB, 16, 50),
        // Approximate: DDR5 load-to-use of about 70 to 90 ns at about 5 GHz, 300 to 450
        // cycles; 350 taken.
        memory_latency_cycles: 350,
        // Assumption (module documentation).
        base_cpi_milli: 1000,
        // [AMD-SOG]: 6 macro-ops dispatched per cycle, CPI 1/6.
        peak_cpi_milli: 167,
    },
];

/// Returns the cost table of the preset called `name`, or `None` if there is none.
pub fn preset_cost(name: &str) -> Option<&'static PresetCost> {
    PRESET_COSTS.iter().find(|preset| preset.name == name)
}

/// Thousandths in one unit, for the `_milli` fields.
const MILLI_PER_UNIT: u128 = 1000;

/// Everything a [`super::WalkCostModel`] is built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CostParameters {
    /// Paging-structure caches.
    pub psc: PscOrganization,
    /// The L1 data cache.
    pub l1d: CacheGeometry,
    /// The unified second-level cache.
    pub l2: CacheGeometry,
    /// The last-level cache.
    pub llc: CacheGeometry,
    /// Load-to-use cycles of a reference that misses every cache level.
    pub memory_latency_cycles: u32,
    /// Assumed cycles per instruction without translation stalls, in thousandths.
    pub base_cpi_milli: u32,
}

impl CostParameters {
    /// Returns the parameters of the preset called `name` with the paging-structure-cache
    /// sizes of `sensitivity`, or `None` if there is no such preset.
    pub fn for_preset(name: &str, sensitivity: PscSensitivity) -> Option<CostParameters> {
        let preset = preset_cost(name)?;
        Some(CostParameters {
            psc: preset.psc.get(sensitivity),
            l1d: preset.l1d,
            l2: preset.l2,
            llc: preset.llc,
            memory_latency_cycles: preset.memory_latency_cycles,
            base_cpi_milli: preset.base_cpi_milli,
        })
    }

    /// Returns `instructions` x base CPI + `walk_cycles`: the estimated cycles of a phase that
    /// retired `instructions` and spent `walk_cycles` in page walks, assuming that no walk
    /// overlaps other work (see [`CostParameters::translation_overhead_percent`]). Saturates at
    /// `u64::MAX`.
    pub fn estimated_total_cycles(&self, instructions: u64, walk_cycles: u64) -> u64 {
        let base_cycles =
            u128::from(instructions) * u128::from(self.base_cpi_milli) / MILLI_PER_UNIT;
        u64::try_from(base_cycles + u128::from(walk_cycles)).unwrap_or(u64::MAX)
    }

    /// Returns 100 x `walk_cycles` / [`CostParameters::estimated_total_cycles`], or 0 when
    /// both are zero.
    ///
    /// This is an **upper bound** on the share of time spent translating: it assumes every walk
    /// cycle stalls the core, whereas an out-of-order core overlaps walks with independent
    /// work and with each other (Skylake and later run two or more walks in parallel). The base
    /// CPI is itself an assumption; a lower CPI raises the result.
    pub fn translation_overhead_percent(&self, instructions: u64, walk_cycles: u64) -> f64 {
        let total = self.estimated_total_cycles(instructions, walk_cycles);
        if total == 0 {
            return 0.0;
        }
        // Precision: cycle counts below 2^53 convert exactly; beyond that the ratio is still
        // correct to about 1e-16.
        100.0 * walk_cycles as f64 / total as f64
    }
}

impl fmt::Display for CostParameters {
    /// Writes the parameters as space-separated `key=value` items, for an information line:
    /// `psc=split:4/4/32 l1d=32k/8w/4c l2=... llc=... memory=250c base_cpi_milli=1000`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "psc={} l1d={} l2={} llc={} memory={}c base_cpi_milli={}",
            self.psc, self.l1d, self.l2, self.llc, self.memory_latency_cycles, self.base_cpi_milli
        )
    }
}
