//! User address spaces at the page-table level: roots with the kernel half linked in, user
//! mappings, translation through any root, and the process kernel stacks.
//!
//! A user root is a fresh PML4 whose upper 256 entries are copied from the kernel's: they point
//! at the kernel's PDPTs, which `build_kernel_space` allocated once for every kernel slot, so the
//! kernel half is linked, never duplicated below the PML4. User mappings get their intermediate
//! tables from a [`TableSink`] that records them as `OwnedFrame`s in the owning address space, so
//! tearing the space down frees them; the kernel half's tables are never in such a list.

use alloc::vec::Vec;

use x86_64::structures::paging::mapper::{MappedFrame, TranslateResult};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, Page, PageSize, PageTableFlags, PhysFrame, Size1GiB,
    Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::{KERNEL_ROOT, MapError, Translation, table_pointer, with_mapper};
use crate::arch::x86_64::tlb;
use crate::mm::frame::{self, OwnedFrame};
use crate::mm::layout::{self, KERNEL_HALF_FIRST_SLOT, PAGE_BYTES, PROCESS_KERNEL_STACK_BYTES};

/// Number of entries in one page table.
const ENTRIES_PER_TABLE: usize = 512;

/// Flags of intermediate entries in the user half: the leaves decide the permissions.
const USER_TABLE_FLAGS: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::USER_ACCESSIBLE);

/// Hands fresh zeroed frames to the mapper for user page tables and records them.
struct TableSink<'a> {
    tables: &'a mut Vec<OwnedFrame>,
}

// SAFETY: each frame comes from the allocator, is exclusively owned (the `OwnedFrame` goes into
// the address space's table list), and is unused until the mapper links it.
unsafe impl FrameAllocator<Size4KiB> for TableSink<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let frame = frame::allocate()?;
        let physical = PhysFrame::containing_address(frame.start_address());
        self.tables.push(frame);
        Some(physical)
    }
}

/// Creates a user root: a zeroed PML4 with the kernel half linked in.
///
/// # Errors
/// Returns [`MapError::OutOfFrames`].
pub fn new_user_root() -> Result<OwnedFrame, MapError> {
    let kernel_root = (*KERNEL_ROOT.lock()).ok_or(MapError::OutOfRegion { address: 0 })?;
    let root = frame::allocate_zeroed().ok_or(MapError::OutOfFrames)?;
    let root_frame = PhysFrame::containing_address(root.start_address());
    // SAFETY: `root` is a fresh frame we own exclusively; the kernel root is only read here and
    // its upper half never changes after boot (every kernel PDPT exists from the start).
    unsafe {
        let new_table = &mut *table_pointer(root_frame);
        let kernel_table = &*table_pointer(kernel_root);
        for slot in KERNEL_HALF_FIRST_SLOT..ENTRIES_PER_TABLE {
            new_table[slot] = kernel_table[slot].clone();
        }
    }
    Ok(root)
}

/// Returns the page-table frame of `root`.
fn root_frame(root: &OwnedFrame) -> PhysFrame {
    PhysFrame::containing_address(root.start_address())
}

/// Maps user page `page` to `frame` with `flags` (USER is added) in the space rooted at `root`,
/// taking any new intermediate tables into `tables`.
///
/// # Errors
/// Returns [`MapError::OutOfRegion`] for a non-user address, [`MapError::AlreadyMapped`], or
/// [`MapError::OutOfFrames`].
pub fn map_user_page(
    root: &OwnedFrame,
    page: Page<Size4KiB>,
    frame: &OwnedFrame,
    flags: PageTableFlags,
    tables: &mut Vec<OwnedFrame>,
) -> Result<(), MapError> {
    let address = page.start_address().as_u64();
    if !(layout::USER_PRIVATE_START..layout::USER_END).contains(&address) {
        return Err(MapError::OutOfRegion { address });
    }
    let mut sink = TableSink { tables };
    let target = PhysFrame::containing_address(frame.start_address());
    with_mapper(root_frame(root), |mapper| {
        // SAFETY: the page is in the user half of this space (checked above), the frame is one
        // the caller owns for the life of the mapping, and the root is not the one the kernel
        // half is edited through.
        let flush = unsafe {
            mapper.map_to_with_table_flags(page, target, flags | PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE, USER_TABLE_FLAGS, &mut sink)
        }?;
        // A new mapping of a page that was not present: nothing stale can be cached for it.
        flush.ignore();
        Ok(())
    })
}

/// Changes the flags of the mapped user page `page` in the space rooted at `root` and flushes
/// its translation (the space is the active one: the caller's).
///
/// # Errors
/// Returns [`MapError::OutOfRegion`] when the page is not mapped.
pub fn update_user_page_flags(root: &OwnedFrame, page: Page<Size4KiB>, flags: PageTableFlags) -> Result<(), MapError> {
    let address = page.start_address().as_u64();
    with_mapper(root_frame(root), |mapper| {
        // SAFETY: only the leaf flags of a user page change; the frame stays the same, owned by
        // the address space. The stale translation is flushed right after.
        let flush = unsafe { mapper.update_flags(page, flags | PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE) }
            .map_err(|_| MapError::OutOfRegion { address })?;
        flush.flush();
        Ok(())
    })
}

/// Translates `address` through the tables rooted at `root`.
pub fn translate_in(root: &OwnedFrame, address: VirtAddr) -> Option<Translation> {
    translate_root(root_frame(root), address)
}

/// Translates `address` through the tables rooted at `root`.
pub(super) fn translate_root(root: PhysFrame, address: VirtAddr) -> Option<Translation> {
    with_mapper(root, |mapper| match mapper.translate(address) {
        TranslateResult::Mapped { frame, offset, flags } => {
            let (base, page_bytes) = match frame {
                MappedFrame::Size4KiB(frame) => (frame.start_address(), Size4KiB::SIZE),
                MappedFrame::Size2MiB(frame) => (frame.start_address(), Size2MiB::SIZE),
                MappedFrame::Size1GiB(frame) => (frame.start_address(), Size1GiB::SIZE),
            };
            Some(Translation { physical: base + offset, flags, page_bytes })
        }
        _ => None,
    })
}

/// Copies `bytes` to physical RAM at `physical`, which must belong to a frame the kernel owns
/// on behalf of a process (user copy-out after validation).
pub(crate) fn write_physical(physical: PhysAddr, bytes: &[u8]) {
    let pointer: *mut u8 = layout::direct_map(physical.as_u64()).as_mut_ptr();
    // SAFETY: callers (`mm::user_copy`) pass an address they just translated through the
    // current process's tables with user and write permission, so it lies in a frame the
    // process's address space owns; on one CPU with the process in a system call, nothing
    // else accesses it. The direct map covers it; no Rust reference to it exists.
    unsafe { core::ptr::copy_nonoverlapping(bytes.as_ptr(), pointer, bytes.len()) };
}

/// A process's kernel stack: mapped at its slot in the kernel-stack region above a guard page;
/// unmapped and freed on drop.
#[derive(Debug)]
pub struct KernelStack {
    index: u64,
    frames: Vec<OwnedFrame>,
}

impl KernelStack {
    /// Maps the kernel stack of slot `index` (1..=MAX_PROCESSES; 0 is the boot stack).
    ///
    /// # Errors
    /// Returns [`MapError::OutOfFrames`] or [`MapError::OutOfRegion`] for a bad index.
    pub fn new(index: u64) -> Result<KernelStack, MapError> {
        if index == 0 || index > layout::MAX_PROCESSES {
            return Err(MapError::OutOfRegion { address: layout::kernel_stack_bottom(index).as_u64() });
        }
        let root = (*KERNEL_ROOT.lock()).ok_or(MapError::OutOfRegion { address: 0 })?;
        let bottom = layout::kernel_stack_bottom(index);
        let pages = PROCESS_KERNEL_STACK_BYTES / PAGE_BYTES;
        let mut stack = KernelStack { index, frames: Vec::with_capacity(pages as usize) };
        let flags = super::kernel_leaf_flags(true, false);
        for page_index in 0..pages {
            let frame = frame::allocate().ok_or(MapError::OutOfFrames)?;
            let page = Page::<Size4KiB>::containing_address(bottom + page_index * PAGE_BYTES);
            let target = PhysFrame::containing_address(frame.start_address());
            stack.frames.push(frame);
            with_mapper(root, |mapper| -> Result<(), MapError> {
                // The kernel-stack region's page tables exist from boot (`build_kernel_space`),
                // so mapping here never allocates a table.
                let mut no_tables = NoTables;
                // SAFETY: the slot's pages are reserved for this stack by `layout.rs`, unmapped
                // (the previous owner's `Drop` unmapped and flushed them), and the frame is ours.
                let flush = unsafe { mapper.map_to_with_table_flags(page, target, flags, super::KERNEL_TABLE_FLAGS, &mut no_tables) }?;
                flush.ignore();
                Ok(())
            })?;
        }
        Ok(stack)
    }

    /// Returns the top of the stack (16-byte aligned).
    pub fn top(&self) -> VirtAddr {
        layout::kernel_stack_bottom(self.index) + PROCESS_KERNEL_STACK_BYTES
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let Some(root) = *KERNEL_ROOT.lock() else { return };
        let bottom = layout::kernel_stack_bottom(self.index);
        for page_index in 0..self.frames.len() as u64 {
            let page = Page::<Size4KiB>::containing_address(bottom + page_index * PAGE_BYTES);
            with_mapper(root, |mapper| {
                if let Ok((_, flush)) = mapper.unmap(page) {
                    // The entry was global: INVLPG drops it for every PCID.
                    flush.ignore();
                    tlb::flush_page(page.start_address());
                }
            });
        }
        // The frames return to the allocator as `self.frames` drops, after the unmapping.
    }
}

/// A frame source that never gives a frame: for mappings whose tables must already exist.
struct NoTables;

// SAFETY: it never returns a frame.
unsafe impl FrameAllocator<Size4KiB> for NoTables {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        None
    }
}

/// Creates the page tables of the whole kernel-stack region for every process slot, so that
/// mapping and unmapping process stacks later never allocates or frees a table.
pub(super) fn preallocate_kernel_stack_tables(root: PhysFrame) -> Result<(), MapError> {
    let first = layout::KERNEL_STACKS_START;
    let end = layout::KERNEL_STACKS_START + (layout::MAX_PROCESSES + 1) * layout::KERNEL_STACK_SLOT_BYTES;
    let mut address = first;
    while address < end {
        ensure_page_table(root, VirtAddr::new(address))?;
        address += layout::LARGE_PAGE_BYTES;
    }
    Ok(())
}

/// Makes sure the PD and PT that translate `address` exist in the kernel tables at `root`.
fn ensure_page_table(root: PhysFrame, address: VirtAddr) -> Result<(), MapError> {
    // SAFETY: boot-time edit of the kernel's own (not yet active) tables through the direct map;
    // only this single-threaded boot path touches them.
    let pml4 = unsafe { &mut *table_pointer(root) };
    let pdpt_frame = pml4[address.p4_index()].frame().map_err(|_| MapError::OutOfRegion { address: address.as_u64() })?;
    // SAFETY: as above; the PDPT was allocated by `build_kernel_space`.
    let pdpt = unsafe { &mut *table_pointer(pdpt_frame) };
    let pd_frame = next_table(&mut pdpt[address.p3_index()])?;
    // SAFETY: as above.
    let pd = unsafe { &mut *table_pointer(pd_frame) };
    next_table(&mut pd[address.p2_index()])?;
    Ok(())
}

/// Returns the table `entry` points to, allocating a zeroed one if the entry is empty.
fn next_table(entry: &mut x86_64::structures::paging::page_table::PageTableEntry) -> Result<PhysFrame, MapError> {
    if entry.is_unused() {
        let table = frame::allocate_zeroed().ok_or(MapError::OutOfFrames)?.leak();
        super::count_kernel_table();
        entry.set_frame(table, super::KERNEL_TABLE_FLAGS);
    }
    entry.frame().map_err(|_| MapError::HugePageInTheWay { address: 0 })
}
