//! A process's address space: its own PML4 with the kernel half linked in, the frames of its
//! private pages and page tables, its protection-key rights, and its PCID lease.
//!
//! The page tables themselves record which frames the space owns (`paging::user::OWNED`), so an
//! address space costs no kernel heap however much it maps: it keeps only counts. Dropping an
//! `AddressSpace` frees every frame it owns (pages and tables, never the kernel half's tables or
//! the global segment's shared ones) and returns its PCID. It must not be the active address
//! space then: the scheduler switches to the kernel's tables before it reaps a process.

#![deny(unsafe_code)]

extern crate alloc;

use core::sync::atomic::{AtomicU64, Ordering};

use pcid_alloc::Lease;
use x86_64::structures::paging::{Page, PageTableFlags, PhysFrame, Size4KiB};
use x86_64::{PhysAddr, VirtAddr};

use super::frame::{self, OwnedFrame};
use super::layout::{PAGE_BYTES, USER_PRIVATE_END, USER_PRIVATE_START};
use super::paging::{self, MapError, Translation};
use super::pcid;
use crate::arch::x86_64::cr;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// The PML4 entry that links the global-segment window.
const WINDOW_PML4_INDEX: usize = super::layout::pml4_slot(super::layout::GLOBAL_WINDOW_START);

/// Memory permissions of a user mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Writable.
    pub write: bool,
    /// Executable.
    pub execute: bool,
}

impl Access {
    /// Read and write, no execute: data, heap, stack.
    pub const DATA: Access = Access { write: true, execute: false };

    fn flags(self) -> PageTableFlags {
        let mut flags = PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE;
        if self.write {
            flags |= PageTableFlags::WRITABLE;
        }
        if !self.execute && paging::no_execute_enabled() {
            flags |= PageTableFlags::NO_EXECUTE;
        }
        flags
    }
}

/// The most demand-zero regions a space records.
const DEMAND_REGIONS: usize = 4;

/// A range of private memory mapped, zeroed, on first touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DemandRegion {
    /// First address (page aligned).
    pub start: u64,
    /// End address (page aligned).
    pub end: u64,
    /// Permissions of its pages.
    pub access: Access,
}

/// A mapping of a Linux process (`mmap`, `brk`): a page-aligned range mapped on first touch with
/// `access`, or reserved and inaccessible (`PROT_NONE`) when `access` is `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mapping {
    /// First address.
    pub start: u64,
    /// End address.
    pub end: u64,
    /// Permissions; `None` for no access at all.
    pub access: Option<Access>,
}

/// What [`AddressSpace::populate`] did for an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Populated {
    /// The page was mapped already.
    Present,
    /// A zeroed page was mapped (demand-zero region).
    Zeroed,
    /// The binary's pristine writable page was copied in.
    Copied,
    /// The address is in no region that is mapped on demand: a real fault.
    NotDemand,
}

/// Counts of demand faults served for a space.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DemandCounts {
    /// Zeroed pages mapped on first touch.
    pub zeroed: u64,
    /// Writable binary pages copied on first touch.
    pub copied: u64,
}

/// A user address space.
#[derive(Debug)]
pub struct AddressSpace {
    id: u64,
    root: OwnedFrame,
    /// Page-table frames below the root that this space owns (linked with OWNED entries).
    tables: u64,
    /// Data frames this space owns (mapped with OWNED leaves).
    pages: u64,
    lease: Option<Lease>,
    /// The global-segment slot of the binary this space runs, once attached.
    binary_slot: Option<usize>,
    /// Protection-key rights of the code running in this space (PKRU), which the kernel also
    /// honours when it reads or writes user memory on the space's behalf.
    pkru: u32,
    /// Private ranges mapped on first touch.
    demand: [Option<DemandRegion>; DEMAND_REGIONS],
    /// Demand faults served so far.
    demand_counts: DemandCounts,
    /// Mappings of a Linux process, sorted by address and never overlapping (empty, and never
    /// allocated, for shoal's own processes).
    mappings: alloc::vec::Vec<Mapping>,
}

impl AddressSpace {
    /// Creates an empty address space (only the kernel half).
    ///
    /// # Errors
    /// Returns [`MapError::OutOfFrames`].
    pub fn new() -> Result<AddressSpace, MapError> {
        Ok(AddressSpace {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            root: paging::user::new_user_root()?,
            tables: 0,
            pages: 0,
            lease: None,
            binary_slot: None,
            pkru: 0,
            demand: [None; DEMAND_REGIONS],
            demand_counts: DemandCounts::default(),
            mappings: alloc::vec::Vec::new(),
        })
    }

    /// Maps a fresh zeroed page at `address` (in the private user region) with `access`.
    ///
    /// # Errors
    /// Returns a [`MapError`] when frames run out, the page is taken, or not a private address.
    pub fn map_zeroed_page(&mut self, address: VirtAddr, access: Access) -> Result<(), MapError> {
        let frame = frame::allocate_zeroed().ok_or(MapError::OutOfFrames)?;
        let page = Page::<Size4KiB>::containing_address(address);
        paging::user::map_user_page(&self.root, page, frame, access.flags(), &mut self.tables)?;
        self.pages += 1;
        Ok(())
    }

    /// Maps `bytes` (rounded up to pages) of zeroed memory at page-aligned `start`, all or
    /// nothing: when a page cannot be mapped, the pages this call mapped are unmapped and freed
    /// again (page tables it created stay, empty, until the space ends).
    ///
    /// # Errors
    /// As [`AddressSpace::map_zeroed_page`].
    pub fn map_zeroed(&mut self, start: VirtAddr, bytes: u64, access: Access) -> Result<(), MapError> {
        let pages = bytes.div_ceil(PAGE_BYTES);
        for index in 0..pages {
            if let Err(error) = self.map_zeroed_page(start + index * PAGE_BYTES, access) {
                for mapped in 0..index {
                    self.unmap_page(start + mapped * PAGE_BYTES);
                }
                return Err(error);
            }
        }
        Ok(())
    }

    /// Unmaps the private page at `address` (flushing its translation: the space is the active
    /// one, or was never run) and frees its frame if the space owned it.
    pub fn unmap_page(&mut self, address: VirtAddr) {
        let page = Page::<Size4KiB>::containing_address(address);
        if paging::user::unmap_user_page(&self.root, page) {
            self.pages = self.pages.saturating_sub(1);
        }
    }

    /// Records `[start, start + bytes)` (page aligned, in the private user region, overlapping
    /// no other demand region) as demand-zero memory with `access`: nothing is mapped now.
    ///
    /// # Errors
    /// Returns [`MapError::OutOfRegion`] for a range outside the private region, unaligned, or
    /// overlapping, and [`MapError::AlreadyMapped`] when every region record is taken.
    pub fn add_demand_zero(&mut self, start: VirtAddr, bytes: u64, access: Access) -> Result<(), MapError> {
        let start = start.as_u64();
        let end = start.checked_add(bytes).ok_or(MapError::OutOfRegion { address: start })?;
        let inside = (USER_PRIVATE_START..=USER_PRIVATE_END).contains(&start) && end <= USER_PRIVATE_END;
        let aligned = start.is_multiple_of(PAGE_BYTES) && end.is_multiple_of(PAGE_BYTES);
        let overlaps = self.demand.iter().flatten().any(|region| start < region.end && region.start < end);
        if !inside || !aligned || overlaps || bytes == 0 {
            return Err(MapError::OutOfRegion { address: start });
        }
        let free = self.demand.iter_mut().find(|region| region.is_none()).ok_or(MapError::AlreadyMapped { address: start })?;
        *free = Some(DemandRegion { start, end, access });
        Ok(())
    }

    /// Returns the demand-zero region that contains `address`.
    pub fn demand_region(&self, address: VirtAddr) -> Option<DemandRegion> {
        let address = address.as_u64();
        self.demand.iter().flatten().find(|region| (region.start..region.end).contains(&address)).copied()
    }

    /// Maps the page at `address` if it is demand memory not mapped yet: a zeroed page in a
    /// demand-zero region, or a copy of the binary's pristine writable page in its window slot.
    ///
    /// # Errors
    /// Returns [`MapError::OutOfFrames`] when memory ran out (the caller kills the process or
    /// refuses the system call; nothing was mapped).
    pub fn populate(&mut self, address: VirtAddr) -> Result<Populated, MapError> {
        if self.translate(address).is_some() {
            return Ok(Populated::Present);
        }
        let page = address.align_down(PAGE_BYTES);
        if let Some(region) = self.demand_region(address) {
            self.map_zeroed_page(page, region.access)?;
            self.demand_counts.zeroed += 1;
            return Ok(Populated::Zeroed);
        }
        if let Some(access) = self.mapping(address).and_then(|mapping| mapping.access) {
            self.map_zeroed_page(page, access)?;
            self.demand_counts.zeroed += 1;
            return Ok(Populated::Zeroed);
        }
        if super::global_segment::populate_writable(self, page)? {
            self.demand_counts.copied += 1;
            return Ok(Populated::Copied);
        }
        Ok(Populated::NotDemand)
    }

    /// Returns the mapping (`mmap`, `brk`) that contains `address`.
    pub fn mapping(&self, address: VirtAddr) -> Option<Mapping> {
        let address = address.as_u64();
        if self.mappings.is_empty() {
            return None;
        }
        let index = self.mappings.partition_point(|mapping| mapping.end <= address);
        self.mappings.get(index).filter(|mapping| mapping.start <= address).copied()
    }

    /// Returns the mappings, in address order.
    pub fn mappings(&self) -> &[Mapping] {
        &self.mappings
    }

    /// Adds the mapping `[start, end)` (page aligned, in the private region, overlapping no
    /// mapping and no demand region). Nothing is mapped until it is touched.
    ///
    /// # Errors
    /// [`MapError::OutOfRegion`] for a bad or overlapping range, [`MapError::OutOfFrames`] when
    /// the kernel heap cannot hold the record.
    pub fn add_mapping(&mut self, start: u64, end: u64, access: Option<Access>) -> Result<(), MapError> {
        let inside = USER_PRIVATE_START <= start && start < end && end <= USER_PRIVATE_END;
        let aligned = start.is_multiple_of(PAGE_BYTES) && end.is_multiple_of(PAGE_BYTES);
        let overlaps_demand = self.demand.iter().flatten().any(|region| start < region.end && region.start < end);
        let index = self.mappings.partition_point(|mapping| mapping.end <= start);
        let overlaps = self.mappings.get(index).is_some_and(|mapping| mapping.start < end);
        if !inside || !aligned || overlaps || overlaps_demand {
            return Err(MapError::OutOfRegion { address: start });
        }
        self.mappings.try_reserve(1).map_err(|_| MapError::OutOfFrames)?;
        self.mappings.insert(index, Mapping { start, end, access });
        Ok(())
    }

    /// Removes `[start, end)` (page aligned) from the mappings, splitting those it cuts, and
    /// unmaps and frees every touched page of the mappings it removes (only those: pages of the
    /// stack or the binary in the range stay, and the work is bounded by the mappings' size, not
    /// by the range's).
    ///
    /// # Errors
    /// [`MapError::OutOfFrames`] when splitting a mapping needs a record the heap cannot hold
    /// (nothing changed then).
    pub fn remove_mappings(&mut self, start: u64, end: u64) -> Result<(), MapError> {
        self.split_mappings_at(start)?;
        self.split_mappings_at(end)?;
        let index = self.mappings.partition_point(|mapping| mapping.end <= start);
        while let Some(mapping) = self.mappings.get(index).copied().filter(|mapping| mapping.start < end) {
            self.mappings.remove(index);
            let mut page = mapping.start;
            while page < mapping.end {
                if self.translate(VirtAddr::new(page)).is_some() {
                    self.unmap_page(VirtAddr::new(page));
                }
                page += PAGE_BYTES;
            }
        }
        Ok(())
    }

    /// Returns the bytes all mappings cover.
    pub fn mapped_bytes(&self) -> u64 {
        self.mappings.iter().map(|mapping| mapping.end - mapping.start).sum()
    }

    /// Sets the permissions of `[start, end)`, which mappings must cover entirely, to `access`:
    /// the records are split where the range cuts them, and touched pages get the new leaf
    /// flags (without user access for `None`: the contents stay for a later `mprotect`).
    ///
    /// # Errors
    /// [`MapError::OutOfRegion`] when part of the range is not mapped (nothing changed), and
    /// [`MapError::OutOfFrames`] when a split record does not fit in the heap.
    pub fn protect_mappings(&mut self, start: u64, end: u64, access: Option<Access>) -> Result<(), MapError> {
        // Decode: the whole range must be mapped.
        let mut cursor = start;
        while cursor < end {
            let mapping = self.mapping(VirtAddr::new(cursor)).ok_or(MapError::OutOfRegion { address: cursor })?;
            cursor = mapping.end;
        }
        self.split_mappings_at(start)?;
        self.split_mappings_at(end)?;
        for mapping in self.mappings.iter_mut().filter(|mapping| mapping.start >= start && mapping.end <= end) {
            mapping.access = access;
        }
        let flags = match access {
            Some(access) => access.flags(),
            None => {
                let mut flags = PageTableFlags::PRESENT;
                if paging::no_execute_enabled() {
                    flags |= PageTableFlags::NO_EXECUTE;
                }
                flags
            }
        };
        let mut page = start;
        while page < end {
            if self.translate(VirtAddr::new(page)).is_some() {
                paging::user::update_user_page_flags(&self.root, Page::<Size4KiB>::containing_address(VirtAddr::new(page)), flags)?;
            }
            page += PAGE_BYTES;
        }
        Ok(())
    }

    /// Grows or shrinks the mapping that starts at `start` to end at `end` (`end > start`):
    /// growing needs the new part free of other mappings, shrinking frees the pages cut off.
    ///
    /// # Errors
    /// [`MapError::OutOfRegion`] when no mapping starts at `start` or the new part overlaps one.
    pub fn resize_mapping(&mut self, start: u64, end: u64) -> Result<(), MapError> {
        let index = self.mappings.iter().position(|mapping| mapping.start == start).ok_or(MapError::OutOfRegion { address: start })?;
        let old_end = self.mappings[index].end;
        if end > old_end {
            let next_start = self.mappings.get(index + 1).map_or(USER_PRIVATE_END, |next| next.start);
            let demand_overlap = self.demand.iter().flatten().any(|region| old_end < region.end && region.start < end);
            if end > next_start || demand_overlap || end > USER_PRIVATE_END {
                return Err(MapError::OutOfRegion { address: old_end });
            }
            self.mappings[index].end = end;
        } else if end < old_end {
            self.remove_mappings(end, old_end)?;
        }
        Ok(())
    }

    /// Splits the mapping that contains `address` (strictly inside it) in two at `address`.
    fn split_mappings_at(&mut self, address: u64) -> Result<(), MapError> {
        let index = self.mappings.partition_point(|mapping| mapping.end <= address);
        let Some(mapping) = self.mappings.get(index).copied() else { return Ok(()) };
        if mapping.start < address && address < mapping.end {
            self.mappings.try_reserve(1).map_err(|_| MapError::OutOfFrames)?;
            self.mappings[index].end = address;
            self.mappings.insert(index + 1, Mapping { start: address, ..mapping });
        }
        Ok(())
    }

    /// Returns how many demand faults this space has served.
    pub fn demand_counts(&self) -> DemandCounts {
        self.demand_counts
    }

    /// Returns the global-segment slot of the binary this space runs.
    pub fn binary_slot(&self) -> Option<usize> {
        self.binary_slot
    }

    /// Returns the page table of this space that maps `address` with 4 KiB pages, when the
    /// space owns it (a private table of its binary's writable region).
    pub fn owned_leaf_table(&self, address: VirtAddr) -> Option<PhysAddr> {
        paging::user::owned_leaf_table(&self.root, address)
    }

    /// Changes the permissions of the private page at `address`.
    ///
    /// # Errors
    /// Returns [`MapError::OutOfRegion`] when it is not mapped (nor demand memory), and
    /// [`MapError::OutOfFrames`] when populating it ran out of memory.
    pub fn protect_page(&mut self, address: VirtAddr, access: Access) -> Result<(), MapError> {
        // A demand page not touched yet is populated first, so its new permissions stick.
        if self.populate(address)? == Populated::NotDemand {
            return Err(MapError::OutOfRegion { address: address.as_u64() });
        }
        let page = Page::<Size4KiB>::containing_address(address);
        paging::user::update_user_page_flags(&self.root, page, access.flags())
    }

    /// Links `table`, a page table the caller filled, into this space as entry `index` of
    /// `parent` (a table this space owns, linked earlier with this function; `None` for the
    /// root), and takes ownership of it: the entry carries `paging::user::OWNED`, the record
    /// that frees it with the space. Returns the table's address for further links.
    pub fn link_table(&mut self, parent: Option<PhysAddr>, index: usize, table: OwnedFrame) -> PhysAddr {
        let parent = parent.unwrap_or(self.root.start_address());
        self.tables += 1;
        paging::user::link_owned(parent, index, table, paging::user::OWNED_TABLE_FLAGS)
    }

    /// Maps `page` with leaf `flags` as entry `index` of `table` (a page table of this space,
    /// from [`AddressSpace::link_table`]) and takes ownership of it (OWNED is added).
    pub fn link_page(&mut self, table: PhysAddr, index: usize, page: OwnedFrame, flags: PageTableFlags) {
        self.pages += 1;
        paging::user::link_owned(table, index, page, flags | paging::user::OWNED);
    }

    /// Returns the address of this space's window PDPT (the table `global_segment::attach`
    /// linked, OWNED, at the window's PML4 entry), `None` before attach.
    pub fn window_table(&self) -> Option<PhysAddr> {
        let (table, flags) = paging::window::entry(self.root_frame(), WINDOW_PML4_INDEX)?;
        debug_assert!(flags.contains(paging::user::OWNED), "the window PDPT is the space's own");
        Some(table)
    }

    /// Points entry `slot` of this space's window PDPT at the shared directory `directory` with
    /// `flags` (not owned: the registry frees it). Returns `false` when the space has no window.
    /// Making a not-present entry present needs no flush: the CPU caches no not-present entry.
    pub fn link_window_shared(&mut self, slot: usize, directory: PhysAddr, flags: PageTableFlags) -> bool {
        let Some(window) = self.window_table() else { return false };
        paging::user::link_shared(window, slot, directory, flags);
        true
    }

    /// Clears entry `slot` of this space's window PDPT, freeing the directory and tables below
    /// it that the space owns (private copies with `share_tables=off`); returns how many
    /// page-table frames were freed. The caller invalidates every translation of the slot (a
    /// global flush) before the slot is reused.
    pub fn clear_window_entry(&mut self, slot: usize) -> usize {
        let Some(window) = self.window_table() else { return 0 };
        const PDPT_LEVEL: u8 = 3;
        let freed = paging::user::free_owned_at(window, slot, PDPT_LEVEL);
        debug_assert_eq!(freed.pages, 0, "a window slot of another binary holds no private page");
        self.tables -= freed.tables;
        self.pages -= freed.pages;
        freed.tables as usize
    }

    /// Sets the protection-key rights of the code in this space.
    pub fn set_pkru(&mut self, pkru: u32) {
        self.pkru = pkru;
    }

    /// Returns the protection-key rights of the code in this space.
    pub fn pkru(&self) -> u32 {
        self.pkru
    }

    /// Records the global-segment slot this space is attached to (released on drop).
    pub fn set_binary_slot(&mut self, slot: usize) {
        self.binary_slot = Some(slot);
    }

    /// Returns how many page-table frames this space owns (its PML4 included).
    pub fn table_frames(&self) -> usize {
        self.tables as usize + 1
    }

    /// Returns how many data frames this space owns.
    pub fn page_frames(&self) -> usize {
        self.pages as usize
    }

    /// Returns the frame of this space's PML4.
    pub fn root_frame(&self) -> PhysFrame {
        PhysFrame::containing_address(self.root.start_address())
    }

    /// Translates `address` in this space.
    pub fn translate(&self, address: VirtAddr) -> Option<Translation> {
        paging::user::translate_in(&self.root, address)
    }

    /// Makes this space the active one (with its PCID when the `pcid` mode is on).
    pub fn activate(&mut self) {
        let root = PhysFrame::containing_address(self.root.start_address());
        let value = pcid::activation(self.id, &mut self.lease, root);
        paging::activate_user_space(value);
    }

    /// Returns whether this space is the active one.
    pub fn is_active(&self) -> bool {
        cr::active_root().start_address() == self.root.start_address()
    }
}

impl Drop for AddressSpace {
    fn drop(&mut self) {
        debug_assert!(!self.is_active(), "an address space is dropped while active");
        let freed = paging::user::free_user_half(&mut self.root);
        debug_assert_eq!((freed.tables, freed.pages), (self.tables, self.pages), "the page tables' ownership record and the counts disagree");
        pcid::release(self.id, self.lease.take());
        if let Some(slot) = self.binary_slot {
            super::global_segment::detach(slot);
        }
    }
}
