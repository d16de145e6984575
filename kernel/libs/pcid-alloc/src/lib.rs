//! PCID leases with recycling: more live address spaces than the 4095 usable PCIDs.
//!
//! A PCID (process-context identifier, Intel SDM Vol. 3A §4.10.1) tags TLB entries with the
//! address space that created them, so a CR3 write with bit 63 set can keep them across a
//! switch. x86 has [`PCID_COUNT`] = 4096 of them. PCID 0 ([`KERNEL_PCID`]) belongs to the
//! kernel's own address space and the boot CR3, so a [`PcidPool`] hands out
//! [`FIRST_USABLE_PCID`]`..=4095` only.
//!
//! Key types:
//! - [`PcidPool`] keeps one [`Slot`] per PCID in storage the caller owns (`[Slot; PCID_COUNT]`,
//!   or a shorter slice for a smaller pool in tests).
//! - [`Lease`] is what an address space keeps between runs: a PCID plus the slot's generation
//!   when it was assigned.
//! - [`Activation`] is the answer to "this owner is about to run": which PCID to load and
//!   whether its non-global TLB entries must be flushed first.
//!
//! Recycling works like Linux's ASID generations, but per slot. Every time a slot is assigned
//! to an owner its generation is bumped, so a lease is valid exactly while the slot still names
//! the same owner and generation. When all PCIDs are taken, [`PcidPool::activate`] takes one back
//! from another owner, chosen round-robin; that owner's lease silently becomes stale, and it gets
//! a fresh PCID (and a flush) the next time it runs. Any PCID newly assigned to an owner comes
//! with `flush = true`: the TLB may still hold entries tagged with it by the previous owner,
//! whether that owner was evicted or died.
//!
//! The pool assumes one CPU: the owner being activated is the next to run, and no other owner
//! is running on this CPU with a PCID from this pool, so any other owner may be evicted. The
//! kernel's `kernel/src/mm/pcid.rs` keeps one pool per CPU and stores the [`Lease`] in the
//! `AddressSpace`; `arch/x86_64` turns an [`Activation`] into a CR3 value and a flush.
//!
//! Invariants kept by every method:
//! - PCID 0 is never handed out;
//! - each slot has at most one owner, so valid leases always name distinct PCIDs;
//! - `live_count` equals the number of slots with an owner, and the free list links exactly
//!   the slots without one.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

/// Number of PCIDs the architecture defines (a 12-bit field in CR3, Intel SDM Vol. 3A §4.10.1).
pub const PCID_COUNT: usize = 4096;

/// The PCID of the kernel's own address space and the boot CR3; never handed out.
pub const KERNEL_PCID: u16 = 0;

/// The lowest PCID a pool hands out.
pub const FIRST_USABLE_PCID: u16 = KERNEL_PCID + 1;

/// The smallest storage a pool accepts: the reserved slot plus one usable PCID.
pub const MIN_POOL_SLOTS: usize = FIRST_USABLE_PCID as usize + 1;

/// Identifies the owner of a lease (the kernel uses the address space's id).
///
/// [`NO_OWNER`] (0) is not a valid owner: it marks a free slot.
pub type OwnerId = u64;

/// The owner value of a free slot; refused as an owner by [`PcidPool::activate`].
pub const NO_OWNER: OwnerId = 0;

// Slot indices are stored as `u16` PCID values.
const _: () = assert!(PCID_COUNT - 1 <= u16::MAX as usize);

/// Marks the end of the free list. PCID 0 is never free, so it cannot be a real link.
const FREE_LIST_END: u16 = KERNEL_PCID;

/// Errors reported by [`PcidPool`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcidError {
    /// The storage slice is shorter than [`MIN_POOL_SLOTS`] or longer than [`PCID_COUNT`].
    StorageLength {
        /// Slots the caller supplied.
        slots_provided: usize,
    },
    /// The owner id is [`NO_OWNER`], which marks free slots.
    InvalidOwner {
        /// The refused owner id.
        owner: OwnerId,
    },
}

impl fmt::Display for PcidError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            PcidError::StorageLength { slots_provided } => write!(
                f,
                "PCID pool storage has {slots_provided} slots, \
                 between {MIN_POOL_SLOTS} and {PCID_COUNT} are needed"
            ),
            PcidError::InvalidOwner { owner } => {
                write!(f, "owner id {owner} is invalid: it marks a free PCID slot")
            }
        }
    }
}

/// A process-context identifier handed out by a [`PcidPool`], never [`KERNEL_PCID`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pcid(u16);

impl Pcid {
    /// Returns the 12-bit value to put in CR3 bits 11:0.
    pub const fn value(self) -> u16 {
        self.0
    }
}

/// Records which PCID an owner was given and the slot's generation at that time.
///
/// The owner keeps its lease between runs and passes it back to [`PcidPool::activate`]. A lease
/// belongs to the pool that issued it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The PCID assigned.
    pcid: Pcid,
    /// The slot's generation when it was assigned.
    generation: u32,
}

impl Lease {
    /// Returns the leased PCID.
    pub const fn pcid(self) -> Pcid {
        self.pcid
    }

    /// Returns the slot generation the lease was issued under.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

/// Holds one PCID's state inside the caller's storage.
///
/// Create storage as `[Slot::EMPTY; PCID_COUNT]`; [`PcidPool::new`] overwrites it anyway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// The current owner, or [`NO_OWNER`] when the slot is free.
    owner: OwnerId,
    /// Bumped (wrapping) every time the slot is assigned to an owner.
    generation: u32,
    /// Next free slot when this one is free; [`FREE_LIST_END`] ends the list.
    next_free: u16,
}

impl Slot {
    /// A free slot with generation 0, for initialising storage arrays.
    pub const EMPTY: Slot = Slot {
        owner: NO_OWNER,
        generation: 0,
        next_free: FREE_LIST_END,
    };
}

/// Says which PCID an owner runs with and whether it must be flushed first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Activation {
    /// The PCID to load into CR3.
    pub pcid: Pcid,
    /// Whether the PCID's non-global TLB entries must be flushed before the owner runs
    /// (a CR3 write without bit 63, or INVPCID single-context). `false` only when the owner's
    /// lease was still valid.
    pub flush: bool,
    /// The owner whose PCID was taken back, when the pool had no free PCID.
    pub evicted: Option<OwnerId>,
}

/// Counts what a pool has done since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Activations that assigned a PCID (from the free list or by eviction).
    pub assignments: u64,
    /// Activations whose lease was still valid, so the TLB entries could be kept.
    pub reuses_without_flush: u64,
    /// Assignments that took a PCID back from another owner.
    pub evictions: u64,
    /// Activations that returned `flush = true`. Equal to `assignments` under the current
    /// policy (every newly assigned PCID is flushed); counted separately so the benchmark
    /// output shows flushes directly.
    pub flushes_required: u64,
}

/// Hands out PCIDs `1..storage.len()` to owners, recycling them when there are more owners.
pub struct PcidPool<'a> {
    /// One slot per PCID; slot 0 ([`KERNEL_PCID`]) is never used.
    slots: &'a mut [Slot],
    /// First free slot, or [`FREE_LIST_END`].
    free_head: u16,
    /// The slot to evict next when no slot is free; always a usable PCID.
    next_victim: u16,
    /// Number of slots with an owner.
    live_count: usize,
    /// Counters reported by [`PcidPool::stats`].
    stats: PoolStats,
}

impl fmt::Debug for PcidPool<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PcidPool")
            .field("slot_count", &self.slots.len())
            .field("free_head", &self.free_head)
            .field("next_victim", &self.next_victim)
            .field("live_count", &self.live_count)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<'a> PcidPool<'a> {
    /// Creates a pool over `storage`, handing out PCIDs `1..storage.len()`, all initially free.
    ///
    /// The kernel passes [`PCID_COUNT`] slots; tests may pass fewer to reach exhaustion quickly.
    /// Every slot is overwritten, so leases from an earlier pool over the same storage must not
    /// be reused.
    ///
    /// # Errors
    /// Returns [`PcidError::StorageLength`] when `storage.len()` is below [`MIN_POOL_SLOTS`] or
    /// above [`PCID_COUNT`].
    pub fn new(storage: &'a mut [Slot]) -> Result<Self, PcidError> {
        let slots_provided = storage.len();
        if !(MIN_POOL_SLOTS..=PCID_COUNT).contains(&slots_provided) {
            return Err(PcidError::StorageLength { slots_provided });
        }
        // Link the free list in ascending order so a fresh pool hands out 1, 2, 3, ...
        let mut next_free = FREE_LIST_END;
        for (pcid, slot) in storage.iter_mut().enumerate().rev() {
            *slot = Slot::EMPTY;
            if pcid >= usize::from(FIRST_USABLE_PCID) {
                slot.next_free = next_free;
                next_free = pcid_index(pcid);
            }
        }
        Ok(PcidPool {
            slots: storage,
            free_head: next_free,
            next_victim: FIRST_USABLE_PCID,
            live_count: 0,
            stats: PoolStats::default(),
        })
    }

    /// Returns the PCID `owner` must run with, updating `lease` when a new one is assigned.
    ///
    /// Call this before `owner` runs. If `lease` is still valid (its slot still names `owner`
    /// and the same generation) the same PCID comes back with `flush = false`. Otherwise
    /// `owner` gets a free PCID if there is one, else one taken round-robin from another owner
    /// (reported in [`Activation::evicted`]; that owner's lease becomes stale). A newly
    /// assigned PCID always comes with `flush = true`, because the previous owner's entries
    /// may still be in the TLB.
    ///
    /// The caller must keep the lease written here and pass it back next time; an owner that
    /// loses its lease gets a second PCID and leaves the first one allocated until it is
    /// evicted.
    ///
    /// # Errors
    /// Returns [`PcidError::InvalidOwner`] when `owner` is [`NO_OWNER`]; nothing changes then.
    pub fn activate(
        &mut self,
        owner: OwnerId,
        lease: &mut Option<Lease>,
    ) -> Result<Activation, PcidError> {
        if owner == NO_OWNER {
            return Err(PcidError::InvalidOwner { owner });
        }
        if let Some(current) = *lease
            && self.is_lease_valid(owner, current)
        {
            self.stats.reuses_without_flush += 1;
            return Ok(Activation {
                pcid: current.pcid,
                flush: false,
                evicted: None,
            });
        }
        let (pcid, evicted) = match self.take_free() {
            Some(pcid) => (pcid, None),
            None => {
                let (pcid, victim) = self.take_victim();
                (pcid, Some(victim))
            }
        };
        let slot = &mut self.slots[usize::from(pcid)];
        slot.owner = owner;
        slot.generation = slot.generation.wrapping_add(1);
        *lease = Some(Lease {
            pcid: Pcid(pcid),
            generation: slot.generation,
        });
        self.stats.assignments += 1;
        self.stats.flushes_required += 1;
        if evicted.is_some() {
            self.stats.evictions += 1;
        } else {
            self.live_count += 1;
        }
        Ok(Activation {
            pcid: Pcid(pcid),
            flush: true,
            evicted,
        })
    }

    /// Frees `owner`'s PCID because the owner died, and returns whether a PCID was freed.
    ///
    /// A missing or stale lease (the PCID was already taken back) frees nothing, and neither
    /// does [`NO_OWNER`]. The freed PCID's TLB entries stay until its next owner flushes them.
    pub fn release(&mut self, owner: OwnerId, lease: Option<Lease>) -> bool {
        let Some(lease) = lease.filter(|&lease| self.is_lease_valid(owner, lease)) else {
            return false;
        };
        let pcid = lease.pcid.0;
        let slot = &mut self.slots[usize::from(pcid)];
        slot.owner = NO_OWNER;
        slot.next_free = self.free_head;
        self.free_head = pcid;
        self.live_count -= 1;
        true
    }

    /// Returns whether `lease` still gives `owner` its PCID (no flush needed to run).
    pub fn is_lease_valid(&self, owner: OwnerId, lease: Lease) -> bool {
        owner != NO_OWNER
            && lease.pcid.0 != KERNEL_PCID
            && self
                .slots
                .get(usize::from(lease.pcid.0))
                .is_some_and(|slot| slot.owner == owner && slot.generation == lease.generation)
    }

    /// Returns the number of PCIDs currently assigned to an owner.
    pub fn live_count(&self) -> usize {
        self.live_count
    }

    /// Returns the number of PCIDs the pool can hand out (`storage.len() - 1`).
    pub fn usable_count(&self) -> usize {
        self.slots.len() - usize::from(FIRST_USABLE_PCID)
    }

    /// Returns the counters accumulated since the pool was created.
    pub fn stats(&self) -> PoolStats {
        self.stats
    }

    /// Unlinks and returns the first free slot, if any.
    fn take_free(&mut self) -> Option<u16> {
        let pcid = self.free_head;
        if pcid == FREE_LIST_END {
            return None;
        }
        let slot = &mut self.slots[usize::from(pcid)];
        debug_assert_eq!(
            slot.owner, NO_OWNER,
            "PCID {pcid} on the free list has an owner"
        );
        self.free_head = slot.next_free;
        slot.next_free = FREE_LIST_END;
        Some(pcid)
    }

    /// Returns the round-robin victim slot and its owner, and advances the victim pointer.
    /// Only called when no slot is free, so every usable slot has an owner.
    fn take_victim(&mut self) -> (u16, OwnerId) {
        let pcid = self.next_victim;
        let next = usize::from(pcid) + 1;
        self.next_victim = if next == self.slots.len() {
            FIRST_USABLE_PCID
        } else {
            pcid_index(next)
        };
        let victim = self.slots[usize::from(pcid)].owner;
        debug_assert_ne!(
            victim, NO_OWNER,
            "no slot is free but PCID {pcid} has no owner"
        );
        (pcid, victim)
    }
}

/// Converts a slot index below [`PCID_COUNT`] to a PCID value.
fn pcid_index(index: usize) -> u16 {
    debug_assert!(index < PCID_COUNT, "slot index {index} is not a PCID");
    // PCID_COUNT (4096) fits in u16, and `new` caps the slot count at PCID_COUNT.
    index as u16
}

#[cfg(test)]
mod tests;
