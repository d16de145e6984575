//! The page walker and the model's counting of walks (Intel SDM vol. 3A §4.5, §4.10.2.2).

use super::{data, model};
use crate::address::{PageSize, PagingLevel, PhysicalAddress, VirtualAddress};
use crate::geometry::LevelName;
use crate::model::{CR4_PGE, Outcome};
use crate::synthetic::{PageTableBuilder, SyntheticMemory};
use crate::walk::{self, Mapping, WalkFault};

/// A geometry with one small array per level, caching every page size.
const SMALL: &str = "itlb=4x4,dtlb=4x4,stlb=16x4";

#[test]
fn a_4kib_walk_reads_four_entries_and_translates_the_offset() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    let address = VirtualAddress::new(0x7f12_3456_7abc);
    tables.map(
        root,
        address,
        PageSize::Size4KiB,
        PhysicalAddress::new(0x5_5000),
        false,
    );
    let walk = walk::walk(tables.memory(), root, address);
    assert_eq!(walk.memory_references, 4);
    let mapping = walk.result.expect("mapped");
    assert_eq!(
        mapping,
        Mapping {
            page_size: PageSize::Size4KiB,
            physical_page: PhysicalAddress::new(0x5_5000),
            global_flag: false
        }
    );

    let mut model = model(SMALL);
    model.write_cr3(root.as_u64());
    let outcome = data(&mut model, address.as_u64(), tables.memory());
    let translation = outcome.translation().expect("translated");
    assert_eq!(
        translation.physical_address(address),
        PhysicalAddress::new(0x5_5abc)
    );
    let counts = model.counters().data;
    assert_eq!((counts.walks_4k, counts.walk_memory_references), (1, 4));
}

#[test]
fn a_2mib_page_is_found_at_the_page_directory_in_three_references() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    let page = VirtualAddress::new(0x4020_0000);
    tables.map(
        root,
        page,
        PageSize::Size2MiB,
        PhysicalAddress::new(0x60_0000),
        true,
    );
    let mut model = model(SMALL);
    model.write_cr4(CR4_PGE);
    model.write_cr3(root.as_u64());
    let inside = page.as_u64() + 0x1_2345;
    let Outcome::Walked(translation) = data(&mut model, inside, tables.memory()) else {
        panic!("expected a walk");
    };
    assert_eq!(translation.page_size, PageSize::Size2MiB);
    assert!(translation.global);
    assert_eq!(
        translation.physical_address(VirtualAddress::new(inside)),
        PhysicalAddress::new(0x61_2345)
    );
    // Another 4 KiB page of the same 2 MiB page hits the 2 MiB entry.
    assert!(matches!(
        data(&mut model, page.as_u64() + 0x1f_f000, tables.memory()),
        Outcome::L1Hit(_)
    ));
    let counts = model.counters().data;
    assert_eq!(
        (
            counts.walks_2m,
            counts.walks_4k,
            counts.walk_memory_references
        ),
        (1, 0, 3)
    );
    assert_eq!(counts.l1_hits, 1);
}

#[test]
fn a_1gib_page_is_found_at_the_pdpt_in_two_references() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    let page = VirtualAddress::new(0x80_4000_0000);
    tables.map(
        root,
        page,
        PageSize::Size1GiB,
        PhysicalAddress::new(0x4000_0000),
        false,
    );
    let mut model = model(SMALL);
    model.write_cr3(root.as_u64());
    let Outcome::Walked(translation) =
        data(&mut model, page.as_u64() + 0x3fff_fff8, tables.memory())
    else {
        panic!("expected a walk");
    };
    assert_eq!(translation.page_size, PageSize::Size1GiB);
    assert!(!translation.global);
    assert!(matches!(
        data(&mut model, page.as_u64(), tables.memory()),
        Outcome::L1Hit(_)
    ));
    let counts = model.counters().data;
    assert_eq!(
        (
            counts.walks_1g,
            counts.walk_memory_references,
            counts.l1_hits
        ),
        (1, 2, 1)
    );
}

#[test]
fn the_g_flag_makes_an_entry_global_only_while_cr4_pge_is_set() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    tables.map(
        root,
        VirtualAddress::new(0x1000),
        PageSize::Size4KiB,
        PhysicalAddress::new(0x1000),
        true,
    );
    let mut model = model(SMALL);
    model.write_cr3(root.as_u64());
    let Outcome::Walked(translation) = data(&mut model, 0x1000, tables.memory()) else {
        panic!("expected a walk");
    };
    assert!(!translation.global, "PGE is clear");
}

#[test]
fn a_walk_through_an_empty_root_faults_after_one_reference_and_caches_nothing() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    let mut model = model(SMALL);
    model.write_cr3(root.as_u64());
    for _ in 0..2 {
        assert_eq!(
            data(&mut model, 0x1000, tables.memory()),
            Outcome::Faulted(WalkFault::NotPresent(PagingLevel::Pml4))
        );
    }
    let counts = model.counters().data;
    assert_eq!(
        (
            counts.faulting_walks,
            counts.stlb_misses,
            counts.walk_memory_references
        ),
        (2, 2, 2)
    );
    assert_eq!(counts.walks_4k + counts.walks_2m + counts.walks_1g, 0);
    for level in LevelName::ALL {
        assert_eq!(model.resident_entries(level), 0);
    }
}

#[test]
fn an_unmapped_leaf_faults_at_the_page_table_after_four_references() {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    let address = VirtualAddress::new(0x20_3000);
    tables.map(
        root,
        address,
        PageSize::Size4KiB,
        PhysicalAddress::new(0x9000),
        false,
    );
    tables.unmap(root, address, PageSize::Size4KiB);
    let mut model = model(SMALL);
    model.write_cr3(root.as_u64());
    assert_eq!(
        data(&mut model, address.as_u64(), tables.memory()),
        Outcome::Faulted(WalkFault::NotPresent(PagingLevel::PageTable))
    );
    let counts = model.counters().data;
    assert_eq!(
        (counts.faulting_walks, counts.walk_memory_references),
        (1, 4)
    );
}

#[test]
fn ps_in_a_pml4_entry_is_a_reserved_bit_fault() {
    let mut memory = SyntheticMemory::new(1 << 30);
    let root = PhysicalAddress::new(0x1000);
    memory.write_u64(
        root,
        0x20_0000 | walk::ENTRY_PRESENT | walk::ENTRY_PAGE_SIZE,
    );
    let walk = walk::walk(&memory, root, VirtualAddress::new(0x1000));
    assert_eq!(walk.result, Err(WalkFault::ReservedBit(PagingLevel::Pml4)));
    assert_eq!(walk.memory_references, 1);
}

#[test]
fn a_table_outside_guest_memory_is_unreadable() {
    let memory = SyntheticMemory::new(1 << 20);
    let walk = walk::walk(
        &memory,
        PhysicalAddress::new(1 << 30),
        VirtualAddress::new(0x1000),
    );
    assert_eq!(walk.result, Err(WalkFault::Unreadable(PagingLevel::Pml4)));
    assert_eq!(walk.memory_references, 1);
}

#[test]
fn a_non_canonical_access_is_counted_without_lookup_or_walk() {
    let tables = PageTableBuilder::new();
    let mut model = model(SMALL);
    assert_eq!(
        data(&mut model, 0x0000_8000_0000_0000, tables.memory()),
        Outcome::NonCanonical
    );
    let counts = model.counters().data;
    assert_eq!(
        (
            counts.accesses,
            counts.non_canonical,
            counts.l1_misses,
            counts.stlb_misses
        ),
        (1, 1, 0, 0)
    );
}
