//! Hand-computed tests of the walk-cost model.
//!
//! Page tables come from [`PageTableBuilder`], which allocates 4 KiB tables upward from
//! 16 MiB, so a walk's four references are four distinct lines. The Skylake client preset
//! (nominal) prices references at 4 (L1D), 12 (L2), 44 (LLC) and 250 (memory) cycles; the tiny
//! parameters below at 4, 12, 40 and 200 cycles with caches small enough to evict on purpose.

use super::*;
use crate::address::{PageSize, PagingLevel, Pcid, PhysicalAddress, VirtualAddress};
use crate::geometry::Geometry;
use crate::model::{AccessKind, CR3_NO_FLUSH, CR4_PCIDE, CR4_PGE, CR4_SMEP, Model};
use crate::presets::PRESET_NAMES;
use crate::synthetic::PageTableBuilder;

/// Skylake client load-to-use cycles: L1D, L2, LLC, memory.
const SKYLAKE_L1D: u64 = 4;
const SKYLAKE_MEMORY: u64 = 250;

/// A linear address with PML4 index 1, PDPT index 2, PD index 3 and PT index 4.
const BASE: u64 = (1 << 39) | (2 << 30) | (3 << 21) | (4 << 12);
/// Bytes in a 4 KiB, 2 MiB and 1 GiB page.
const PAGE_4K: u64 = 1 << 12;
const PAGE_2M: u64 = 1 << 21;
const PAGE_1G: u64 = 1 << 30;
/// A physical page every test maps to (aligned to 1 GiB, so valid for every page size).
const FRAME: u64 = 0x4000_0000;

/// One address space built for a test.
struct Space {
    /// The builder holding the tables.
    tables: PageTableBuilder,
    /// The PML4 table's address.
    root: PhysicalAddress,
}

impl Space {
    /// Returns an address space mapping each `(address, size)` page to [`FRAME`].
    fn with(pages: &[(u64, PageSize)]) -> Space {
        let mut tables = PageTableBuilder::new();
        let root = tables.new_root();
        for &(address, size) in pages {
            tables.map(
                root,
                VirtualAddress::new(address),
                size,
                PhysicalAddress::new(FRAME),
                false,
            );
        }
        Space { tables, root }
    }

    /// Returns the trace of a walk for `address`.
    fn trace(&self, address: u64) -> WalkTrace {
        WalkTrace::record(
            self.tables.memory(),
            self.root,
            VirtualAddress::new(address),
        )
        .1
    }
}

/// Returns the Skylake client model with nominal paging-structure caches.
fn skylake() -> WalkCostModel {
    WalkCostModel::from_preset("skylake-client", PscSensitivity::Nominal).expect("preset exists")
}

/// Returns parameters with one-set L1D (2 ways) and L2 (4 ways), a 64 KiB LLC, two entries
/// per paging-structure cache, and latencies 4 / 12 / 40 / 200.
fn tiny_parameters() -> CostParameters {
    CostParameters {
        psc: PscOrganization::Split {
            pml4e_entries: 2,
            pdpte_entries: 2,
            pde_entries: 2,
        },
        l1d: CacheGeometry::new(128, 2, 4),
        l2: CacheGeometry::new(256, 4, 12),
        llc: CacheGeometry::new(64 << 10, 16, 40),
        memory_latency_cycles: 200,
        base_cpi_milli: 1000,
    }
}

/// Returns a model of [`tiny_parameters`].
fn tiny() -> WalkCostModel {
    WalkCostModel::new(tiny_parameters()).expect("valid parameters")
}

/// Returns PCID `value`.
fn pcid(value: u16) -> Pcid {
    Pcid::new(value).expect("12-bit PCID")
}

/// Returns the linear address `address`.
fn linear(address: u64) -> VirtualAddress {
    VirtualAddress::new(address)
}

/// Control registers with CR4.PCIDE=1 (plus `extra_cr4`) and `pcid` current.
fn pcid_registers(space: &Space, current: u16, extra_cr4: u64) -> ControlRegisters {
    ControlRegisters {
        cr3: space.root.as_u64() | u64::from(current),
        cr4: CR4_PCIDE | extra_cr4,
    }
}

/// Walks [`BASE`] under PCIDs 1 and 2, so that each has three entries (PML4E, PDPTE, PDE).
fn fill_two_pcids(model: &mut WalkCostModel, space: &Space) {
    let trace = space.trace(BASE);
    model.walk_cycles(pcid(1), linear(BASE), &trace);
    model.walk_cycles(pcid(2), linear(BASE), &trace);
}

/// Reports whether PCID `value` has a PDE-cache entry for [`BASE`].
fn has_pde(model: &WalkCostModel, value: u16) -> bool {
    model
        .paging_structure_caches()
        .contains(pcid(value), linear(BASE), PagingLevel::PageDirectory)
}

/// Returns the total number of paging-structure-cache entries.
fn psc_entries(model: &WalkCostModel) -> u64 {
    PSC_LEVELS
        .iter()
        .map(|&level| model.paging_structure_caches().resident_entries(level))
        .sum()
}

// --- walk prices --------------------------------------------------------------------------

#[test]
fn a_cold_walk_costs_four_references_at_memory_latency() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    let cycles = model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    assert_eq!(cycles, 4 * SKYLAKE_MEMORY);
    assert_eq!(cycles, 1000);
    let counters = model.counters();
    assert_eq!(counters.walks, 1);
    assert_eq!(counters.psc_misses, 1);
    assert_eq!(counters.walk_references, [0, 0, 0, 4]);
    assert_eq!(counters.walk_cycles, 1000);
}

#[test]
fn a_neighbouring_page_hits_the_pde_cache_and_costs_one_l1d_reference() {
    let space = Space::with(&[
        (BASE, PageSize::Size4KiB),
        (BASE + PAGE_4K, PageSize::Size4KiB),
    ]);
    let mut model = skylake();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    // PT index 5 instead of 4: the PTE is 8 bytes further, in the same 64-byte line.
    let neighbour = BASE + PAGE_4K;
    let cycles = model.walk_cycles(pcid(0), linear(neighbour), &space.trace(neighbour));
    assert_eq!(cycles, SKYLAKE_L1D);
    let counters = model.counters();
    assert_eq!(counters.psc_hits, [0, 0, 1]);
    assert_eq!(counters.references_skipped, [0, 0, 3]);
    assert_eq!(counters.walk_references, [1, 0, 0, 4]);
    assert_eq!(counters.walk_cycles, 1000 + 4);
}

#[test]
fn a_pdpte_cache_hit_leaves_the_pde_and_the_pte() {
    // The next 2 MiB region: same page directory (PDE index 4, same line as index 3), new
    // page table (memory).
    let other = BASE + PAGE_2M;
    let space = Space::with(&[(BASE, PageSize::Size4KiB), (other, PageSize::Size4KiB)]);
    let mut model = skylake();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    let cycles = model.walk_cycles(pcid(0), linear(other), &space.trace(other));
    assert_eq!(cycles, SKYLAKE_L1D + SKYLAKE_MEMORY);
    assert_eq!(model.counters().psc_hits, [0, 1, 0]);
    assert_eq!(model.counters().references_skipped, [0, 2, 0]);
    // The PDE read by the second walk now has its own PDE-cache entry.
    assert!(model.paging_structure_caches().contains(
        pcid(0),
        linear(other),
        PagingLevel::PageDirectory
    ));
}

#[test]
fn a_pml4e_cache_hit_leaves_three_references() {
    // The next 1 GiB region: same PDPT (L1D hit), new page directory and page table (memory).
    let other = BASE + PAGE_1G;
    let space = Space::with(&[(BASE, PageSize::Size4KiB), (other, PageSize::Size4KiB)]);
    let mut model = skylake();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    let cycles = model.walk_cycles(pcid(0), linear(other), &space.trace(other));
    assert_eq!(cycles, SKYLAKE_L1D + 2 * SKYLAKE_MEMORY);
    assert_eq!(model.counters().psc_hits, [1, 0, 0]);
    assert_eq!(model.counters().references_skipped, [1, 0, 0]);
}

#[test]
fn a_pte_line_evicted_from_l1d_and_l2_costs_the_llc_latency() {
    let space = Space::with(&[
        (BASE, PageSize::Size4KiB),
        (BASE + PAGE_4K, PageSize::Size4KiB),
        (BASE + 2 * PAGE_4K, PageSize::Size4KiB),
    ]);
    let mut model = tiny();
    let trace = space.trace(BASE);
    assert_eq!(model.walk_cycles(pcid(0), linear(BASE), &trace), 4 * 200);
    let pte = trace.references()[3];
    // Four data lines fill the one-set, four-way L2 (and the two-way L1D) with other lines.
    for index in 0..4 {
        model.data_access(PhysicalAddress::new(FRAME + index * LINE_BYTES));
    }
    assert_eq!(model.counters().data_accesses, [0, 0, 0, 4]);
    let caches = model.caches();
    assert!(!caches.contains(CacheLevelName::L1d, pte));
    assert!(!caches.contains(CacheLevelName::L2, pte));
    assert!(caches.contains(CacheLevelName::Llc, pte));
    // The neighbour hits the PDE cache; its PTE shares the evicted line, now only in the LLC.
    let neighbour = BASE + PAGE_4K;
    let cycles = model.walk_cycles(pcid(0), linear(neighbour), &space.trace(neighbour));
    assert_eq!(cycles, 40);
    assert_eq!(model.counters().walk_references, [0, 0, 1, 4]);
    // The LLC hit filled L2 and L1D: the next neighbour costs an L1D hit.
    let next = BASE + 2 * PAGE_4K;
    assert_eq!(
        model.walk_cycles(pcid(0), linear(next), &space.trace(next)),
        4
    );
}

#[test]
fn an_l2_hit_fills_l1d_and_a_memory_access_fills_every_level() {
    let tiny = tiny_parameters();
    let mut caches =
        CacheHierarchy::new(tiny.l1d, tiny.l2, tiny.llc, tiny.memory_latency_cycles).expect("ok");
    let line = |index: u64| PhysicalAddress::new(index * LINE_BYTES);
    assert_eq!(caches.access(line(0)), ServedBy::Memory);
    for level in [CacheLevelName::L1d, CacheLevelName::L2, CacheLevelName::Llc] {
        assert!(caches.contains(level, line(0)));
    }
    // Two more lines push line 0 out of the two-way L1D but not out of the four-way L2.
    caches.access(line(1));
    caches.access(line(2));
    assert!(!caches.contains(CacheLevelName::L1d, line(0)));
    assert_eq!(caches.access(line(0)), ServedBy::L2);
    assert!(caches.contains(CacheLevelName::L1d, line(0)));
    assert_eq!(caches.access(line(0)), ServedBy::L1d);
    assert_eq!(caches.latency_cycles(ServedBy::L2), 12);
    assert_eq!(caches.latency_cycles(ServedBy::Memory), 200);
}

#[test]
fn a_cache_set_evicts_its_least_recently_used_line() {
    let mut cache = SetAssociativeCache::new(CacheLevelName::L1d, CacheGeometry::new(128, 2, 4))
        .expect("one set of two ways");
    cache.fill(1);
    cache.fill(2);
    assert!(cache.probe(1)); // 2 is now the least recently used
    cache.fill(3);
    assert!(cache.contains(1) && !cache.contains(2) && cache.contains(3));
    cache.fill(4); // 1 (touched before 3 was filled) goes
    assert!(!cache.contains(1) && cache.contains(3) && cache.contains(4));
    assert_eq!(cache.resident_lines(), 2);
}

#[test]
fn a_cache_fills_an_empty_way_before_evicting_and_keeps_sets_apart() {
    // Two sets of two ways: even lines go to set 0, odd lines to set 1.
    let mut cache = SetAssociativeCache::new(CacheLevelName::L2, CacheGeometry::new(256, 2, 12))
        .expect("two sets of two ways");
    cache.fill(0);
    cache.fill(2);
    cache.fill(1);
    assert!(cache.contains(0) && cache.contains(2) && cache.contains(1));
    cache.fill(4);
    assert!(!cache.contains(0) && cache.contains(2) && cache.contains(4) && cache.contains(1));
}

#[test]
fn a_non_power_of_two_set_count_indexes_by_modulo() {
    // Three sets of one way: lines 0 and 3 share set 0.
    let mut cache = SetAssociativeCache::new(CacheLevelName::Llc, CacheGeometry::new(192, 1, 40))
        .expect("three sets");
    cache.fill(0);
    cache.fill(1);
    cache.fill(2);
    assert_eq!(cache.resident_lines(), 3);
    cache.fill(3);
    assert!(!cache.contains(0) && cache.contains(1) && cache.contains(2) && cache.contains(3));
}

#[test]
fn data_accesses_warm_the_lines_a_walk_reads() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let trace = space.trace(BASE);
    let mut model = skylake();
    model.data_access(trace.references()[0]);
    let cycles = model.walk_cycles(pcid(0), linear(BASE), &trace);
    assert_eq!(cycles, SKYLAKE_L1D + 3 * SKYLAKE_MEMORY);
    assert_eq!(model.counters().data_accesses, [0, 0, 0, 1]);
    assert_eq!(model.counters().walk_references, [1, 0, 0, 3]);
}

// --- what fills the paging-structure caches ------------------------------------------------

#[test]
fn a_2mib_leaf_creates_no_pde_cache_entry() {
    let page = BASE & !(PAGE_2M - 1);
    let space = Space::with(&[(page, PageSize::Size2MiB)]);
    let mut model = skylake();
    let trace = space.trace(page);
    assert_eq!(trace.end(), WalkEnd::Leaf(PageSize::Size2MiB));
    assert_eq!(
        model.walk_cycles(pcid(0), linear(page), &trace),
        3 * SKYLAKE_MEMORY
    );
    let psc = model.paging_structure_caches();
    assert_eq!(psc.resident_entries(PagingLevel::Pml4), 1);
    assert_eq!(psc.resident_entries(PagingLevel::Pdpt), 1);
    assert_eq!(psc.resident_entries(PagingLevel::PageDirectory), 0);
    // Another walk in the same 2 MiB page hits the PDPTE cache and reads the leaf PDE (L1D).
    let inside = page + 0x1f_f000;
    assert_eq!(
        model.walk_cycles(pcid(0), linear(inside), &space.trace(inside)),
        SKYLAKE_L1D
    );
    assert_eq!(model.counters().psc_hits, [0, 1, 0]);
}

#[test]
fn a_1gib_leaf_creates_only_a_pml4e_cache_entry() {
    let page = BASE & !(PAGE_1G - 1);
    let space = Space::with(&[(page, PageSize::Size1GiB)]);
    let mut model = skylake();
    assert_eq!(
        model.walk_cycles(pcid(0), linear(page), &space.trace(page)),
        2 * SKYLAKE_MEMORY
    );
    assert_eq!(psc_entries(&model), 1);
    let inside = page + 0x3fff_f000;
    assert_eq!(
        model.walk_cycles(pcid(0), linear(inside), &space.trace(inside)),
        SKYLAKE_L1D
    );
    assert_eq!(model.counters().psc_hits, [1, 0, 0]);
}

#[test]
fn a_faulting_walk_caches_the_entries_above_the_fault_only() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    // Five 2 MiB regions further: the PDE is not present.
    let unmapped = BASE + 5 * PAGE_2M;
    let trace = space.trace(unmapped);
    assert_eq!(trace.end(), WalkEnd::Fault(PagingLevel::PageDirectory));
    assert_eq!(
        model.walk_cycles(pcid(0), linear(unmapped), &trace),
        3 * SKYLAKE_MEMORY
    );
    let psc = model.paging_structure_caches();
    assert!(psc.contains(pcid(0), linear(unmapped), PagingLevel::Pdpt));
    assert!(!psc.contains(pcid(0), linear(unmapped), PagingLevel::PageDirectory));
    assert_eq!(model.counters().faulting_walks, 1);
}

#[test]
fn pcid_tags_keep_address_spaces_apart() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let trace = space.trace(BASE);
    let mut model = skylake();
    assert_eq!(model.walk_cycles(pcid(1), linear(BASE), &trace), 1000);
    // Same address, other PCID: no paging-structure-cache hit, but the lines are in L1D.
    assert_eq!(
        model.walk_cycles(pcid(2), linear(BASE), &trace),
        4 * SKYLAKE_L1D
    );
    assert_eq!(model.counters().psc_misses, 2);
    // Back under PCID 1: PDE-cache hit.
    assert_eq!(
        model.walk_cycles(pcid(1), linear(BASE), &trace),
        SKYLAKE_L1D
    );
}

#[test]
fn a_split_pde_cache_evicts_its_least_recently_used_entry() {
    let regions = [BASE, BASE + PAGE_2M, BASE + 2 * PAGE_2M];
    let space = Space::with(&regions.map(|address| (address, PageSize::Size4KiB)));
    let mut model = tiny(); // two PDE-cache entries
    model.walk_cycles(pcid(0), linear(regions[0]), &space.trace(regions[0]));
    model.walk_cycles(pcid(0), linear(regions[1]), &space.trace(regions[1]));
    // A PDE-cache hit on region 0 makes region 1 the least recently used.
    model.walk_cycles(pcid(0), linear(regions[0]), &space.trace(regions[0]));
    model.walk_cycles(pcid(0), linear(regions[2]), &space.trace(regions[2]));
    let pde = |address: u64| {
        model.paging_structure_caches().contains(
            pcid(0),
            linear(address),
            PagingLevel::PageDirectory,
        )
    };
    assert!(pde(regions[0]) && !pde(regions[1]) && pde(regions[2]));
}

#[test]
fn a_unified_cache_lets_levels_compete_for_entries() {
    let space = Space::with(&[
        (BASE, PageSize::Size4KiB),
        (BASE + PAGE_4K, PageSize::Size4KiB),
    ]);
    let mut parameters = tiny_parameters();
    parameters.psc = PscOrganization::Unified { entries: 2 };
    let mut model = WalkCostModel::new(parameters).expect("valid");
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    // Filled in walk order PML4E, PDPTE, PDE: the PML4E entry was evicted.
    let psc = model.paging_structure_caches();
    assert_eq!(psc.resident_entries(PagingLevel::Pml4), 0);
    assert_eq!(psc.resident_entries(PagingLevel::Pdpt), 1);
    assert_eq!(psc.resident_entries(PagingLevel::PageDirectory), 1);
    let neighbour = BASE + PAGE_4K;
    assert_eq!(
        model.walk_cycles(pcid(0), linear(neighbour), &space.trace(neighbour)),
        4
    );
    assert_eq!(model.counters().psc_hits, [0, 0, 1]);
}

#[test]
fn a_stale_pde_cache_entry_over_a_2mib_leaf_charges_the_leaf_only() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    let trace = space.trace(BASE);
    model.walk_cycles(pcid(0), linear(BASE), &trace);
    // The tables now say "2 MiB page" at the same PDE (changed without invalidation).
    let stale = WalkTrace::new(&trace.references()[..3], WalkEnd::Leaf(PageSize::Size2MiB))
        .expect("three references for a 2 MiB leaf");
    assert_eq!(
        model.walk_cycles(pcid(0), linear(BASE), &stale),
        SKYLAKE_L1D
    );
    assert_eq!(model.counters().references_skipped, [0, 0, 2]);
}

#[test]
fn lower_sensitivity_means_fewer_pde_cache_hits() {
    // 32 regions of 2 MiB walked twice: 16 PDE entries (low) thrash under LRU, 64 (high) hold
    // them all; every second-pass walk still hits the PDPTE cache.
    let regions: Vec<u64> = (0..32).map(|index| BASE + index * PAGE_2M).collect();
    let pages: Vec<(u64, PageSize)> = regions
        .iter()
        .map(|&address| (address, PageSize::Size4KiB))
        .collect();
    let space = Space::with(&pages);
    let second_pass = |sensitivity| {
        let mut model =
            WalkCostModel::from_preset("skylake-client", sensitivity).expect("preset exists");
        for &address in &regions {
            model.walk_cycles(pcid(0), linear(address), &space.trace(address));
        }
        model.reset_counters();
        for &address in &regions {
            model.walk_cycles(pcid(0), linear(address), &space.trace(address));
        }
        *model.counters()
    };
    let low = second_pass(PscSensitivity::Low);
    let high = second_pass(PscSensitivity::High);
    assert_eq!(low.psc_hits, [0, 32, 0]);
    assert_eq!(high.psc_hits, [0, 0, 32]);
    assert!(low.walk_cycles > high.walk_cycles);
}

// --- invalidation ----------------------------------------------------------------------------

#[test]
fn cr3_write_without_bit_63_invalidates_that_pcid_only_and_with_bit_63_nothing() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    fill_two_pcids(&mut model, &space);
    assert_eq!(psc_entries(&model), 6);
    let before = pcid_registers(&space, 2, 0);
    // Switch to PCID 1 without bit 63: PCID 1's three entries go.
    assert_eq!(model.write_cr3(before, space.root.as_u64() | 1), 3);
    assert!(!has_pde(&model, 1) && has_pde(&model, 2));
    // Switch to PCID 2 with bit 63: nothing goes, and nothing is counted.
    let before = pcid_registers(&space, 1, 0);
    assert_eq!(
        model.write_cr3(before, space.root.as_u64() | 2 | CR3_NO_FLUSH),
        0
    );
    assert!(has_pde(&model, 2));
    assert_eq!(model.counters().psc_invalidations, 1);
    assert_eq!(model.counters().psc_entries_removed, 3);
}

#[test]
fn cr3_write_with_pcide_clear_invalidates_everything() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    let before = ControlRegisters {
        cr3: space.root.as_u64(),
        cr4: 0,
    };
    // Bit 63 means nothing while CR4.PCIDE=0.
    assert_eq!(
        model.write_cr3(before, space.root.as_u64() | CR3_NO_FLUSH),
        3
    );
    assert_eq!(psc_entries(&model), 0);
    // The data caches are untouched: the next walk reads four L1D lines.
    assert_eq!(
        model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE)),
        4 * SKYLAKE_L1D
    );
}

#[test]
fn invlpg_invalidates_every_entry_of_the_current_pcid_whatever_the_address() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    fill_two_pcids(&mut model, &space);
    // An unrelated address still removes all of PCID 1's entries.
    assert_eq!(model.invlpg(pcid(1), linear(0x1000)), 3);
    assert!(!has_pde(&model, 1) && has_pde(&model, 2));
    // A non-canonical address: no-operation, not counted.
    assert_eq!(model.invlpg(pcid(2), linear(0x8000_0000_0000)), 0);
    assert!(has_pde(&model, 2));
    assert_eq!(model.counters().psc_invalidations, 1);
}

#[test]
fn invpcid_types_0_and_1_invalidate_one_pcid_and_types_2_and_3_everything() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    fill_two_pcids(&mut model, &space);
    let individual = Invpcid::IndividualAddress {
        pcid: pcid(1),
        address: linear(0x1000),
    };
    assert_eq!(model.invpcid(individual), 3);
    assert!(!has_pde(&model, 1) && has_pde(&model, 2));
    assert_eq!(model.invpcid(Invpcid::SingleContext { pcid: pcid(2) }), 3);
    assert_eq!(psc_entries(&model), 0);
    for everything in [Invpcid::AllIncludingGlobal, Invpcid::AllExceptGlobal] {
        fill_two_pcids(&mut model, &space);
        assert_eq!(model.invpcid(everything), 6);
        assert_eq!(psc_entries(&model), 0);
    }
    assert_eq!(model.counters().psc_invalidations, 4);
    assert_eq!(model.counters().psc_entries_removed, 18);
}

#[test]
fn cr4_writes_invalidate_by_the_tlb_rules() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    fill_two_pcids(&mut model, &space);
    // Setting SMEP with PCID 1 current: PCID 1's entries.
    let before = pcid_registers(&space, 1, 0);
    assert_eq!(model.write_cr4(before, CR4_PCIDE | CR4_SMEP), 3);
    assert!(!has_pde(&model, 1) && has_pde(&model, 2));
    // Rewriting the same value: nothing.
    let before = pcid_registers(&space, 1, CR4_SMEP);
    assert_eq!(model.write_cr4(before, CR4_PCIDE | CR4_SMEP), 0);
    assert!(has_pde(&model, 2));
    // Toggling PGE: everything.
    fill_two_pcids(&mut model, &space);
    assert_eq!(model.write_cr4(before, CR4_PCIDE | CR4_SMEP | CR4_PGE), 6);
    // Clearing PCIDE: everything.
    fill_two_pcids(&mut model, &space);
    assert_eq!(model.write_cr4(before, CR4_SMEP), 6);
    // Setting PCIDE (CR3 bits 11:0 are 0): nothing.
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    let before = ControlRegisters {
        cr3: space.root.as_u64(),
        cr4: 0,
    };
    assert_eq!(model.write_cr4(before, CR4_PCIDE), 0);
    assert!(has_pde(&model, 0));
    assert_eq!(model.counters().psc_invalidations, 3);
}

// --- counters, presets, formula --------------------------------------------------------------

#[test]
fn reset_counters_keeps_cache_contents() {
    let space = Space::with(&[
        (BASE, PageSize::Size4KiB),
        (BASE + PAGE_4K, PageSize::Size4KiB),
    ]);
    let mut model = skylake();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    model.reset_counters();
    assert_eq!(*model.counters(), CostCounters::default());
    let neighbour = BASE + PAGE_4K;
    assert_eq!(
        model.walk_cycles(pcid(0), linear(neighbour), &space.trace(neighbour)),
        SKYLAKE_L1D
    );
    let counters = model.counters();
    assert_eq!((counters.walks, counters.walk_cycles), (1, SKYLAKE_L1D));
    assert_eq!(counters.walk_references, [1, 0, 0, 0]);
}

#[test]
fn reset_empties_every_cache() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    model.reset();
    assert_eq!(psc_entries(&model), 0);
    assert_eq!(
        model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE)),
        4 * SKYLAKE_MEMORY
    );
    assert_eq!(model.counters().walks, 1);
}

#[test]
fn counters_round_trip_subtract_and_print() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut model = skylake();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    let snapshot = *model.counters();
    model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
    model.data_access(PhysicalAddress::new(FRAME));
    let phase = model.counters().since(&snapshot);
    assert_eq!(phase.walks, 1);
    assert_eq!(phase.walk_cycles, SKYLAKE_L1D);
    assert_eq!(phase.data_accesses, [0, 0, 0, 1]);
    assert_eq!(CostCounters::from_values(phase.values()), phase);
    assert_eq!(phase.charged_references(), 1);
    let line = phase.to_string();
    assert!(line.starts_with("cost.walks=1 cost.faulting_walks=0 cost.psc_hits.pml4e=0 "));
    assert!(line.contains(" cost.walk_cycles=4 "));
    assert_eq!(line.split(' ').count(), CostCounters::KEYS.len());
}

#[test]
fn every_preset_has_cost_parameters_and_prices_a_cold_walk_at_memory_latency() {
    assert_eq!(PRESET_COSTS.map(|preset| preset.name), PRESET_NAMES);
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    for name in PRESET_NAMES {
        assert!(crate::presets::geometry(name).is_some());
        let preset = params::preset_cost(name).expect("cost parameters for every preset");
        let low = preset.psc.low.total_entries();
        let nominal = preset.psc.nominal.total_entries();
        let high = preset.psc.high.total_entries();
        assert!(
            low < nominal && nominal < high,
            "{name}: {low} {nominal} {high}"
        );
        assert!(preset.peak_cpi_milli <= preset.base_cpi_milli, "{name}");
        for sensitivity in PscSensitivity::ALL {
            let mut model = WalkCostModel::from_preset(name, sensitivity).expect("valid");
            let cycles = model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE));
            assert_eq!(
                cycles,
                4 * u64::from(preset.memory_latency_cycles),
                "{name}"
            );
            assert_eq!(
                model.walk_cycles(pcid(0), linear(BASE), &space.trace(BASE)),
                u64::from(preset.l1d.latency_cycles),
                "{name}: PDE-cache hit, one L1D reference"
            );
        }
    }
}

#[test]
fn the_skylake_parameters_print_as_documented() {
    let parameters =
        CostParameters::for_preset("skylake-client", PscSensitivity::Nominal).expect("exists");
    assert_eq!(
        parameters.to_string(),
        "psc=split:4/4/32 l1d=32k/8w/4c l2=256k/4w/12c llc=8192k/16w/44c memory=250c \
         base_cpi_milli=1000"
    );
    assert_eq!(
        PscSensitivity::from_name("high"),
        Some(PscSensitivity::High)
    );
    assert_eq!(PscSensitivity::from_name("medium"), None);
}

#[test]
fn construction_errors_are_typed() {
    assert_eq!(
        WalkCostModel::from_preset("pentium", PscSensitivity::Nominal).map(|_| ()),
        Err(CostError::UnknownPreset)
    );
    let mut parameters = tiny_parameters();
    parameters.l2 = CacheGeometry::new(100, 2, 12);
    assert_eq!(
        WalkCostModel::new(parameters).map(|_| ()),
        Err(CostError::InvalidCache {
            level: CacheLevelName::L2,
            geometry: parameters.l2
        })
    );
    parameters.l2 = CacheGeometry::new(256, 0, 12);
    assert!(WalkCostModel::new(parameters).is_err());
    assert!(
        CostError::UnknownPreset
            .to_string()
            .contains("no cost parameters")
    );
}

#[test]
fn the_overhead_formula_is_base_cycles_plus_walk_cycles() {
    let model = skylake(); // base CPI 1.0
    assert_eq!(model.estimated_total_cycles(1000, 500), 1500);
    let percent = model.translation_overhead_percent(1000, 500);
    assert!((percent - 100.0 / 3.0).abs() < 1e-9, "{percent}");
    assert_eq!(model.translation_overhead_percent(0, 0), 0.0);
    assert_eq!(model.translation_overhead_percent(1000, 0), 0.0);
    assert_eq!(model.translation_overhead_percent(0, 7), 100.0);
    assert_eq!(model.estimated_total_cycles(u64::MAX, u64::MAX), u64::MAX);
    // At a CPI of 0.25 (Skylake's peak), 1000 instructions take 250 cycles.
    let mut parameters = *model.parameters();
    parameters.base_cpi_milli = 250;
    assert_eq!(parameters.estimated_total_cycles(1000, 250), 500);
    assert_eq!(parameters.translation_overhead_percent(1000, 250), 50.0);
}

// --- traces ------------------------------------------------------------------------------

#[test]
fn a_trace_needs_as_many_references_as_its_end_implies() {
    let address = PhysicalAddress::new(0x1000);
    let end = WalkEnd::Leaf(PageSize::Size4KiB);
    assert_eq!(
        WalkTrace::new(&[address; 2], end),
        Err(CostError::TraceMismatch { references: 2, end })
    );
    let trace = WalkTrace::new(&[address; 4], end).expect("four references");
    assert_eq!(trace.references().len(), 4);
    assert_eq!(WalkEnd::Leaf(PageSize::Size1GiB).reference_count(), 2);
    assert_eq!(WalkEnd::Fault(PagingLevel::Pml4).reference_count(), 1);
    assert_eq!(WalkEnd::Fault(PagingLevel::PageTable).reference_count(), 4);
}

#[test]
fn a_recorder_around_the_tlb_model_captures_exactly_its_walk() {
    let space = Space::with(&[(BASE, PageSize::Size4KiB)]);
    let mut tlb = Model::new(Geometry::from_preset("skylake-client").expect("preset"))
        .expect("valid geometry");
    tlb.write_cr3(space.root.as_u64());
    let recorder = WalkRecorder::new(space.tables.memory());
    let outcome = tlb.access(AccessKind::Data, linear(BASE), &recorder);
    let end = WalkEnd::of_outcome(&outcome).expect("walked");
    let trace = recorder.trace(end).expect("four reads");
    let (walk, recorded) = WalkTrace::record(space.tables.memory(), space.root, linear(BASE));
    assert_eq!(trace, recorded);
    assert_eq!(walk.memory_references, 4);
    // The PML4E is entry 1 of the root table.
    assert_eq!(
        trace.references()[0],
        PhysicalAddress::new(space.root.as_u64() + 8)
    );
    // A TLB hit reads nothing.
    recorder.clear();
    let hit = tlb.access(AccessKind::Data, linear(BASE), &recorder);
    assert_eq!(WalkEnd::of_outcome(&hit), None);
    assert_eq!(recorder.reads(), 0);
    // A recorder not cleared between two walks refuses to make a trace.
    tlb.invlpg(linear(BASE));
    tlb.access(AccessKind::Data, linear(BASE), &recorder);
    tlb.invlpg(linear(BASE));
    tlb.access(AccessKind::Data, linear(BASE), &recorder);
    assert_eq!(recorder.reads(), 8);
    assert!(recorder.trace(end).is_err());
}

// --- throughput (ignored; for information) ---------------------------------------------------

/// Prints the cost of the two hot calls. Run with
/// `cargo test -p tlbsim --release --lib -- --ignored --nocapture cost_throughput`.
#[test]
#[ignore = "a measurement, not a check"]
fn cost_throughput() {
    use std::time::Instant;
    const CALLS: u64 = 2_000_000;
    let pages: Vec<(u64, PageSize)> = (0..512)
        .map(|index| {
            (
                BASE + index * 37 * PAGE_4K % (64 * PAGE_2M),
                PageSize::Size4KiB,
            )
        })
        .collect();
    let space = Space::with(&pages);
    let traces: Vec<(u64, WalkTrace)> = pages
        .iter()
        .map(|&(address, _)| (address, space.trace(address)))
        .collect();
    for name in PRESET_NAMES {
        let mut model = WalkCostModel::from_preset(name, PscSensitivity::Nominal).expect("ok");
        let start = Instant::now();
        let mut cycles = 0;
        for call in 0..CALLS {
            let (address, trace) = &traces[(call % traces.len() as u64) as usize];
            cycles += model.walk_cycles(pcid(0), linear(*address), trace);
        }
        let walk_ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
        let start = Instant::now();
        for call in 0..CALLS {
            // A 16 MiB data footprint, strided by 72 bytes: mostly L1D misses.
            model.data_access(PhysicalAddress::new(FRAME + (call * 72) % (16 << 20)));
        }
        let data_miss_ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
        let start = Instant::now();
        for call in 0..CALLS {
            // A 16 KiB data footprint: L1D hits.
            model.data_access(PhysicalAddress::new(FRAME + (call * 72) % (16 << 10)));
        }
        let data_hit_ns = start.elapsed().as_nanos() as f64 / CALLS as f64;
        println!(
            "{name}: walk_cycles {walk_ns:.1} ns/call, data_access {data_hit_ns:.1} ns/call \
             (L1D hits) {data_miss_ns:.1} ns/call (16 MiB stream) (checksum {cycles})"
        );
    }
}

#[test]
fn the_most_recent_line_shortcut_keeps_exact_lru_behaviour() {
    // A reference LRU per set (front = most recently used) against SetAssociativeCache, whose
    // probe answers a hit on its set's most recent line without searching: the same hits and
    // misses, and the same lines resident, for 1-, 2- and 4-way caches.
    for ways in [1u32, 2, 4] {
        let geometry = CacheGeometry {
            size_bytes: 4 * u64::from(ways) * LINE_BYTES,
            ways,
            latency_cycles: 1,
        };
        let mut cache = SetAssociativeCache::new(CacheLevelName::L1d, geometry).expect("valid");
        let mut reference: Vec<Vec<u64>> = vec![Vec::new(); 4];
        let mut state = 0x9e37_79b9_u64;
        for step in 0..20_000u64 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            // Mostly repeats of a few lines (the shortcut's case), sometimes any of 40.
            let line = if state & 3 != 0 { (step / 3) % 6 } else { state % 40 };
            let set = &mut reference[(line % 4) as usize];
            let expected = match set.iter().position(|&held| held == line) {
                Some(way) => {
                    set.remove(way);
                    true
                }
                None => false,
            };
            set.insert(0, line);
            set.truncate(ways as usize);
            let hit = cache.probe(line);
            assert_eq!(hit, expected, "{ways} ways, step {step}, line {line}");
            if !hit {
                cache.fill(line);
            }
        }
        for (index, set) in reference.iter().enumerate() {
            for line in set {
                assert!(cache.contains(*line), "set {index} line {line}");
            }
        }
        cache.clear();
        assert!(!cache.probe(0));
    }
}
