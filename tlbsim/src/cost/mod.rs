//! The walk-cost model: what the page walks counted by the TLB model cost, in core cycles.
//!
//! The TLB model ([`crate::Model`]) counts walks and their memory references as if every walk
//! read four entries from memory. A real walk is cheaper: paging-structure caches (Intel SDM
//! vol. 3A §4.10.3) let it skip upper levels, and the entries it does read usually come from
//! the data caches. [`WalkCostModel`] prices each walk:
//!
//! 1. the paging-structure caches ([`psc`]) are looked up longest prefix first; a PDE-cache hit
//!    leaves one reference (the PTE), a PDPTE hit two, a PML4E hit three, a miss all four;
//! 2. each remaining reference goes through a physically indexed L1D → L2 → LLC → memory
//!    hierarchy ([`cache`]) and costs the load-to-use latency of the level that holds its line;
//!    references are dependent, so their latencies add;
//! 3. the present non-leaf entries the walk read fill the paging-structure caches, tagged with
//!    the current PCID.
//!
//! The walk's cycles are the sum in step 2. The STLB lookup before the walk, the walker's own
//! pipeline and any overlap of walks with other work are not modelled.
//!
//! Parameters per preset, with their sources and a low/nominal/high range for the
//! paging-structure-cache sizes, live in [`params`]; [`WalkCostModel::from_preset`] uses the
//! names of [`crate::presets::PRESET_NAMES`].
//!
//! # What the plugin calls
//!
//! The plugin's session (`plugin/session.rs`) makes these calls:
//!
//! | event | call |
//! |---|---|
//! | an access that walked or faulted | [`WalkCostModel::walk_cycles`] with the current PCID, the address and the walk's [`WalkTrace`] (from a [`WalkRecorder`] around the memory given to [`crate::Model::access`]) |
//! | a data access (optional, see below) | [`WalkCostModel::data_access`] with its physical address |
//! | MOV to CR3 | [`WalkCostModel::write_cr3`] with the control registers *before* the write |
//! | MOV to CR4 | [`WalkCostModel::write_cr4`] with the control registers *before* the write |
//! | INVLPG | [`WalkCostModel::invlpg`] with the current PCID |
//! | INVPCID | [`WalkCostModel::invpcid`] with the decoded [`Invpcid`] |
//! | phase boundaries | snapshot [`WalkCostModel::counters`] and subtract ([`CostCounters::since`]) |
//! | markers | `Reset`: [`WalkCostModel::reset`]; `ZeroCounters`: [`WalkCostModel::reset_counters`]; `FlushTlbs`: [`WalkCostModel::empty_paging_structure_caches`] |
//!
//! # Walk references only, or data accesses too
//!
//! If only walk references reach the cache hierarchy, page-table lines never compete with the
//! program's data and stay unrealistically hot: most references hit L1D, and walk costs are
//! underestimated, the more so the larger the program's data footprint.
//! [`WalkCostModel::data_access`] feeds the program's loads and stores into the same hierarchy
//! to restore that competition; it costs one L1D probe (8–12 tag compares) per access, plus
//! fills on a miss, and adds no cycles (the base CPI accounts for data accesses). Feeding data
//! accesses is the recommended setting; instruction fetches are not fed in either setting (they
//! would compete in L2 and LLC), so walk costs remain slightly optimistic.
//!
//! # Invalidation rules (Intel SDM vol. 3A §4.10.4.1)
//!
//! They mirror [`crate::Model`]'s TLB rules, applied to the paging-structure caches, which hold
//! no global entries:
//!
//! - MOV to CR3 with CR4.PCIDE=1 and bit 63 clear: the new PCID's entries; bit 63 set: nothing;
//!   CR4.PCIDE=0: every entry (only PCID 000H can be cached then; the TLB model makes the same
//!   choice).
//! - MOV to CR4 changing PGE, or clearing PCIDE: every entry; otherwise changing PAE or setting
//!   SMEP: the current PCID's entries; anything else: nothing.
//! - INVLPG (canonical address): every entry of the current PCID, whatever its address. The SDM
//!   says INVLPG "also invalidates all entries in all paging-structure caches associated with the
//!   current PCID, regardless of the linear addresses to which they correspond"; this is the
//!   choice made here (not only the entries on the path to the address). Non-canonical: nothing.
//! - INVPCID type 0 and 1: every entry of the given PCID (type 0 whatever the address, as for
//!   INVLPG); types 2 and 3: every entry.
//!
//! The data caches are not affected by any of them.
//!
//! Neighbours: `psc.rs`, `cache.rs`, `params.rs`, `trace.rs`; `model.rs` for the TLB model
//! whose events drive this one.
//!
//! [`WalkCostModel`]: crate::cost::WalkCostModel
//! [`WalkCostModel::walk_cycles`]: crate::cost::WalkCostModel::walk_cycles
//! [`WalkCostModel::data_access`]: crate::cost::WalkCostModel::data_access
//! [`WalkCostModel::write_cr3`]: crate::cost::WalkCostModel::write_cr3
//! [`WalkCostModel::write_cr4`]: crate::cost::WalkCostModel::write_cr4
//! [`WalkCostModel::invlpg`]: crate::cost::WalkCostModel::invlpg
//! [`WalkCostModel::invpcid`]: crate::cost::WalkCostModel::invpcid
//! [`WalkCostModel::counters`]: crate::cost::WalkCostModel::counters
//! [`WalkCostModel::reset`]: crate::cost::WalkCostModel::reset
//! [`WalkCostModel::reset_counters`]: crate::cost::WalkCostModel::reset_counters
//! [`WalkCostModel::empty_paging_structure_caches`]: crate::cost::WalkCostModel::empty_paging_structure_caches
//! [`WalkCostModel::from_preset`]: crate::cost::WalkCostModel::from_preset
//! [`CostCounters::since`]: crate::cost::CostCounters::since
//! [`WalkTrace`]: crate::cost::WalkTrace
//! [`WalkRecorder`]: crate::cost::WalkRecorder
//! [`Invpcid`]: crate::model::Invpcid
//! [`psc`]: crate::cost::psc
//! [`cache`]: crate::cost::cache
//! [`params`]: crate::cost::params

pub mod cache;
pub mod params;
pub mod psc;
pub mod trace;

#[cfg(test)]
mod tests;

use core::fmt;

pub use cache::{
    CacheGeometry, CacheHierarchy, CacheLevelName, LINE_BYTES, ServedBy, SetAssociativeCache,
};
pub use params::{CostParameters, PRESET_COSTS, PresetCost, PscRange, PscSensitivity};
pub use psc::{PSC_LEVELS, PagingStructureCaches, PscOrganization};
pub use trace::{MAX_WALK_REFERENCES, WalkEnd, WalkRecorder, WalkTrace};

use crate::address::{Pcid, PhysicalAddress, VirtualAddress};
use crate::model::{
    CR3_NO_FLUSH, CR4_PAE, CR4_PCIDE, CR4_PGE, CR4_SMEP, ControlRegisters, Invpcid,
};

/// Why a cost model or a trace could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CostError {
    /// No cost parameters exist for this preset name (the name is not kept: see
    /// [`crate::presets::PRESET_NAMES`] for the valid ones).
    UnknownPreset,
    /// A cache level's size is not a positive multiple of its ways x 64 bytes.
    InvalidCache {
        /// The level.
        level: CacheLevelName,
        /// Its geometry.
        geometry: CacheGeometry,
    },
    /// A walk trace's number of references does not match how the walk ended.
    TraceMismatch {
        /// The references given or recorded.
        references: usize,
        /// The end, which implies [`WalkEnd::reference_count`] references.
        end: WalkEnd,
    },
}

impl fmt::Display for CostError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CostError::UnknownPreset => formatter.write_str("no cost parameters for this preset"),
            CostError::InvalidCache { level, geometry } => write!(
                formatter,
                "{} cache of {} bytes and {} ways is not a whole number of 64-byte sets",
                level.short_name(),
                geometry.size_bytes,
                geometry.ways
            ),
            CostError::TraceMismatch { references, end } => write!(
                formatter,
                "walk trace has {references} references but a walk ending in {end:?} reads {}",
                end.reference_count()
            ),
        }
    }
}

impl std::error::Error for CostError {}

/// What the walk-cost model counted since it was built or its counters were reset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct CostCounters {
    /// Walks priced ([`WalkCostModel::walk_cycles`] calls), faulting ones included.
    pub walks: u64,
    /// Of those, walks that ended in a fault.
    pub faulting_walks: u64,
    /// Walks that started after a hit in the PML4E, PDPTE, PDE cache (by [`PSC_LEVELS`] slot).
    pub psc_hits: [u64; 3],
    /// Walks that missed every paging-structure cache.
    pub psc_misses: u64,
    /// References skipped thanks to hits in the PML4E, PDPTE, PDE cache (1, 2, 3 per hit).
    pub references_skipped: [u64; 3],
    /// References charged (not skipped), by the source that served them ([`ServedBy::index`]).
    pub walk_references: [u64; 4],
    /// Cycles of all walks: the sum of the charged references' latencies.
    pub walk_cycles: u64,
    /// Data accesses fed through [`WalkCostModel::data_access`], by the source that served them.
    pub data_accesses: [u64; 4],
    /// Invalidating operations applied to the paging-structure caches (those that invalidate
    /// by the SDM's rules, even if nothing was cached).
    pub psc_invalidations: u64,
    /// Paging-structure-cache entries removed by them.
    pub psc_entries_removed: u64,
}

/// Number of values in [`CostCounters::KEYS`].
const COST_KEY_COUNT: usize = 20;

impl CostCounters {
    /// The key of each counter in report lines, in the order of [`CostCounters::values`].
    pub const KEYS: [&'static str; COST_KEY_COUNT] = [
        "cost.walks",
        "cost.faulting_walks",
        "cost.psc_hits.pml4e",
        "cost.psc_hits.pdpte",
        "cost.psc_hits.pde",
        "cost.psc_misses",
        "cost.skipped.pml4e",
        "cost.skipped.pdpte",
        "cost.skipped.pde",
        "cost.refs.l1d",
        "cost.refs.l2",
        "cost.refs.llc",
        "cost.refs.memory",
        "cost.walk_cycles",
        "cost.data.l1d",
        "cost.data.l2",
        "cost.data.llc",
        "cost.data.memory",
        "cost.psc_invalidations",
        "cost.psc_entries_removed",
    ];

    /// Returns every counter in the order of [`CostCounters::KEYS`].
    pub fn values(&self) -> [u64; COST_KEY_COUNT] {
        let [hits_pml4e, hits_pdpte, hits_pde] = self.psc_hits;
        let [skipped_pml4e, skipped_pdpte, skipped_pde] = self.references_skipped;
        let [refs_l1d, refs_l2, refs_llc, refs_memory] = self.walk_references;
        let [data_l1d, data_l2, data_llc, data_memory] = self.data_accesses;
        [
            self.walks,
            self.faulting_walks,
            hits_pml4e,
            hits_pdpte,
            hits_pde,
            self.psc_misses,
            skipped_pml4e,
            skipped_pdpte,
            skipped_pde,
            refs_l1d,
            refs_l2,
            refs_llc,
            refs_memory,
            self.walk_cycles,
            data_l1d,
            data_l2,
            data_llc,
            data_memory,
            self.psc_invalidations,
            self.psc_entries_removed,
        ]
    }

    /// Builds counters from values in the order of [`CostCounters::KEYS`].
    pub fn from_values(values: [u64; COST_KEY_COUNT]) -> CostCounters {
        let [
            walks,
            faulting_walks,
            hits_pml4e,
            hits_pdpte,
            hits_pde,
            psc_misses,
            skipped_pml4e,
            skipped_pdpte,
            skipped_pde,
            refs_l1d,
            refs_l2,
            refs_llc,
            refs_memory,
            walk_cycles,
            data_l1d,
            data_l2,
            data_llc,
            data_memory,
            psc_invalidations,
            psc_entries_removed,
        ] = values;
        CostCounters {
            walks,
            faulting_walks,
            psc_hits: [hits_pml4e, hits_pdpte, hits_pde],
            psc_misses,
            references_skipped: [skipped_pml4e, skipped_pdpte, skipped_pde],
            walk_references: [refs_l1d, refs_l2, refs_llc, refs_memory],
            walk_cycles,
            data_accesses: [data_l1d, data_l2, data_llc, data_memory],
            psc_invalidations,
            psc_entries_removed,
        }
    }

    /// Returns the counts accumulated since the snapshot `earlier` (counter by counter; the
    /// counters only grow between resets, so nothing wraps).
    pub fn since(&self, earlier: &CostCounters) -> CostCounters {
        let now = self.values();
        let then = earlier.values();
        CostCounters::from_values(core::array::from_fn(|index| {
            now[index].wrapping_sub(then[index])
        }))
    }

    /// Returns the number of references charged, whatever served them.
    pub fn charged_references(&self) -> u64 {
        self.walk_references.iter().sum()
    }
}

impl fmt::Display for CostCounters {
    /// Writes every counter as `key=value`, space-separated, in the order of
    /// [`CostCounters::KEYS`], for appending to a phase line.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (key, value)) in Self::KEYS.iter().zip(self.values()).enumerate() {
            if index > 0 {
                formatter.write_str(" ")?;
            }
            write!(formatter, "{key}={value}")?;
        }
        Ok(())
    }
}

/// The walk-cost model: paging-structure caches, a cache hierarchy, and counters.
#[derive(Clone, Debug)]
pub struct WalkCostModel {
    /// The parameters it was built from.
    parameters: CostParameters,
    /// PML4E, PDPTE and PDE caches.
    psc: PagingStructureCaches,
    /// L1D, L2, LLC.
    caches: CacheHierarchy,
    /// Counters since construction or the last reset.
    counters: CostCounters,
}

impl WalkCostModel {
    /// Builds a model with empty caches and zero counters.
    ///
    /// # Errors
    ///
    /// [`CostError::InvalidCache`] if a cache geometry is not valid.
    pub fn new(parameters: CostParameters) -> Result<WalkCostModel, CostError> {
        Ok(WalkCostModel {
            psc: PagingStructureCaches::new(parameters.psc),
            caches: CacheHierarchy::new(
                parameters.l1d,
                parameters.l2,
                parameters.llc,
                parameters.memory_latency_cycles,
            )?,
            parameters,
            counters: CostCounters::default(),
        })
    }

    /// Builds the model of the preset called `name` (a name of
    /// [`crate::presets::PRESET_NAMES`]) with the paging-structure-cache sizes of
    /// `sensitivity`.
    ///
    /// # Errors
    ///
    /// [`CostError::UnknownPreset`] if there are no parameters for `name`.
    pub fn from_preset(
        name: &str,
        sensitivity: PscSensitivity,
    ) -> Result<WalkCostModel, CostError> {
        let parameters =
            CostParameters::for_preset(name, sensitivity).ok_or(CostError::UnknownPreset)?;
        WalkCostModel::new(parameters)
    }

    /// Returns the parameters the model was built from.
    pub const fn parameters(&self) -> &CostParameters {
        &self.parameters
    }

    /// Returns the paging-structure caches, for inspection.
    pub const fn paging_structure_caches(&self) -> &PagingStructureCaches {
        &self.psc
    }

    /// Returns the cache hierarchy, for inspection.
    pub const fn caches(&self) -> &CacheHierarchy {
        &self.caches
    }

    /// Returns the counters since construction or the last reset.
    pub const fn counters(&self) -> &CostCounters {
        &self.counters
    }

    /// Prices one walk for `address` under `pcid` that read the entries of `trace`, fills the
    /// caches, counts it, and returns its cycles.
    ///
    /// The deepest paging-structure-cache hit decides how many of the trace's leading
    /// references are skipped (3 after a PDE hit, 2 after PDPTE, 1 after PML4E, none on a
    /// miss); each remaining reference costs the latency of the cache level that serves it.
    /// Every remaining reference but the last (a leaf or a faulting entry) fills the
    /// paging-structure cache of its level.
    ///
    /// An entry left stale by software that changed the tables without invalidating (the SDM
    /// lets a processor keep using it) can claim more levels than the current tables have, for
    /// example a PDE-cache hit for what is now a 2 MiB page; the walk is then charged its last
    /// reference only.
    #[inline]
    pub fn walk_cycles(&mut self, pcid: Pcid, address: VirtualAddress, trace: &WalkTrace) -> u64 {
        let references = trace.references();
        let counters = &mut self.counters;
        counters.walks += 1;
        if matches!(trace.end(), WalkEnd::Fault(_)) {
            counters.faulting_walks += 1;
        }
        let skipped = match self.psc.lookup(pcid, address).and_then(psc::psc_slot) {
            Some(slot) => {
                counters.psc_hits[slot] += 1;
                let skipped = (slot + 1).min(references.len().saturating_sub(1));
                counters.references_skipped[slot] += skipped as u64;
                skipped
            }
            None => {
                counters.psc_misses += 1;
                0
            }
        };
        let last = references.len().saturating_sub(1);
        let mut cycles = 0;
        for (index, &reference) in references.iter().enumerate().skip(skipped) {
            let served = self.caches.access(reference);
            counters.walk_references[served.index()] += 1;
            cycles += u64::from(self.caches.latency_cycles(served));
            if index < last
                && let Some(level) = WalkTrace::level_of(index)
            {
                self.psc.fill(pcid, address, level);
            }
        }
        counters.walk_cycles += cycles;
        cycles
    }

    /// Feeds one data access to the physical address `address` through the cache hierarchy
    /// (warming it as the program's loads and stores would), and counts where it was served.
    /// Adds no cycles: the base CPI covers data accesses.
    #[inline]
    pub fn data_access(&mut self, address: PhysicalAddress) {
        let served = self.caches.access(address);
        self.counters.data_accesses[served.index()] += 1;
    }

    /// Counts one more data access served by L1D, without probing: the plugin's fast path for
    /// an access to the same 64-byte line as the previous [`WalkCostModel::data_access`] with
    /// no [`WalkCostModel::walk_cycles`] in between. That line is then the most recently used of
    /// its L1D set, and a probe would only move its LRU stamp forward, keeping the set's order.
    #[inline]
    pub fn repeat_data_l1d_hit(&mut self) {
        self.counters.data_accesses[ServedBy::L1d.index()] += 1;
    }

    /// Applies MOV to CR3 with source operand `value`, given the control registers `before`
    /// the write; returns the number of paging-structure-cache entries removed.
    ///
    /// CR4.PCIDE=1: bit 63 clear removes the entries of the new PCID (`value` bits 11:0), bit 63
    /// set removes nothing. CR4.PCIDE=0: removes every entry.
    pub fn write_cr3(&mut self, before: ControlRegisters, value: u64) -> u64 {
        if !before.pcid_enabled() {
            return self.count_invalidation(|psc| psc.invalidate_all());
        }
        if value & CR3_NO_FLUSH != 0 {
            return 0;
        }
        let new_pcid = Pcid::from_cr3(value);
        self.count_invalidation(|psc| psc.invalidate_pcid(new_pcid))
    }

    /// Applies MOV to CR4 with source operand `value`, given the control registers `before`
    /// the write; returns the number of paging-structure-cache entries removed.
    ///
    /// Changing PGE or clearing PCIDE removes every entry; otherwise changing PAE or setting
    /// SMEP removes the entries of the current PCID (the one before the write); anything else
    /// removes nothing.
    pub fn write_cr4(&mut self, before: ControlRegisters, value: u64) -> u64 {
        let old = before.cr4;
        let changed = old ^ value;
        let clears_pcide = old & CR4_PCIDE != 0 && value & CR4_PCIDE == 0;
        let sets_smep = old & CR4_SMEP == 0 && value & CR4_SMEP != 0;
        if changed & CR4_PGE != 0 || clears_pcide {
            self.count_invalidation(|psc| psc.invalidate_all())
        } else if changed & CR4_PAE != 0 || sets_smep {
            let current = before.pcid();
            self.count_invalidation(|psc| psc.invalidate_pcid(current))
        } else {
            0
        }
    }

    /// Applies INVLPG of `address` with `current_pcid` current; returns the number of
    /// paging-structure-cache entries removed: every entry of the current PCID, whatever its
    /// address. A non-canonical `address` makes INVLPG a no-operation.
    pub fn invlpg(&mut self, current_pcid: Pcid, address: VirtualAddress) -> u64 {
        if !address.is_canonical() {
            return 0;
        }
        self.count_invalidation(|psc| psc.invalidate_pcid(current_pcid))
    }

    /// Applies a decoded INVPCID; returns the number of paging-structure-cache entries
    /// removed. Types 0 and 1 remove every entry of the descriptor's PCID (type 0 whatever the
    /// address); types 2 and 3 remove every entry.
    pub fn invpcid(&mut self, invalidation: Invpcid) -> u64 {
        match invalidation {
            Invpcid::IndividualAddress { pcid, .. } | Invpcid::SingleContext { pcid } => {
                self.count_invalidation(|psc| psc.invalidate_pcid(pcid))
            }
            Invpcid::AllIncludingGlobal | Invpcid::AllExceptGlobal => {
                self.count_invalidation(|psc| psc.invalidate_all())
            }
        }
    }

    /// Zeroes the counters, keeping the contents of the paging-structure caches and the cache
    /// hierarchy, so that a warm measurement stays warm.
    pub fn reset_counters(&mut self) {
        self.counters = CostCounters::default();
    }

    /// Empties the paging-structure caches and the cache hierarchy and zeroes the counters.
    pub fn reset(&mut self) {
        self.psc.invalidate_all();
        self.caches.clear();
        self.counters = CostCounters::default();
    }

    /// Empties the paging-structure caches without counting an invalidation, keeping the data
    /// caches and the counters: the cost side of the plugin's `FlushTlbs` marker (an
    /// experiment's cold start, not an architectural event). Page-table lines stay in the data
    /// caches, as they would after a real full TLB flush.
    pub fn empty_paging_structure_caches(&mut self) {
        self.psc.invalidate_all();
    }

    /// Returns `instructions` x base CPI + `walk_cycles` (see
    /// [`CostParameters::estimated_total_cycles`]).
    pub fn estimated_total_cycles(&self, instructions: u64, walk_cycles: u64) -> u64 {
        self.parameters
            .estimated_total_cycles(instructions, walk_cycles)
    }

    /// Returns the share of [`WalkCostModel::estimated_total_cycles`] spent in walks, in
    /// percent: an **upper bound** that ignores the overlap of walks with out-of-order
    /// execution (see [`CostParameters::translation_overhead_percent`]).
    pub fn translation_overhead_percent(&self, instructions: u64, walk_cycles: u64) -> f64 {
        self.parameters
            .translation_overhead_percent(instructions, walk_cycles)
    }

    /// Runs one invalidation on the paging-structure caches and counts it.
    fn count_invalidation(
        &mut self,
        invalidate: impl FnOnce(&mut PagingStructureCaches) -> u64,
    ) -> u64 {
        let removed = invalidate(&mut self.psc);
        self.counters.psc_invalidations += 1;
        self.counters.psc_entries_removed += removed;
        removed
    }
}
