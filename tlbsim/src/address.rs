//! Address, page-size and PCID types shared by every other module.
//!
//! [`VirtualAddress`] and [`PhysicalAddress`] keep guest linear and guest physical addresses
//! apart; [`PageSize`] names the three page sizes of 4-level paging and knows how to cut a page
//! number out of an address; [`Pcid`] is a 12-bit process-context identifier. The geometry
//! (`geometry.rs`), the arrays (`tlb.rs`), the walker (`walk.rs`) and the model (`model.rs`) all
//! speak in these types. This crate has no dependencies, so it defines its own small newtypes
//! instead of the `x86_64` crate's.

use core::fmt;

/// Number of linear-address bits that 4-level paging translates (Intel SDM vol. 3A §4.5).
pub const LINEAR_ADDRESS_BITS: u32 = 48;

/// A guest linear (virtual) address.
///
/// 4-level paging translates bits 47:0; bits 63:48 must copy bit 47, otherwise the address is
/// not canonical and any access to it faults before translation (Intel SDM vol. 1 §3.3.7.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct VirtualAddress(u64);

impl VirtualAddress {
    /// Wraps a raw 64-bit linear address, canonical or not.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// Returns the raw 64-bit value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }

    /// Reports whether bits 63:47 are all equal, as 4-level paging requires.
    pub const fn is_canonical(self) -> bool {
        let shifted = (self.0 as i64) >> (LINEAR_ADDRESS_BITS - 1);
        shifted == 0 || shifted == -1
    }

    /// Returns the index into the paging structure of `level` (bits 47:39, 38:30, 29:21 or
    /// 20:12; Intel SDM vol. 3A §4.5.4).
    pub const fn table_index(self, level: PagingLevel) -> usize {
        const INDEX_MASK: u64 = (1 << PagingLevel::INDEX_BITS) - 1;
        ((self.0 >> level.index_shift_bits()) & INDEX_MASK) as usize
    }
}

impl fmt::Display for VirtualAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:#x}", self.0)
    }
}

/// A guest physical address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhysicalAddress(u64);

impl PhysicalAddress {
    /// Wraps a raw guest physical address.
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// Returns the raw value.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PhysicalAddress {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:#x}", self.0)
    }
}

/// One of the four levels of 4-level paging, from the root down (Intel SDM vol. 3A §4.5).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PagingLevel {
    /// The PML4 table that CR3 points to; its entries map 512 GiB each.
    Pml4,
    /// A page-directory-pointer table; an entry with PS=1 maps a 1 GiB page.
    Pdpt,
    /// A page directory; an entry with PS=1 maps a 2 MiB page.
    PageDirectory,
    /// A page table; every present entry maps a 4 KiB page.
    PageTable,
}

impl PagingLevel {
    /// Number of linear-address bits that select an entry within one paging structure.
    pub const INDEX_BITS: u32 = 9;

    /// Returns the lowest linear-address bit of this level's index field.
    pub const fn index_shift_bits(self) -> u32 {
        match self {
            PagingLevel::Pml4 => 39,
            PagingLevel::Pdpt => 30,
            PagingLevel::PageDirectory => 21,
            PagingLevel::PageTable => 12,
        }
    }

    /// Returns the level below this one, or `None` for the page table.
    pub const fn next(self) -> Option<PagingLevel> {
        match self {
            PagingLevel::Pml4 => Some(PagingLevel::Pdpt),
            PagingLevel::Pdpt => Some(PagingLevel::PageDirectory),
            PagingLevel::PageDirectory => Some(PagingLevel::PageTable),
            PagingLevel::PageTable => None,
        }
    }

    /// Returns the page size a leaf entry at this level maps, or `None` for the PML4, whose
    /// entries are never leaves (Intel SDM vol. 3A §4.5.4: PS is reserved in a PML4E).
    pub const fn leaf_page_size(self) -> Option<PageSize> {
        match self {
            PagingLevel::Pml4 => None,
            PagingLevel::Pdpt => Some(PageSize::Size1GiB),
            PagingLevel::PageDirectory => Some(PageSize::Size2MiB),
            PagingLevel::PageTable => Some(PageSize::Size4KiB),
        }
    }
}

/// A page size of 4-level paging (Intel SDM vol. 3A §4.5).
///
/// A TLB entry translates one page number, whose width depends on the page size: bits 47:12 for
/// 4 KiB, 47:21 for 2 MiB and 47:30 for 1 GiB pages (Intel SDM vol. 3A §4.10.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PageSize {
    /// A 4 KiB page, mapped by a page-table entry.
    Size4KiB,
    /// A 2 MiB page, mapped by a page-directory entry with PS=1.
    Size2MiB,
    /// A 1 GiB page, mapped by a page-directory-pointer-table entry with PS=1.
    Size1GiB,
}

impl PageSize {
    /// Every page size, smallest first; lookups probe in this order.
    pub const ALL: [PageSize; 3] = [PageSize::Size4KiB, PageSize::Size2MiB, PageSize::Size1GiB];

    /// Returns the number of address bits below the page number (12, 21 or 30).
    pub const fn shift_bits(self) -> u32 {
        match self {
            PageSize::Size4KiB => 12,
            PageSize::Size2MiB => 21,
            PageSize::Size1GiB => 30,
        }
    }

    /// Returns the size of the page in bytes.
    pub const fn size_bytes(self) -> u64 {
        1 << self.shift_bits()
    }

    /// Returns this size's position in [`PageSize::ALL`], for indexing per-size tables.
    pub const fn index(self) -> usize {
        match self {
            PageSize::Size4KiB => 0,
            PageSize::Size2MiB => 1,
            PageSize::Size1GiB => 2,
        }
    }

    /// Returns the page number of `address` for this page size: bits 47 down to
    /// [`PageSize::shift_bits`] (Intel SDM vol. 3A §4.10.2.1). Bits 63:48 are dropped, so only
    /// canonical addresses give meaningful page numbers.
    pub const fn page_number(self, address: VirtualAddress) -> u64 {
        const LINEAR_MASK: u64 = (1 << LINEAR_ADDRESS_BITS) - 1;
        (address.as_u64() & LINEAR_MASK) >> self.shift_bits()
    }

    /// Returns the short name used in geometry strings and report keys: `4k`, `2m` or `1g`.
    pub const fn short_name(self) -> &'static str {
        match self {
            PageSize::Size4KiB => "4k",
            PageSize::Size2MiB => "2m",
            PageSize::Size1GiB => "1g",
        }
    }

    /// Parses a short name (`4k`, `2m`, `1g`) back into a page size.
    pub fn from_short_name(name: &str) -> Option<PageSize> {
        PageSize::ALL
            .into_iter()
            .find(|size| size.short_name() == name)
    }
}

impl fmt::Display for PageSize {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.short_name())
    }
}

/// A process-context identifier: the 12-bit tag of TLB entries (Intel SDM vol. 3A §4.10.1).
///
/// When CR4.PCIDE=1 the current PCID is CR3 bits 11:0; when CR4.PCIDE=0 it is always 000H.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pcid(u16);

impl Pcid {
    /// PCID 000H, the only PCID in use while CR4.PCIDE=0.
    pub const ZERO: Pcid = Pcid(0);

    /// The largest PCID, FFFH.
    pub const MAX: Pcid = Pcid(0xfff);

    /// Returns the PCID `value`, or `None` if it does not fit in 12 bits.
    pub const fn new(value: u16) -> Option<Pcid> {
        if value <= Self::MAX.0 {
            Some(Pcid(value))
        } else {
            None
        }
    }

    /// Returns the PCID field of a CR3 value, bits 11:0 (Intel SDM vol. 3A §4.10.1).
    pub const fn from_cr3(cr3: u64) -> Pcid {
        Pcid((cr3 & Self::MAX.0 as u64) as u16)
    }

    /// Returns the raw 12-bit value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }
}

impl fmt::Display for Pcid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:#05x}", self.0)
    }
}
