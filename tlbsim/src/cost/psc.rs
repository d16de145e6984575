//! Paging-structure caches: the PML4E, PDPTE and PDE caches of Intel SDM vol. 3A §4.10.3.
//!
//! A paging-structure-cache entry lets a walk skip the upper levels of the paging structures
//! (§4.10.3.1). An entry is keyed by a prefix of the linear address and tagged with the PCID
//! that was current when it was created:
//!
//! | cache | key (linear-address bits) | created from | a hit leaves (4 KiB page) |
//! |---|---|---|---|
//! | PML4E | 47:39 | a present PML4E | 3 references: PDPTE, PDE, PTE |
//! | PDPTE | 47:30 | a present PDPTE with PS=0 (not a 1 GiB leaf) | 2 references: PDE, PTE |
//! | PDE   | 47:21 | a present PDE with PS=0 (not a 2 MiB leaf) | 1 reference: the PTE |
//!
//! Lookup is longest prefix first (§4.10.3.2): PDE cache, then PDPTE, then PML4E; a miss in all
//! three walks all four levels. Only entries *read* by a walk are filled: after a PDPTE hit the
//! walk reads the PDE and fills the PDE cache from it, but the PML4E and PDPTE caches are not
//! refilled. A walk that faults still fills the entries above the faulting one (§4.10.3.1: an
//! entry "may" be created even if no translation uses it); the faulting and the leaf entry are
//! never cached.
//!
//! Global pages: the G flag exists only in leaf entries, and leaves are never cached here, so
//! "the global-page feature does not affect the behavior of the paging-structure caches"
//! (§4.10.2.4). Every entry carries the current PCID, also for walks to global pages: after a
//! PCID switch, a TLB miss on a global page walks without the previous PCID's entries.
//!
//! Organisation: each cache is fully associative with true LRU replacement. The caches are
//! small (tens of entries), their set organisation is not published, and the measurement
//! literature (Barr et al., ISCA 2010) models them this way. [`PscOrganization::Split`] gives
//! one cache per level (Intel); [`PscOrganization::Unified`] one cache whose entries of all
//! three levels compete for space (AMD's page walk cache, approximated as a unified translation
//! cache).
//!
//! Invalidation ([`PagingStructureCaches::invalidate_pcid`], [`invalidate_all`]) follows
//! §4.10.4.1; `mod.rs` maps each instruction onto them. Entries are never updated when software
//! changes a paging-structure entry in memory (the SDM allows stale entries until invalidation).
//! The caches hold tags only: the walk's references always come from the real tables.
//!
//! A lookup costs up to three scans of at most the cache size; nothing is allocated after
//! construction.
//!
//! [`invalidate_all`]: PagingStructureCaches::invalidate_all

use core::fmt;

use crate::address::{LINEAR_ADDRESS_BITS, PagingLevel, Pcid, VirtualAddress};

/// The levels whose entries can be cached, root first: PML4E, PDPTE, PDE. The slot of a level
/// (its position here) indexes per-level arrays.
pub const PSC_LEVELS: [PagingLevel; 3] = [
    PagingLevel::Pml4,
    PagingLevel::Pdpt,
    PagingLevel::PageDirectory,
];

/// Returns the slot of `level` in [`PSC_LEVELS`], or `None` for the page table, whose entries
/// are always leaves.
pub const fn psc_slot(level: PagingLevel) -> Option<usize> {
    match level {
        PagingLevel::Pml4 => Some(0),
        PagingLevel::Pdpt => Some(1),
        PagingLevel::PageDirectory => Some(2),
        PagingLevel::PageTable => None,
    }
}

/// Returns the short name of the cache of `level`: `pml4e`, `pdpte`, `pde` (or `pte`, which
/// has no cache).
pub const fn psc_name(level: PagingLevel) -> &'static str {
    match level {
        PagingLevel::Pml4 => "pml4e",
        PagingLevel::Pdpt => "pdpte",
        PagingLevel::PageDirectory => "pde",
        PagingLevel::PageTable => "pte",
    }
}

/// How many paging-structure-cache entries there are and how they are shared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PscOrganization {
    /// One fully associative cache per level (Intel). A size of 0 means no cache for that
    /// level.
    Split {
        /// Entries of the PML4E cache.
        pml4e_entries: u32,
        /// Entries of the PDPTE cache.
        pdpte_entries: u32,
        /// Entries of the PDE cache.
        pde_entries: u32,
    },
    /// One fully associative cache holding entries of all three levels (AMD's page walk
    /// cache, as a unified translation cache).
    Unified {
        /// Entries of the single cache.
        entries: u32,
    },
}

impl PscOrganization {
    /// Returns the total number of entries.
    pub const fn total_entries(&self) -> u64 {
        match *self {
            PscOrganization::Split {
                pml4e_entries,
                pdpte_entries,
                pde_entries,
            } => pml4e_entries as u64 + pdpte_entries as u64 + pde_entries as u64,
            PscOrganization::Unified { entries } => entries as u64,
        }
    }
}

impl fmt::Display for PscOrganization {
    /// Writes `split:PML4E/PDPTE/PDE` or `unified:ENTRIES`.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PscOrganization::Split {
                pml4e_entries,
                pdpte_entries,
                pde_entries,
            } => write!(
                formatter,
                "split:{pml4e_entries}/{pdpte_entries}/{pde_entries}"
            ),
            PscOrganization::Unified { entries } => write!(formatter, "unified:{entries}"),
        }
    }
}

/// The key of an empty entry; real keys stay below 2^46.
const EMPTY_KEY: u64 = u64::MAX;
/// First key bit of the level slot (above the at most 27 prefix bits).
const KEY_SLOT_SHIFT: u32 = 32;
/// First key bit of the PCID (above the 2 slot bits).
const KEY_PCID_SHIFT: u32 = 34;
/// Mask of the PCID once shifted down.
const KEY_PCID_MASK: u64 = Pcid::MAX.as_u16() as u64;

/// Returns the key of the entry of `level` (slot `slot`) for `address` under `pcid`: the
/// linear-address bits 47 down to the level's index field, the slot and the PCID.
const fn entry_key(slot: usize, level: PagingLevel, pcid: Pcid, address: VirtualAddress) -> u64 {
    const LINEAR_MASK: u64 = (1 << LINEAR_ADDRESS_BITS) - 1;
    let prefix = (address.as_u64() & LINEAR_MASK) >> level.index_shift_bits();
    prefix | (slot as u64) << KEY_SLOT_SHIFT | (pcid.as_u16() as u64) << KEY_PCID_SHIFT
}

/// Returns the PCID a key was tagged with.
const fn key_pcid(key: u64) -> u16 {
    ((key >> KEY_PCID_SHIFT) & KEY_PCID_MASK) as u16
}

/// One fully associative array with true LRU.
#[derive(Clone, Debug)]
struct PscArray {
    /// [`entry_key`] of each entry, or [`EMPTY_KEY`].
    keys: Vec<u64>,
    /// Clock value of each entry's last hit or fill.
    stamps: Vec<u64>,
    /// Advances on every hit and fill.
    clock: u64,
}

impl PscArray {
    /// Returns an empty array of `entries` entries.
    fn new(entries: u32) -> PscArray {
        let entries = entries as usize;
        PscArray {
            keys: vec![EMPTY_KEY; entries],
            stamps: vec![0; entries],
            clock: 0,
        }
    }

    /// Looks `key` up; on a hit marks it most recently used and returns true.
    #[inline]
    fn probe(&mut self, key: u64) -> bool {
        match self.keys.iter().position(|&held| held == key) {
            Some(index) => {
                self.clock += 1;
                self.stamps[index] = self.clock;
                true
            }
            None => false,
        }
    }

    /// Inserts `key` as most recently used (refreshing it if present), in an empty entry or
    /// over the least recently used one. Does nothing in an array of size 0.
    fn fill(&mut self, key: u64) {
        if self.probe(key) {
            return;
        }
        let victim = match self.keys.iter().position(|&held| held == EMPTY_KEY) {
            Some(index) => index,
            None => match (0..self.stamps.len()).min_by_key(|&index| self.stamps[index]) {
                Some(index) => index,
                None => return,
            },
        };
        self.clock += 1;
        self.keys[victim] = key;
        self.stamps[victim] = self.clock;
    }

    /// Empties the entries for which `condition` holds; returns how many.
    fn invalidate_where(&mut self, condition: impl Fn(u64) -> bool) -> u64 {
        let mut removed = 0;
        for key in &mut self.keys {
            if *key != EMPTY_KEY && condition(*key) {
                *key = EMPTY_KEY;
                removed += 1;
            }
        }
        removed
    }
}

/// The PML4E, PDPTE and PDE caches of one logical processor.
#[derive(Clone, Debug)]
pub struct PagingStructureCaches {
    /// The arrays: three for a split organisation, one for a unified one.
    arrays: Vec<PscArray>,
    /// The array holding each level's entries, by slot.
    array_of_slot: [usize; 3],
    /// The organisation they were built from.
    organization: PscOrganization,
}

impl PagingStructureCaches {
    /// Builds empty caches of `organization`.
    pub fn new(organization: PscOrganization) -> PagingStructureCaches {
        let (arrays, array_of_slot) = match organization {
            PscOrganization::Split {
                pml4e_entries,
                pdpte_entries,
                pde_entries,
            } => (
                vec![
                    PscArray::new(pml4e_entries),
                    PscArray::new(pdpte_entries),
                    PscArray::new(pde_entries),
                ],
                [0, 1, 2],
            ),
            PscOrganization::Unified { entries } => (vec![PscArray::new(entries)], [0, 0, 0]),
        };
        PagingStructureCaches {
            arrays,
            array_of_slot,
            organization,
        }
    }

    /// Returns the organisation the caches were built from.
    pub const fn organization(&self) -> PscOrganization {
        self.organization
    }

    /// Returns the deepest level with an entry for `address` under `pcid` (PDE first, then
    /// PDPTE, then PML4E), marking that entry most recently used, or `None` on a miss in all
    /// three. The walk then starts below that level.
    #[inline]
    pub fn lookup(&mut self, pcid: Pcid, address: VirtualAddress) -> Option<PagingLevel> {
        for slot in (0..PSC_LEVELS.len()).rev() {
            let level = PSC_LEVELS[slot];
            let array = &mut self.arrays[self.array_of_slot[slot]];
            if array.probe(entry_key(slot, level, pcid, address)) {
                return Some(level);
            }
        }
        None
    }

    /// Creates (or refreshes) the entry of `level` for `address` under `pcid`, evicting the
    /// least recently used entry of its cache if it is full. Does nothing for the page-table
    /// level, whose entries are leaves. The caller passes only present non-leaf entries.
    #[inline]
    pub fn fill(&mut self, pcid: Pcid, address: VirtualAddress, level: PagingLevel) {
        if let Some(slot) = psc_slot(level) {
            let array = &mut self.arrays[self.array_of_slot[slot]];
            array.fill(entry_key(slot, level, pcid, address));
        }
    }

    /// Reports whether there is an entry of `level` for `address` under `pcid`, without
    /// touching the replacement state.
    pub fn contains(&self, pcid: Pcid, address: VirtualAddress, level: PagingLevel) -> bool {
        match psc_slot(level) {
            Some(slot) => self.arrays[self.array_of_slot[slot]]
                .keys
                .contains(&entry_key(slot, level, pcid, address)),
            None => false,
        }
    }

    /// Returns the number of valid entries of `level` (in a unified cache, those of that
    /// level among all).
    pub fn resident_entries(&self, level: PagingLevel) -> u64 {
        let Some(slot) = psc_slot(level) else {
            return 0;
        };
        self.arrays[self.array_of_slot[slot]]
            .keys
            .iter()
            .filter(|&&key| key != EMPTY_KEY && (key >> KEY_SLOT_SHIFT) & 0b11 == slot as u64)
            .count() as u64
    }

    /// Removes every entry associated with `pcid`; returns how many.
    pub fn invalidate_pcid(&mut self, pcid: Pcid) -> u64 {
        let pcid = pcid.as_u16();
        self.arrays
            .iter_mut()
            .map(|array| array.invalidate_where(|key| key_pcid(key) == pcid))
            .sum()
    }

    /// Removes every entry of every PCID; returns how many.
    pub fn invalidate_all(&mut self) -> u64 {
        self.arrays
            .iter_mut()
            .map(|array| array.invalidate_where(|_| true))
            .sum()
    }
}
