//! Raw page-table entries for the global-segment window, on frames the caller owns.
//!
//! `mm::global_segment` builds the window's tables by hand (it decides which tables are shared
//! between address spaces and which are private), so it needs entry-level access to tables in
//! frames it owns: write an entry, read one, copy a whole table, change the flags of every leaf.
//! Each function takes the owning `OwnedFrame` (mutably to write), which is what makes the access
//! exclusive on the kernel side; the CPU's page walker may read concurrently, which is how page
//! tables always work (changes that remove or restrict a translation are followed by a flush by
//! the caller).

use x86_64::PhysAddr;
use x86_64::structures::paging::{PageTable, PageTableFlags, PhysFrame};

use super::table_pointer;
use crate::mm::frame::OwnedFrame;

/// Number of entries in a page table.
pub const ENTRIES: usize = 512;

fn frame_of(table: &OwnedFrame) -> PhysFrame {
    PhysFrame::containing_address(table.start_address())
}

fn table_mut(table: &mut OwnedFrame) -> &mut PageTable {
    // SAFETY: `table` is exclusively owned (`&mut OwnedFrame`), covered by the direct map, and
    // holds a page table (callers only pass table frames); a PageTable is any 4 KiB of bits.
    unsafe { &mut *table_pointer(frame_of(table)) }
}

fn table_ref(table: PhysFrame) -> &'static PageTable {
    // SAFETY: callers pass frames of tables the kernel keeps alive while it reads them (shared
    // window tables owned by the registry, or the caller's own); reads of entries are plain
    // 8-byte loads of bits that are always a valid `PageTableEntry`.
    unsafe { &*table_pointer(table) }
}

/// Writes entry `index` of `table`: `target` with `flags`.
pub fn set_entry(table: &mut OwnedFrame, index: usize, target: PhysAddr, flags: PageTableFlags) {
    table_mut(table)[index].set_addr(target, flags);
}

/// Clears entry `index` of `table`.
pub fn clear_entry(table: &mut OwnedFrame, index: usize) {
    table_mut(table)[index].set_unused();
}

/// Returns entry `index` of the table in `table` as (address, flags), `None` when not present.
pub fn entry(table: PhysFrame, index: usize) -> Option<(PhysAddr, PageTableFlags)> {
    let entry = &table_ref(table)[index];
    entry.flags().contains(PageTableFlags::PRESENT).then(|| (entry.addr(), entry.flags()))
}

/// Copies all 512 entries of the table in `source` into `destination`.
pub fn copy_table(source: PhysFrame, destination: &mut OwnedFrame) {
    crate::mm::frame::count_copied(4096);
    let source = table_ref(source);
    let destination = table_mut(destination);
    for index in 0..ENTRIES {
        destination[index] = source[index].clone();
    }
}

/// Copies `bytes` into the frame `page` at byte `offset`.
///
/// # Panics
/// Panics if the range leaves the frame (a kernel bug, never user input).
pub fn write_into(page: &mut OwnedFrame, offset: usize, bytes: &[u8]) {
    const PAGE_BYTES: usize = 4096;
    assert!(offset + bytes.len() <= PAGE_BYTES, "write past the end of a frame");
    let pointer: *mut u8 = crate::mm::layout::direct_map(page.start_address().as_u64() + offset as u64).as_mut_ptr();
    // SAFETY: the frame is exclusively owned (`&mut OwnedFrame`), the range stays inside it
    // (asserted), and the direct map covers it; no Rust reference to its bytes exists.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), pointer, bytes.len()) };
}

/// Copies the whole frame `source` into `destination`.
pub fn copy_frame(source: &OwnedFrame, destination: &mut OwnedFrame) {
    crate::mm::frame::count_copied(4096);
    let from: *const u8 = crate::mm::layout::direct_map(source.start_address().as_u64()).as_ptr();
    let to: *mut u8 = crate::mm::layout::direct_map(destination.start_address().as_u64()).as_mut_ptr();
    // SAFETY: two distinct frames (one owned exclusively, one borrowed and only read), both
    // covered by the direct map, each 4 KiB.
    unsafe { core::ptr::copy_nonoverlapping(from, to, 4096) };
}

/// Sets or clears `flag` on every present entry of `table` (leaves: the G bit on a mode change).
pub fn set_flag_on_present_entries(table: &mut OwnedFrame, flag: PageTableFlags, on: bool) {
    for index in 0..ENTRIES {
        set_flag_on_entry(table, index, flag, on);
    }
}

/// Sets or clears `flag` on entry `index` of `table` when it is present (a 2 MiB leaf's G bit
/// in a page directory on a mode change).
pub fn set_flag_on_entry(table: &mut OwnedFrame, index: usize, flag: PageTableFlags, on: bool) {
    let entry = &mut table_mut(table)[index];
    let flags = entry.flags();
    if flags.contains(PageTableFlags::PRESENT) {
        let new_flags = if on { flags | flag } else { flags - flag };
        let address = entry.addr();
        entry.set_addr(address, new_flags);
    }
}
