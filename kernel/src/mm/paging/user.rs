//! User address spaces at the page-table level: roots with the kernel half linked in, user
//! mappings, translation through any root, teardown, and the process kernel stacks.
//!
//! A user root is a fresh PML4 whose upper 256 entries are copied from the kernel's: they point
//! at the kernel's PDPTs, which `build_kernel_space` allocated once for every kernel slot, so the
//! kernel half is linked, never duplicated below the PML4.
//!
//! **The page tables are the record of what a process owns.** An entry whose frame (a page, or
//! the next-level table) belongs to the address space carries the software bit [`OWNED`] (bit 9,
//! which the MMU ignores at every level); entries that point at shared frames (the global
//! segment's read-only pages and shared tables) never do. [`free_user_half`] walks the user half
//! and frees exactly the owned frames, so per-process bookkeeping costs no kernel heap however
//! much memory a process maps: the frames it already pays for hold the list.

use x86_64::structures::paging::mapper::{MappedFrame, TranslateResult};
use x86_64::structures::paging::{
    FrameAllocator, Mapper, Page, PageSize, PageTableFlags, PhysFrame, Size1GiB,
    Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::{KERNEL_ROOT, MapError, Translation, table_pointer, with_mapper};
use crate::arch::x86_64::context::FpuState;
use crate::arch::x86_64::tlb;
use crate::mm::frame::{self, OwnedFrame};
use crate::mm::layout::{self, KERNEL_HALF_FIRST_SLOT, PAGE_BYTES, PROCESS_KERNEL_STACK_BYTES};

/// Number of entries in one page table.
const ENTRIES_PER_TABLE: usize = 512;

/// Software bit of a user-half entry: the frame it points to (page or next-level table) is owned
/// by the address space and is freed with it. The MMU ignores bit 9 in entries of every level
/// (Intel SDM vol. 3A §4.5, tables 4-15 to 4-20).
pub const OWNED: PageTableFlags = PageTableFlags::BIT_9;

/// Flags of intermediate entries in the user half: the leaves decide the permissions. The tables
/// the mapper creates here are always the address space's own.
const USER_TABLE_FLAGS: PageTableFlags = PageTableFlags::PRESENT
    .union(PageTableFlags::WRITABLE)
    .union(PageTableFlags::USER_ACCESSIBLE)
    .union(OWNED);

/// Flags of an entry that links a page table owned by the address space.
pub const OWNED_TABLE_FLAGS: PageTableFlags = USER_TABLE_FLAGS;

/// Writes entry `index` of the user page table at `table` to point at `frame` with `flags`
/// (which carry [`OWNED`]), passing the frame's ownership into the page tables. Returns the
/// frame's address.
///
/// The caller (`AddressSpace`) guarantees that `table` is a table of a user address space it
/// owns exclusively (its root, or a table it linked with this function), not shared with any
/// other space, and that the entry is free or may be replaced (a copied template entry that
/// pointed at a shared frame).
pub(in crate::mm) fn link_owned(table: PhysAddr, index: usize, frame: OwnedFrame, flags: PageTableFlags) -> PhysAddr {
    debug_assert!(flags.contains(OWNED | PageTableFlags::PRESENT));
    debug_assert!(index < ENTRIES_PER_TABLE && table.as_u64().is_multiple_of(PAGE_BYTES));
    let frame = frame.leak();
    // SAFETY: `table` is a page table the calling address space owns exclusively (see above), so
    // no other code holds a reference into it; the direct map covers it. The old entry pointed
    // at nothing the space owned (a fresh table is zeroed; a template entry is shared), so
    // nothing is lost by overwriting it.
    let entries = unsafe { &mut *table_pointer(PhysFrame::containing_address(table)) };
    entries[index].set_addr(frame.start_address(), flags);
    frame.start_address()
}

/// Writes entry `index` of the user page table at `table` to point at the shared table
/// `target` with `flags` (without [`OWNED`]): the space links it, never frees it. Used to make a
/// newly loaded global-segment slot visible in a live address space (its window PDPT).
///
/// The caller (`AddressSpace`) guarantees that `table` is a table its space owns exclusively and
/// that the entry owns nothing (it is empty, or points at a shared frame).
pub(in crate::mm) fn link_shared(table: PhysAddr, index: usize, target: PhysAddr, flags: PageTableFlags) {
    debug_assert!(!flags.contains(OWNED) && flags.contains(PageTableFlags::PRESENT));
    debug_assert!(index < ENTRIES_PER_TABLE && table.as_u64().is_multiple_of(PAGE_BYTES));
    // SAFETY: `table` is a page table the calling address space owns exclusively (see above), so
    // no other code holds a reference into it; the direct map covers it. The old entry owned
    // nothing, so nothing is lost by overwriting it.
    let entries = unsafe { &mut *table_pointer(PhysFrame::containing_address(table)) };
    debug_assert!(!entries[index].flags().contains(OWNED), "link_shared over an owned entry");
    entries[index].set_addr(target, flags);
}

/// Clears entry `index` of the user page table at `table` (a table at paging level `level`:
/// 4 = PML4 ... 1 = PT) and frees what the entry owned: with [`OWNED`], the frame it points at
/// and every owned frame below it; without, nothing (a shared table stays). Returns what was
/// freed. The caller flushes the translations the entry gave before the freed frames can be
/// reused by anything that matters (the freed tables only ever held this space's entries).
///
/// The caller (`AddressSpace`) guarantees that `table` is a table its space owns exclusively.
pub(in crate::mm) fn free_owned_at(table: PhysAddr, index: usize, level: u8) -> Freed {
    debug_assert!((2..=4).contains(&level) && index < ENTRIES_PER_TABLE);
    let mut freed = Freed::default();
    // SAFETY: `table` is a page table the calling address space owns exclusively (see above);
    // everything reached below it through OWNED entries belongs to this space alone (the
    // invariant `free_user_half` relies on), so this is the only reference while it is torn down.
    let entries = unsafe { &mut *table_pointer(PhysFrame::containing_address(table)) };
    free_owned_entry(&mut entries[index], level, &mut freed);
    entries[index].set_unused();
    freed
}

/// Hands fresh frames to the mapper for user page tables and counts them; the entry that links
/// each one carries [`OWNED`], which is the record that frees it.
struct TableSink<'a> {
    tables: &'a mut u64,
}

// SAFETY: each frame comes from the allocator and is exclusively owned; it is leaked into the
// page table that links it (with OWNED), and `free_user_half` takes it back. The mapper zeroes
// a new table before it links it.
unsafe impl FrameAllocator<Size4KiB> for TableSink<'_> {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let frame = frame::allocate()?;
        *self.tables += 1;
        Some(frame.leak())
    }
}

/// Creates a user root: a zeroed PML4 with the kernel half linked in.
///
/// # Errors
/// Returns [`MapError::OutOfFrames`].
pub fn new_user_root() -> Result<OwnedFrame, MapError> {
    // The kernel half must stay out of the teardown walk, which covers PML4 slots 0..256.
    const _: () = assert!(KERNEL_HALF_FIRST_SLOT == ENTRIES_PER_TABLE / 2);
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

/// Maps user page `page` to `frame` with `flags` (USER and [`OWNED`] are added) in the space
/// rooted at `root`: the frame now belongs to the space and is freed with it (or by
/// [`unmap_user_page`]). New intermediate tables are counted in `tables`.
///
/// # Errors
/// Returns [`MapError::OutOfRegion`] for an address outside the private user region,
/// [`MapError::AlreadyMapped`], or [`MapError::OutOfFrames`]; the frame is freed then.
pub fn map_user_page(
    root: &OwnedFrame,
    page: Page<Size4KiB>,
    frame: OwnedFrame,
    flags: PageTableFlags,
    tables: &mut u64,
) -> Result<(), MapError> {
    let address = page.start_address().as_u64();
    if !(layout::USER_PRIVATE_START..layout::USER_PRIVATE_END).contains(&address) {
        return Err(MapError::OutOfRegion { address });
    }
    let mut sink = TableSink { tables };
    let target = PhysFrame::containing_address(frame.start_address());
    with_mapper(root_frame(root), |mapper| {
        // SAFETY: the page is in the private user region of this space (checked above), the
        // frame is exclusively ours and passes to the space below, and the root is not the one
        // the kernel half is edited through.
        let flush = unsafe {
            mapper.map_to_with_table_flags(page, target, flags | PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE | OWNED, USER_TABLE_FLAGS, &mut sink)
        }?;
        // A new mapping of a page that was not present: nothing stale can be cached for it.
        flush.ignore();
        // The leaf records the ownership: `free_user_half` or `unmap_user_page` takes it back.
        let _ = frame.leak();
        Ok(())
    })
}

/// Unmaps the private user page `page` of the active space rooted at `root`, flushes its
/// translation, and frees its frame when the space owned it. Returns whether a page was mapped.
pub fn unmap_user_page(root: &OwnedFrame, page: Page<Size4KiB>) -> bool {
    let address = page.start_address();
    if !(layout::USER_PRIVATE_START..layout::USER_PRIVATE_END).contains(&address.as_u64()) {
        return false;
    }
    let Some(translation) = translate_root(root_frame(root), address) else { return false };
    if translation.page_bytes != Size4KiB::SIZE {
        return false;
    }
    with_mapper(root_frame(root), |mapper| match mapper.unmap(page) {
        Ok((frame, flush)) => {
            flush.flush();
            if translation.flags.contains(OWNED) {
                drop(OwnedFrame::reclaim(frame));
            }
            true
        }
        Err(_) => false,
    })
}

/// What [`free_user_half`] gave back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Freed {
    /// Page-table frames (below the root).
    pub tables: u64,
    /// Data frames.
    pub pages: u64,
}

/// Frees every frame the user half of `root` owns: each entry with [`OWNED`] at any level, the
/// tables below it first. Shared tables and pages (entries without OWNED) are left alone, and so
/// is everything below them. Clears the root's user entries. The space must not be active.
pub fn free_user_half(root: &mut OwnedFrame) -> Freed {
    let mut freed = Freed::default();
    // SAFETY: the caller owns the root exclusively (`&mut`), it is not the active root, and
    // every table reached through an OWNED entry belongs to this space alone (no other space or
    // registry links it), so nothing else reads or writes them while they are torn down.
    let table = unsafe { &mut *table_pointer(root_frame(root)) };
    for entry in table.iter_mut().take(KERNEL_HALF_FIRST_SLOT) {
        free_owned_entry(entry, 4, &mut freed);
        entry.set_unused();
    }
    freed
}

/// Frees what `entry` (at paging level `level`: 4 = PML4 ... 1 = PT) owns.
fn free_owned_entry(entry: &mut x86_64::structures::paging::page_table::PageTableEntry, level: u8, freed: &mut Freed) {
    let flags = entry.flags();
    if !flags.contains(PageTableFlags::PRESENT | OWNED) {
        return;
    }
    let frame = PhysFrame::containing_address(entry.addr());
    let leaf = level == 1 || flags.contains(PageTableFlags::HUGE_PAGE);
    if leaf {
        // User spaces map only 4 KiB pages; a large owned leaf would be a kernel bug, and freeing
        // 4 KiB of it would be wrong: leave it (leaked) rather than corrupt the allocator.
        debug_assert!(level == 1, "an owned large page in a user space");
        if level == 1 {
            drop(OwnedFrame::reclaim(frame));
            freed.pages += 1;
        }
        return;
    }
    // SAFETY: an OWNED non-leaf entry points at a page table this space alone owns (see
    // `free_user_half`); it is not linked anywhere else, so this is the only reference.
    let table = unsafe { &mut *table_pointer(frame) };
    for child in table.iter_mut() {
        free_owned_entry(child, level - 1, freed);
    }
    drop(OwnedFrame::reclaim(frame));
    freed.tables += 1;
}

/// Changes the flags of the mapped user page `page` in the space rooted at `root` and flushes
/// its translation (the space is the active one: the caller's).
///
/// # Errors
/// Returns [`MapError::OutOfRegion`] when the page is not mapped.
///
/// `flags` are the leaf's new flags: without USER_ACCESSIBLE the page stays mapped (and its
/// contents kept) but user code cannot reach it, which is how a Linux `mprotect(PROT_NONE)` of a
/// touched page is kept.
pub fn update_user_page_flags(root: &OwnedFrame, page: Page<Size4KiB>, flags: PageTableFlags) -> Result<(), MapError> {
    let address = page.start_address().as_u64();
    // The ownership record stays: only the permissions change.
    let owned = translate_root(root_frame(root), page.start_address())
        .ok_or(MapError::OutOfRegion { address })?
        .flags
        & OWNED;
    let flags = flags | owned;
    with_mapper(root_frame(root), |mapper| {
        // SAFETY: only the leaf flags of a user page change; the frame stays the same, owned by
        // the address space. The stale translation is flushed right after.
        let flush = unsafe { mapper.update_flags(page, flags | PageTableFlags::PRESENT) }
            .map_err(|_| MapError::OutOfRegion { address })?;
        flush.flush();
        Ok(())
    })
}

/// Returns the page table (level 1) that translates `address` in the space rooted at `root`,
/// when the space owns it (its PD entry carries [`OWNED`]): the table a demand fault may add a
/// private page to. `None` when a level above is missing, maps a large page, or is shared.
pub fn owned_leaf_table(root: &OwnedFrame, address: VirtAddr) -> Option<PhysAddr> {
    let mut table = root_frame(root);
    for (level, index) in [(4u8, address.p4_index()), (3, address.p3_index()), (2, address.p2_index())] {
        // SAFETY: `root` is a live user root (borrowed for the call) and every table below it
        // stays linked while the caller holds the space; entries are read as plain bits.
        let entries = unsafe { &*table_pointer(table) };
        let flags = entries[index].flags();
        if !flags.contains(PageTableFlags::PRESENT) || flags.contains(PageTableFlags::HUGE_PAGE) {
            return None;
        }
        if level == 2 && !flags.contains(OWNED) {
            return None;
        }
        table = PhysFrame::containing_address(entries[index].addr());
    }
    Some(table.start_address())
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

/// Pages of a process kernel stack.
const KERNEL_STACK_PAGES: usize = (PROCESS_KERNEL_STACK_BYTES / PAGE_BYTES) as usize;
/// Bytes at the top of a process kernel stack that hold its saved FPU/SSE state, so that the
/// state is charged to the process's own frames rather than the kernel heap.
pub const FPU_AREA_BYTES: u64 = core::mem::size_of::<FpuState>() as u64;
const _: () = assert!(FPU_AREA_BYTES.is_multiple_of(16) && FPU_AREA_BYTES < PROCESS_KERNEL_STACK_BYTES / 4);

/// Process slots whose kernel-stack tables exist (set once at boot).
static STACK_SLOTS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// `kstack_probe=on`: kernel stacks are painted at creation and measured when freed.
static PROBE: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
/// The deepest use of any process kernel stack measured so far, in bytes below its top.
static DEEPEST: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// Kernel stacks measured so far.
static MEASURED: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
/// What a painted, never-used kernel-stack word holds.
const PAINT: u64 = 0x5354_4b50_5354_4b50;

/// Turns the kernel-stack probe on (boot path, from the `kstack_probe` argument).
pub fn enable_kernel_stack_probe() {
    PROBE.store(true, core::sync::atomic::Ordering::Relaxed);
}

/// Returns (deepest use in bytes, stacks measured) of the process kernel stacks freed so far,
/// when the probe is on.
pub fn kernel_stack_deepest() -> Option<(u64, u64)> {
    use core::sync::atomic::Ordering::Relaxed;
    PROBE.load(Relaxed).then(|| (DEEPEST.load(Relaxed), MEASURED.load(Relaxed)))
}

/// A process's kernel stack: mapped at its slot in the kernel-stack region above a guard page;
/// unmapped and freed on drop. Its top [`FPU_AREA_BYTES`] hold the process's saved FPU/SSE
/// state; the stack proper starts below them ([`KernelStack::top`]).
#[derive(Debug)]
pub struct KernelStack {
    index: u64,
    frames: [Option<OwnedFrame>; KERNEL_STACK_PAGES],
}

impl KernelStack {
    /// Maps the kernel stack of slot `index` (1..=process slots; 0 is the boot stack) and puts
    /// the initial FPU/SSE state in its FPU area.
    ///
    /// # Errors
    /// Returns [`MapError::OutOfFrames`] or [`MapError::OutOfRegion`] for a bad index.
    pub fn new(index: u64) -> Result<KernelStack, MapError> {
        if index == 0 || index > STACK_SLOTS.load(core::sync::atomic::Ordering::Relaxed) {
            return Err(MapError::OutOfRegion { address: layout::kernel_stack_bottom(index).as_u64() });
        }
        let root = (*KERNEL_ROOT.lock()).ok_or(MapError::OutOfRegion { address: 0 })?;
        let bottom = layout::kernel_stack_bottom(index);
        let mut stack = KernelStack { index, frames: [const { None }; KERNEL_STACK_PAGES] };
        let flags = super::kernel_leaf_flags(true, false);
        for page_index in 0..KERNEL_STACK_PAGES {
            let frame = frame::allocate().ok_or(MapError::OutOfFrames)?;
            let page = Page::<Size4KiB>::containing_address(bottom + page_index as u64 * PAGE_BYTES);
            let target = PhysFrame::containing_address(frame.start_address());
            stack.frames[page_index] = Some(frame);
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
        *stack.fpu() = FpuState::initial();
        if PROBE.load(core::sync::atomic::Ordering::Relaxed) {
            stack.paint();
        }
        Ok(stack)
    }

    /// Returns the stack proper (below the FPU area) as words.
    fn words(&mut self) -> &mut [u64] {
        let bottom: *mut u64 = layout::kernel_stack_bottom(self.index).as_mut_ptr();
        let count = ((PROCESS_KERNEL_STACK_BYTES - FPU_AREA_BYTES) / 8) as usize;
        // SAFETY: the stack's pages are mapped writable (`new` mapped all of them) and only the
        // stack's owner uses them; `&mut self` makes this the only reference, and the stack is
        // not running (it is being created, or freed after its process was switched away from).
        unsafe { core::slice::from_raw_parts_mut(bottom, count) }
    }

    /// Fills the stack proper with [`PAINT`] (before anything runs on it).
    fn paint(&mut self) {
        self.words().fill(PAINT);
    }

    /// Measures the stack when the probe is on: returns how many bytes below its top it was ever
    /// used and whether that is the deepest use so far (recorded).
    pub fn measure(&mut self) -> Option<(u64, bool)> {
        use core::sync::atomic::Ordering::Relaxed;
        if !PROBE.load(Relaxed) || !self.frames.iter().all(Option::is_some) {
            return None;
        }
        let used = self.used_bytes();
        MEASURED.fetch_add(1, Relaxed);
        Some((used, DEEPEST.fetch_max(used, Relaxed) < used))
    }

    /// Returns how many bytes below its top the stack was ever used (the lowest unpainted word).
    fn used_bytes(&mut self) -> u64 {
        let words = self.words();
        let untouched = words.iter().take_while(|&&word| word == PAINT).count();
        ((words.len() - untouched) * 8) as u64
    }

    /// Returns the top of the stack proper (16-byte aligned), just below the FPU area.
    pub fn top(&self) -> VirtAddr {
        layout::kernel_stack_bottom(self.index) + (PROCESS_KERNEL_STACK_BYTES - FPU_AREA_BYTES)
    }

    /// Returns the process's saved FPU/SSE state, kept at the top of this stack.
    pub fn fpu(&mut self) -> &mut FpuState {
        let area: *mut FpuState = self.top().as_mut_ptr();
        // SAFETY: 1. the area lies inside this stack's mapped, writable pages (the stack proper
        // ends at `top()`, below it; the const assert keeps it small). 2. It is 16-byte aligned,
        // as `FpuState` needs: the slot bottom is page aligned and the stack size minus the
        // area is a multiple of 16. 3. Any 512 bytes are a valid `FpuState` (a byte array), and
        // `new` wrote the initial state before anything reads it. 4. `&mut self` makes this the
        // only reference: the CPU never writes the area (it pushes below `top()`), and the
        // stack's owner (the process table) hands out one `&mut` at a time.
        unsafe { &mut *area }
    }
}

impl Drop for KernelStack {
    fn drop(&mut self) {
        let Some(root) = *KERNEL_ROOT.lock() else { return };
        let bottom = layout::kernel_stack_bottom(self.index);
        for (page_index, frame) in self.frames.iter().enumerate() {
            if frame.is_none() {
                continue;
            }
            let page = Page::<Size4KiB>::containing_address(bottom + page_index as u64 * PAGE_BYTES);
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

/// Creates the page tables of the kernel-stack region for process slots `0..slots`, so that
/// mapping and unmapping process stacks later never allocates or frees a table.
pub(super) fn preallocate_kernel_stack_tables(root: PhysFrame, slots: u64) -> Result<(), MapError> {
    let first = layout::KERNEL_STACKS_START;
    let end = layout::KERNEL_STACKS_START + (slots + 1) * layout::KERNEL_STACK_SLOT_BYTES;
    STACK_SLOTS.store(slots, core::sync::atomic::Ordering::Relaxed);
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
