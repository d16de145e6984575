//! A process's address space: its own PML4 with the kernel half linked in, the frames of its
//! private pages and page tables, and its PCID lease.
//!
//! Dropping an `AddressSpace` frees every frame it owns (pages and tables, never the kernel
//! half's tables) and returns its PCID. It must not be the active address space then: the
//! scheduler switches to the kernel's tables before it reaps a process.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use pcid_alloc::Lease;
use x86_64::structures::paging::{Page, PageTableFlags, PhysFrame, Size4KiB};
use x86_64::VirtAddr;

use super::frame::{self, OwnedFrame};
use super::layout::PAGE_BYTES;
use super::paging::{self, MapError, Translation};
use super::pcid;
use crate::arch::x86_64::cr;

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

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

/// A user address space.
#[derive(Debug)]
pub struct AddressSpace {
    id: u64,
    root: OwnedFrame,
    tables: Vec<OwnedFrame>,
    pages: Vec<OwnedFrame>,
    lease: Option<Lease>,
    /// The global-segment slot of the binary this space runs, once attached.
    binary_slot: Option<usize>,
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
            tables: Vec::new(),
            pages: Vec::new(),
            lease: None,
            binary_slot: None,
        })
    }

    /// Maps a fresh zeroed page at `address` with `access` and returns its frame.
    ///
    /// # Errors
    /// Returns a [`MapError`] when frames run out, the page is taken, or not a user address.
    pub fn map_zeroed_page(&mut self, address: VirtAddr, access: Access) -> Result<&OwnedFrame, MapError> {
        let frame = frame::allocate_zeroed().ok_or(MapError::OutOfFrames)?;
        let page = Page::<Size4KiB>::containing_address(address);
        paging::user::map_user_page(&self.root, page, &frame, access.flags(), &mut self.tables)?;
        self.pages.push(frame);
        Ok(&self.pages[self.pages.len() - 1])
    }

    /// Maps `bytes` (rounded up to pages) of zeroed memory at page-aligned `start`.
    ///
    /// # Errors
    /// As [`AddressSpace::map_zeroed_page`].
    pub fn map_zeroed(&mut self, start: VirtAddr, bytes: u64, access: Access) -> Result<(), MapError> {
        let pages = bytes.div_ceil(PAGE_BYTES);
        for index in 0..pages {
            self.map_zeroed_page(start + index * PAGE_BYTES, access)?;
        }
        Ok(())
    }

    /// Changes the permissions of the private page at `address`.
    ///
    /// # Errors
    /// Returns [`MapError::OutOfRegion`] when it is not mapped.
    pub fn protect_page(&mut self, address: VirtAddr, access: Access) -> Result<(), MapError> {
        let page = Page::<Size4KiB>::containing_address(address);
        paging::user::update_user_page_flags(&self.root, page, access.flags())
    }

    /// Takes ownership of a page-table frame linked into this space; returns its address.
    pub fn adopt_table(&mut self, table: OwnedFrame) -> x86_64::PhysAddr {
        let address = table.start_address();
        self.tables.push(table);
        address
    }

    /// Takes ownership of a data frame mapped into this space.
    pub fn adopt_page(&mut self, page: OwnedFrame) {
        self.pages.push(page);
    }

    /// Writes entry `index` of this space's PML4 (the global-segment window's entry).
    pub fn set_root_entry(&mut self, index: usize, target: x86_64::PhysAddr, flags: PageTableFlags) {
        paging::window::set_entry(&mut self.root, index, target, flags);
    }

    /// Records the global-segment slot this space is attached to (released on drop).
    pub fn set_binary_slot(&mut self, slot: usize) {
        self.binary_slot = Some(slot);
    }

    /// Returns how many page-table frames this space owns (its PML4 included).
    pub fn table_frames(&self) -> usize {
        self.tables.len() + 1
    }

    /// Returns how many data frames this space owns.
    pub fn page_frames(&self) -> usize {
        self.pages.len()
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
        pcid::release(self.id, self.lease.take());
        if let Some(slot) = self.binary_slot {
            super::global_segment::detach(slot);
        }
    }
}
