//! The Intel SDM vol. 3A §4.10 rules, one or more exact-count tests each.

use super::{PAGE_BYTES, data, fetch, model, skylake};
use crate::address::{PageSize, Pcid, PhysicalAddress, VirtualAddress};
use crate::counters::{AccessCounters, FlushCause, FlushCount};
use crate::geometry::LevelName;
use crate::model::{
    AccessKind, CR3_NO_FLUSH, CR4_PCIDE, CR4_PGE, CR4_SMEP, FlushReport, Invpcid, InvpcidError,
    Model, Outcome,
};
use crate::synthetic::PageTableBuilder;

/// Base of the per-process pages in the address-space scenarios.
const PROCESS_BASE: u64 = 0x1000_0000;
/// Base of the shared, possibly global pages (PML4 slot 256, the canonical upper half).
const SHARED_BASE: u64 = 0xffff_8000_0000_0000;

/// Returns the sum of the resident entries of all levels.
fn resident_total(model: &Model) -> u64 {
    LevelName::ALL
        .into_iter()
        .map(|level| model.resident_entries(level))
        .sum()
}

/// How the address-space scenario switches between spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Switching {
    /// CR4.PCIDE=0: every CR3 write flushes the non-global entries.
    WithoutPcid,
    /// CR4.PCIDE=1, one PCID per space, bit 63 set on every switch after a space's first.
    PcidKeepingEntries,
    /// CR4.PCIDE=1, one PCID per space, bit 63 never set.
    PcidFlushing,
}

/// Runs `rounds` rounds in which each of `spaces` address spaces in turn is switched to and
/// touches `pages` data pages, and returns the data counters and the model.
///
/// With `global` the pages are mapped once with G=1 and their PML4 slot is shared by every
/// space (like shoal's global segment); otherwise each space maps the same addresses to its
/// own frames with G=0. `page_global_enabled` sets CR4.PGE.
fn address_spaces(
    spaces: u64,
    pages: u64,
    rounds: u64,
    global: bool,
    page_global_enabled: bool,
    switching: Switching,
) -> (AccessCounters, Model) {
    let mut tables = PageTableBuilder::new();
    let roots: Vec<PhysicalAddress> = (0..spaces).map(|_| tables.new_root()).collect();
    let base = if global { SHARED_BASE } else { PROCESS_BASE };
    for (space, root) in roots.iter().enumerate() {
        if global && space > 0 {
            tables.share_pml4_entry(roots[0], *root, VirtualAddress::new(base));
            continue;
        }
        for page in 0..pages {
            let frame = ((space as u64 + 1) << 30) + page * PAGE_BYTES;
            let address = VirtualAddress::new(base + page * PAGE_BYTES);
            tables.map(
                *root,
                address,
                PageSize::Size4KiB,
                PhysicalAddress::new(frame),
                global,
            );
        }
    }
    let mut model = skylake();
    let mut cr4 = if page_global_enabled { CR4_PGE } else { 0 };
    if switching != Switching::WithoutPcid {
        cr4 |= CR4_PCIDE;
    }
    model.write_cr4(cr4);
    model.begin_phase(7, "address-spaces");
    for round in 0..rounds {
        for (space, root) in roots.iter().enumerate() {
            let cr3 = match switching {
                Switching::WithoutPcid => root.as_u64(),
                Switching::PcidFlushing => root.as_u64() | (space as u64 + 1),
                Switching::PcidKeepingEntries if round == 0 => root.as_u64() | (space as u64 + 1),
                Switching::PcidKeepingEntries => root.as_u64() | (space as u64 + 1) | CR3_NO_FLUSH,
            };
            model.write_cr3(cr3);
            for page in 0..pages {
                data(&mut model, base + page * PAGE_BYTES, tables.memory());
            }
        }
    }
    let report = model.end_phase().expect("phase open");
    assert_eq!(report.counters.cr3_writes, spaces * rounds);
    (report.counters.data, model)
}

#[test]
fn non_global_pages_are_walked_again_after_every_cr3_write_without_pcid() {
    let (spaces, pages, rounds) = (4, 32, 3);
    let (counts, model) =
        address_spaces(spaces, pages, rounds, false, true, Switching::WithoutPcid);
    assert_eq!(counts.accesses, spaces * pages * rounds);
    assert_eq!(counts.walks_4k, spaces * pages * rounds);
    assert_eq!(counts.l1_hits, 0);
    assert_eq!(counts.walk_memory_references, 4 * spaces * pages * rounds);
    // Every CR3 write but the first removes the previous space's pages from the dTLB and STLB.
    let flushes = model.counters().flush(FlushCause::Cr3Write);
    assert_eq!(flushes.events, spaces * rounds);
    assert_eq!(flushes.entries_removed, (spaces * rounds - 1) * 2 * pages);
}

#[test]
fn global_pages_are_walked_once_across_cr3_writes_while_they_fit() {
    let (spaces, pages, rounds) = (4, 32, 3);
    let (counts, model) = address_spaces(spaces, pages, rounds, true, true, Switching::WithoutPcid);
    assert_eq!(counts.accesses, spaces * pages * rounds);
    assert_eq!(counts.walks_4k, pages);
    assert_eq!(counts.l1_hits, spaces * pages * rounds - pages);
    assert_eq!(
        model.counters().flush(FlushCause::Cr3Write).entries_removed,
        0
    );
    assert_eq!(model.resident_entries(LevelName::DataTlb), pages);
    assert_eq!(model.resident_entries(LevelName::Stlb), pages);
}

#[test]
fn the_g_flag_is_ignored_while_cr4_pge_is_clear() {
    let (spaces, pages, rounds) = (4, 32, 3);
    let (counts, _) = address_spaces(spaces, pages, rounds, true, false, Switching::WithoutPcid);
    assert_eq!(counts.walks_4k, spaces * pages * rounds);
}

#[test]
fn pcids_with_the_no_flush_bit_walk_each_space_once_while_it_fits_the_stlb() {
    let (spaces, pages, rounds) = (4, 32, 3);
    let (counts, model) = address_spaces(
        spaces,
        pages,
        rounds,
        false,
        true,
        Switching::PcidKeepingEntries,
    );
    assert_eq!(counts.walks_4k, spaces * pages);
    assert_eq!(counts.stlb_misses, spaces * pages);
    // Each dTLB set (4 ways) receives 2 pages per space; with 4 spaces in turn a space's
    // entries are gone from the dTLB when it comes back, so later rounds hit the STLB only.
    assert_eq!(counts.l1_hits, 0);
    assert_eq!(counts.stlb_hits, (rounds - 1) * spaces * pages);
    assert_eq!(model.resident_entries(LevelName::Stlb), spaces * pages);
    assert_eq!(model.counters().flush(FlushCause::Cr3Write).events, spaces);
}

#[test]
fn two_pcids_with_the_no_flush_bit_stay_in_the_l1() {
    let (spaces, pages, rounds) = (2, 32, 3);
    let (counts, _) = address_spaces(
        spaces,
        pages,
        rounds,
        false,
        true,
        Switching::PcidKeepingEntries,
    );
    assert_eq!(counts.walks_4k, spaces * pages);
    assert_eq!(counts.l1_hits, (rounds - 1) * spaces * pages);
    assert_eq!(counts.stlb_hits, 0);
}

#[test]
fn a_cr3_write_without_the_no_flush_bit_flushes_the_new_pcid_every_time() {
    let (spaces, pages, rounds) = (4, 32, 3);
    let (counts, model) =
        address_spaces(spaces, pages, rounds, false, true, Switching::PcidFlushing);
    assert_eq!(counts.walks_4k, spaces * pages * rounds);
    // A space's entries survive in the STLB until its own PCID is written again.
    let flushes = model.counters().flush(FlushCause::Cr3Write);
    assert_eq!(flushes.events, spaces * rounds);
    assert_eq!(flushes.entries_removed, (rounds - 1) * spaces * pages);
}

/// Two processes with PCIDs 1 and 2 that both map `PRIVATE` (G=0, different frames) and share
/// the global page `SHARED_BASE` (G=1). Process 1 touches both pages, then the model switches
/// to process 2 (no-flush bit), which touches both too. The dTLB and STLB then hold
/// `PRIVATE`@1, `SHARED_BASE` (global, filled under PCID 1) and `PRIVATE`@2: six entries.
struct TwoProcesses {
    /// The page tables.
    tables: PageTableBuilder,
    /// The model, CR4 = PGE | PCIDE, current PCID 2.
    model: Model,
    /// CR3 of process 1 with PCID 1.
    cr3_one: u64,
    /// CR3 of process 2 with PCID 2.
    cr3_two: u64,
}

/// The private page of [`TwoProcesses`].
const PRIVATE: u64 = 0x40_0000;

/// Returns the pcid `value`.
fn pcid(value: u16) -> Pcid {
    Pcid::new(value).expect("12-bit test PCID")
}

impl TwoProcesses {
    /// Builds the scenario described on the type.
    fn new() -> TwoProcesses {
        let mut tables = PageTableBuilder::new();
        let (root_one, root_two) = (tables.new_root(), tables.new_root());
        let private = VirtualAddress::new(PRIVATE);
        tables.map(
            root_one,
            private,
            PageSize::Size4KiB,
            PhysicalAddress::new(0x1_0000),
            false,
        );
        tables.map(
            root_two,
            private,
            PageSize::Size4KiB,
            PhysicalAddress::new(0x2_0000),
            false,
        );
        let shared = VirtualAddress::new(SHARED_BASE);
        tables.map(
            root_one,
            shared,
            PageSize::Size4KiB,
            PhysicalAddress::new(0x3_0000),
            true,
        );
        tables.share_pml4_entry(root_one, root_two, shared);
        let mut model = skylake();
        model.write_cr4(CR4_PGE | CR4_PCIDE);
        let (cr3_one, cr3_two) = (root_one.as_u64() | 1, root_two.as_u64() | 2);
        model.write_cr3(cr3_one);
        assert!(matches!(
            data(&mut model, PRIVATE, tables.memory()),
            Outcome::Walked(_)
        ));
        assert!(matches!(
            data(&mut model, SHARED_BASE, tables.memory()),
            Outcome::Walked(_)
        ));
        model.write_cr3(cr3_two | CR3_NO_FLUSH);
        assert!(matches!(
            data(&mut model, PRIVATE, tables.memory()),
            Outcome::Walked(_)
        ));
        assert!(matches!(
            data(&mut model, SHARED_BASE, tables.memory()),
            Outcome::L1Hit(_)
        ));
        assert_eq!(model.resident_entries(LevelName::DataTlb), 3);
        assert_eq!(model.resident_entries(LevelName::Stlb), 3);
        model.reset_counters();
        TwoProcesses {
            tables,
            model,
            cr3_one,
            cr3_two,
        }
    }

    /// Performs a data access at `address` and returns its outcome.
    fn touch(&mut self, address: u64) -> Outcome {
        data(&mut self.model, address, self.tables.memory())
    }

    /// Returns whether process 1's private page is still cached, switching to PCID 1 and
    /// back to PCID 2 with the no-flush bit (the probe itself may fill entries).
    fn process_one_private_cached(&mut self) -> bool {
        self.model.write_cr3(self.cr3_one | CR3_NO_FLUSH);
        let cached = !matches!(self.touch(PRIVATE), Outcome::Walked(_));
        self.model.write_cr3(self.cr3_two | CR3_NO_FLUSH);
        cached
    }
}

#[test]
fn a_cr3_write_with_bit_63_keeps_every_entry() {
    let mut scenario = TwoProcesses::new();
    let report = scenario.model.write_cr3(scenario.cr3_one | CR3_NO_FLUSH);
    assert_eq!(
        report,
        FlushReport {
            invalidated: false,
            entries_removed: 0
        }
    );
    assert_eq!(resident_total(&scenario.model), 6);
    assert!(matches!(scenario.touch(PRIVATE), Outcome::L1Hit(_)));
    assert_eq!(scenario.model.counters().cr3_writes, 1);
    assert_eq!(
        scenario.model.counters().flush(FlushCause::Cr3Write),
        FlushCount::default()
    );
    // Bit 63 is not stored in CR3.
    assert_eq!(scenario.model.control_registers().cr3, scenario.cr3_one);
}

#[test]
fn a_cr3_write_without_bit_63_flushes_only_the_new_pcids_non_global_entries() {
    let mut scenario = TwoProcesses::new();
    let report = scenario.model.write_cr3(scenario.cr3_one);
    assert_eq!(
        report,
        FlushReport {
            invalidated: true,
            entries_removed: 2
        }
    );
    assert_eq!(scenario.model.current_pcid(), pcid(1));
    assert!(matches!(scenario.touch(PRIVATE), Outcome::Walked(_)));
    assert!(matches!(scenario.touch(SHARED_BASE), Outcome::L1Hit(_)));
    // Process 2's private page survived.
    scenario.model.write_cr3(scenario.cr3_two | CR3_NO_FLUSH);
    assert!(matches!(scenario.touch(PRIVATE), Outcome::L1Hit(_)));
    assert_eq!(
        scenario.model.counters().flush(FlushCause::Cr3Write),
        FlushCount {
            events: 1,
            entries_removed: 2
        }
    );
}

#[test]
fn a_cr3_write_with_pcide_clear_flushes_every_non_global_entry_and_ignores_bit_63() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    for page in 0..3 {
        let address = VirtualAddress::new(PRIVATE + page * PAGE_BYTES);
        tables.map(
            root,
            address,
            PageSize::Size4KiB,
            PhysicalAddress::new(page * PAGE_BYTES),
            false,
        );
    }
    tables.map(
        root,
        VirtualAddress::new(SHARED_BASE),
        PageSize::Size4KiB,
        PhysicalAddress::new(0),
        true,
    );
    let mut model = skylake();
    model.write_cr4(CR4_PGE);
    model.write_cr3(root.as_u64());
    for page in 0..3 {
        data(&mut model, PRIVATE + page * PAGE_BYTES, tables.memory());
    }
    data(&mut model, SHARED_BASE, tables.memory());
    let report = model.write_cr3(root.as_u64() | CR3_NO_FLUSH);
    assert_eq!(
        report,
        FlushReport {
            invalidated: true,
            entries_removed: 6
        }
    );
    assert_eq!(resident_total(&model), 2);
}

#[test]
fn invlpg_removes_a_global_entry_whatever_its_pcid() {
    let mut scenario = TwoProcesses::new();
    // The global entry was filled under PCID 1; the current PCID is 2.
    let report = scenario
        .model
        .invlpg(VirtualAddress::new(SHARED_BASE + 0x123));
    assert_eq!(
        report,
        FlushReport {
            invalidated: true,
            entries_removed: 2
        }
    );
    assert!(matches!(scenario.touch(SHARED_BASE), Outcome::Walked(_)));
    assert!(scenario.process_one_private_cached());
}

#[test]
fn invlpg_removes_the_current_pcids_entry_but_not_other_pcids() {
    let mut scenario = TwoProcesses::new();
    let report = scenario.model.invlpg(VirtualAddress::new(PRIVATE));
    assert_eq!(report.entries_removed, 2);
    assert!(scenario.process_one_private_cached());
    assert!(matches!(scenario.touch(PRIVATE), Outcome::Walked(_)));
    assert_eq!(
        scenario.model.counters().flush(FlushCause::Invlpg),
        FlushCount {
            events: 1,
            entries_removed: 2
        }
    );
}

#[test]
fn invlpg_removes_a_large_page_through_any_address_inside_it() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    let page = VirtualAddress::new(0x4000_0000);
    tables.map(
        root,
        page,
        PageSize::Size2MiB,
        PhysicalAddress::new(0x20_0000),
        false,
    );
    let mut model = skylake();
    model.write_cr3(root.as_u64());
    data(&mut model, page.as_u64(), tables.memory());
    let report = model.invlpg(VirtualAddress::new(page.as_u64() + 0x1f_f000));
    assert_eq!(report.entries_removed, 2);
    assert_eq!(resident_total(&model), 0);
}

#[test]
fn invlpg_of_a_non_canonical_address_is_a_counted_no_operation() {
    let mut scenario = TwoProcesses::new();
    let report = scenario
        .model
        .invlpg(VirtualAddress::new(0x8000_0000_0000 | PRIVATE));
    assert_eq!(
        report,
        FlushReport {
            invalidated: true,
            entries_removed: 0
        }
    );
    assert_eq!(resident_total(&scenario.model), 6);
    assert_eq!(
        scenario.model.counters().flush(FlushCause::Invlpg).events,
        1
    );
}

#[test]
fn invpcid_type_0_removes_one_address_of_the_given_pcid_and_spares_globals() {
    let mut scenario = TwoProcesses::new();
    let one = pcid(1);
    let private = Invpcid::IndividualAddress {
        pcid: one,
        address: VirtualAddress::new(PRIVATE),
    };
    assert_eq!(scenario.model.invpcid(private).entries_removed, 2);
    let shared = Invpcid::IndividualAddress {
        pcid: one,
        address: VirtualAddress::new(SHARED_BASE),
    };
    assert_eq!(scenario.model.invpcid(shared).entries_removed, 0);
    assert_eq!(resident_total(&scenario.model), 4);
    assert!(!scenario.process_one_private_cached());
    assert!(matches!(scenario.touch(PRIVATE), Outcome::L1Hit(_)));
    assert_eq!(
        scenario
            .model
            .counters()
            .flush(FlushCause::InvpcidIndividualAddress),
        FlushCount {
            events: 2,
            entries_removed: 2
        }
    );
}

#[test]
fn invpcid_type_1_removes_every_non_global_entry_of_the_given_pcid() {
    let mut scenario = TwoProcesses::new();
    let report = scenario
        .model
        .invpcid(Invpcid::SingleContext { pcid: pcid(2) });
    assert_eq!(report.entries_removed, 2);
    assert!(matches!(scenario.touch(SHARED_BASE), Outcome::L1Hit(_)));
    assert!(scenario.process_one_private_cached());
    assert_eq!(
        scenario
            .model
            .counters()
            .flush(FlushCause::InvpcidSingleContext)
            .events,
        1
    );
}

#[test]
fn invpcid_type_2_removes_everything_including_globals() {
    let mut scenario = TwoProcesses::new();
    assert_eq!(
        scenario
            .model
            .invpcid(Invpcid::AllIncludingGlobal)
            .entries_removed,
        6
    );
    assert_eq!(resident_total(&scenario.model), 0);
    assert_eq!(
        scenario
            .model
            .counters()
            .flush(FlushCause::InvpcidAllIncludingGlobal),
        FlushCount {
            events: 1,
            entries_removed: 6
        }
    );
}

#[test]
fn invpcid_type_3_removes_everything_except_globals() {
    let mut scenario = TwoProcesses::new();
    assert_eq!(
        scenario
            .model
            .invpcid(Invpcid::AllExceptGlobal)
            .entries_removed,
        4
    );
    assert_eq!(resident_total(&scenario.model), 2);
    assert!(matches!(scenario.touch(SHARED_BASE), Outcome::L1Hit(_)));
    assert_eq!(
        scenario
            .model
            .counters()
            .flush(FlushCause::InvpcidAllExceptGlobal)
            .entries_removed,
        4
    );
}

#[test]
fn invpcid_decoding_applies_the_instructions_fault_checks() {
    let canonical = 0x40_0000;
    assert_eq!(
        Invpcid::decode(0, 5, canonical, true),
        Ok(Invpcid::IndividualAddress {
            pcid: pcid(5),
            address: VirtualAddress::new(canonical)
        })
    );
    assert_eq!(
        Invpcid::decode(1, 7, 0, true),
        Ok(Invpcid::SingleContext { pcid: pcid(7) })
    );
    assert_eq!(
        Invpcid::decode(2, 0, 0, false),
        Ok(Invpcid::AllIncludingGlobal)
    );
    assert_eq!(
        Invpcid::decode(3, 0, 0, false),
        Ok(Invpcid::AllExceptGlobal)
    );
    assert_eq!(
        Invpcid::decode(4, 0, 0, true),
        Err(InvpcidError::UnknownType(4))
    );
    assert_eq!(
        Invpcid::decode(1, 1 << 12, 0, true),
        Err(InvpcidError::ReservedDescriptorBits)
    );
    assert_eq!(
        Invpcid::decode(0, 1, 0x8000_0000_0000, true),
        Err(InvpcidError::NonCanonicalAddress)
    );
    assert_eq!(
        Invpcid::decode(1, 1, 0, false),
        Err(InvpcidError::PcidWithoutPcide)
    );
    assert_eq!(
        Invpcid::decode(0, 1, 0, false),
        Err(InvpcidError::PcidWithoutPcide)
    );
    assert_eq!(
        Invpcid::decode(1, 0, 0, false),
        Ok(Invpcid::SingleContext { pcid: Pcid::ZERO })
    );
}

#[test]
fn changing_cr4_pge_flushes_everything_including_globals() {
    let mut scenario = TwoProcesses::new();
    let report = scenario.model.write_cr4(CR4_PCIDE);
    assert_eq!(
        report,
        FlushReport {
            invalidated: true,
            entries_removed: 6
        }
    );
    assert_eq!(resident_total(&scenario.model), 0);
    // Setting it again flushes again (nothing is left to remove).
    assert!(matches!(scenario.touch(SHARED_BASE), Outcome::Walked(_)));
    let report = scenario.model.write_cr4(CR4_PCIDE | CR4_PGE);
    assert_eq!(
        report,
        FlushReport {
            invalidated: true,
            entries_removed: 2
        }
    );
    let counters = scenario.model.counters();
    assert_eq!(counters.cr4_writes, 2);
    assert_eq!(
        counters.flush(FlushCause::Cr4Write),
        FlushCount {
            events: 2,
            entries_removed: 8
        }
    );
}

#[test]
fn clearing_cr4_pcide_flushes_everything_and_setting_it_flushes_nothing() {
    let mut scenario = TwoProcesses::new();
    let report = scenario.model.write_cr4(CR4_PGE);
    assert_eq!(report.entries_removed, 6);
    assert_eq!(scenario.model.current_pcid(), Pcid::ZERO);

    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    tables.map(
        root,
        VirtualAddress::new(PRIVATE),
        PageSize::Size4KiB,
        PhysicalAddress::new(0),
        false,
    );
    let mut model = skylake();
    model.write_cr3(root.as_u64());
    data(&mut model, PRIVATE, tables.memory());
    let report = model.write_cr4(CR4_PCIDE);
    assert_eq!(
        report,
        FlushReport {
            invalidated: false,
            entries_removed: 0
        }
    );
    // PCID 000H's entries stay usable: CR3[11:0] is 0.
    assert!(matches!(
        data(&mut model, PRIVATE, tables.memory()),
        Outcome::L1Hit(_)
    ));
}

#[test]
fn setting_cr4_smep_flushes_the_current_pcid_only() {
    let mut scenario = TwoProcesses::new();
    let report = scenario.model.write_cr4(CR4_PGE | CR4_PCIDE | CR4_SMEP);
    // PRIVATE@2 goes; PRIVATE@1 and the global entry (filled under PCID 1) stay.
    assert_eq!(report.entries_removed, 2);
    assert!(matches!(scenario.touch(SHARED_BASE), Outcome::L1Hit(_)));
    assert!(scenario.process_one_private_cached());
    // Clearing SMEP flushes nothing.
    let report = scenario.model.write_cr4(CR4_PGE | CR4_PCIDE);
    assert!(!report.invalidated);
}

#[test]
fn a_cr4_write_changing_no_relevant_bit_is_counted_but_flushes_nothing() {
    let mut scenario = TwoProcesses::new();
    let osfxsr = 1 << 9;
    let report = scenario.model.write_cr4(CR4_PGE | CR4_PCIDE | osfxsr);
    assert!(!report.invalidated);
    assert_eq!(resident_total(&scenario.model), 6);
    assert_eq!(scenario.model.counters().cr4_writes, 1);
    assert_eq!(
        scenario.model.counters().flush(FlushCause::Cr4Write).events,
        0
    );
}

#[test]
fn lru_eviction_order_is_exact_in_a_two_way_set() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    // Pages A, B, C all fall in the single set of a 2-entry, 2-way dTLB.
    let [a, b, c] = [0x1000, 0x2000, 0x3000];
    for page in [a, b, c] {
        tables.map(
            root,
            VirtualAddress::new(page),
            PageSize::Size4KiB,
            PhysicalAddress::new(page),
            false,
        );
    }
    let mut model = model("itlb=none,dtlb=2x2:4k,stlb=none");
    model.write_cr3(root.as_u64());
    let mut trace = String::new();
    for page in [a, b, a, c, b, a, a] {
        trace.push(match data(&mut model, page, tables.memory()) {
            Outcome::L1Hit(_) => 'h',
            Outcome::Walked(_) => 'w',
            other => panic!("unexpected {other:?}"),
        });
    }
    // A B fill; A hits (B is now LRU); C evicts B; B evicts A; A evicts C; A hits.
    assert_eq!(trace, "wwhwwwh");
    let counts = model.counters().data;
    assert_eq!(
        (counts.walks_4k, counts.l1_hits, counts.stlb_misses),
        (5, 2, 5)
    );
}

#[test]
fn an_stlb_hit_fills_the_l1() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    for page in [0x1000, 0x2000] {
        tables.map(
            root,
            VirtualAddress::new(page),
            PageSize::Size4KiB,
            PhysicalAddress::new(page),
            false,
        );
    }
    let mut model = model("itlb=none,dtlb=1x1:4k,stlb=4x4:4k");
    model.write_cr3(root.as_u64());
    let outcomes: Vec<Outcome> = [0x1000, 0x2000, 0x1000, 0x1000]
        .into_iter()
        .map(|page| data(&mut model, page, tables.memory()))
        .collect();
    assert!(matches!(outcomes[0], Outcome::Walked(_)));
    assert!(matches!(outcomes[1], Outcome::Walked(_)));
    assert!(matches!(outcomes[2], Outcome::StlbHit(_)));
    assert!(matches!(outcomes[3], Outcome::L1Hit(_)));
    let counts = model.counters().data;
    assert_eq!(
        (
            counts.l1_hits,
            counts.l1_misses,
            counts.stlb_hits,
            counts.stlb_misses
        ),
        (1, 3, 1, 2)
    );
}

#[test]
fn instruction_and_data_accesses_have_their_own_l1_and_share_the_stlb() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    tables.map(
        root,
        VirtualAddress::new(0x1000),
        PageSize::Size4KiB,
        PhysicalAddress::new(0x1000),
        false,
    );
    let mut model = skylake();
    model.write_cr3(root.as_u64());
    assert!(matches!(
        data(&mut model, 0x1000, tables.memory()),
        Outcome::Walked(_)
    ));
    assert!(matches!(
        fetch(&mut model, 0x1008, tables.memory()),
        Outcome::StlbHit(_)
    ));
    assert!(matches!(
        fetch(&mut model, 0x1010, tables.memory()),
        Outcome::L1Hit(_)
    ));
    let counters = model.counters();
    assert_eq!((counters.data.accesses, counters.data.walks_4k), (1, 1));
    assert_eq!(
        (
            counters.instruction.accesses,
            counters.instruction.stlb_hits,
            counters.instruction.l1_hits
        ),
        (2, 1, 1)
    );
    assert_eq!(counters.instruction.walks_4k, 0);
    assert_eq!(model.resident_entries(LevelName::InstructionTlb), 1);
}

#[test]
fn a_page_size_no_array_caches_is_walked_on_every_access() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    tables.map(
        root,
        VirtualAddress::new(0x20_0000),
        PageSize::Size2MiB,
        PhysicalAddress::new(0x20_0000),
        false,
    );
    let mut model = model("itlb=none,dtlb=4x4:4k,stlb=8x8:4k");
    model.write_cr3(root.as_u64());
    for _ in 0..3 {
        assert!(matches!(
            data(&mut model, 0x20_0000, tables.memory()),
            Outcome::Walked(_)
        ));
    }
    assert_eq!(model.counters().data.walks_2m, 3);
    assert_eq!(resident_total(&model), 0);
}

#[test]
fn counter_identities_hold_and_runs_are_deterministic() {
    let run = || {
        let mut tables = PageTableBuilder::new();
        let roots: Vec<PhysicalAddress> = (0..8).map(|_| tables.new_root()).collect();
        for (space, root) in roots.iter().enumerate() {
            for page in 0..200 {
                // Leave every seventh page unmapped so some walks fault.
                if page % 7 == 3 {
                    continue;
                }
                let address = VirtualAddress::new(PROCESS_BASE + page * PAGE_BYTES);
                let frame = PhysicalAddress::new(((space as u64 + 1) << 32) + page * PAGE_BYTES);
                tables.map(*root, address, PageSize::Size4KiB, frame, page % 5 == 0);
            }
            let large = VirtualAddress::new(0x40_0000_0000);
            tables.map(
                *root,
                large,
                PageSize::Size2MiB,
                PhysicalAddress::new(0x20_0000),
                false,
            );
        }
        let mut model = model("itlb=16x4:4k+4x4:2m/1g,dtlb=32x4:4k+8x8:2m/1g,stlb=256x8");
        model.write_cr4(CR4_PGE | CR4_PCIDE);
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..50_000u64 {
            // xorshift64: a fixed pseudo-random trace.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if step % 97 == 0 {
                let space = state % roots.len() as u64;
                let keep = if state & 1 == 0 { CR3_NO_FLUSH } else { 0 };
                model.write_cr3(roots[space as usize].as_u64() | (space + 1) | keep);
            }
            if step % 1009 == 0 {
                model.invlpg(VirtualAddress::new(
                    PROCESS_BASE + (state % 200) * PAGE_BYTES,
                ));
            }
            let address = match state % 11 {
                0 => 0x40_0000_0000 + (state >> 20) % (2 << 20),
                10 => 0x0000_9000_0000_0000,
                _ => PROCESS_BASE + (state >> 8) % (200 * PAGE_BYTES),
            };
            let kind = if state & 2 == 0 {
                AccessKind::Data
            } else {
                AccessKind::Instruction
            };
            model.access(kind, VirtualAddress::new(address), tables.memory());
        }
        *model.counters()
    };
    let first = run();
    assert_eq!(first, run());
    for counts in [first.instruction, first.data] {
        assert_eq!(
            counts.accesses,
            counts.l1_hits + counts.l1_misses + counts.non_canonical
        );
        assert_eq!(counts.l1_misses, counts.stlb_hits + counts.stlb_misses);
        assert_eq!(counts.stlb_misses, counts.total_walks());
        assert!(counts.faulting_walks > 0 && counts.walks_2m > 0 && counts.non_canonical > 0);
        assert!(counts.stlb_hits > 0 && counts.l1_hits > 0);
    }
}

#[test]
fn phases_count_only_their_own_events() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    tables.map(
        root,
        VirtualAddress::new(0x1000),
        PageSize::Size4KiB,
        PhysicalAddress::new(0x1000),
        false,
    );
    let mut model = skylake();
    assert_eq!(model.end_phase(), None);
    model.write_cr3(root.as_u64());
    data(&mut model, 0x1000, tables.memory());
    assert_eq!(model.begin_phase(1, "first"), None);
    data(&mut model, 0x1000, tables.memory());
    model.write_cr3(root.as_u64());
    // Beginning a phase while one is open ends it and returns its report.
    let first = model
        .begin_phase(2, "second")
        .expect("first phase was open");
    assert_eq!((first.id, first.name.as_str()), (1, "first"));
    assert_eq!(
        (first.counters.data.accesses, first.counters.data.l1_hits),
        (1, 1)
    );
    assert_eq!(first.counters.cr3_writes, 1);
    assert_eq!(
        first.counters.flush(FlushCause::Cr3Write),
        FlushCount {
            events: 1,
            entries_removed: 2
        }
    );
    assert_eq!(model.open_phase(), Some((2, "second")));
    data(&mut model, 0x1000, tables.memory());
    // A snapshot reports the counts so far and leaves the phase open.
    let snapshot = model.phase_snapshot().expect("second phase open");
    assert_eq!((snapshot.id, snapshot.name.as_str()), (2, "second"));
    assert_eq!(snapshot.counters.data.accesses, 1);
    data(&mut model, 0x1000, tables.memory());
    let second = model.end_phase().expect("second phase open");
    assert_eq!(second.counters.data.accesses, 2);
    assert_eq!(model.phase_snapshot(), None);
    assert_eq!(
        (second.counters.data.l1_hits, second.counters.data.walks_4k),
        (1, 1)
    );
    assert_eq!(second.counters.cr3_writes, 0);
    assert_eq!(model.counters().data.accesses, 4);
    assert_eq!(model.end_phase(), None);
}

#[test]
fn reset_counters_keeps_the_tlbs_and_reset_empties_them() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    tables.map(
        root,
        VirtualAddress::new(0x1000),
        PageSize::Size4KiB,
        PhysicalAddress::new(0x1000),
        false,
    );
    let mut model = skylake();
    model.write_cr3(root.as_u64());
    model.begin_phase(5, "open");
    data(&mut model, 0x1000, tables.memory());
    model.reset_counters();
    assert_eq!(*model.counters(), Default::default());
    assert!(matches!(
        data(&mut model, 0x1000, tables.memory()),
        Outcome::L1Hit(_)
    ));
    let report = model
        .end_phase()
        .expect("phase stays open across reset_counters");
    assert_eq!(
        (report.counters.data.accesses, report.counters.data.l1_hits),
        (1, 1)
    );

    model.begin_phase(6, "dropped");
    model.reset();
    assert_eq!(model.end_phase(), None);
    assert_eq!(resident_total(&model), 0);
    assert_eq!(model.control_registers().cr3, root.as_u64());
    assert!(matches!(
        data(&mut model, 0x1000, tables.memory()),
        Outcome::Walked(_)
    ));
}

#[test]
fn synchronizing_control_registers_flushes_and_counts_nothing() {
    let mut scenario = TwoProcesses::new();
    scenario
        .model
        .synchronize_control_registers(crate::model::ControlRegisters {
            cr3: scenario.cr3_one | CR3_NO_FLUSH,
            cr4: CR4_PCIDE,
        });
    assert_eq!(resident_total(&scenario.model), 6);
    assert_eq!(scenario.model.current_pcid(), pcid(1));
    assert_eq!(scenario.model.control_registers().cr3, scenario.cr3_one);
    assert_eq!(*scenario.model.counters(), Default::default());
}
