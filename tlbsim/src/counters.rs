//! Event counters: per access kind, per flush cause, and control-register writes.
//!
//! [`Counters`] holds everything the model counts since it was created or last reset:
//! [`AccessCounters`] for instruction fetches and for data accesses separately, one
//! [`FlushCount`] per [`FlushCause`], and the number of CR3 and CR4 writes. A phase's counts are
//! the difference of two snapshots ([`Counters::since`]), so the hot path increments one set
//! only.
//!
//! Every counter has a stable key (`i.walks_4k`, `flush.invlpg.entries_removed`, ...) listed in
//! [`Counters::KEYS`]; [`Counters::values`] and [`Counters::from_values`] convert to and from
//! the same order. `report.rs` builds the phase line from them.
//!
//! Identities that hold for each [`AccessCounters`] (the tests check them):
//! `accesses = l1_hits + l1_misses + non_canonical`, `l1_misses = stlb_hits + stlb_misses`,
//! `stlb_misses = walks_4k + walks_2m + walks_1g + faulting_walks`.

use crate::address::PageSize;

/// Counters of one access kind (instruction fetches or data accesses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct AccessCounters {
    /// Accesses seen, canonical or not.
    pub accesses: u64,
    /// Accesses that hit the L1 TLB of their kind.
    pub l1_hits: u64,
    /// Canonical accesses that missed the L1 TLB.
    pub l1_misses: u64,
    /// L1 misses that hit the STLB.
    pub stlb_hits: u64,
    /// L1 misses that also missed the STLB and so walked the paging structures.
    pub stlb_misses: u64,
    /// Walks that found a 4 KiB page.
    pub walks_4k: u64,
    /// Walks that found a 2 MiB page.
    pub walks_2m: u64,
    /// Walks that found a 1 GiB page.
    pub walks_1g: u64,
    /// Walks that ended in a fault (not present, reserved bit, unreadable) and cached nothing.
    pub faulting_walks: u64,
    /// Paging-structure entries read by all walks, faulting ones included.
    pub walk_memory_references: u64,
    /// Accesses to non-canonical addresses, which fault before any TLB lookup.
    pub non_canonical: u64,
}

impl AccessCounters {
    /// Number of counters in the struct.
    pub const COUNT: usize = 11;

    /// Field names, in the order of [`AccessCounters::values`].
    pub const NAMES: [&'static str; Self::COUNT] = [
        "accesses",
        "l1_hits",
        "l1_misses",
        "stlb_hits",
        "stlb_misses",
        "walks_4k",
        "walks_2m",
        "walks_1g",
        "faulting_walks",
        "walk_memory_references",
        "non_canonical",
    ];

    /// Returns the counters in the order of [`AccessCounters::NAMES`].
    pub const fn values(&self) -> [u64; Self::COUNT] {
        [
            self.accesses,
            self.l1_hits,
            self.l1_misses,
            self.stlb_hits,
            self.stlb_misses,
            self.walks_4k,
            self.walks_2m,
            self.walks_1g,
            self.faulting_walks,
            self.walk_memory_references,
            self.non_canonical,
        ]
    }

    /// Builds counters from values in the order of [`AccessCounters::NAMES`].
    pub const fn from_values(values: [u64; Self::COUNT]) -> AccessCounters {
        let [
            accesses,
            l1_hits,
            l1_misses,
            stlb_hits,
            stlb_misses,
            walks_4k,
            walks_2m,
            walks_1g,
            faulting_walks,
            walk_memory_references,
            non_canonical,
        ] = values;
        AccessCounters {
            accesses,
            l1_hits,
            l1_misses,
            stlb_hits,
            stlb_misses,
            walks_4k,
            walks_2m,
            walks_1g,
            faulting_walks,
            walk_memory_references,
            non_canonical,
        }
    }

    /// Returns the walks that found a page of `size`.
    pub const fn walks(&self, size: PageSize) -> u64 {
        match size {
            PageSize::Size4KiB => self.walks_4k,
            PageSize::Size2MiB => self.walks_2m,
            PageSize::Size1GiB => self.walks_1g,
        }
    }

    /// Returns all walks, successful or faulting (equal to `stlb_misses`).
    pub const fn total_walks(&self) -> u64 {
        self.walks_4k + self.walks_2m + self.walks_1g + self.faulting_walks
    }

    /// Counts one successful walk for a page of `size`.
    #[inline]
    pub(crate) fn count_walk(&mut self, size: PageSize) {
        match size {
            PageSize::Size4KiB => self.walks_4k += 1,
            PageSize::Size2MiB => self.walks_2m += 1,
            PageSize::Size1GiB => self.walks_1g += 1,
        }
    }
}

/// The operations that invalidate TLB entries (Intel SDM vol. 3A §4.10.4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushCause {
    /// MOV to CR3 without the no-flush bit (or with CR4.PCIDE=0).
    Cr3Write,
    /// MOV to CR4 that changes PGE, clears PCIDE, changes PAE or sets SMEP.
    Cr4Write,
    /// INVLPG.
    Invlpg,
    /// INVPCID type 0, individual-address invalidation.
    InvpcidIndividualAddress,
    /// INVPCID type 1, single-context invalidation.
    InvpcidSingleContext,
    /// INVPCID type 2, all-context invalidation including global translations.
    InvpcidAllIncludingGlobal,
    /// INVPCID type 3, all-context invalidation except global translations.
    InvpcidAllExceptGlobal,
}

impl FlushCause {
    /// Every cause, in report order.
    pub const ALL: [FlushCause; 7] = [
        FlushCause::Cr3Write,
        FlushCause::Cr4Write,
        FlushCause::Invlpg,
        FlushCause::InvpcidIndividualAddress,
        FlushCause::InvpcidSingleContext,
        FlushCause::InvpcidAllIncludingGlobal,
        FlushCause::InvpcidAllExceptGlobal,
    ];

    /// Returns the key of the cause in reports: `cr3_write`, `cr4_write`, `invlpg`,
    /// `invpcid0` ... `invpcid3`.
    pub const fn key(self) -> &'static str {
        match self {
            FlushCause::Cr3Write => "cr3_write",
            FlushCause::Cr4Write => "cr4_write",
            FlushCause::Invlpg => "invlpg",
            FlushCause::InvpcidIndividualAddress => "invpcid0",
            FlushCause::InvpcidSingleContext => "invpcid1",
            FlushCause::InvpcidAllIncludingGlobal => "invpcid2",
            FlushCause::InvpcidAllExceptGlobal => "invpcid3",
        }
    }

    /// Returns the cause's position in [`FlushCause::ALL`].
    pub const fn index(self) -> usize {
        match self {
            FlushCause::Cr3Write => 0,
            FlushCause::Cr4Write => 1,
            FlushCause::Invlpg => 2,
            FlushCause::InvpcidIndividualAddress => 3,
            FlushCause::InvpcidSingleContext => 4,
            FlushCause::InvpcidAllIncludingGlobal => 5,
            FlushCause::InvpcidAllExceptGlobal => 6,
        }
    }
}

/// How often one kind of invalidation happened and what it removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlushCount {
    /// Invalidating operations performed (whether or not they found entries to remove).
    pub events: u64,
    /// Entries removed from all levels by those operations.
    pub entries_removed: u64,
}

/// Everything the model counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counters {
    /// Instruction fetches, through the L1 instruction TLB.
    pub instruction: AccessCounters,
    /// Loads and stores, through the L1 data TLB.
    pub data: AccessCounters,
    /// MOV to CR3 executions, flushing or not.
    pub cr3_writes: u64,
    /// MOV to CR4 executions, flushing or not.
    pub cr4_writes: u64,
    /// Invalidations, indexed by [`FlushCause::index`].
    pub flushes: [FlushCount; 7],
}

/// Number of keys in a report: two access kinds, two write counts, two per flush cause.
const KEY_COUNT: usize = 2 * AccessCounters::COUNT + 2 + 2 * FlushCause::ALL.len();

impl Counters {
    /// Number of counters, and of keys in [`Counters::KEYS`].
    pub const COUNT: usize = KEY_COUNT;

    /// The stable report keys, in the order of [`Counters::values`]: `i.<field>` for each
    /// instruction counter, `d.<field>` for each data counter, `cr3_writes`, `cr4_writes`,
    /// then `flush.<cause>.events` and `flush.<cause>.entries_removed` for each cause.
    pub const KEYS: [&'static str; KEY_COUNT] = [
        "i.accesses",
        "i.l1_hits",
        "i.l1_misses",
        "i.stlb_hits",
        "i.stlb_misses",
        "i.walks_4k",
        "i.walks_2m",
        "i.walks_1g",
        "i.faulting_walks",
        "i.walk_memory_references",
        "i.non_canonical",
        "d.accesses",
        "d.l1_hits",
        "d.l1_misses",
        "d.stlb_hits",
        "d.stlb_misses",
        "d.walks_4k",
        "d.walks_2m",
        "d.walks_1g",
        "d.faulting_walks",
        "d.walk_memory_references",
        "d.non_canonical",
        "cr3_writes",
        "cr4_writes",
        "flush.cr3_write.events",
        "flush.cr3_write.entries_removed",
        "flush.cr4_write.events",
        "flush.cr4_write.entries_removed",
        "flush.invlpg.events",
        "flush.invlpg.entries_removed",
        "flush.invpcid0.events",
        "flush.invpcid0.entries_removed",
        "flush.invpcid1.events",
        "flush.invpcid1.entries_removed",
        "flush.invpcid2.events",
        "flush.invpcid2.entries_removed",
        "flush.invpcid3.events",
        "flush.invpcid3.entries_removed",
    ];

    /// Returns every counter in the order of [`Counters::KEYS`].
    pub fn values(&self) -> [u64; KEY_COUNT] {
        let mut values = [0; KEY_COUNT];
        let (instruction, rest) = values.split_at_mut(AccessCounters::COUNT);
        let (data, rest) = rest.split_at_mut(AccessCounters::COUNT);
        instruction.copy_from_slice(&self.instruction.values());
        data.copy_from_slice(&self.data.values());
        rest[0] = self.cr3_writes;
        rest[1] = self.cr4_writes;
        for (pair, count) in rest[2..]
            .as_chunks_mut::<2>()
            .0
            .iter_mut()
            .zip(&self.flushes)
        {
            pair[0] = count.events;
            pair[1] = count.entries_removed;
        }
        values
    }

    /// Builds counters from values in the order of [`Counters::KEYS`].
    pub fn from_values(values: [u64; KEY_COUNT]) -> Counters {
        let mut instruction = [0; AccessCounters::COUNT];
        let mut data = [0; AccessCounters::COUNT];
        let (instruction_values, rest) = values.split_at(AccessCounters::COUNT);
        let (data_values, rest) = rest.split_at(AccessCounters::COUNT);
        instruction.copy_from_slice(instruction_values);
        data.copy_from_slice(data_values);
        let mut flushes = [FlushCount::default(); 7];
        for (count, pair) in flushes.iter_mut().zip(rest[2..].as_chunks::<2>().0) {
            *count = FlushCount {
                events: pair[0],
                entries_removed: pair[1],
            };
        }
        Counters {
            instruction: AccessCounters::from_values(instruction),
            data: AccessCounters::from_values(data),
            cr3_writes: rest[0],
            cr4_writes: rest[1],
            flushes,
        }
    }

    /// Returns the counts for one flush cause.
    pub const fn flush(&self, cause: FlushCause) -> FlushCount {
        self.flushes[cause.index()]
    }

    /// Returns the counts accumulated since the snapshot `earlier` (counter by counter,
    /// `self - earlier`; counters only grow between resets, so nothing wraps).
    pub fn since(&self, earlier: &Counters) -> Counters {
        let now = self.values();
        let then = earlier.values();
        Counters::from_values(core::array::from_fn(|index| {
            now[index].wrapping_sub(then[index])
        }))
    }

    /// Counts one invalidating operation of `cause` that removed `entries_removed` entries.
    pub(crate) fn count_flush(&mut self, cause: FlushCause, entries_removed: u64) {
        let count = &mut self.flushes[cause.index()];
        count.events += 1;
        count.entries_removed += entries_removed;
    }
}

/// Instructions executed, split by the half of the address space they were fetched from.
///
/// The split is by the instruction's linear address, not by CPL: an instruction at or above
/// [`KERNEL_HALF_START`] counts as kernel, anything below as user. (shoal runs no user code in
/// the kernel half and no kernel code in the lower half, so for shoal the two agree.)
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct InstructionCounts {
    /// Instructions at linear addresses below [`KERNEL_HALF_START`].
    pub user: u64,
    /// Instructions at linear addresses at or above [`KERNEL_HALF_START`].
    pub kernel: u64,
}

impl InstructionCounts {
    /// Returns the counts accumulated since the snapshot `earlier` (wrapping, like the other
    /// `since` methods: the counts only grow between resets).
    pub const fn since(&self, earlier: &InstructionCounts) -> InstructionCounts {
        InstructionCounts {
            user: self.user.wrapping_sub(earlier.user),
            kernel: self.kernel.wrapping_sub(earlier.kernel),
        }
    }

    /// Returns user plus kernel instructions.
    pub const fn total(&self) -> u64 {
        self.user + self.kernel
    }
}

/// The first linear address of the kernel half of the address space (the upper canonical
/// half), which instruction counts and walk regions use to tell kernel from user addresses.
pub const KERNEL_HALF_START: u64 = 0xffff_8000_0000_0000;

/// Successful page walks (any page size, instruction or data) by the region of the linear
/// address that needed them. Their sum equals the `walks_4k + walks_2m + walks_1g` of both
/// access kinds; faulting walks are not attributed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RegionWalks {
    /// Walks for addresses inside the global-segment window the kernel announced.
    pub window: u64,
    /// Walks for the rest of the lower half: each process's private memory.
    pub private: u64,
    /// Walks for addresses at or above [`KERNEL_HALF_START`].
    pub kernel: u64,
}

impl RegionWalks {
    /// Returns the counts accumulated since the snapshot `earlier`.
    pub const fn since(&self, earlier: &RegionWalks) -> RegionWalks {
        RegionWalks {
            window: self.window.wrapping_sub(earlier.window),
            private: self.private.wrapping_sub(earlier.private),
            kernel: self.kernel.wrapping_sub(earlier.kernel),
        }
    }

    /// Returns the walks of all regions.
    pub const fn total(&self) -> u64 {
        self.window + self.private + self.kernel
    }
}
