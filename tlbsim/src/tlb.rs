//! Set-associative TLB arrays with true LRU replacement, and the levels built from them.
//!
//! [`Translation`] is what a TLB entry holds and what a hit returns. Inside the crate, a
//! `TlbArray` is one [`ArrayGeometry`] turned into storage: a flat `Vec` of entries, set after
//! set, each entry tagged by page size and page number, by the PCID that was current when it was
//! filled, and by its global flag (Intel SDM vol. 3A §4.10.2.2 and §4.10.2.4). Every array keeps
//! a clock that advances on each touch, and each entry the clock value of its last touch; the
//! victim of a fill is the first invalid way, else the way with the smallest stamp, which is
//! exactly the least recently used one. A `TlbLevel` groups the arrays of one level and routes
//! each page size to its array.
//!
//! A lookup costs O(ways) per page size the level holds and allocates nothing. Invalidations of
//! one page look at one set per page size; invalidations by PCID or of everything scan the
//! whole array, which is fine because they are rare next to lookups.
//!
//! Neighbours: `model.rs` owns three levels and applies the SDM's rules through the
//! `invalidate_*` methods here; `geometry.rs` describes the shapes.

use crate::address::{PageSize, Pcid, PhysicalAddress, VirtualAddress};
use crate::geometry::{ArrayGeometry, LevelGeometry};

/// A cached translation: what a TLB entry holds besides its tags, and what a hit returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translation {
    /// The size of the page the translation maps.
    pub page_size: PageSize,
    /// The guest physical address of the start of the page.
    pub physical_page: PhysicalAddress,
    /// Whether the entry is global: the leaf's G flag was 1 while CR4.PGE was 1 (Intel SDM
    /// vol. 3A §4.10.2.4). A global entry matches every PCID.
    pub global: bool,
}

impl Translation {
    /// Returns the guest physical address that `address` translates to under this entry.
    pub const fn physical_address(&self, address: VirtualAddress) -> PhysicalAddress {
        let offset_mask = self.page_size.size_bytes() - 1;
        PhysicalAddress::new(self.physical_page.as_u64() | (address.as_u64() & offset_mask))
    }
}

/// The key of an empty way; no real key reaches it because page numbers have at most 36 bits.
const INVALID_KEY: u64 = u64::MAX;

/// Number of low key bits that hold the page-size index.
const KEY_SIZE_BITS: u32 = 2;

/// Returns the key of a page: its page number with the page-size index in the low bits, so one
/// comparison checks both.
const fn entry_key(size: PageSize, page_number: u64) -> u64 {
    (page_number << KEY_SIZE_BITS) | size.index() as u64
}

/// One way of one set.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// [`entry_key`] of the cached page, or [`INVALID_KEY`] for an empty way.
    key: u64,
    /// Clock value of the last lookup hit or fill; smallest in the set = least recently used.
    stamp: u64,
    /// Start of the physical page.
    physical_page: u64,
    /// The PCID current when the entry was filled (Intel SDM vol. 3A §4.10.1).
    pcid: Pcid,
    /// Whether the entry is global (Intel SDM vol. 3A §4.10.2.4).
    global: bool,
}

impl Entry {
    /// An empty way.
    const EMPTY: Entry = Entry {
        key: INVALID_KEY,
        stamp: 0,
        physical_page: 0,
        pcid: Pcid::ZERO,
        global: false,
    };

    /// Reports whether the way holds a translation.
    const fn is_valid(&self) -> bool {
        self.key != INVALID_KEY
    }

    /// Returns the page size encoded in the key of a valid entry.
    const fn page_size(&self) -> PageSize {
        PageSize::ALL[(self.key & ((1 << KEY_SIZE_BITS) - 1)) as usize]
    }

    /// Returns the cached translation of a valid entry.
    const fn translation(&self) -> Translation {
        Translation {
            page_size: self.page_size(),
            physical_page: PhysicalAddress::new(self.physical_page),
            global: self.global,
        }
    }
}

/// A read-only view of one valid entry, passed to invalidation predicates.
#[derive(Clone, Copy, Debug)]
pub(crate) struct EntryView {
    /// The PCID the entry is associated with.
    pub(crate) pcid: Pcid,
    /// Whether the entry is global.
    pub(crate) global: bool,
}

/// One set-associative array with true LRU replacement.
#[derive(Clone, Debug)]
pub(crate) struct TlbArray {
    /// The entries, set after set: set `s` is `entries[s * ways .. (s + 1) * ways]`.
    entries: Vec<Entry>,
    /// Ways per set.
    ways: usize,
    /// `sets - 1`; the set of a page is `page_number & set_mask`.
    set_mask: u64,
    /// Advances on every touch; the source of the LRU stamps.
    clock: u64,
}

impl TlbArray {
    /// Builds an empty array. The geometry must have passed [`ArrayGeometry::check`].
    pub(crate) fn new(geometry: &ArrayGeometry) -> TlbArray {
        debug_assert!(
            geometry.check().is_ok(),
            "array geometry not checked: {geometry:?}"
        );
        TlbArray {
            entries: vec![Entry::EMPTY; geometry.entries as usize],
            ways: geometry.ways as usize,
            set_mask: u64::from(geometry.set_count()) - 1,
            clock: 0,
        }
    }

    /// Returns the index of the first way of the set that `page_number` maps to.
    #[inline]
    fn set_start(&self, page_number: u64) -> usize {
        (page_number & self.set_mask) as usize * self.ways
    }

    /// Looks up a page for `pcid` and, on a hit, makes it the most recently used way of its set.
    /// An entry matches when its key does and it is global or tagged with `pcid` (Intel SDM
    /// vol. 3A §4.10.2.4).
    #[inline]
    pub(crate) fn lookup(
        &mut self,
        size: PageSize,
        page_number: u64,
        pcid: Pcid,
    ) -> Option<Translation> {
        let key = entry_key(size, page_number);
        let start = self.set_start(page_number);
        let set = &mut self.entries[start..start + self.ways];
        let entry = set
            .iter_mut()
            .find(|entry| entry.key == key && (entry.global || entry.pcid == pcid))?;
        self.clock += 1;
        entry.stamp = self.clock;
        Some(entry.translation())
    }

    /// Returns the index of the entry a [`TlbArray::lookup`] would hit, without touching it.
    #[inline]
    pub(crate) fn find(&self, size: PageSize, page_number: u64, pcid: Pcid) -> Option<usize> {
        let key = entry_key(size, page_number);
        let start = self.set_start(page_number);
        self.entries[start..start + self.ways]
            .iter()
            .position(|entry| entry.key == key && (entry.global || entry.pcid == pcid))
            .map(|way| start + way)
    }

    /// Makes entry `index` the most recently used of its set, as a lookup hit on it does.
    #[inline]
    pub(crate) fn touch(&mut self, index: usize) {
        self.clock += 1;
        if let Some(entry) = self.entries.get_mut(index) {
            entry.stamp = self.clock;
        }
    }

    /// Fills a translation for `page_number` tagged with `pcid`, evicting the least recently
    /// used way of its set if no way is empty. Returns whether a valid entry was evicted.
    pub(crate) fn insert(
        &mut self,
        page_number: u64,
        pcid: Pcid,
        translation: Translation,
    ) -> bool {
        let start = self.set_start(page_number);
        let set = &mut self.entries[start..start + self.ways];
        let victim_way = match set.iter().position(|entry| !entry.is_valid()) {
            Some(empty_way) => empty_way,
            None => set
                .iter()
                .enumerate()
                .min_by_key(|(_, entry)| entry.stamp)
                .map_or(0, |(way, _)| way),
        };
        let evicted = set[victim_way].is_valid();
        self.clock += 1;
        set[victim_way] = Entry {
            key: entry_key(translation.page_size, page_number),
            stamp: self.clock,
            physical_page: translation.physical_page.as_u64(),
            pcid,
            global: translation.global,
        };
        evicted
    }

    /// Empties every valid entry for which `condition` holds; returns how many were emptied.
    pub(crate) fn invalidate_where(&mut self, mut condition: impl FnMut(EntryView) -> bool) -> u64 {
        let mut removed = 0;
        for entry in self.entries.iter_mut().filter(|entry| entry.is_valid()) {
            if condition(EntryView {
                pcid: entry.pcid,
                global: entry.global,
            }) {
                *entry = Entry::EMPTY;
                removed += 1;
            }
        }
        removed
    }

    /// Empties the entries for one page (`size`, `page_number`) for which `condition` holds;
    /// returns how many were emptied. Only the page's set is examined.
    pub(crate) fn invalidate_page_where(
        &mut self,
        size: PageSize,
        page_number: u64,
        mut condition: impl FnMut(EntryView) -> bool,
    ) -> u64 {
        let key = entry_key(size, page_number);
        let start = self.set_start(page_number);
        let mut removed = 0;
        for entry in &mut self.entries[start..start + self.ways] {
            if entry.key == key
                && condition(EntryView {
                    pcid: entry.pcid,
                    global: entry.global,
                })
            {
                *entry = Entry::EMPTY;
                removed += 1;
            }
        }
        removed
    }

    /// Returns the number of valid entries.
    pub(crate) fn valid_entries(&self) -> u64 {
        self.entries.iter().filter(|entry| entry.is_valid()).count() as u64
    }

    /// Empties every entry and restarts the clock.
    pub(crate) fn clear(&mut self) {
        self.entries.fill(Entry::EMPTY);
        self.clock = 0;
    }
}

/// Where an entry lies in a level: its array and its index there. Valid until the level's
/// next fill or invalidation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct EntrySlot {
    /// The array's index in the level.
    array: u32,
    /// The entry's index in the array.
    entry: u32,
}

impl EntrySlot {
    /// The slot an empty fast-path entry holds (never used: no page is recorded with it).
    pub const NONE: EntrySlot = EntrySlot { array: 0, entry: 0 };
}

/// The arrays of one level, with each page size routed to the array that caches it.
#[derive(Clone, Debug)]
pub(crate) struct TlbLevel {
    /// The arrays, in geometry order.
    arrays: Vec<TlbArray>,
    /// For each [`PageSize::index`], the array caching that size, if any.
    array_for_size: [Option<usize>; 3],
}

impl TlbLevel {
    /// Builds an empty level. The geometry must have passed `Geometry::validate`.
    pub(crate) fn new(geometry: &LevelGeometry) -> TlbLevel {
        TlbLevel {
            arrays: geometry.arrays.iter().map(TlbArray::new).collect(),
            array_for_size: PageSize::ALL.map(|size| geometry.array_for(size)),
        }
    }

    /// Looks `address` up for `pcid` in every page size the level caches, 4 KiB first, and
    /// returns the first match (Intel SDM vol. 3A §4.10.2.3 allows any of several matches).
    #[inline]
    pub(crate) fn lookup(&mut self, address: VirtualAddress, pcid: Pcid) -> Option<Translation> {
        for size in PageSize::ALL {
            if let Some(array_index) = self.array_for_size[size.index()] {
                let found = self.arrays[array_index].lookup(size, size.page_number(address), pcid);
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }

    /// Returns where the entry a [`TlbLevel::lookup`] of `address` would hit lies, without
    /// touching it.
    #[inline]
    pub(crate) fn find(&self, address: VirtualAddress, pcid: Pcid) -> Option<EntrySlot> {
        for size in PageSize::ALL {
            if let Some(array_index) = self.array_for_size[size.index()]
                && let Some(entry) =
                    self.arrays[array_index].find(size, size.page_number(address), pcid)
            {
                return Some(EntrySlot {
                    array: array_index as u32,
                    entry: entry as u32,
                });
            }
        }
        None
    }

    /// Makes the entry at `slot` the most recently used of its set, as a lookup hit on it does.
    #[inline]
    pub(crate) fn touch(&mut self, slot: EntrySlot) {
        if let Some(array) = self.arrays.get_mut(slot.array as usize) {
            array.touch(slot.entry as usize);
        }
    }

    /// Fills `translation` for `address` tagged with `pcid` into the array for its page size;
    /// does nothing if the level does not cache that size.
    #[inline]
    pub(crate) fn insert(&mut self, address: VirtualAddress, pcid: Pcid, translation: Translation) {
        let size = translation.page_size;
        if let Some(array_index) = self.array_for_size[size.index()] {
            self.arrays[array_index].insert(size.page_number(address), pcid, translation);
        }
    }

    /// Empties every entry of the level for which `condition` holds; returns the count.
    pub(crate) fn invalidate_where(&mut self, mut condition: impl FnMut(EntryView) -> bool) -> u64 {
        self.arrays
            .iter_mut()
            .map(|array| array.invalidate_where(&mut condition))
            .sum()
    }

    /// Empties the entries of every page size that cover `address` and satisfy `condition`;
    /// returns the count (Intel SDM vol. 3A §4.10.4.1: INVLPG and INVPCID type 0 remove the
    /// translations for the page containing the address, whatever its size).
    pub(crate) fn invalidate_address_where(
        &mut self,
        address: VirtualAddress,
        mut condition: impl FnMut(EntryView) -> bool,
    ) -> u64 {
        let mut removed = 0;
        for size in PageSize::ALL {
            if let Some(array_index) = self.array_for_size[size.index()] {
                removed += self.arrays[array_index].invalidate_page_where(
                    size,
                    size.page_number(address),
                    &mut condition,
                );
            }
        }
        removed
    }

    /// Returns the number of valid entries over all arrays.
    pub(crate) fn valid_entries(&self) -> u64 {
        self.arrays.iter().map(TlbArray::valid_entries).sum()
    }

    /// Empties every array.
    pub(crate) fn clear(&mut self) {
        self.arrays.iter_mut().for_each(TlbArray::clear);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::PageSizeSet;

    /// Returns a translation of a 4 KiB page at `physical_page`, non-global.
    fn page_4kib(physical_page: u64) -> Translation {
        Translation {
            page_size: PageSize::Size4KiB,
            physical_page: PhysicalAddress::new(physical_page),
            global: false,
        }
    }

    #[test]
    fn lru_evicts_the_least_recently_used_way_of_a_two_way_set() {
        let mut array = TlbArray::new(&ArrayGeometry::new(2, 2, PageSizeSet::ALL));
        let pcid = Pcid::ZERO;
        assert!(!array.insert(1, pcid, page_4kib(0x1000)));
        assert!(!array.insert(2, pcid, page_4kib(0x2000)));
        // Touch page 1: page 2 becomes the least recently used.
        assert!(array.lookup(PageSize::Size4KiB, 1, pcid).is_some());
        assert!(array.insert(3, pcid, page_4kib(0x3000)));
        assert!(array.lookup(PageSize::Size4KiB, 2, pcid).is_none());
        assert!(array.lookup(PageSize::Size4KiB, 1, pcid).is_some());
        assert!(array.lookup(PageSize::Size4KiB, 3, pcid).is_some());
        // Page 1 was touched before page 3, so it goes next.
        assert!(array.insert(4, pcid, page_4kib(0x4000)));
        assert!(array.lookup(PageSize::Size4KiB, 1, pcid).is_none());
        assert!(array.lookup(PageSize::Size4KiB, 3, pcid).is_some());
        assert_eq!(array.valid_entries(), 2);
    }

    #[test]
    fn an_empty_way_is_filled_before_any_eviction() {
        let mut array = TlbArray::new(&ArrayGeometry::new(4, 4, PageSizeSet::ALL));
        let pcid = Pcid::ZERO;
        for page in 0..4 {
            assert!(!array.insert(page, pcid, page_4kib(page << 12)));
        }
        assert_eq!(
            array.invalidate_page_where(PageSize::Size4KiB, 2, |_| true),
            1
        );
        assert!(!array.insert(9, pcid, page_4kib(0x9000)));
        assert_eq!(array.valid_entries(), 4);
        for page in [0, 1, 3, 9] {
            assert!(
                array.lookup(PageSize::Size4KiB, page, pcid).is_some(),
                "page {page}"
            );
        }
    }

    #[test]
    fn pages_map_to_sets_by_their_low_page_number_bits() {
        // 2 sets of 1 way: pages 0 and 2 share set 0, page 1 sits in set 1.
        let mut array = TlbArray::new(&ArrayGeometry::new(2, 1, PageSizeSet::ALL));
        let pcid = Pcid::ZERO;
        array.insert(0, pcid, page_4kib(0));
        array.insert(1, pcid, page_4kib(0x1000));
        assert!(array.insert(2, pcid, page_4kib(0x2000)));
        assert!(array.lookup(PageSize::Size4KiB, 0, pcid).is_none());
        assert!(array.lookup(PageSize::Size4KiB, 1, pcid).is_some());
        assert!(array.lookup(PageSize::Size4KiB, 2, pcid).is_some());
    }

    #[test]
    fn an_entry_matches_its_own_pcid_or_any_pcid_when_global() {
        let mut array = TlbArray::new(&ArrayGeometry::new(4, 4, PageSizeSet::ALL));
        let (one, two) = (Pcid::new(1).unwrap(), Pcid::new(2).unwrap());
        array.insert(5, one, page_4kib(0x5000));
        array.insert(
            6,
            one,
            Translation {
                global: true,
                ..page_4kib(0x6000)
            },
        );
        assert!(array.lookup(PageSize::Size4KiB, 5, one).is_some());
        assert!(array.lookup(PageSize::Size4KiB, 5, two).is_none());
        assert!(array.lookup(PageSize::Size4KiB, 6, two).is_some());
        // The same page number of another size is a different page.
        assert!(array.lookup(PageSize::Size2MiB, 5, one).is_none());
    }
}
