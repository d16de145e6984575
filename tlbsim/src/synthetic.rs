//! Synthetic guest memory and a page-table builder, for tests and benchmarks.
//!
//! [`SyntheticMemory`] is a sparse, zero-filled guest physical memory backed by a `HashMap` of
//! 64-bit words; it implements [`GuestMemory`]. [`PageTableBuilder`] writes 4-level paging
//! structures into it (Intel SDM vol. 3A §4.5): it allocates tables from
//! [`PageTableBuilder::TABLE_AREA_START`] upward, maps 4 KiB, 2 MiB and 1 GiB pages with or
//! without the G flag, unmaps them, and can share one PML4 slot between address spaces the way
//! shoal's global segment does. Mapped pages need no backing; only the tables are stored.
//!
//! Neighbours: the walker (`walk.rs`) reads what this module writes; the crate's tests and the
//! host tool's tests build their scenarios with it.

use std::collections::HashMap;

use crate::address::{PageSize, PagingLevel, PhysicalAddress, VirtualAddress};
use crate::walk::{
    ENTRY_ADDRESS_MASK, ENTRY_GLOBAL, ENTRY_PAGE_SIZE, ENTRY_PRESENT, ENTRY_SIZE_BYTES, GuestMemory,
};

/// Writable flag, bit 1 (Intel SDM vol. 3A §4.5.4); set on every entry the builder writes.
const ENTRY_WRITABLE: u64 = 1 << 1;
/// User flag, bit 2 (Intel SDM vol. 3A §4.5.4); set on every entry the builder writes.
const ENTRY_USER: u64 = 1 << 2;
/// Flags of an entry that references another paging structure.
const TABLE_ENTRY_FLAGS: u64 = ENTRY_PRESENT | ENTRY_WRITABLE | ENTRY_USER;
/// Size of one paging structure in bytes.
const TABLE_SIZE_BYTES: u64 = 4096;

/// Sparse guest physical memory: every word reads as zero until written.
#[derive(Clone, Debug, Default)]
pub struct SyntheticMemory {
    /// Written words by 8-byte-aligned address.
    words: HashMap<u64, u64>,
    /// Reads at or above this address return `None`, as if no RAM backed them.
    size_bytes: u64,
}

impl SyntheticMemory {
    /// Returns an empty memory of `size_bytes` bytes.
    pub fn new(size_bytes: u64) -> SyntheticMemory {
        SyntheticMemory {
            words: HashMap::new(),
            size_bytes,
        }
    }

    /// Writes the word at `address`, which must be 8-byte aligned and inside the memory.
    ///
    /// # Panics
    ///
    /// Panics if `address` is unaligned or outside the memory: a broken test fixture.
    pub fn write_u64(&mut self, address: PhysicalAddress, value: u64) {
        let raw = address.as_u64();
        assert!(
            raw.is_multiple_of(ENTRY_SIZE_BYTES),
            "unaligned synthetic write at {address}"
        );
        assert!(
            raw < self.size_bytes,
            "synthetic write at {address} outside the memory"
        );
        self.words.insert(raw, value);
    }

    /// Returns the memory size in bytes.
    pub fn size_bytes(&self) -> u64 {
        self.size_bytes
    }
}

impl GuestMemory for SyntheticMemory {
    fn read_u64(&self, address: PhysicalAddress) -> Option<u64> {
        let raw = address.as_u64();
        (raw < self.size_bytes).then(|| self.words.get(&raw).copied().unwrap_or(0))
    }
}

/// Builds 4-level paging structures in a [`SyntheticMemory`].
#[derive(Clone, Debug)]
pub struct PageTableBuilder {
    /// The memory the tables live in.
    memory: SyntheticMemory,
    /// The next unused table frame.
    next_table: u64,
}

impl Default for PageTableBuilder {
    fn default() -> Self {
        PageTableBuilder::new()
    }
}

impl PageTableBuilder {
    /// Guest physical address of the first table the builder allocates (16 MiB).
    pub const TABLE_AREA_START: u64 = 16 << 20;

    /// Size of the synthetic memory in bytes (1 TiB); tables are allocated below it.
    pub const MEMORY_SIZE_BYTES: u64 = 1 << 40;

    /// Returns a builder over an empty memory.
    pub fn new() -> PageTableBuilder {
        PageTableBuilder {
            memory: SyntheticMemory::new(Self::MEMORY_SIZE_BYTES),
            next_table: Self::TABLE_AREA_START,
        }
    }

    /// Returns the memory holding the tables built so far.
    pub fn memory(&self) -> &SyntheticMemory {
        &self.memory
    }

    /// Returns the number of 4 KiB tables allocated so far.
    pub fn table_count(&self) -> u64 {
        (self.next_table - Self::TABLE_AREA_START) / TABLE_SIZE_BYTES
    }

    /// Allocates an empty PML4 table and returns its address, to be used as CR3 (with a PCID
    /// in bits 11:0 if wanted).
    pub fn new_root(&mut self) -> PhysicalAddress {
        self.allocate_table()
    }

    /// Maps the page of `size` containing `address` to `physical_page` in the address space
    /// rooted at `root`, creating intermediate tables as needed. `global` sets the leaf's G
    /// flag. An existing leaf for the same page is replaced.
    ///
    /// # Panics
    ///
    /// Panics if `address` is not canonical, `physical_page` is not aligned to `size`, or a
    /// larger page already maps part of the range: a broken test fixture.
    pub fn map(
        &mut self,
        root: PhysicalAddress,
        address: VirtualAddress,
        size: PageSize,
        physical_page: PhysicalAddress,
        global: bool,
    ) {
        assert!(address.is_canonical(), "map of non-canonical {address}");
        assert!(
            physical_page.as_u64().is_multiple_of(size.size_bytes()),
            "physical page {physical_page} not aligned to {size}"
        );
        let leaf_level = leaf_level(size);
        let entry_address = self.entry_address(root, address, leaf_level, true);
        let mut leaf = physical_page.as_u64() | ENTRY_PRESENT | ENTRY_WRITABLE | ENTRY_USER;
        if size != PageSize::Size4KiB {
            leaf |= ENTRY_PAGE_SIZE;
        }
        if global {
            leaf |= ENTRY_GLOBAL;
        }
        self.memory.write_u64(entry_address, leaf);
    }

    /// Clears the leaf entry of the page of `size` containing `address` (all its bits, the
    /// present flag included). Does nothing if no table leads there.
    ///
    /// # Panics
    ///
    /// Panics if a larger page maps the address: a broken test fixture.
    pub fn unmap(&mut self, root: PhysicalAddress, address: VirtualAddress, size: PageSize) {
        let leaf_level = leaf_level(size);
        let entry_address = self.entry_address(root, address, leaf_level, false);
        if entry_address.as_u64() != 0 {
            self.memory.write_u64(entry_address, 0);
        }
    }

    /// Copies the PML4 entry covering `address` from `from_root` to `to_root`, so both address
    /// spaces share everything below it (as shoal's global segment shares its tables).
    pub fn share_pml4_entry(
        &mut self,
        from_root: PhysicalAddress,
        to_root: PhysicalAddress,
        address: VirtualAddress,
    ) {
        let offset = address.table_index(PagingLevel::Pml4) as u64 * ENTRY_SIZE_BYTES;
        let entry = self.read(PhysicalAddress::new(from_root.as_u64() + offset));
        self.memory
            .write_u64(PhysicalAddress::new(to_root.as_u64() + offset), entry);
    }

    /// Returns the address of the entry for `address` at `target` level, walking from `root`;
    /// creates missing tables when `create` is set, else returns address 0 when one is missing.
    fn entry_address(
        &mut self,
        root: PhysicalAddress,
        address: VirtualAddress,
        target: PagingLevel,
        create: bool,
    ) -> PhysicalAddress {
        let mut table = root.as_u64() & ENTRY_ADDRESS_MASK;
        let mut level = PagingLevel::Pml4;
        loop {
            let entry_address =
                PhysicalAddress::new(table + address.table_index(level) as u64 * ENTRY_SIZE_BYTES);
            if level == target {
                return entry_address;
            }
            let entry = self.read(entry_address);
            assert!(
                entry & ENTRY_PAGE_SIZE == 0 || entry & ENTRY_PRESENT == 0,
                "a larger page already maps {address}"
            );
            table = if entry & ENTRY_PRESENT != 0 {
                entry & ENTRY_ADDRESS_MASK
            } else if create {
                let new_table = self.allocate_table();
                self.memory
                    .write_u64(entry_address, new_table.as_u64() | TABLE_ENTRY_FLAGS);
                new_table.as_u64()
            } else {
                return PhysicalAddress::new(0);
            };
            level = match level.next() {
                Some(next) => next,
                None => return entry_address,
            };
        }
    }

    /// Reads a word the builder wrote (zero if none).
    fn read(&self, address: PhysicalAddress) -> u64 {
        self.memory.read_u64(address).unwrap_or(0)
    }

    /// Returns a fresh, zeroed table.
    fn allocate_table(&mut self) -> PhysicalAddress {
        let table = PhysicalAddress::new(self.next_table);
        self.next_table += TABLE_SIZE_BYTES;
        table
    }
}

/// Returns the paging level whose entries map pages of `size`.
const fn leaf_level(size: PageSize) -> PagingLevel {
    match size {
        PageSize::Size4KiB => PagingLevel::PageTable,
        PageSize::Size2MiB => PagingLevel::PageDirectory,
        PageSize::Size1GiB => PagingLevel::Pdpt,
    }
}
