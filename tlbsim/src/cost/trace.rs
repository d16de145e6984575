//! The physical addresses a page walk read, in order, and how it ended.
//!
//! [`crate::walk::Walk`] counts a walk's references but does not keep their addresses, which the
//! cache hierarchy needs. [`WalkRecorder`] is a [`GuestMemory`] wrapper that remembers the
//! addresses of the (at most four) words read through it; [`WalkTrace`] is the result: the
//! addresses of the PML4E, PDPTE, PDE and PTE actually read, and a [`WalkEnd`] saying whether
//! the last one was a leaf or a fault.
//!
//! Two ways to get a trace:
//!
//! - Wrap the guest memory in a [`WalkRecorder`] and pass it to
//!   [`crate::Model::access`]: the model reads guest memory only when it walks, so after a
//!   [`crate::Outcome::Walked`] or [`crate::Outcome::Faulted`] the recorder holds exactly that
//!   walk's references, at no extra memory read. [`WalkEnd::of_outcome`] gives the end.
//! - [`WalkTrace::record`] runs [`crate::walk::walk`] itself through a recorder (a second walk
//!   over the same tables, for callers that do not own the `access` call).
//!
//! Neighbours: `mod.rs` prices a trace; `walk.rs` is the walker whose reads are recorded.

use core::cell::Cell;

use super::CostError;
use crate::address::{PageSize, PagingLevel, PhysicalAddress, VirtualAddress};
use crate::model::Outcome;
use crate::walk::{self, GuestMemory, Walk};

/// The most references a 4-level walk makes: one per level.
pub const MAX_WALK_REFERENCES: usize = 4;

/// The paging levels in walk order, root first: the level of the i-th reference.
const WALK_LEVELS: [PagingLevel; MAX_WALK_REFERENCES] = [
    PagingLevel::Pml4,
    PagingLevel::Pdpt,
    PagingLevel::PageDirectory,
    PagingLevel::PageTable,
];

/// Returns the number of references a walk makes to reach `level` (1 for the PML4).
const fn references_to(level: PagingLevel) -> usize {
    match level {
        PagingLevel::Pml4 => 1,
        PagingLevel::Pdpt => 2,
        PagingLevel::PageDirectory => 3,
        PagingLevel::PageTable => 4,
    }
}

/// How a walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WalkEnd {
    /// The last entry read mapped a page of this size: a PDPTE (1 GiB), PDE (2 MiB) or PTE
    /// (4 KiB). Every entry before it was present and referenced a table.
    Leaf(PageSize),
    /// The entry at this level stopped the walk (not present, reserved bit, or unreadable).
    /// Every entry before it was present and referenced a table.
    Fault(PagingLevel),
}

impl WalkEnd {
    /// Returns how the walk `walk` ended.
    pub const fn of_walk(walk: &Walk) -> WalkEnd {
        match walk.result {
            Ok(mapping) => WalkEnd::Leaf(mapping.page_size),
            Err(fault) => WalkEnd::Fault(fault.level()),
        }
    }

    /// Returns how the walk behind `outcome` ended, or `None` if the access did not walk (a
    /// TLB hit or a non-canonical address).
    pub const fn of_outcome(outcome: &Outcome) -> Option<WalkEnd> {
        match outcome {
            Outcome::Walked(translation) => Some(WalkEnd::Leaf(translation.page_size)),
            Outcome::Faulted(fault) => Some(WalkEnd::Fault(fault.level())),
            Outcome::L1Hit(_) | Outcome::StlbHit(_) | Outcome::NonCanonical => None,
        }
    }

    /// Returns the level of the last entry read.
    pub const fn last_level(self) -> PagingLevel {
        match self {
            WalkEnd::Leaf(PageSize::Size1GiB) => PagingLevel::Pdpt,
            WalkEnd::Leaf(PageSize::Size2MiB) => PagingLevel::PageDirectory,
            WalkEnd::Leaf(PageSize::Size4KiB) => PagingLevel::PageTable,
            WalkEnd::Fault(level) => level,
        }
    }

    /// Returns the number of entries a walk with this end reads: 4 for a 4 KiB page, 3 for
    /// 2 MiB, 2 for 1 GiB, and the depth of the faulting level for a fault.
    pub const fn reference_count(self) -> usize {
        references_to(self.last_level())
    }
}

/// The references of one walk, root first, and how it ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WalkTrace {
    /// The physical addresses read; the first `end.reference_count()` are meaningful.
    references: [PhysicalAddress; MAX_WALK_REFERENCES],
    /// How the walk ended.
    end: WalkEnd,
}

impl WalkTrace {
    /// Returns the trace of a walk that read the entries at `references` (PML4E first) and
    /// ended with `end`.
    ///
    /// # Errors
    ///
    /// [`CostError::TraceMismatch`] unless `references` has exactly
    /// [`WalkEnd::reference_count`] addresses.
    pub fn new(references: &[PhysicalAddress], end: WalkEnd) -> Result<WalkTrace, CostError> {
        if references.len() != end.reference_count() {
            return Err(CostError::TraceMismatch {
                references: references.len(),
                end,
            });
        }
        let mut stored = [PhysicalAddress::new(0); MAX_WALK_REFERENCES];
        stored[..references.len()].copy_from_slice(references);
        Ok(WalkTrace {
            references: stored,
            end,
        })
    }

    /// Walks the tables rooted at `root` for `address` with [`crate::walk::walk`], recording
    /// the references; returns the walk and its trace.
    pub fn record<M: GuestMemory + ?Sized>(
        memory: &M,
        root: PhysicalAddress,
        address: VirtualAddress,
    ) -> (Walk, WalkTrace) {
        let recorder = WalkRecorder::new(memory);
        let walk = walk::walk(&recorder, root, address);
        let end = WalkEnd::of_walk(&walk);
        // The walker reads exactly `memory_references` entries, which is
        // `end.reference_count()`, so the recorder's trace is consistent.
        debug_assert_eq!(walk.memory_references as usize, end.reference_count());
        let trace = WalkTrace {
            references: recorder.addresses.get(),
            end,
        };
        (walk, trace)
    }

    /// Returns the physical addresses read, PML4E first.
    pub fn references(&self) -> &[PhysicalAddress] {
        &self.references[..self.end.reference_count()]
    }

    /// Returns how the walk ended.
    pub const fn end(&self) -> WalkEnd {
        self.end
    }

    /// Returns the paging level of the `index`-th reference (0 = PML4E).
    pub const fn level_of(index: usize) -> Option<PagingLevel> {
        if index < MAX_WALK_REFERENCES {
            Some(WALK_LEVELS[index])
        } else {
            None
        }
    }
}

/// A [`GuestMemory`] that records the addresses of the words read through it.
///
/// Call [`WalkRecorder::clear`] before each access that may walk (or build a new recorder: it
/// is a few words), then [`WalkRecorder::trace`] after it walked. Reads beyond the fourth are
/// counted but not stored, and make [`WalkRecorder::trace`] fail.
#[derive(Debug)]
pub struct WalkRecorder<'memory, M: ?Sized> {
    /// The memory the reads go to.
    memory: &'memory M,
    /// The addresses read since the last clear, first [`MAX_WALK_REFERENCES`] only.
    addresses: Cell<[PhysicalAddress; MAX_WALK_REFERENCES]>,
    /// The number of reads since the last clear.
    reads: Cell<usize>,
}

impl<'memory, M: GuestMemory + ?Sized> WalkRecorder<'memory, M> {
    /// Returns a recorder in front of `memory`, with nothing recorded.
    pub fn new(memory: &'memory M) -> WalkRecorder<'memory, M> {
        WalkRecorder {
            memory,
            addresses: Cell::new([PhysicalAddress::new(0); MAX_WALK_REFERENCES]),
            reads: Cell::new(0),
        }
    }

    /// Forgets the recorded reads.
    pub fn clear(&self) {
        self.reads.set(0);
    }

    /// Returns the number of reads since the last clear.
    pub fn reads(&self) -> usize {
        self.reads.get()
    }

    /// Returns the trace of the reads since the last clear, for a walk that ended with `end`.
    ///
    /// # Errors
    ///
    /// [`CostError::TraceMismatch`] unless exactly [`WalkEnd::reference_count`] words were
    /// read (for example when the recorder was not cleared before the access).
    pub fn trace(&self, end: WalkEnd) -> Result<WalkTrace, CostError> {
        let reads = self.reads.get();
        if reads != end.reference_count() {
            return Err(CostError::TraceMismatch {
                references: reads,
                end,
            });
        }
        Ok(WalkTrace {
            references: self.addresses.get(),
            end,
        })
    }
}

impl<M: GuestMemory + ?Sized> GuestMemory for WalkRecorder<'_, M> {
    fn read_u64(&self, address: PhysicalAddress) -> Option<u64> {
        let reads = self.reads.get();
        if reads < MAX_WALK_REFERENCES {
            let mut addresses = self.addresses.get();
            addresses[reads] = address;
            self.addresses.set(addresses);
        }
        self.reads.set(reads.saturating_add(1));
        self.memory.read_u64(address)
    }
}
