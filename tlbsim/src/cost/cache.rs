//! A physically indexed, set-associative data-cache hierarchy: L1D, L2, LLC, then memory.
//!
//! [`SetAssociativeCache`] is one level: 64-byte lines, sets chosen by the line number modulo
//! the set count, true LRU per set (a per-level clock stamps each way on every hit and fill;
//! an empty way is filled before anything is evicted). [`CacheHierarchy`] chains three of them.
//! A reference costs the load-to-use latency of the first level that holds its line
//! ([`ServedBy`]); memory serves everything else.
//!
//! Inclusion policy: non-inclusive, non-exclusive ("fill everywhere above"). A line served by
//! memory is filled into the LLC, the L2 and the L1D; a line served by a level is filled into
//! every level above it. Evictions never propagate (no back-invalidation), and nothing is
//! written back: references are priced as loads, and dirty lines cost nothing extra. This is
//! close to Skylake client's inclusive L3 for hit/miss purposes (inclusion adds back-invalidation
//! of L1/L2 lines, which is rare with an LLC 32 times the L2) and approximates Zen 4's victim L3,
//! where a line enters the L3 only when the L2 evicts it: there, lines evicted from the LLC
//! early in the model might still be in a real L3, and the combined L2 + L3 capacity is
//! slightly underestimated.
//!
//! Not modelled: hashed LLC slice selection (the set is the line number modulo the set count),
//! pseudo-LRU and adaptive replacement, hardware prefetchers, the instruction cache and code
//! fetches into L2/LLC, other cores, bandwidth and queueing.
//!
//! A reference costs one probe of O(ways) per level until a hit, plus the fills; nothing is
//! allocated after construction.
//!
//! Neighbours: `params.rs` gives each preset's geometries; `mod.rs` sends walk references and
//! data accesses here.

use core::fmt;

use super::CostError;
use crate::address::PhysicalAddress;

/// Size of a cache line in bytes, the same on every preset (Intel ORM; AMD Zen 4 SOG).
pub const LINE_BYTES: u64 = 64;
/// log2 of [`LINE_BYTES`].
const LINE_SHIFT_BITS: u32 = LINE_BYTES.trailing_zeros();
/// The tag of an empty way; line numbers have at most 58 bits, so no real line reaches it.
const EMPTY_LINE: u64 = u64::MAX;

/// The shape and speed of one cache level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheGeometry {
    /// Capacity in bytes; a multiple of `ways` x [`LINE_BYTES`].
    pub size_bytes: u64,
    /// Lines per set.
    pub ways: u32,
    /// Load-to-use latency of a hit in this level, in core cycles.
    pub latency_cycles: u32,
}

impl CacheGeometry {
    /// Returns a geometry of `size_bytes`, `ways` ways and `latency_cycles` load-to-use cycles
    /// (unchecked; [`CacheGeometry::sets`] checks it).
    pub const fn new(size_bytes: u64, ways: u32, latency_cycles: u32) -> CacheGeometry {
        CacheGeometry {
            size_bytes,
            ways,
            latency_cycles,
        }
    }

    /// Returns the number of sets, `size_bytes / (ways x 64)`, or `None` unless that is a
    /// whole number of at least 1.
    pub const fn sets(&self) -> Option<u64> {
        if self.ways == 0 {
            return None;
        }
        let way_bytes = self.ways as u64 * LINE_BYTES;
        if self.size_bytes == 0 || !self.size_bytes.is_multiple_of(way_bytes) {
            return None;
        }
        Some(self.size_bytes / way_bytes)
    }
}

impl fmt::Display for CacheGeometry {
    /// Writes `32k/8w/4c`: size in KiB, ways, latency in cycles.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}k/{}w/{}c",
            self.size_bytes >> 10,
            self.ways,
            self.latency_cycles
        )
    }
}

/// One of the three cache levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheLevelName {
    /// The L1 data cache.
    L1d,
    /// The unified second-level cache.
    L2,
    /// The last-level cache.
    Llc,
}

impl CacheLevelName {
    /// Returns the short name used in messages: `l1d`, `l2` or `llc`.
    pub const fn short_name(self) -> &'static str {
        match self {
            CacheLevelName::L1d => "l1d",
            CacheLevelName::L2 => "l2",
            CacheLevelName::Llc => "llc",
        }
    }
}

/// Where a reference found its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServedBy {
    /// The L1 data cache.
    L1d,
    /// The second-level cache.
    L2,
    /// The last-level cache.
    Llc,
    /// No cache level: memory.
    Memory,
}

impl ServedBy {
    /// Every source, fastest first, in the order of [`ServedBy::index`].
    pub const ALL: [ServedBy; 4] = [ServedBy::L1d, ServedBy::L2, ServedBy::Llc, ServedBy::Memory];

    /// Returns this source's position in [`ServedBy::ALL`], for per-source counters.
    pub const fn index(self) -> usize {
        match self {
            ServedBy::L1d => 0,
            ServedBy::L2 => 1,
            ServedBy::Llc => 2,
            ServedBy::Memory => 3,
        }
    }

    /// Returns the short name used in counter keys: `l1d`, `l2`, `llc` or `memory`.
    pub const fn short_name(self) -> &'static str {
        match self {
            ServedBy::L1d => "l1d",
            ServedBy::L2 => "l2",
            ServedBy::Llc => "llc",
            ServedBy::Memory => "memory",
        }
    }
}

/// One set-associative, physically indexed cache level with true LRU replacement.
#[derive(Clone, Debug)]
pub struct SetAssociativeCache {
    /// Number of sets.
    sets: u64,
    /// `sets - 1` when `sets` is a power of two, for a mask instead of a division.
    set_mask: Option<u64>,
    /// Ways per set.
    ways: usize,
    /// Line number held by each way, set after set; [`EMPTY_LINE`] for an empty way.
    lines: Vec<u64>,
    /// Clock value of each way's last hit or fill; smallest in the set = least recently used.
    stamps: Vec<u64>,
    /// Advances on every hit and fill.
    clock: u64,
    /// The most recently used line of each set, [`EMPTY_LINE`] for a set never touched since
    /// the last clear: a hit on it changes no LRU order, so [`SetAssociativeCache::probe`]
    /// answers it without searching the set.
    most_recent: Vec<u64>,
}

impl SetAssociativeCache {
    /// Builds an empty level of `geometry`, naming `level` in the error.
    ///
    /// # Errors
    ///
    /// [`CostError::InvalidCache`] unless the size is a positive multiple of ways x 64 bytes.
    pub fn new(
        level: CacheLevelName,
        geometry: CacheGeometry,
    ) -> Result<SetAssociativeCache, CostError> {
        let invalid = CostError::InvalidCache { level, geometry };
        let sets = geometry.sets().ok_or(invalid)?;
        let ways = usize::try_from(geometry.ways).map_err(|_| invalid)?;
        let lines = usize::try_from(sets)
            .ok()
            .and_then(|sets| sets.checked_mul(ways))
            .ok_or(invalid)?;
        Ok(SetAssociativeCache {
            sets,
            set_mask: sets.is_power_of_two().then(|| sets - 1),
            ways,
            lines: vec![EMPTY_LINE; lines],
            stamps: vec![0; lines],
            clock: 0,
            most_recent: vec![EMPTY_LINE; usize::try_from(sets).map_err(|_| invalid)?],
        })
    }

    /// Returns the line number of `address` (its address divided by 64).
    pub const fn line_of(address: PhysicalAddress) -> u64 {
        address.as_u64() >> LINE_SHIFT_BITS
    }

    /// Returns the index of the set holding `line`.
    #[inline]
    fn set_of(&self, line: u64) -> usize {
        let set = match self.set_mask {
            Some(mask) => line & mask,
            None => line % self.sets,
        };
        // `set < sets`, and `sets * ways` fits in usize (checked in `new`).
        set as usize
    }

    /// Returns the index of the first way of the set holding `line`.
    #[inline]
    fn set_start(&self, line: u64) -> usize {
        self.set_of(line) * self.ways
    }

    /// Looks `line` up; on a hit marks it most recently used and returns true.
    ///
    /// A hit on the line its set used last is answered from `most_recent` without searching
    /// the set or moving its stamp: its stamp is already the largest of the set, so the LRU
    /// order, and every later victim, is the same as after a full probe.
    #[inline]
    pub fn probe(&mut self, line: u64) -> bool {
        let set_index = self.set_of(line);
        if self.most_recent[set_index] == line {
            return true;
        }
        let start = set_index * self.ways;
        let set = start..start + self.ways;
        match self.lines[set].iter().position(|&held| held == line) {
            Some(way) => {
                self.clock += 1;
                self.stamps[start + way] = self.clock;
                self.most_recent[set_index] = line;
                true
            }
            None => false,
        }
    }

    /// Places `line` into its set as the most recently used line, in the first empty way or
    /// else over the least recently used one. The caller knows the line is absent (it has just
    /// missed); a present line would be duplicated, which `debug_assert!` catches.
    #[inline]
    pub fn fill(&mut self, line: u64) {
        let start = self.set_start(line);
        let set = start..start + self.ways;
        debug_assert!(!self.lines[set.clone()].contains(&line), "double fill");
        let victim = match self.lines[set.clone()]
            .iter()
            .position(|&held| held == EMPTY_LINE)
        {
            Some(way) => start + way,
            None => {
                let stamps = &self.stamps[set];
                let oldest = (0..stamps.len())
                    .min_by_key(|&way| stamps[way])
                    .unwrap_or(0);
                start + oldest
            }
        };
        self.clock += 1;
        self.lines[victim] = line;
        self.stamps[victim] = self.clock;
        let set_index = self.set_of(line);
        self.most_recent[set_index] = line;
    }

    /// Reports whether `line` is held, without touching the replacement state.
    pub fn contains(&self, line: u64) -> bool {
        let start = self.set_start(line);
        self.lines[start..start + self.ways].contains(&line)
    }

    /// Returns the number of lines held.
    pub fn resident_lines(&self) -> u64 {
        self.lines
            .iter()
            .filter(|&&line| line != EMPTY_LINE)
            .count() as u64
    }

    /// Empties every way.
    pub fn clear(&mut self) {
        self.lines.fill(EMPTY_LINE);
        self.stamps.fill(0);
        self.clock = 0;
        self.most_recent.fill(EMPTY_LINE);
    }
}

/// L1D, L2 and LLC in front of memory, with the latency of each source.
#[derive(Clone, Debug)]
pub struct CacheHierarchy {
    /// The L1 data cache.
    l1d: SetAssociativeCache,
    /// The second-level cache.
    l2: SetAssociativeCache,
    /// The last-level cache.
    llc: SetAssociativeCache,
    /// Load-to-use cycles by [`ServedBy::index`].
    latency_cycles: [u32; 4],
}

impl CacheHierarchy {
    /// Builds an empty hierarchy.
    ///
    /// # Errors
    ///
    /// [`CostError::InvalidCache`] for the first level whose geometry is not valid.
    pub fn new(
        l1d: CacheGeometry,
        l2: CacheGeometry,
        llc: CacheGeometry,
        memory_latency_cycles: u32,
    ) -> Result<CacheHierarchy, CostError> {
        Ok(CacheHierarchy {
            l1d: SetAssociativeCache::new(CacheLevelName::L1d, l1d)?,
            l2: SetAssociativeCache::new(CacheLevelName::L2, l2)?,
            llc: SetAssociativeCache::new(CacheLevelName::Llc, llc)?,
            latency_cycles: [
                l1d.latency_cycles,
                l2.latency_cycles,
                llc.latency_cycles,
                memory_latency_cycles,
            ],
        })
    }

    /// Performs one load of the line containing `address`: probes L1D, L2, LLC in turn, fills
    /// the line into every level above the one that served it, and returns that source.
    #[inline]
    pub fn access(&mut self, address: PhysicalAddress) -> ServedBy {
        let line = SetAssociativeCache::line_of(address);
        if self.l1d.probe(line) {
            return ServedBy::L1d;
        }
        if self.l2.probe(line) {
            self.l1d.fill(line);
            return ServedBy::L2;
        }
        let served = if self.llc.probe(line) {
            ServedBy::Llc
        } else {
            self.llc.fill(line);
            ServedBy::Memory
        };
        self.l2.fill(line);
        self.l1d.fill(line);
        served
    }

    /// Returns the load-to-use cycles of a reference served by `source`.
    #[inline]
    pub const fn latency_cycles(&self, source: ServedBy) -> u32 {
        self.latency_cycles[source.index()]
    }

    /// Returns the level called `name`.
    pub const fn level(&self, name: CacheLevelName) -> &SetAssociativeCache {
        match name {
            CacheLevelName::L1d => &self.l1d,
            CacheLevelName::L2 => &self.l2,
            CacheLevelName::Llc => &self.llc,
        }
    }

    /// Reports whether the level `name` holds the line containing `address`, without touching
    /// the replacement state.
    pub fn contains(&self, name: CacheLevelName, address: PhysicalAddress) -> bool {
        self.level(name)
            .contains(SetAssociativeCache::line_of(address))
    }

    /// Empties every level.
    pub fn clear(&mut self) {
        self.l1d.clear();
        self.l2.clear();
        self.llc.clear();
    }
}
