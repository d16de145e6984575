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

    /// Writes `bytes` at `address` into this space's own frames, whatever the page permissions
    /// (the loader writes read-only pages while it builds them).
    ///
    /// # Errors
    /// Returns [`MapError::OutOfRegion`] when a byte is not mapped.
    pub fn write_bytes(&mut self, address: VirtAddr, bytes: &[u8]) -> Result<(), MapError> {
        let mut done = 0usize;
        while done < bytes.len() {
            let current = address + done as u64;
            let in_page = ((PAGE_BYTES - current.as_u64() % PAGE_BYTES) as usize).min(bytes.len() - done);
            let translation = self.translate(current).ok_or(MapError::OutOfRegion { address: current.as_u64() })?;
            paging::user::write_physical(translation.physical, &bytes[done..done + in_page]);
            done += in_page;
        }
        Ok(())
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
    }
}
