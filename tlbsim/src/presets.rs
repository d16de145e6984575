//! Named geometries of real cores, with the source of every figure.
//!
//! [`geometry`] returns the [`Geometry`] of a preset by name; [`PRESET_NAMES`] lists them and
//! [`PRESETS`] describes them. Every array cites its source in a comment. An array whose
//! figures were not confirmed by two agreeing sources consulted while writing this file is built
//! with [`ArrayGeometry::unverified`], so `verified` is false there and
//! [`Geometry::is_verified`] reports it.
//!
//! What presets cannot express (the model has one unified STLB and true LRU): AMD's split L2
//! TLBs, skewed or hashed set indexing, pseudo-LRU replacement, sharing between SMT threads,
//! Intel's separate store-only L1 data TLB on Golden Cove, AMD's "smashing" of 1 GiB pages into
//! 2 MiB entries. The comments say which approximation each preset takes.
//!
//! Sources:
//! - \[ORM\] Intel 64 and IA-32 Architectures Optimization Reference Manual, document 248966
//!   (revision -045, February 2022): Table 2-15, "TLB Parameters of the Skylake
//!   Microarchitecture", also quoted on the Intel community forum thread "TLB information
//!   provided by cpuid doesn't make sense to me" (2022).
//! - \[CPUID\] CPUID leaf 2 descriptors reported by Skylake parts (descriptor 0x76: instruction
//!   TLB, 2M/4M pages, fully associative, 8 entries).
//! - \[CAQA\] Hennessy and Patterson, Computer Architecture: A Quantitative Approach, 7th
//!   edition, the Intel Core i9 12900 (Alder Lake) memory-hierarchy case study.
//! - \[ARCHDAY\] Intel Architecture Day 2021 press coverage of Golden Cove (L1 data TLB grown
//!   from 64 to 96 entries).
//! - \[AMD\] Software Optimization Guide for the AMD Zen 4 Microarchitecture (publication 57647),
//!   as remembered; not checked against a second source here, so all Zen 4 figures are
//!   unverified.
//!
//! Neighbours: `geometry.rs` defines the types and the `preset=` item of the grammar.

use crate::address::PageSize;
use crate::geometry::{ArrayGeometry, Geometry, LevelGeometry, PageSizeSet};

/// The names [`geometry`] accepts.
pub const PRESET_NAMES: [&str; 3] = ["skylake-client", "golden-cove", "zen4"];

/// A short description of one preset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preset {
    /// The name used in `preset=NAME`.
    pub name: &'static str,
    /// The cores it stands for.
    pub description: &'static str,
}

/// Every preset, in the order of [`PRESET_NAMES`].
pub const PRESETS: [Preset; 3] = [
    Preset {
        name: "skylake-client",
        description: "Intel Skylake client cores (6th to 10th generation Core), one thread",
    },
    Preset {
        name: "golden-cove",
        description: "Intel Golden Cove (Alder Lake P-core, Sapphire Rapids), one thread",
    },
    Preset {
        name: "zen4",
        description: "AMD Zen 4, approximated: L2 data TLB as the unified STLB (unverified)",
    },
];

/// Returns the geometry of the preset called `name`, or `None` if there is none.
pub fn geometry(name: &str) -> Option<Geometry> {
    match name {
        "skylake-client" => Some(skylake_client()),
        "golden-cove" => Some(golden_cove()),
        "zen4" => Some(zen4()),
        _ => None,
    }
}

/// The set of just the 4 KiB page size.
const ONLY_4KIB: PageSizeSet = PageSizeSet::single(PageSize::Size4KiB);
/// The set of just the 2 MiB page size.
const ONLY_2MIB: PageSizeSet = PageSizeSet::single(PageSize::Size2MiB);
/// The set of just the 1 GiB page size.
const ONLY_1GIB: PageSizeSet = PageSizeSet::single(PageSize::Size1GiB);
/// The set of the 4 KiB and 2 MiB page sizes.
const BOTH_4KIB_2MIB: PageSizeSet = ONLY_4KIB.with(PageSize::Size2MiB);

/// Returns Skylake client's TLBs.
fn skylake_client() -> Geometry {
    Geometry {
        instruction_tlb: LevelGeometry::new(vec![
            // [ORM] Table 2-15: 4 KiB pages, 128 entries, 8 ways.
            ArrayGeometry::new(128, 8, ONLY_4KIB),
            // [ORM] Table 2-15: 2M/4M pages, 8 entries per thread, associativity not given;
            // [CPUID] descriptor 0x76 says fully associative. No 1 GiB entries in the ITLB.
            ArrayGeometry::new(8, 8, ONLY_2MIB),
        ]),
        data_tlb: LevelGeometry::new(vec![
            // [ORM] Table 2-15: 4 KiB pages, 64 entries, 4 ways.
            ArrayGeometry::new(64, 4, ONLY_4KIB),
            // [ORM] Table 2-15: 2M/4M pages, 32 entries, 4 ways.
            ArrayGeometry::new(32, 4, ONLY_2MIB),
            // [ORM] Table 2-15: 1 GiB pages, 4 entries, 4 ways (fully associative).
            ArrayGeometry::new(4, 4, ONLY_1GIB),
        ]),
        stlb: LevelGeometry::new(vec![
            // [ORM] Table 2-15: 4 KiB and 2M/4M pages share 1536 entries, 12 ways. (CPUID leaf
            // 2 descriptor 0xc3 reports 6 ways; the ORM is taken as the authority.)
            ArrayGeometry::new(1536, 12, BOTH_4KIB_2MIB),
            // [ORM] Table 2-15: 1 GiB pages, 16 entries, 4 ways.
            ArrayGeometry::new(16, 4, ONLY_1GIB),
        ]),
    }
}

/// Returns Golden Cove's TLBs (the load side of the L1 data TLB; the 16-entry store-only data
/// TLB is not modelled). Every array is unverified: apart from the 96-entry data TLB, each
/// figure was confirmed by only one source consulted here.
fn golden_cove() -> Geometry {
    Geometry {
        instruction_tlb: LevelGeometry::new(vec![
            // [CAQA]: 4 KiB pages, 256 entries, 8 ways.
            ArrayGeometry::new(256, 8, ONLY_4KIB).unverified(),
            // [CAQA]: 2M/4M pages, 32 entries; ways given only for the ITLB as a whole (8).
            ArrayGeometry::new(32, 8, ONLY_2MIB).unverified(),
        ]),
        data_tlb: LevelGeometry::new(vec![
            // [CAQA] and [ARCHDAY]: 4 KiB pages, 96 entries (up from 64); [CAQA]: 6 ways.
            ArrayGeometry::new(96, 6, ONLY_4KIB).unverified(),
            // [CAQA]: 2M/4M pages, 32 entries, 4 ways.
            ArrayGeometry::new(32, 4, ONLY_2MIB).unverified(),
            // [CAQA]: 1 GiB pages, 8 entries, 8 ways (fully associative).
            ArrayGeometry::new(8, 8, ONLY_1GIB).unverified(),
        ]),
        stlb: LevelGeometry::new(vec![
            // [CAQA]: 2048 entries, 16 ways, 4 KiB and 2 MiB pages.
            ArrayGeometry::new(2048, 16, BOTH_4KIB_2MIB).unverified(),
            // [CAQA] says the 2048-entry array holds 1 GiB pages too; the Golden Cove table of
            // the [ORM], as remembered but not re-checked here, lists a separate 1024-entry
            // 8-way array for them. The separate array is used.
            ArrayGeometry::new(1024, 8, ONLY_1GIB).unverified(),
        ]),
    }
}

/// Returns an approximation of Zen 4's TLBs. Zen 4 has separate L2 instruction (512 entries,
/// 8 ways) and L2 data (3072 entries, 24 ways) TLBs; the model has one unified STLB, which
/// stands for the L2 data TLB here, so instruction-side L2 behaviour is approximate.
fn zen4() -> Geometry {
    Geometry {
        instruction_tlb: LevelGeometry::new(vec![
            // [AMD]: L1 ITLB, 64 entries, fully associative, all page sizes. Unverified.
            ArrayGeometry::new(64, 64, PageSizeSet::ALL).unverified(),
        ]),
        data_tlb: LevelGeometry::new(vec![
            // [AMD]: L1 DTLB, 72 entries, fully associative, all page sizes. Unverified.
            ArrayGeometry::new(72, 72, PageSizeSet::ALL).unverified(),
        ]),
        stlb: LevelGeometry::new(vec![
            // [AMD]: L2 DTLB, 3072 entries, 24 ways, 4 KiB and 2 MiB pages; 1 GiB pages are
            // smashed into 2 MiB entries there, which the model does not do (it keeps no 1 GiB
            // entries in this level). Unverified.
            ArrayGeometry::new(3072, 24, BOTH_4KIB_2MIB).unverified(),
        ]),
    }
}
