//! The page walker: 4-level paging over guest physical memory.
//!
//! [`walk`] translates one linear address the way the processor does after a TLB miss (Intel
//! SDM vol. 3A §4.5): it reads the PML4 entry from the table that CR3 points to, then the
//! page-directory-pointer-table entry, the page-directory entry and the page-table entry,
//! stopping early at a PDPTE with PS=1 (1 GiB page) or a PDE with PS=1 (2 MiB page). Every entry
//! read is one memory reference. A clear present bit anywhere ends the walk with a
//! [`WalkFault`], and such a walk caches nothing (Intel SDM vol. 3A §4.10.2.2: the processor
//! does not cache a translation for a page number whose translation would fault).
//!
//! Guest memory comes through the [`GuestMemory`] trait: the QEMU plugin implements it over the
//! guest's RAM file, the tests over a `HashMap` (see `synthetic.rs`).
//!
//! Checked: present bits, the PS bit at the PDPT and PD levels, PS=1 in a PML4E (reserved, so
//! a fault). Not checked: other reserved bits (physical-address bits above MAXPHYADDR, bits
//! 20:13 of a 2 MiB PDE, ...), access rights (R/W, U/S, XD, protection keys), and the
//! accessed and dirty flags, which the walker neither reads nor sets.

use crate::address::{PageSize, PagingLevel, PhysicalAddress, VirtualAddress};

/// Present flag, bit 0 of every paging-structure entry (Intel SDM vol. 3A §4.5.4).
pub const ENTRY_PRESENT: u64 = 1 << 0;
/// Page-size flag, bit 7: 1 in a PDPTE or PDE that maps a page (Intel SDM vol. 3A §4.5.4).
pub const ENTRY_PAGE_SIZE: u64 = 1 << 7;
/// Global flag, bit 8 of an entry that maps a page (Intel SDM vol. 3A §4.5.4, §4.10.2.4).
pub const ENTRY_GLOBAL: u64 = 1 << 8;
/// Bits 51:12 of an entry: the physical address of the next table or of the page.
pub const ENTRY_ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;
/// Size of one paging-structure entry in bytes.
pub const ENTRY_SIZE_BYTES: u64 = 8;

/// Read access to guest physical memory for the walker.
pub trait GuestMemory {
    /// Returns the little-endian 64-bit word at guest physical address `address` (8-byte
    /// aligned), or `None` if nothing backs it.
    fn read_u64(&self, address: PhysicalAddress) -> Option<u64>;
}

impl<T: GuestMemory + ?Sized> GuestMemory for &T {
    fn read_u64(&self, address: PhysicalAddress) -> Option<u64> {
        (**self).read_u64(address)
    }
}

/// What a successful walk found: the leaf entry's page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Mapping {
    /// The size of the page, from the level the walk stopped at.
    pub page_size: PageSize,
    /// The guest physical address of the start of the page.
    pub physical_page: PhysicalAddress,
    /// The leaf entry's G flag (bit 8). It makes the TLB entry global only while CR4.PGE=1
    /// (Intel SDM vol. 3A §4.10.2.4).
    pub global_flag: bool,
}

/// Why a walk stopped without a translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WalkFault {
    /// The entry at this level has its present flag clear.
    NotPresent(PagingLevel),
    /// The entry at this level has a reserved bit set (only PS in a PML4E is checked).
    ReservedBit(PagingLevel),
    /// The guest memory did not back the entry at this level.
    Unreadable(PagingLevel),
}

impl WalkFault {
    /// Returns the paging level whose entry stopped the walk.
    pub const fn level(self) -> PagingLevel {
        match self {
            WalkFault::NotPresent(level)
            | WalkFault::ReservedBit(level)
            | WalkFault::Unreadable(level) => level,
        }
    }
}

/// The result of one walk, with its cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Walk {
    /// The page found, or why there is none.
    pub result: Result<Mapping, WalkFault>,
    /// Paging-structure entries read: 4 for a 4 KiB page, 3 for 2 MiB, 2 for 1 GiB, and the
    /// number of levels reached for a faulting walk.
    pub memory_references: u32,
}

/// Walks the 4-level paging structures rooted at `root` (CR3 bits 51:12) for `address`.
///
/// The caller checks that `address` is canonical; bits 63:48 are ignored here.
pub fn walk<M: GuestMemory + ?Sized>(
    memory: &M,
    root: PhysicalAddress,
    address: VirtualAddress,
) -> Walk {
    let mut table = root.as_u64() & ENTRY_ADDRESS_MASK;
    let mut level = PagingLevel::Pml4;
    let mut memory_references = 0;
    loop {
        let entry_address = table + address.table_index(level) as u64 * ENTRY_SIZE_BYTES;
        memory_references += 1;
        let fault = |fault: WalkFault| Walk {
            result: Err(fault),
            memory_references,
        };
        let Some(entry) = memory.read_u64(PhysicalAddress::new(entry_address)) else {
            return fault(WalkFault::Unreadable(level));
        };
        if entry & ENTRY_PRESENT == 0 {
            return fault(WalkFault::NotPresent(level));
        }
        let leaf_size = match (level.leaf_page_size(), entry & ENTRY_PAGE_SIZE != 0) {
            (None, true) => return fault(WalkFault::ReservedBit(level)),
            (Some(PageSize::Size4KiB), _) => Some(PageSize::Size4KiB),
            (Some(size), true) => Some(size),
            (_, false) => None,
        };
        if let Some(page_size) = leaf_size {
            let page_mask = !(page_size.size_bytes() - 1);
            let mapping = Mapping {
                page_size,
                physical_page: PhysicalAddress::new(entry & ENTRY_ADDRESS_MASK & page_mask),
                global_flag: entry & ENTRY_GLOBAL != 0,
            };
            return Walk {
                result: Ok(mapping),
                memory_references,
            };
        }
        table = entry & ENTRY_ADDRESS_MASK;
        match level.next() {
            Some(next) => level = next,
            // Unreachable: the page-table level always returns above.
            None => return fault(WalkFault::ReservedBit(level)),
        }
    }
}
