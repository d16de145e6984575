//! The TLB hierarchy and the Intel SDM's rules for filling and invalidating it.
//!
//! [`Model`] owns the three levels (L1 instruction TLB, L1 data TLB, unified STLB), the guest's
//! paging control state ([`ControlRegisters`]: CR3 and CR4) and the [`Counters`]. The QEMU
//! plugin drives it with one call per event:
//!
//! - [`Model::access`] for every instruction fetch and data access: L1 of the access's kind,
//!   then STLB, then a page walk ([`crate::walk`]) on a full miss. It allocates nothing and costs
//!   O(ways) per probed array, plus the walk on a miss.
//! - [`Model::write_cr3`], [`Model::write_cr4`], [`Model::invlpg`] and [`Model::invpcid`] for
//!   the instructions that invalidate TLB entries (Intel SDM vol. 3A §4.10.4.1).
//! - [`Model::begin_phase`] and [`Model::end_phase`] around measured phases, returning a
//!   [`PhaseReport`].
//!
//! CR3 and CR4 are model state, changed only through these calls, because reading guest
//! registers on every access would be far too slow for a plugin. When the plugin attaches to a
//! guest that already runs with paging, it seeds them once with
//! [`Model::synchronize_control_registers`]. For the kernel's "simulated PCID" mode the plugin
//! simply passes CR4 with PCIDE set and CR3 with bit 63 set when the kernel announced a
//! non-flushing switch; the model never sees the real registers.
//!
//! Inclusion policy: non-inclusive and non-exclusive. A walk fills the STLB and the L1 of the
//! access's kind; an STLB hit fills that L1; an eviction from one level leaves the others alone;
//! nothing moves back from L1 to the STLB. Every invalidation applies to all three levels.
//!
//! Neighbours: `tlb.rs` (arrays and levels), `walk.rs` (the walker and [`GuestMemory`]),
//! `counters.rs`, `report.rs` (phase reports and their line format).

use core::fmt;

use crate::address::{Pcid, PhysicalAddress, VirtualAddress};
use crate::counters::{Counters, FlushCause};
use crate::geometry::{Geometry, GeometryError, LevelName};
use crate::report::PhaseReport;
use crate::tlb::{EntrySlot, EntryView, TlbLevel, Translation};
use crate::walk::{self, GuestMemory, WalkFault};

/// CR4.PAE, bit 5: physical-address extension; must be 1 for 4-level paging.
pub const CR4_PAE: u64 = 1 << 5;
/// CR4.PGE, bit 7: page-global enable (Intel SDM vol. 3A §4.10.2.4).
pub const CR4_PGE: u64 = 1 << 7;
/// CR4.PCIDE, bit 17: process-context identifiers enable (Intel SDM vol. 3A §4.10.1).
pub const CR4_PCIDE: u64 = 1 << 17;
/// CR4.SMEP, bit 20: supervisor-mode execution prevention.
pub const CR4_SMEP: u64 = 1 << 20;
/// Bit 63 of a MOV to CR3 source operand: with CR4.PCIDE=1, do not invalidate the new PCID's
/// entries (Intel SDM vol. 3A §4.10.4.1). It is not stored in CR3.
pub const CR3_NO_FLUSH: u64 = 1 << 63;

/// The kind of a memory access, which picks the L1 TLB it goes through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccessKind {
    /// An instruction fetch, through the L1 instruction TLB.
    Instruction,
    /// A load or store, through the L1 data TLB.
    Data,
}

/// The paging control registers the model tracks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ControlRegisters {
    /// CR3: the PML4 table's physical address in bits 51:12, the PCID in bits 11:0 when
    /// CR4.PCIDE=1. Bit 63 is never stored.
    pub cr3: u64,
    /// CR4; the model reads PGE, PCIDE, PAE and SMEP.
    pub cr4: u64,
}

impl ControlRegisters {
    /// Returns the current PCID: CR3 bits 11:0 when CR4.PCIDE=1, else 000H (Intel SDM vol. 3A
    /// §4.10.1).
    pub const fn pcid(&self) -> Pcid {
        if self.cr4 & CR4_PCIDE != 0 {
            Pcid::from_cr3(self.cr3)
        } else {
            Pcid::ZERO
        }
    }

    /// Returns the physical address of the PML4 table, CR3 bits 51:12.
    pub const fn root(&self) -> PhysicalAddress {
        PhysicalAddress::new(self.cr3 & walk::ENTRY_ADDRESS_MASK)
    }

    /// Reports whether CR4.PGE is set, so that leaf G flags make entries global.
    pub const fn page_global_enabled(&self) -> bool {
        self.cr4 & CR4_PGE != 0
    }

    /// Reports whether CR4.PCIDE is set.
    pub const fn pcid_enabled(&self) -> bool {
        self.cr4 & CR4_PCIDE != 0
    }
}

/// Where an access found its translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The L1 TLB of the access's kind held it.
    L1Hit(Translation),
    /// The L1 missed and the STLB held it; the L1 was filled.
    StlbHit(Translation),
    /// Both levels missed; the walk found it and filled both levels.
    Walked(Translation),
    /// Both levels missed and the walk faulted; nothing was filled.
    Faulted(WalkFault),
    /// The address is not canonical; the access faults before any lookup.
    NonCanonical,
}

impl Outcome {
    /// Returns the translation, unless the access faulted.
    pub const fn translation(&self) -> Option<Translation> {
        match self {
            Outcome::L1Hit(translation)
            | Outcome::StlbHit(translation)
            | Outcome::Walked(translation) => Some(*translation),
            Outcome::Faulted(_) | Outcome::NonCanonical => None,
        }
    }
}

/// What an invalidating operation did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlushReport {
    /// Whether the operation invalidated anything by the SDM's rules (a CR3 write with the
    /// no-flush bit, or a CR4 write that changes no relevant bit, does not).
    pub invalidated: bool,
    /// Entries removed from all levels together.
    pub entries_removed: u64,
}

/// A decoded INVPCID instruction (Intel SDM vol. 3A §4.10.4.1; vol. 2 INVPCID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Invpcid {
    /// Type 0: invalidate the mappings for `address` associated with `pcid`, except global
    /// translations.
    IndividualAddress {
        /// The PCID of the descriptor.
        pcid: Pcid,
        /// The linear address of the descriptor.
        address: VirtualAddress,
    },
    /// Type 1: invalidate all mappings associated with `pcid`, except global translations.
    SingleContext {
        /// The PCID of the descriptor.
        pcid: Pcid,
    },
    /// Type 2: invalidate all mappings, including global translations, for every PCID.
    AllIncludingGlobal,
    /// Type 3: invalidate all mappings, except global translations, for every PCID.
    AllExceptGlobal,
}

/// Mask of the reserved descriptor bits 63:12, which must be zero.
const INVPCID_DESCRIPTOR_RESERVED: u64 = !0xfff;

impl Invpcid {
    /// Decodes INVPCID's register operand (`invpcid_type`) and 128-bit descriptor
    /// (`descriptor_low` = bits 63:0 with the PCID in 11:0, `descriptor_high` = the linear
    /// address), applying the instruction's #GP checks. `pcid_enabled` is CR4.PCIDE.
    ///
    /// # Errors
    ///
    /// Returns the reason the instruction would raise #GP(0) instead of invalidating: a type
    /// above 3, reserved descriptor bits set, a non-canonical address for type 0, or a PCID
    /// other than 000H for types 0 and 1 while CR4.PCIDE=0.
    pub fn decode(
        invpcid_type: u64,
        descriptor_low: u64,
        descriptor_high: u64,
        pcid_enabled: bool,
    ) -> Result<Invpcid, InvpcidError> {
        if invpcid_type > 3 {
            return Err(InvpcidError::UnknownType(invpcid_type));
        }
        if descriptor_low & INVPCID_DESCRIPTOR_RESERVED != 0 {
            return Err(InvpcidError::ReservedDescriptorBits);
        }
        let pcid = Pcid::from_cr3(descriptor_low);
        if invpcid_type <= 1 && !pcid_enabled && pcid != Pcid::ZERO {
            return Err(InvpcidError::PcidWithoutPcide);
        }
        let address = VirtualAddress::new(descriptor_high);
        match invpcid_type {
            0 if !address.is_canonical() => Err(InvpcidError::NonCanonicalAddress),
            0 => Ok(Invpcid::IndividualAddress { pcid, address }),
            1 => Ok(Invpcid::SingleContext { pcid }),
            2 => Ok(Invpcid::AllIncludingGlobal),
            _ => Ok(Invpcid::AllExceptGlobal),
        }
    }

    /// Returns the flush cause this invalidation is counted under.
    pub const fn cause(&self) -> FlushCause {
        match self {
            Invpcid::IndividualAddress { .. } => FlushCause::InvpcidIndividualAddress,
            Invpcid::SingleContext { .. } => FlushCause::InvpcidSingleContext,
            Invpcid::AllIncludingGlobal => FlushCause::InvpcidAllIncludingGlobal,
            Invpcid::AllExceptGlobal => FlushCause::InvpcidAllExceptGlobal,
        }
    }
}

/// Why an INVPCID would fault instead of invalidating.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InvpcidError {
    /// The type operand is above 3.
    UnknownType(u64),
    /// Descriptor bits 63:12 are not all zero.
    ReservedDescriptorBits,
    /// Type 0 with a non-canonical linear address.
    NonCanonicalAddress,
    /// Type 0 or 1 with a PCID other than 000H while CR4.PCIDE=0.
    PcidWithoutPcide,
}

impl fmt::Display for InvpcidError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvpcidError::UnknownType(invpcid_type) => {
                write!(formatter, "INVPCID type {invpcid_type} is not 0 to 3")
            }
            InvpcidError::ReservedDescriptorBits => {
                formatter.write_str("INVPCID descriptor bits 63:12 are not zero")
            }
            InvpcidError::NonCanonicalAddress => {
                formatter.write_str("INVPCID type 0 with a non-canonical address")
            }
            InvpcidError::PcidWithoutPcide => {
                formatter.write_str("INVPCID type 0 or 1 with a non-zero PCID while CR4.PCIDE=0")
            }
        }
    }
}

impl std::error::Error for InvpcidError {}

/// A phase between [`Model::begin_phase`] and [`Model::end_phase`].
#[derive(Clone, Debug)]
struct OpenPhase {
    /// The caller's identifier, echoed in the report.
    id: u64,
    /// The caller's name, echoed in the report.
    name: String,
    /// The counters when the phase began.
    start: Counters,
}

/// The architectural TLB model: three levels, CR3/CR4 state and counters.
#[derive(Clone, Debug)]
pub struct Model {
    /// The geometry the levels were built from.
    geometry: Geometry,
    /// The L1 instruction TLB.
    instruction_tlb: TlbLevel,
    /// The L1 data TLB.
    data_tlb: TlbLevel,
    /// The unified second-level TLB.
    stlb: TlbLevel,
    /// CR3 and CR4 as last written.
    control: ControlRegisters,
    /// `control.pcid()`, cached for the hot path.
    pcid: Pcid,
    /// Counters since creation or the last reset.
    counters: Counters,
    /// The open phase, if any.
    phase: Option<OpenPhase>,
}

impl Model {
    /// Builds a model with empty TLBs, CR3 = CR4 = 0 (PCIDE and PGE clear) and zero counters.
    ///
    /// # Errors
    ///
    /// Returns the geometry's first problem (see [`Geometry::validate`]).
    pub fn new(geometry: Geometry) -> Result<Model, GeometryError> {
        geometry.validate()?;
        Ok(Model {
            instruction_tlb: TlbLevel::new(&geometry.instruction_tlb),
            data_tlb: TlbLevel::new(&geometry.data_tlb),
            stlb: TlbLevel::new(&geometry.stlb),
            geometry,
            control: ControlRegisters::default(),
            pcid: Pcid::ZERO,
            counters: Counters::default(),
            phase: None,
        })
    }

    /// Returns the geometry the model was built from.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Returns CR3 and CR4 as the model knows them.
    pub fn control_registers(&self) -> ControlRegisters {
        self.control
    }

    /// Returns the current PCID.
    pub fn current_pcid(&self) -> Pcid {
        self.pcid
    }

    /// Sets CR3 and CR4 without applying any invalidation rule, for attaching to a guest that
    /// already runs; bit 63 of `control.cr3` is dropped. Not an architectural event, so
    /// nothing is counted.
    pub fn synchronize_control_registers(&mut self, control: ControlRegisters) {
        self.control = ControlRegisters {
            cr3: control.cr3 & !CR3_NO_FLUSH,
            cr4: control.cr4,
        };
        self.pcid = self.control.pcid();
    }

    /// Translates one access of `kind` to `address`, looking up the L1 TLB of that kind, then
    /// the STLB, then walking the paging structures in `memory` from CR3's root, and counts
    /// what happened.
    ///
    /// An entry matches when its page number and size cover `address` and it is global or
    /// associated with the current PCID (Intel SDM vol. 3A §4.10.2.4). A walk's translation is
    /// global when the leaf's G flag is 1 and CR4.PGE=1 (§4.10.2.4), is associated with the
    /// current PCID (§4.10.2.2), and is filled into the STLB and the L1; a faulting walk fills
    /// nothing (§4.10.2.2). An access that crosses a page boundary is two accesses; the
    /// caller splits it.
    #[inline]
    pub fn access<M: GuestMemory + ?Sized>(
        &mut self,
        kind: AccessKind,
        address: VirtualAddress,
        memory: &M,
    ) -> Outcome {
        let (l1, counters) = match kind {
            AccessKind::Instruction => (&mut self.instruction_tlb, &mut self.counters.instruction),
            AccessKind::Data => (&mut self.data_tlb, &mut self.counters.data),
        };
        counters.accesses += 1;
        if !address.is_canonical() {
            counters.non_canonical += 1;
            return Outcome::NonCanonical;
        }
        let pcid = self.pcid;
        if let Some(translation) = l1.lookup(address, pcid) {
            counters.l1_hits += 1;
            return Outcome::L1Hit(translation);
        }
        counters.l1_misses += 1;
        if let Some(translation) = self.stlb.lookup(address, pcid) {
            counters.stlb_hits += 1;
            l1.insert(address, pcid, translation);
            return Outcome::StlbHit(translation);
        }
        counters.stlb_misses += 1;
        let walk = walk::walk(memory, self.control.root(), address);
        counters.walk_memory_references += u64::from(walk.memory_references);
        match walk.result {
            Ok(mapping) => {
                counters.count_walk(mapping.page_size);
                let translation = Translation {
                    page_size: mapping.page_size,
                    physical_page: mapping.physical_page,
                    global: mapping.global_flag && self.control.page_global_enabled(),
                };
                self.stlb.insert(address, pcid, translation);
                l1.insert(address, pcid, translation);
                Outcome::Walked(translation)
            }
            Err(fault) => {
                counters.faulting_walks += 1;
                Outcome::Faulted(fault)
            }
        }
    }

    /// Returns where the L1 TLB of `kind` holds the entry an access to `address` would hit now,
    /// without touching it or counting anything; `None` if it would miss. The slot stays valid
    /// until the next fill of that L1 or the next invalidation: the plugin's fast path keeps it
    /// for [`Model::repeat_l1_hit`].
    #[inline]
    pub fn l1_slot(&self, kind: AccessKind, address: VirtualAddress) -> Option<EntrySlot> {
        let l1 = match kind {
            AccessKind::Instruction => &self.instruction_tlb,
            AccessKind::Data => &self.data_tlb,
        };
        l1.find(address, self.pcid)
    }

    /// Counts one access of `kind` that hits the L1 entry at `slot` and makes that entry the
    /// most recently used of its set: exactly what [`Model::access`] does on an L1 hit, without
    /// the lookup. `slot` must come from [`Model::l1_slot`] for the same address, with no fill
    /// of that L1 and no invalidation (CR3/CR4 write, INVLPG, INVPCID, reset, emptying) since.
    #[inline]
    pub fn repeat_l1_hit(&mut self, kind: AccessKind, slot: EntrySlot) {
        let (l1, counters) = match kind {
            AccessKind::Instruction => (&mut self.instruction_tlb, &mut self.counters.instruction),
            AccessKind::Data => (&mut self.data_tlb, &mut self.counters.data),
        };
        counters.accesses += 1;
        counters.l1_hits += 1;
        l1.touch(slot);
    }

    /// Counts one access of `kind` that hits the L1 entry the previous access of that kind hit
    /// or filled: that entry is the most recently used of its set, and a lookup would only
    /// count the hit and move its stamp forward, which keeps its set's order. Valid under the
    /// same conditions as [`Model::repeat_l1_hit`], for the entry of the previous access of
    /// `kind`.
    #[inline]
    pub fn repeat_mru_l1_hit(&mut self, kind: AccessKind) {
        self.repeat_mru_l1_hits(kind, 1);
    }

    /// Counts `count` accesses as [`Model::repeat_mru_l1_hit`] does, at once.
    #[inline]
    pub fn repeat_mru_l1_hits(&mut self, kind: AccessKind, count: u64) {
        let counters = match kind {
            AccessKind::Instruction => &mut self.counters.instruction,
            AccessKind::Data => &mut self.counters.data,
        };
        counters.accesses += count;
        counters.l1_hits += count;
    }

    /// Applies MOV to CR3 with source operand `value` (Intel SDM vol. 3A §4.10.4.1):
    ///
    /// - CR4.PCIDE=1, bit 63 clear: invalidates the non-global entries associated with the new
    ///   PCID, `value[11:0]`; entries of other PCIDs and global entries stay.
    /// - CR4.PCIDE=1, bit 63 set: invalidates nothing.
    /// - CR4.PCIDE=0: invalidates every non-global entry. The SDM says "associated with PCID
    ///   000H", and with PCIDE=0 no other PCID can be cached (§4.10.1), because clearing PCIDE
    ///   flushes everything; the model removes all non-global entries so that it stays
    ///   conservative even if a plugin hands it an inconsistent history. Bit 63 is ignored.
    ///
    /// CR3 keeps `value` without bit 63. Every call counts as a CR3 write; the ones that
    /// invalidate also count as a `cr3_write` flush.
    pub fn write_cr3(&mut self, value: u64) -> FlushReport {
        self.counters.cr3_writes += 1;
        let pcid_enabled = self.control.pcid_enabled();
        let keep_entries = pcid_enabled && value & CR3_NO_FLUSH != 0;
        self.control.cr3 = value & !CR3_NO_FLUSH;
        self.pcid = self.control.pcid();
        if keep_entries {
            return FlushReport::default();
        }
        let new_pcid = self.pcid;
        let entries_removed = if pcid_enabled {
            self.invalidate_all_where(|entry| !entry.global && entry.pcid == new_pcid)
        } else {
            self.invalidate_all_where(|entry| !entry.global)
        };
        self.counters
            .count_flush(FlushCause::Cr3Write, entries_removed);
        FlushReport {
            invalidated: true,
            entries_removed,
        }
    }

    /// Applies MOV to CR4 with source operand `value` (Intel SDM vol. 3A §4.10.4.1):
    ///
    /// - changing CR4.PGE, or changing CR4.PCIDE from 1 to 0: invalidates every entry,
    ///   global ones included, for all PCIDs;
    /// - otherwise, changing CR4.PAE or changing CR4.SMEP from 0 to 1: invalidates every entry
    ///   associated with the current PCID (the one before the write). The SDM says "all TLB
    ///   entries ... for the current PCID" without excepting global pages, so global entries
    ///   that were filled under the current PCID go too;
    /// - anything else, including setting CR4.PCIDE (allowed only while CR3 bits 11:0 = 000H, so
    ///   the cached PCID-000H entries stay valid), invalidates nothing.
    ///
    /// Every call counts as a CR4 write; the ones that invalidate also count as a `cr4_write`
    /// flush.
    pub fn write_cr4(&mut self, value: u64) -> FlushReport {
        self.counters.cr4_writes += 1;
        let old = self.control.cr4;
        let changed = old ^ value;
        let clears_pcide = old & CR4_PCIDE != 0 && value & CR4_PCIDE == 0;
        let sets_smep = old & CR4_SMEP == 0 && value & CR4_SMEP != 0;
        let old_pcid = self.pcid;
        let entries_removed = if changed & CR4_PGE != 0 || clears_pcide {
            Some(self.invalidate_all_where(|_| true))
        } else if changed & CR4_PAE != 0 || sets_smep {
            Some(self.invalidate_all_where(|entry| entry.pcid == old_pcid))
        } else {
            None
        };
        self.control.cr4 = value;
        self.pcid = self.control.pcid();
        match entries_removed {
            Some(entries_removed) => {
                self.counters
                    .count_flush(FlushCause::Cr4Write, entries_removed);
                FlushReport {
                    invalidated: true,
                    entries_removed,
                }
            }
            None => FlushReport::default(),
        }
    }

    /// Applies INVLPG of `address` (Intel SDM vol. 3A §4.10.4.1): invalidates the entries for
    /// the page containing `address`, whatever their page size, that are associated with the
    /// current PCID, and the global entries for that page whatever their PCID. With a
    /// non-canonical `address`, INVLPG is a no-operation (vol. 2, INVLPG); it is still counted
    /// as an event.
    pub fn invlpg(&mut self, address: VirtualAddress) -> FlushReport {
        let entries_removed = if address.is_canonical() {
            let pcid = self.pcid;
            self.invalidate_address_where(address, |entry| entry.global || entry.pcid == pcid)
        } else {
            0
        };
        self.counters
            .count_flush(FlushCause::Invlpg, entries_removed);
        FlushReport {
            invalidated: true,
            entries_removed,
        }
    }

    /// Applies a decoded INVPCID (Intel SDM vol. 3A §4.10.4.1):
    ///
    /// - type 0: the non-global entries for the page containing the address (any page size)
    ///   associated with the given PCID;
    /// - type 1: every non-global entry associated with the given PCID;
    /// - type 2: every entry, global ones included;
    /// - type 3: every non-global entry.
    ///
    /// With CR4.PCIDE=0 the SDM limits types 2 and 3 to PCID 000H, the only PCID that can be
    /// cached then; the model removes all matching entries whatever their PCID.
    pub fn invpcid(&mut self, invalidation: Invpcid) -> FlushReport {
        let entries_removed = match invalidation {
            Invpcid::IndividualAddress { pcid, address } => {
                self.invalidate_address_where(address, |entry| !entry.global && entry.pcid == pcid)
            }
            Invpcid::SingleContext { pcid } => {
                self.invalidate_all_where(|entry| !entry.global && entry.pcid == pcid)
            }
            Invpcid::AllIncludingGlobal => self.invalidate_all_where(|_| true),
            Invpcid::AllExceptGlobal => self.invalidate_all_where(|entry| !entry.global),
        };
        self.counters
            .count_flush(invalidation.cause(), entries_removed);
        FlushReport {
            invalidated: true,
            entries_removed,
        }
    }

    /// Starts a phase named `name` with identifier `id`: the counts of [`Model::end_phase`]
    /// are those accumulated from now on. TLB contents are not touched. If a phase is already
    /// open it is ended first and its report returned, so no counts are lost.
    pub fn begin_phase(&mut self, id: u64, name: &str) -> Option<PhaseReport> {
        let previous = self.end_phase();
        self.phase = Some(OpenPhase {
            id,
            name: name.to_owned(),
            start: self.counters,
        });
        previous
    }

    /// Ends the open phase and returns its report, or `None` if no phase is open.
    pub fn end_phase(&mut self) -> Option<PhaseReport> {
        let phase = self.phase.take()?;
        Some(PhaseReport {
            id: phase.id,
            name: phase.name,
            counters: self.counters.since(&phase.start),
            ..PhaseReport::default()
        })
    }

    /// Returns the report the open phase would give if it ended now, without ending it, or
    /// `None` if no phase is open (for the plugin's `Dump` marker).
    pub fn phase_snapshot(&self) -> Option<PhaseReport> {
        let phase = self.phase.as_ref()?;
        Some(PhaseReport {
            id: phase.id,
            name: phase.name.clone(),
            counters: self.counters.since(&phase.start),
            ..PhaseReport::default()
        })
    }

    /// Returns the identifier and name of the open phase, if any.
    pub fn open_phase(&self) -> Option<(u64, &str)> {
        self.phase
            .as_ref()
            .map(|phase| (phase.id, phase.name.as_str()))
    }

    /// Returns the counters accumulated since the model was built or last reset.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Zeroes the counters, keeping TLB contents; an open phase stays open and from now on
    /// counts from zero.
    pub fn reset_counters(&mut self) {
        self.counters = Counters::default();
        if let Some(phase) = &mut self.phase {
            phase.start = Counters::default();
        }
    }

    /// Empties every TLB level, zeroes the counters and drops the open phase without a
    /// report. CR3 and CR4 are kept.
    pub fn reset(&mut self) {
        self.empty_tlbs();
        self.counters = Counters::default();
        self.phase = None;
    }

    /// Empties every TLB level (globals included), keeping the counters, the open phase, CR3
    /// and CR4: a cold start chosen by the experiment, not an architectural flush, so no flush
    /// counter moves.
    pub fn empty_tlbs(&mut self) {
        self.instruction_tlb.clear();
        self.data_tlb.clear();
        self.stlb.clear();
    }

    /// Returns the number of valid entries in the level `level`.
    pub fn resident_entries(&self, level: LevelName) -> u64 {
        match level {
            LevelName::InstructionTlb => self.instruction_tlb.valid_entries(),
            LevelName::DataTlb => self.data_tlb.valid_entries(),
            LevelName::Stlb => self.stlb.valid_entries(),
        }
    }

    /// Empties the entries of all levels for which `condition` holds; returns the count.
    fn invalidate_all_where(&mut self, mut condition: impl FnMut(EntryView) -> bool) -> u64 {
        self.instruction_tlb.invalidate_where(&mut condition)
            + self.data_tlb.invalidate_where(&mut condition)
            + self.stlb.invalidate_where(&mut condition)
    }

    /// Empties the entries of all levels and page sizes covering `address` for which
    /// `condition` holds; returns the count.
    fn invalidate_address_where(
        &mut self,
        address: VirtualAddress,
        mut condition: impl FnMut(EntryView) -> bool,
    ) -> u64 {
        self.instruction_tlb
            .invalidate_address_where(address, &mut condition)
            + self
                .data_tlb
                .invalidate_address_where(address, &mut condition)
            + self.stlb.invalidate_address_where(address, &mut condition)
    }
}
