//! Page tables: the kernel's own address space, mapping, translation, and direct-map access.
//!
//! One of the three places where `unsafe` is allowed: every dereference of a physical address
//! through the direct map happens here. The kernel's tables are built in [`build_kernel_space`]
//! while the bootloader's are still active, then [`enter_kernel_space`] switches CR3 and the
//! stack in one step. From then on the bootloader's tables (and its boot-info mapping) are gone.
//!
//! The kernel half is built so that later address spaces can share it: a PDPT is allocated for
//! every kernel PML4 slot (256..512) up front, so kernel mappings made after boot never change
//! the PML4 and each process's PML4 can link the very same tables. Every kernel-half leaf entry
//! carries the global bit.
//!
//! Key types: [`KernelSpace`] (a built, not yet active, kernel address space), [`MmioRegion`]
//! (proof of an uncached device mapping), [`Translation`], [`MapError`].

#![allow(unsafe_code)]

pub mod acpi;
pub mod probe;
pub mod user;
pub mod window;

use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use memmap::PhysRange;
use spin::Mutex;
use x86_64::structures::paging::mapper::MapToError;
use x86_64::structures::paging::{
    FrameAllocator, Mapper, OffsetPageTable, Page, PageSize, PageTable, PageTableFlags, PhysFrame, Size1GiB,
    Size2MiB, Size4KiB, Translate,
};
use x86_64::{PhysAddr, VirtAddr};

use super::frame::{self, OwnedFrame};
use super::kernel_image::KernelImage;
use super::layout::{
    self, DIRECT_MAP_MAX_BYTES, DIRECT_MAP_START, HUGE_PAGE_BYTES, KERNEL_HALF_FIRST_SLOT,
    KERNEL_STACK_BYTES, LARGE_PAGE_BYTES, MMIO_END, MMIO_START, PAGE_BYTES,
};
use crate::arch::x86_64::cpu::CpuFeatures;
use crate::arch::x86_64::cr::{self, Cr3Value};
use crate::arch::x86_64::{stack, tlb};

/// Physical memory below this is always covered by the direct map, RAM or not, so that the
/// local APIC, I/O APIC and PCI holes below 4 GiB are reachable (the bootloader does the same).
const DIRECT_MAP_MINIMUM_BYTES: u64 = 4 * HUGE_PAGE_BYTES;
/// Number of entries in one page table.
const ENTRIES_PER_TABLE: usize = 512;

/// Why a mapping could not be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No free frame for a page or a page table.
    OutOfFrames,
    /// The page is already mapped (to `frame`).
    AlreadyMapped {
        /// The page's address.
        address: u64,
    },
    /// A huge page already covers the address.
    HugePageInTheWay {
        /// The address.
        address: u64,
    },
    /// The requested range leaves the region it must stay in.
    OutOfRegion {
        /// The first address that does not fit.
        address: u64,
    },
    /// Physical memory is larger than the direct map can cover.
    PhysicalMemoryTooLarge {
        /// End of physical memory.
        physical_end: u64,
    },
    /// A kernel-image page is not mapped by the bootloader (the image is not what it seems).
    ImagePageMissing {
        /// The page's address.
        address: u64,
    },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapError::OutOfFrames => write!(f, "out of physical frames"),
            MapError::AlreadyMapped { address } => write!(f, "page {address:#x} is already mapped"),
            MapError::HugePageInTheWay { address } => {
                write!(f, "a huge page already maps {address:#x}")
            }
            MapError::OutOfRegion { address } => {
                write!(f, "address {address:#x} is outside the region it must stay in")
            }
            MapError::PhysicalMemoryTooLarge { physical_end } => write!(
                f,
                "physical memory ends at {physical_end:#x}, beyond the {DIRECT_MAP_MAX_BYTES:#x}-byte direct map"
            ),
            MapError::ImagePageMissing { address } => {
                write!(f, "kernel image page {address:#x} is not mapped by the bootloader")
            }
        }
    }
}

impl<S: PageSize> From<MapToError<S>> for MapError {
    fn from(error: MapToError<S>) -> MapError {
        match error {
            MapToError::FrameAllocationFailed => MapError::OutOfFrames,
            MapToError::ParentEntryHugePage => MapError::HugePageInTheWay { address: 0 },
            MapToError::PageAlreadyMapped(frame) => {
                MapError::AlreadyMapped { address: frame.start_address().as_u64() }
            }
        }
    }
}

/// Counts page-table frames the kernel allocated for its own tables.
static KERNEL_TABLE_FRAMES: AtomicU64 = AtomicU64::new(0);
/// The root of the kernel's address space once it is active.
static KERNEL_ROOT: Mutex<Option<PhysFrame>> = Mutex::new(None);
/// The root the bootloader left in CR3 (recorded for tests and the boot log).
static BOOT_ROOT: AtomicU64 = AtomicU64::new(0);
/// Whether global pages are in use (CR4.PGE on): kernel-half leaves then carry G.
static GLOBAL_KERNEL_PAGES: AtomicBool = AtomicBool::new(false);
/// Whether NX is enabled (EFER.NXE): data mappings then carry NX.
static NO_EXECUTE: AtomicBool = AtomicBool::new(false);
/// Next free address in the MMIO region.
static NEXT_MMIO: AtomicU64 = AtomicU64::new(MMIO_START);

/// Hands page-table frames to the `x86_64` mapper; they are never freed (kernel tables).
struct TableFrames;

// SAFETY: every frame returned comes from the frame allocator, is exclusively ours (the
// `OwnedFrame` is leaked into the table, so no one else can own it), and is not in use.
unsafe impl FrameAllocator<Size4KiB> for TableFrames {
    fn allocate_frame(&mut self) -> Option<PhysFrame<Size4KiB>> {
        let frame = frame::allocate()?.leak();
        KERNEL_TABLE_FRAMES.fetch_add(1, Ordering::Relaxed);
        Some(frame)
    }
}

/// Returns the direct-map pointer to the page table in `frame`.
fn table_pointer(frame: PhysFrame) -> *mut PageTable {
    layout::direct_map(frame.start_address().as_u64()).as_mut_ptr()
}

/// Runs `operation` on a mapper over the tables rooted at `root`.
///
/// Both the bootloader's tables and the kernel's map all physical memory at
/// `DIRECT_MAP_START`, which is what `OffsetPageTable` needs.
fn with_mapper<R>(root: PhysFrame, operation: impl FnOnce(&mut OffsetPageTable<'_>) -> R) -> R {
    // SAFETY: `root` is a PML4 frame (the active one, or one this module built) that only this
    // module modifies, and only with the kernel's single CPU holding `KERNEL_ROOT`'s lock or
    // during single-threaded boot. All physical memory is mapped at DIRECT_MAP_START in the
    // active address space (bootloader configuration, then our own direct map), as
    // `OffsetPageTable::new` requires.
    let mut mapper = unsafe {
        OffsetPageTable::new(&mut *table_pointer(root), VirtAddr::new(DIRECT_MAP_START))
    };
    operation(&mut mapper)
}

/// Claims `words` u64s of usable physical memory at `range` for the frame allocator's bitmap.
///
/// # Panics
/// Panics when called twice, or when the range cannot hold `words` (boot-order bugs).
pub fn claim_boot_storage(range: PhysRange, words: usize) -> &'static mut [u64] {
    static CLAIMED: AtomicBool = AtomicBool::new(false);
    assert!(!CLAIMED.swap(true, Ordering::SeqCst), "boot storage is claimed once");
    assert!(range.len_bytes() >= (words * core::mem::size_of::<u64>()) as u64);
    assert!(range.start.is_multiple_of(PAGE_BYTES));
    let pointer: *mut u64 = layout::direct_map(range.start).as_mut_ptr();
    // SAFETY: 1. `range` lies in memory the firmware reports usable and that nothing uses yet:
    // the frame allocator does not exist before this call, and it marks the range used right
    // after. 2. The direct map covers it (bootloader mapping, later ours). 3. The pointer is
    // page aligned, so aligned for u64. 4. The swap above makes this happen once, so the
    // returned 'static reference is unique. Any bit pattern is a valid u64.
    unsafe { core::slice::from_raw_parts_mut(pointer, words) }
}

/// Fills `frame` with zeros.
pub fn zero_frame(frame: &OwnedFrame) {
    crate::mm::frame::count_zeroed(PAGE_BYTES);
    let pointer: *mut u8 = layout::direct_map(frame.start_address().as_u64()).as_mut_ptr();
    // SAFETY: the caller owns the frame exclusively (that is what `OwnedFrame` means), the
    // direct map covers it, and a frame is PAGE_BYTES long.
    unsafe { core::ptr::write_bytes(pointer, 0, PAGE_BYTES as usize) };
}

/// Returns the bytes of the kernel's ELF file, which the bootloader left in reserved memory.
pub fn kernel_file_bytes(physical: u64, length_bytes: u64) -> &'static [u8] {
    let pointer: *const u8 = layout::direct_map(physical).as_ptr();
    // SAFETY: the bootloader placed the kernel file in a region it reports as `Bootloader`
    // memory, which the frame allocator never hands out and nothing writes after boot; the
    // direct map covers it. Bytes have no invalid values.
    unsafe { core::slice::from_raw_parts(pointer, length_bytes as usize) }
}

/// Returns the ramdisk the bootloader mapped at `virtual_start` as a direct-map slice.
///
/// Must run while the bootloader's tables are active (before `enter_kernel_space`): it finds
/// the physical pages through them and checks that they are contiguous.
///
/// # Errors
/// Returns [`MapError::ImagePageMissing`] when a page is unmapped or the pages are not
/// physically contiguous.
pub fn boot_ramdisk(virtual_start: u64, length_bytes: u64) -> Result<&'static [u8], MapError> {
    let boot_root = cr::active_root();
    let translate = |address: u64| {
        with_mapper(boot_root, |boot| boot.translate_addr(VirtAddr::new(address)))
            .ok_or(MapError::ImagePageMissing { address })
    };
    let physical_start = translate(virtual_start)?;
    let mut offset = PAGE_BYTES - virtual_start % PAGE_BYTES;
    while offset < length_bytes {
        if translate(virtual_start + offset)? != physical_start + offset {
            return Err(MapError::ImagePageMissing { address: virtual_start + offset });
        }
        offset += PAGE_BYTES;
    }
    let pointer: *const u8 = layout::direct_map(physical_start.as_u64()).as_ptr();
    // SAFETY: the bootloader loaded the ramdisk into these physically contiguous frames (checked
    // page by page above) and reports them as bootloader memory, which the frame allocator never
    // hands out and nothing writes; the direct map covers them in both the bootloader's tables
    // and the kernel's. Bytes have no invalid values.
    Ok(unsafe { core::slice::from_raw_parts(pointer, length_bytes as usize) })
}

/// Copies `buffer.len()` bytes of physical RAM starting at `physical` into `buffer`.
///
/// For RAM only: reading device memory through the (cached) direct map is not meaningful.
pub fn read_physical(physical: PhysAddr, buffer: &mut [u8]) {
    let pointer: *const u8 = layout::direct_map(physical.as_u64()).as_ptr();
    // SAFETY: the direct map covers all physical memory for as long as the kernel runs; reading
    // bytes races with no Rust reference (we copy, never hand out a reference to the source).
    unsafe { core::ptr::copy_nonoverlapping(pointer, buffer.as_mut_ptr(), buffer.len()) };
}

/// Flags of kernel-half leaf entries: present, global when PGE is on, NX unless `executable`.
fn kernel_leaf_flags(writable: bool, executable: bool) -> PageTableFlags {
    let mut flags = PageTableFlags::PRESENT;
    if GLOBAL_KERNEL_PAGES.load(Ordering::Relaxed) {
        flags |= PageTableFlags::GLOBAL;
    }
    if writable {
        flags |= PageTableFlags::WRITABLE;
    }
    if !executable && NO_EXECUTE.load(Ordering::Relaxed) {
        flags |= PageTableFlags::NO_EXECUTE;
    }
    flags
}

/// Flags of intermediate entries in the kernel half: the leaves decide the permissions.
const KERNEL_TABLE_FLAGS: PageTableFlags =
    PageTableFlags::PRESENT.union(PageTableFlags::WRITABLE);

/// A kernel address space that [`build_kernel_space`] built and [`enter_kernel_space`] enters.
#[derive(Debug)]
pub struct KernelSpace {
    root: PhysFrame,
    stack_top: VirtAddr,
    /// What the build did, for the boot log.
    pub summary: SpaceSummary,
}

/// What [`build_kernel_space`] mapped.
#[derive(Clone, Copy, Debug, Default)]
pub struct SpaceSummary {
    /// Bytes of physical memory the direct map covers.
    pub direct_map_bytes: u64,
    /// Page size the direct map uses.
    pub direct_map_page_bytes: u64,
    /// Kernel image pages mapped, by kind.
    pub text_pages: u64,
    /// Read-only data pages.
    pub rodata_pages: u64,
    /// Writable data pages.
    pub data_pages: u64,
    /// Page-table frames allocated for the kernel space so far.
    pub table_frames: u64,
    /// Process slots the kernel-stack region's tables were built for (`layout::process_slots`
    /// of the frames free at boot): the process table's capacity.
    pub process_slots: u64,
}

/// Builds the kernel's own page tables while the bootloader's are active.
///
/// Maps the direct map (1 GiB pages where the CPU has them, else 2 MiB), the kernel image with
/// per-segment permissions (frames found through the bootloader's tables), and a fresh boot
/// stack below a guard page. Every kernel-half PML4 slot gets its PDPT now.
///
/// # Errors
/// Returns a [`MapError`] when frames run out or the image is not mapped as expected.
pub fn build_kernel_space(
    features: &CpuFeatures,
    global_pages: bool,
    physical_end: u64,
    image: &KernelImage,
) -> Result<KernelSpace, MapError> {
    GLOBAL_KERNEL_PAGES.store(global_pages, Ordering::Relaxed);
    NO_EXECUTE.store(features.nx, Ordering::Relaxed);
    BOOT_ROOT.store(cr::active_root().start_address().as_u64(), Ordering::Relaxed);
    let boot_root = cr::active_root();

    let root_frame = frame::allocate_zeroed().ok_or(MapError::OutOfFrames)?.leak();
    KERNEL_TABLE_FRAMES.fetch_add(1, Ordering::Relaxed);
    // Every kernel-half slot gets its PDPT now, so the kernel half of the PML4 never changes.
    for slot in KERNEL_HALF_FIRST_SLOT..ENTRIES_PER_TABLE {
        let pdpt = frame::allocate_zeroed().ok_or(MapError::OutOfFrames)?.leak();
        KERNEL_TABLE_FRAMES.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `root_frame` was just allocated and zeroed by us and is not active; the direct
        // map covers it; no other reference to it exists.
        let root_table = unsafe { &mut *table_pointer(root_frame) };
        root_table[slot].set_frame(pdpt, KERNEL_TABLE_FLAGS);
    }

    let mut summary = SpaceSummary::default();
    let mut allocator = TableFrames;

    // The direct map.
    let direct_end = physical_end.max(DIRECT_MAP_MINIMUM_BYTES);
    if direct_end > DIRECT_MAP_MAX_BYTES {
        return Err(MapError::PhysicalMemoryTooLarge { physical_end });
    }
    let data_flags = kernel_leaf_flags(true, false);
    with_mapper(root_frame, |mapper| -> Result<(), MapError> {
        if features.huge_pages_1g {
            let end = direct_end.div_ceil(HUGE_PAGE_BYTES) * HUGE_PAGE_BYTES;
            for physical in (0..end).step_by(HUGE_PAGE_BYTES as usize) {
                let page = Page::<Size1GiB>::containing_address(layout::direct_map(physical));
                let frame = PhysFrame::<Size1GiB>::containing_address(PhysAddr::new(physical));
                // SAFETY: the new tables are not active; the entry maps physical memory into
                // the direct-map region reserved for exactly this in `layout.rs`.
                let flush = unsafe {
                    mapper.map_to_with_table_flags(page, frame, data_flags, KERNEL_TABLE_FLAGS, &mut allocator)
                }?;
                // The tables are not active yet: there is nothing to flush.
                flush.ignore();
            }
            summary.direct_map_bytes = end;
            summary.direct_map_page_bytes = HUGE_PAGE_BYTES;
        } else {
            let end = direct_end.div_ceil(LARGE_PAGE_BYTES) * LARGE_PAGE_BYTES;
            for physical in (0..end).step_by(LARGE_PAGE_BYTES as usize) {
                let page = Page::<Size2MiB>::containing_address(layout::direct_map(physical));
                let frame = PhysFrame::<Size2MiB>::containing_address(PhysAddr::new(physical));
                // SAFETY: as above.
                let flush = unsafe {
                    mapper.map_to_with_table_flags(page, frame, data_flags, KERNEL_TABLE_FLAGS, &mut allocator)
                }?;
                flush.ignore();
            }
            summary.direct_map_bytes = end;
            summary.direct_map_page_bytes = LARGE_PAGE_BYTES;
        }
        Ok(())
    })?;

    // The kernel image, segment by segment, at the addresses the bootloader loaded it at.
    for segment in image.segments() {
        let first = Page::<Size4KiB>::containing_address(VirtAddr::new(segment.start));
        let last = Page::<Size4KiB>::containing_address(VirtAddr::new(
            segment.start + segment.memory_bytes - 1,
        ));
        for page in Page::range_inclusive(first, last) {
            let address = page.start_address().as_u64();
            // The part of this page that belongs to the segment is read-only after relocation if
            // PT_GNU_RELRO covers all of it (its ends need not be page aligned).
            let used_start = address.max(segment.start);
            let used_end = (address + PAGE_BYTES).min(segment.start + segment.memory_bytes);
            let in_relro = image
                .relro
                .is_some_and(|(start, bytes)| used_start >= start && used_end <= start + bytes);
            let writable = segment.writable() && !in_relro;
            let physical = with_mapper(boot_root, |boot| boot.translate_addr(page.start_address()))
                .ok_or(MapError::ImagePageMissing { address })?;
            let frame = PhysFrame::<Size4KiB>::containing_address(physical);
            let flags = kernel_leaf_flags(writable, segment.executable());
            with_mapper(root_frame, |mapper| -> Result<(), MapError> {
                // SAFETY: maps the frames the bootloader loaded the kernel image into, at the
                // same virtual addresses, into tables that are not active yet.
                let flush = unsafe {
                    mapper.map_to_with_table_flags(page, frame, flags, KERNEL_TABLE_FLAGS, &mut allocator)
                }?;
                flush.ignore();
                Ok(())
            })?;
            match segment.kind() {
                "text" => summary.text_pages += 1,
                "rodata" => summary.rodata_pages += 1,
                _ if in_relro => summary.rodata_pages += 1,
                _ => summary.data_pages += 1,
            }
        }
    }

    // The boot stack: kernel stack 0, below its guard page.
    let stack_bottom = layout::kernel_stack_bottom(0);
    map_fresh_pages(root_frame, stack_bottom, KERNEL_STACK_BYTES, kernel_leaf_flags(true, false))?;
    let stack_top = stack_bottom + KERNEL_STACK_BYTES;
    // The process kernel stacks' tables, so that process stacks never allocate or free tables:
    // for as many process slots as memory could ever hold processes.
    summary.process_slots = layout::process_slots(frame::free_count() as u64);
    user::preallocate_kernel_stack_tables(root_frame, summary.process_slots)?;

    summary.table_frames = KERNEL_TABLE_FRAMES.load(Ordering::Relaxed);
    Ok(KernelSpace { root: root_frame, stack_top, summary })
}

/// Maps `bytes` (a multiple of a page) of fresh zeroed frames at `start` in the tables at `root`.
fn map_fresh_pages(
    root: PhysFrame,
    start: VirtAddr,
    bytes: u64,
    flags: PageTableFlags,
) -> Result<(), MapError> {
    let mut allocator = TableFrames;
    let first = Page::<Size4KiB>::containing_address(start);
    let last = Page::<Size4KiB>::containing_address(start + (bytes - 1));
    with_mapper(root, |mapper| {
        for page in Page::range_inclusive(first, last) {
            let frame = frame::allocate_zeroed().ok_or(MapError::OutOfFrames)?;
            let target = PhysFrame::containing_address(frame.start_address());
            // SAFETY: a fresh frame that nothing else references, at an address `layout.rs`
            // reserves for this kind of kernel data.
            let flush = unsafe {
                mapper.map_to_with_table_flags(page, target, flags, KERNEL_TABLE_FLAGS, &mut allocator)
            }?;
            // Mapped: the frame belongs to the kernel data for good (a failed mapping above
            // dropped it back to the allocator instead).
            let _ = frame.leak();
            // New mappings of previously unmapped pages: no stale entry can exist (the CPU does
            // not cache "not present" translations, SDM vol. 3A §4.10.2.3).
            flush.ignore();
        }
        Ok(())
    })
}

/// Switches to `space` (CR3 and stack at once) and continues in `continuation`, never
/// returning. The continuation calls [`finish_entry`] first.
pub fn enter_kernel_space(space: KernelSpace, continuation: extern "C" fn() -> !) -> ! {
    *KERNEL_ROOT.lock() = Some(space.root);
    // SAFETY: `build_kernel_space` mapped, in `space.root`: the kernel image at the addresses it
    // runs at (so this code and the GDT, IDT, TSS and IST stacks, which are statics, stay
    // mapped), all of physical memory at the same direct-map addresses the bootloader used, and
    // a fresh boot stack: kernel stack 0, writable, used by nothing else, 16-byte aligned (a page
    // boundary), never unmapped. The bootloader's stack is not mapped there, which is why the
    // CR3 write and the stack switch happen in one step.
    unsafe { stack::switch_address_space_and_stack(Cr3Value::kernel(space.root), space.stack_top, continuation) }
}

/// Completes the switch to the kernel's tables: drops every TLB entry the bootloader's tables
/// may have left, global ones included.
pub fn finish_entry(features: &CpuFeatures) {
    tlb::flush_all_including_global(features);
}

/// Maps `bytes` of fresh frames as writable, non-executable kernel data at `start` in the active
/// kernel space. Used for the heap and kernel stacks.
///
/// # Errors
/// Returns [`MapError::OutOfFrames`] or [`MapError::AlreadyMapped`].
pub fn map_kernel_data(start: VirtAddr, bytes: u64) -> Result<(), MapError> {
    let root = KERNEL_ROOT.lock().ok_or(MapError::OutOfRegion { address: start.as_u64() })?;
    map_fresh_pages(root, start, bytes, kernel_leaf_flags(true, false))
}

/// Maps up to `bytes` (a multiple of a page) of fresh frames as writable kernel data at `start`
/// in the active kernel space, page by page; returns how many bytes it mapped before frames (or
/// table frames) ran out. The kernel heap grows with it.
pub fn grow_kernel_data(start: VirtAddr, bytes: u64) -> u64 {
    let Some(root) = *KERNEL_ROOT.lock() else { return 0 };
    let mut mapped = 0;
    while mapped < bytes {
        if map_fresh_pages(root, start + mapped, PAGE_BYTES, kernel_leaf_flags(true, false)).is_err() {
            break;
        }
        mapped += PAGE_BYTES;
    }
    mapped
}

/// An uncached mapping of device registers in the MMIO region; only this module makes one, so
/// holding one proves the mapping exists (it is never unmapped).
#[derive(Clone, Copy, Debug)]
pub struct MmioRegion {
    start: VirtAddr,
}

impl MmioRegion {
    /// Returns the first virtual address.
    pub fn start(&self) -> VirtAddr {
        self.start
    }
}

/// Maps `pages` pages of device registers at `physical` uncached into the MMIO region.
///
/// # Errors
/// Returns a [`MapError`] when the region is full or frames for tables run out.
pub fn map_mmio(physical: PhysAddr, pages: u64) -> Result<MmioRegion, MapError> {
    let root = KERNEL_ROOT.lock().ok_or(MapError::OutOfRegion { address: physical.as_u64() })?;
    let bytes = pages * PAGE_BYTES;
    let start = NEXT_MMIO.fetch_add(bytes, Ordering::Relaxed);
    if start + bytes > MMIO_END {
        return Err(MapError::OutOfRegion { address: start });
    }
    let flags = kernel_leaf_flags(true, false)
        | PageTableFlags::NO_CACHE
        | PageTableFlags::WRITE_THROUGH;
    let mut allocator = TableFrames;
    with_mapper(root, |mapper| -> Result<(), MapError> {
        for index in 0..pages {
            let page = Page::<Size4KiB>::containing_address(VirtAddr::new(start + index * PAGE_BYTES));
            let frame = PhysFrame::<Size4KiB>::containing_address(physical + index * PAGE_BYTES);
            // SAFETY: maps device registers into the MMIO region, at addresses handed out once by
            // the bump pointer above, uncached as device memory must be.
            let flush = unsafe {
                mapper.map_to_with_table_flags(page, frame, flags, KERNEL_TABLE_FLAGS, &mut allocator)
            }?;
            flush.flush();
        }
        Ok(())
    })?;
    Ok(MmioRegion { start: VirtAddr::new(start) })
}

/// A translation in the active kernel space, for tests and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address the virtual address maps to.
    pub physical: PhysAddr,
    /// The leaf entry's flags.
    pub flags: PageTableFlags,
    /// The leaf page size in bytes.
    pub page_bytes: u64,
}

/// Translates `address` through the kernel's own tables.
pub fn translate(address: VirtAddr) -> Option<Translation> {
    let root = (*KERNEL_ROOT.lock())?;
    user::translate_root(root, address)
}

/// Counts one page-table frame allocated for the kernel's own tables.
fn count_kernel_table() {
    KERNEL_TABLE_FRAMES.fetch_add(1, Ordering::Relaxed);
}

/// Returns whether NX is enabled (data mappings carry the NX bit).
pub fn no_execute_enabled() -> bool {
    NO_EXECUTE.load(Ordering::Relaxed)
}

/// Activates a user address space.
pub fn activate_user_space(value: Cr3Value) {
    // SAFETY: `Cr3Value`s for user spaces are built only by `AddressSpace::activate` from a root
    // made by `user::new_user_root`, which links the kernel half (so this code, the stack and all
    // kernel data stay mapped), and the `AddressSpace` keeps the root alive while it can be
    // active (the scheduler switches to the kernel root before it drops one).
    unsafe { cr::write(value) };
}

/// Activates the kernel's own tables (before a user address space is torn down).
pub fn activate_kernel_space() {
    if let Some(root) = *KERNEL_ROOT.lock() {
        // SAFETY: the kernel's root maps the kernel half like every address space.
        unsafe { cr::write(Cr3Value::kernel(root)) };
    }
}

/// Returns the root the bootloader had in CR3 before the kernel switched to its own.
pub fn boot_root_address() -> PhysAddr {
    PhysAddr::new(BOOT_ROOT.load(Ordering::Relaxed))
}

/// Returns the root of the kernel's own address space, once entered.
pub fn kernel_root_address() -> Option<PhysAddr> {
    KERNEL_ROOT.lock().map(|frame| frame.start_address())
}

/// Returns the number of page-table frames the kernel allocated for its own tables.
pub fn kernel_table_frames() -> u64 {
    KERNEL_TABLE_FRAMES.load(Ordering::Relaxed)
}
