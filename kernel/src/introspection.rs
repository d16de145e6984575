//! Introspection of the global segment: a report of every binary and address space, and the
//! invariant check the tests use.
//!
//! The invariants (DESIGN.md, "Address space"): every address space maps every shared read-only
//! page of the window to the same frame with the same flags; G is set exactly in global mode;
//! no window frame is writable in any address space; with `share_tables=on` every address space
//! links the very same directory and table frames for what it does not own privately, and with
//! `share_tables=off` none.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;

use x86_64::VirtAddr;
use x86_64::structures::paging::{PageTableFlags, PhysFrame};

use crate::mm::address_space::AddressSpace;
use crate::mm::global_segment::{self, BinaryInfo, Mode, WINDOW_PML4_INDEX};
use crate::mm::paging::window;
use crate::process::scheduler;

/// Flags a leaf comparison looks at.
const COMPARED_FLAGS: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::USER_ACCESSIBLE)
    .union(PageTableFlags::NO_EXECUTE)
    .union(PageTableFlags::GLOBAL)
    .union(PageTableFlags::HUGE_PAGE);

/// Returns the window PDPT of `space`.
pub fn window_pdpt(space: &AddressSpace) -> Option<PhysFrame> {
    window::entry(space.root_frame(), WINDOW_PML4_INDEX).map(|(address, _)| PhysFrame::containing_address(address))
}

/// Checks one address space of a process of binary `name` against the registry.
///
/// # Errors
/// Returns a description of the first broken invariant.
pub fn check_space(space: &AddressSpace, name: &str, mode: Mode, binaries: &[BinaryInfo]) -> Result<(), String> {
    for expected in global_segment::expected_mappings() {
        let Some(found) = space.translate(VirtAddr::new(expected.address)) else {
            return Err(format!("{:#x} unmapped", expected.address));
        };
        if found.physical != expected.physical || (found.flags & COMPARED_FLAGS) != (expected.flags & COMPARED_FLAGS) {
            return Err(format!("{:#x} maps {:#x} {:?}, expected {:#x} {:?}", expected.address, found.physical.as_u64(), found.flags & COMPARED_FLAGS, expected.physical.as_u64(), expected.flags));
        }
        if found.flags.contains(PageTableFlags::WRITABLE) {
            return Err(format!("window frame at {:#x} is writable", expected.address));
        }
        if found.flags.contains(PageTableFlags::GLOBAL) != mode.global {
            return Err(format!("{:#x}: G={} in mode {mode}", expected.address, found.flags.contains(PageTableFlags::GLOBAL)));
        }
    }
    let Some(pdpt) = window_pdpt(space) else { return Err("no window PDPT".into()) };
    let own_slot = binaries.iter().find(|binary| binary.name == name).map(|binary| binary.slot);
    for (slot, directory, tables) in global_segment::shared_table_frames() {
        let Some((linked, _)) = window::entry(pdpt, slot) else { return Err(format!("slot {slot} missing")) };
        if Some(slot) == own_slot {
            if linked == directory {
                return Err(format!("slot {slot}: the process's own binary uses the shared directory"));
            }
            let own_directory = PhysFrame::containing_address(linked);
            for (index, table) in tables {
                let Some((found, _)) = window::entry(own_directory, index) else { return Err("read-only region missing".into()) };
                if (found == table) != mode.share_tables {
                    return Err(format!("slot {slot} region {index}: shared table linked={} in mode {mode}", found == table));
                }
            }
        } else if (linked == directory) != mode.share_tables {
            return Err(format!("slot {slot}: shared directory linked={} in mode {mode}", linked == directory));
        }
    }
    Ok(())
}


/// Counts the page-table frames reachable from `space`'s window entry that it shares with the
/// registry (the template directories and shared tables), and the window frames it maps.
fn shared_counts(space: &AddressSpace) -> (usize, usize) {
    let Some(pdpt) = window_pdpt(space) else { return (0, 0) };
    let mut shared = 0;
    for (slot, directory, tables) in global_segment::shared_table_frames() {
        let Some((linked, _)) = window::entry(pdpt, slot) else { continue };
        if linked == directory {
            shared += 1 + tables.len();
        } else {
            let own = PhysFrame::containing_address(linked);
            shared += tables.iter().filter(|(index, table)| window::entry(own, *index).is_some_and(|(found, _)| found == *table)).count();
        }
    }
    let mapped = global_segment::expected_mappings()
        .iter()
        .filter(|expected| space.translate(VirtAddr::new(expected.address)).is_some())
        .count();
    (shared, mapped)
}

/// Prints the global-segment report: every loaded binary, every live address space (page-table
/// pages owned and shared, window frames mapped), and the invariant check.
pub fn print_report() {
    let mode = global_segment::mode();
    let binaries = global_segment::binaries();
    crate::println!("report: global segment, {mode}, {} binaries", binaries.len());
    for binary in &binaries {
        let digest: String = binary.digest.iter().take(8).map(|byte| format!("{byte:02x}")).collect();
        crate::println!(
            "report: slot {:>3} {:<22} read-only pages {:>5}  writable pages {:>3}  shared tables {:>3}  key {:>2}  users {:>5}  sha256 {digest}...",
            binary.slot, binary.name, binary.read_only_pages, binary.writable_pages, binary.shared_tables, binary.key, binary.users
        );
        if binary.large_regions > 0 {
            crate::println!(
                "report: slot {:>3} {:<22} 2 MiB pages {:>3}  zeroed filler pages {:>5}",
                binary.slot, binary.name, binary.large_regions, binary.filler_pages
            );
        }
    }
    let mut spaces = 0;
    let mut broken = 0;
    let mut owned_total = 0;
    scheduler::for_each_space(|pid, name, space| {
        spaces += 1;
        let (shared, mapped) = shared_counts(space);
        owned_total += space.table_frames();
        let verdict = match check_space(space, name, mode, &binaries) {
            Ok(()) => String::from("invariants hold"),
            Err(problem) => {
                broken += 1;
                format!("BROKEN: {problem}")
            }
        };
        crate::println!(
            "report: process {pid:>6} {name:<16} page-table pages owned {:>3} shared {:>3}  window frames mapped {:>5}  {verdict}",
            space.table_frames(), shared, mapped
        );
    });
    crate::println!(
        "report: {spaces} address spaces, {owned_total} page-table pages owned in all, invariants {}",
        if broken == 0 { "hold in every address space" } else { "BROKEN" }
    );
}
