//! One simulated run: the [`Model`] plus everything the plugin learns from the guest between
//! QEMU's start and exit.
//!
//! [`Session`] is pure (no QEMU, no unsafe), so the tests drive it with a
//! [`crate::SyntheticMemory`] exactly as the FFI module drives it with the guest's RAM. It
//! receives one call per event the plugin observes:
//!
//! - [`Session::block`] when a translation block starts executing, and
//!   [`Session::enter_page`] when execution reaches an instruction on the block's next code
//!   page: instruction fetches;
//! - [`Session::data_access`] per load or store, with its size: an access whose last byte lies
//!   on the next 4 KiB page also accesses that page;
//! - [`Session::mov_to_cr0`], [`Session::mov_to_cr3`], [`Session::mov_to_cr4`],
//!   [`Session::invlpg`], [`Session::invpcid`] before those instructions execute;
//! - [`Session::marker`] for each `tlbsim_protocol` marker, and [`Session::finish`] when QEMU
//!   exits, both with the instruction totals the plugin's inline counters hold at that moment
//!   ([`InstructionCounts`]; the session keeps no counter of its own for them, so it stays
//!   pure and the hot path stays in QEMU's generated code).
//!
//! **Walk cost.** Every access that walks (or faults after walking) is also priced by the
//! [`WalkCostModel`]: the model's reads of guest memory go through a [`WalkRecorder`], whose
//! trace [`WalkCostModel::walk_cycles`] prices. CR3 and CR4 writes, INVLPG and INVPCID reach the
//! cost model too, with the control registers before the write as its documentation asks.
//! With `cost_data` on, every data access that translates also feeds its physical address to
//! the cost model's cache hierarchy. `Reset` resets the cost model (caches emptied),
//! `ZeroCounters` zeroes its counters (caches kept), `FlushTlbs` empties its paging-structure
//! caches (data caches kept).
//!
//! **Walks by region.** Every successful walk is attributed by the linear address of its access:
//! the global-segment window announced by the `WindowStart` and `WindowEnd` markers, the kernel
//! half (at or above [`KERNEL_HALF_START`]), or else private ([`RegionWalks`]).
//!
//! **Walks in the driver's space.** Independently of the region, a successful walk made while
//! the current page-table root (CR3 without the PCID, bits 11:0, and bit 63) is the one the
//! `DriverSpace` marker announced also counts as a driver walk (`walks.driver`, a part of all
//! walks, not a fourth region). The comparison happens where the root changes (CR3 and CR0
//! writes, the marker) and is kept as one flag, so a walk costs one more branch.
//!
//! **Recent-page fast path.** The session remembers, per access kind, up to eight 4 KiB pages
//! whose translations the L1 TLB of that kind holds, with where it holds them
//! ([`Model::l1_slot`]). An access of that kind to one of them is an L1 hit on that entry, and
//! [`Model::repeat_l1_hit`] does exactly what the lookup would (count the hit, make the entry
//! the most recently used of its set) without searching. An access that fills that L1 (after an
//! STLB hit or a walk) may evict one of those entries, so it forgets that kind's pages; any event
//! that can invalidate TLB entries (CR0, CR3, CR4 writes, INVLPG, INVPCID, `SimulatePcid`,
//! `Reset`, `FlushTlbs`) forgets both kinds'. An access to the very page the previous access of
//! its kind used skips even the LRU touch ([`Model::repeat_mru_l1_hit`]): that entry is already
//! the most recently used of its set. A test checks the counts against a bare model. Likewise, with `cost_data` on, a data access to the
//! same 64-byte line as the previous one, with no walk in between, is an L1D hit
//! ([`WalkCostModel::repeat_data_l1d_hit`]).
//!
//! **Paging gate.** Accesses and invalidations reach the model only while IA-32e paging is on
//! (CR0.PG, CR4.PAE and EFER.LME all set, Intel SDM vol. 3A §4.1.1). The guest enters and
//! leaves that state only through MOV to CR0 (LME and PAE cannot change while PG=1), so
//! [`Session::mov_to_cr0`] takes the real CR3, CR4 and EFER read at that instruction and,
//! when paging comes on, seeds the model's CR3 and CR4 with them. Before that (firmware, the
//! bootloader's real and protected mode) CR3 and CR4 writes only update the seed and nothing
//! is counted. A CR0 write that turns paging off is not modelled as a flush; the model just
//! stops seeing accesses until paging comes back.
//!
//! **Simulated PCID.** After a `SimulatePcid` marker with RAX=1 the model's CR4 is the real
//! CR4 with PCIDE set, and each MOV to CR3 after a `KeepNextCr3` marker is passed on with bit
//! 63 set. The marker itself is modelled as the MOV to CR4 that would set (or, with RAX=0,
//! clear) PCIDE on hardware, so it counts as a CR4 write and clearing flushes everything.
//!
//! **Output.** Report lines accumulate in the session and the FFI module writes them out
//! ([`Session::take_lines`]): the geometry line first, then the cost line
//! ([`report::format_cost_line`]), a phase line at every `EndPhase`, at
//! a `BeginPhase` that ends an open phase, and at every `Dump`; at exit the open phase (if any)
//! and the whole run ([`WHOLE_RUN_PHASE_ID`], [`WHOLE_RUN_PHASE_NAME`]: everything since the
//! start or the last `Reset`). Anomalies (an `EndPhase` whose id does not match, an INVPCID
//! that would fault, ...) give `tlbsim note ...` lines, and the exit adds one
//! `tlbsim info v=1 ...` line of plugin statistics. Host parsers read the `tlbsim phase` and
//! `tlbsim geometry` lines and may ignore the others.

use tlbsim_protocol::{
    Command, NameCollector, SIMULATE_PCID_OFF, SIMULATE_PCID_ON, WHOLE_RUN_PHASE_ID,
    WHOLE_RUN_PHASE_NAME,
};

use crate::address::{PhysicalAddress, VirtualAddress};
use crate::cost::{CostCounters, PscSensitivity, WalkCostModel, WalkEnd, WalkRecorder};
use crate::counters::{InstructionCounts, KERNEL_HALF_START, RegionWalks};
use crate::model::{
    AccessKind, CR3_NO_FLUSH, CR4_PAE, CR4_PCIDE, ControlRegisters, Invpcid, Model, Outcome,
};
use crate::tlb::EntrySlot;
use crate::plugin::config::FetchMode;
use crate::report::{self, PhaseReport};
use crate::walk::{self, GuestMemory};

/// CR0.PG, bit 31: paging enabled (Intel SDM vol. 3A §2.5).
pub const CR0_PG: u64 = 1 << 31;
/// EFER.LME, bit 8: IA-32e mode enabled (Intel SDM vol. 3A §2.2.1).
pub const EFER_LME: u64 = 1 << 8;
/// The value of CR0 after reset (Intel SDM vol. 3A §9.1.1, Table 9-1).
pub const CR0_AT_RESET: u64 = 0x6000_0010;
/// Size of an INVPCID descriptor in bytes.
const INVPCID_DESCRIPTOR_BYTES: usize = 16;
/// The start of every note line.
pub const NOTE_LINE_PREFIX: &str = "tlbsim note ";
/// The start of the statistics line printed at exit.
pub const INFO_LINE_PREFIX: &str = "tlbsim info ";
/// log2 of the page size at which accesses are split and the fast path compares.
const PAGE_SHIFT: u32 = 12;
/// log2 of the cache-line size at which the cost fast path compares.
const LINE_SHIFT: u32 = 6;

/// How a session is set up besides its model and memory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionOptions {
    /// How fetch addresses are found; only reported.
    pub mode: FetchMode,
    /// The preset the walk-cost model's parameters come from; only reported.
    pub cost_preset: String,
    /// The paging-structure-cache sensitivity of the walk-cost model; only reported.
    pub psc: PscSensitivity,
    /// Whether data accesses feed the cost model's cache hierarchy.
    pub cost_data: bool,
}

/// The counts a phase line has besides the model's, as accumulated since the last `Reset` or
/// `ZeroCounters`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Extras {
    /// Instructions executed.
    instructions: InstructionCounts,
    /// Successful walks by region.
    region_walks: RegionWalks,
    /// Successful walks in the driver's address space.
    driver_walks: u64,
    /// The walk-cost model's counters.
    cost: CostCounters,
}

impl Extras {
    /// Returns the counts accumulated since the snapshot `earlier`.
    fn since(&self, earlier: &Extras) -> Extras {
        Extras {
            instructions: self.instructions.since(&earlier.instructions),
            region_walks: self.region_walks.since(&earlier.region_walks),
            driver_walks: self.driver_walks.wrapping_sub(earlier.driver_walks),
            cost: self.cost.since(&earlier.cost),
        }
    }

    /// Returns `report` with these counts filled in.
    fn complete(&self, mut report: PhaseReport) -> PhaseReport {
        report.instructions = self.instructions;
        report.region_walks = self.region_walks;
        report.driver_walks = self.driver_walks;
        report.cost = self.cost;
        report
    }
}

/// Pages remembered per access kind by the fast path.
const RECENT_PAGES: usize = 8;

/// A page number no address has (linear page numbers are below 2^52): an empty slot.
const NO_PAGE: u64 = u64::MAX;

/// The fast path's memory for one access kind: up to [`RECENT_PAGES`] 4 KiB pages whose
/// translations the L1 TLB of that kind holds, with where it holds them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RecentPages {
    /// Linear page numbers (address >> 12), [`NO_PAGE`] where empty.
    pages: [u64; RECENT_PAGES],
    /// The physical address of each page's first byte.
    physical: [u64; RECENT_PAGES],
    /// Where the L1 holds each page's entry.
    slots: [EntrySlot; RECENT_PAGES],
    /// The slot the next page replaces (round robin).
    next: usize,
    /// The index of the page the previous access of this kind used, if that access went
    /// through these pages (then its L1 entry is the most recently used of its set), else
    /// [`RECENT_PAGES`].
    last: usize,
}

impl RecentPages {
    /// No page remembered.
    const EMPTY: RecentPages = RecentPages {
        pages: [NO_PAGE; RECENT_PAGES],
        physical: [0; RECENT_PAGES],
        slots: [EntrySlot::NONE; RECENT_PAGES],
        next: 0,
        last: RECENT_PAGES,
    };

    /// Reports whether `page` is the page the previous access of this kind used.
    #[inline]
    fn is_last(&self, page: u64) -> bool {
        self.pages.get(self.last) == Some(&page)
    }

    /// Returns the index of page `page`, if remembered.
    #[inline]
    fn find(&self, page: u64) -> Option<usize> {
        self.pages.iter().position(|known| *known == page)
    }

    /// Remembers `page` (not remembered yet), replacing the oldest page, as the page of the
    /// previous access.
    #[inline]
    fn insert(&mut self, page: u64, physical: u64, slot: EntrySlot) {
        let index = self.next;
        self.pages[index] = page;
        self.physical[index] = physical;
        self.slots[index] = slot;
        self.next = (index + 1) % RECENT_PAGES;
        self.last = index;
    }
}

/// CR3, CR4 and EFER as the real CPU holds them, read by the plugin at a MOV to CR0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PagingRegisters {
    /// The real CR3.
    pub cr3: u64,
    /// The real CR4.
    pub cr4: u64,
    /// The real IA32_EFER.
    pub efer: u64,
}

/// What the plugin itself observed, printed in the `tlbsim info` line at exit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SessionStatistics {
    /// Translation blocks executed while paging was on.
    pub blocks: u64,
    /// Blocks that executed at another address than they were translated at (exact mode
    /// only: QEMU shares a block between virtual aliases of the same physical code).
    pub relocated_blocks: u64,
    /// Instruction fetches dropped because paging was off (the plugin instruments no fetch
    /// in blocks translated while paging is off, so these are only from blocks translated
    /// with paging on and executed after it went off).
    pub fetches_without_paging: u64,
    /// Data accesses dropped because paging was off (likewise).
    pub data_accesses_without_paging: u64,
    /// Markers executed.
    pub markers: u64,
    /// Note lines emitted.
    pub notes: u64,
    /// Accesses (fetches and data) counted by the same-page fast path.
    pub fast_path_accesses: u64,
    /// Data accesses whose last byte lay on the next page, which were counted as two.
    pub page_crossings: u64,
    /// Block executions whose callback the plugin skipped (fast mode: the block started on the
    /// previous fetch's page), reported through [`Session::repeated_fetches`].
    pub skipped_blocks: u64,
}

/// One simulated run; see the module documentation.
#[derive(Debug)]
pub struct Session<M> {
    /// The TLB model.
    model: Model,
    /// The walk-cost model, fed the same events.
    cost: WalkCostModel,
    /// Guest physical memory, for page walks.
    memory: M,
    /// How the session was set up.
    options: SessionOptions,
    /// Whether IA-32e paging is on.
    paging: bool,
    /// CR3 as last written (the seed while paging is off).
    cr3: u64,
    /// The real CR4 as last written.
    real_cr4: u64,
    /// Whether the kernel asked for PCIDE to be modelled as set.
    simulate_pcid: bool,
    /// Whether the next MOV to CR3 keeps the new PCID's entries.
    keep_next_cr3: bool,
    /// The name of the next phase, from `NamePhase` markers.
    name: NameCollector,
    /// The address the executing block starts at.
    block_address: u64,
    /// Report lines not yet written.
    lines: Vec<String>,
    /// Plugin statistics.
    statistics: SessionStatistics,
    /// The first address of the global-segment window, from `WindowStart`.
    window_start: Option<u64>,
    /// The address past the window, from `WindowEnd`.
    window_end: Option<u64>,
    /// Successful walks by region since the last `Reset` or `ZeroCounters`.
    region_walks: RegionWalks,
    /// The driver's page-table root (see [`page_table_root`]), from `DriverSpace`.
    driver_root: Option<u64>,
    /// Whether the root of `cr3` is `driver_root`: kept up to date at every change of either,
    /// so that counting a walk costs one branch.
    in_driver_space: bool,
    /// Successful walks made while `in_driver_space`, since the last `Reset` or
    /// `ZeroCounters`.
    driver_walks: u64,
    /// The instruction totals at the last `Reset` or `ZeroCounters`.
    instruction_base: InstructionCounts,
    /// The extras when the open phase began (zero after a `ZeroCounters` inside it).
    phase_start: Option<Extras>,
    /// The fast path's instruction pages.
    recent_code: RecentPages,
    /// The fast path's data pages.
    recent_data: RecentPages,
    /// The physical line number of the last data access fed to the cost model, while no walk
    /// has gone through its cache hierarchy since.
    recent_line: Option<u64>,
}

impl<M: GuestMemory> Session<M> {
    /// Starts a session: paging off, CR0 as after reset, and the geometry and cost lines
    /// queued.
    pub fn new(
        model: Model,
        cost: WalkCostModel,
        memory: M,
        options: SessionOptions,
    ) -> Session<M> {
        let geometry_line = report::format_geometry_line(model.geometry());
        let cost_line = report::format_cost_line(
            &options.cost_preset,
            options.psc,
            options.cost_data,
            cost.parameters(),
        );
        Session {
            model,
            cost,
            memory,
            options,
            paging: false,
            cr3: 0,
            real_cr4: 0,
            simulate_pcid: false,
            keep_next_cr3: false,
            name: NameCollector::new(),
            block_address: 0,
            lines: vec![geometry_line, cost_line],
            statistics: SessionStatistics::default(),
            window_start: None,
            window_end: None,
            region_walks: RegionWalks::default(),
            driver_root: None,
            in_driver_space: false,
            driver_walks: 0,
            instruction_base: InstructionCounts::default(),
            phase_start: None,
            recent_code: RecentPages::EMPTY,
            recent_data: RecentPages::EMPTY,
            recent_line: None,
        }
    }

    /// Returns the walk-cost model.
    pub fn cost(&self) -> &WalkCostModel {
        &self.cost
    }

    /// Returns the successful walks by region since the last `Reset` or `ZeroCounters`.
    pub fn region_walks(&self) -> RegionWalks {
        self.region_walks
    }

    /// Returns the successful walks made in the driver's address space since the last `Reset`
    /// or `ZeroCounters`.
    pub fn driver_walks(&self) -> u64 {
        self.driver_walks
    }

    /// Returns the driver's page-table root, once a `DriverSpace` marker has announced it.
    pub fn driver_root(&self) -> Option<u64> {
        self.driver_root
    }

    /// Returns the global-segment window, once both markers have announced a non-empty one.
    pub fn window(&self) -> Option<core::ops::Range<u64>> {
        match (self.window_start, self.window_end) {
            (Some(start), Some(end)) if start < end => Some(start..end),
            _ => None,
        }
    }

    /// Returns the model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Returns the plugin statistics so far.
    pub fn statistics(&self) -> SessionStatistics {
        self.statistics
    }

    /// Reports whether IA-32e paging is on, so that accesses are modelled.
    pub fn paging(&self) -> bool {
        self.paging
    }

    /// Takes the report lines queued since the last call.
    pub fn take_lines(&mut self) -> Vec<String> {
        core::mem::take(&mut self.lines)
    }

    /// Records that a translation block starts executing at `address` (translated at
    /// `translated_address`): one instruction fetch from the block's first page.
    pub fn block(&mut self, address: u64, translated_address: u64) {
        if self.paging {
            self.statistics.blocks += 1;
            if address != translated_address {
                self.statistics.relocated_blocks += 1;
            }
        }
        self.block_address = address;
        self.fetch(address);
    }

    /// Returns the linear page number (address >> 12) of the page the last instruction fetch
    /// used, while its L1 iTLB entry is the most recently used of its set and nothing has
    /// invalidated it; `None` otherwise. A block starting on that page hits that entry and
    /// changes nothing but the hit counters, so the plugin may skip its callback and report it
    /// later through [`Session::repeated_fetches`].
    pub fn code_mru_page(&self) -> Option<u64> {
        let recent = &self.recent_code;
        (self.paging)
            .then(|| recent.pages.get(recent.last).copied())
            .flatten()
    }

    /// Counts `count` block executions whose fetch the plugin skipped because their page was
    /// [`Session::code_mru_page`] (and stayed so: nothing that can change it ran in between).
    pub fn repeated_fetches(&mut self, count: u64) {
        if count == 0 {
            return;
        }
        self.model
            .repeat_mru_l1_hits(AccessKind::Instruction, count);
        self.statistics.blocks += count;
        self.statistics.fast_path_accesses += count;
        self.statistics.skipped_blocks += count;
    }

    /// Records that execution reached code on the page at linear address `address`, which the
    /// executing block has not touched yet: one instruction fetch there (fast mode, where the
    /// plugin knows the page's address at translation).
    pub fn enter_page_at(&mut self, address: u64) {
        self.fetch(address);
    }

    /// Records that execution reached the executing block's code at `offset_bytes` from its
    /// start, on a code page the block has not touched yet: one instruction fetch there.
    pub fn enter_page(&mut self, offset_bytes: u64) {
        self.fetch(self.block_address.wrapping_add(offset_bytes));
    }

    /// Records one load or store of `size_bytes` bytes at linear address `address`: one access
    /// to its first page and, if its last byte lies on the next 4 KiB page, one to that page.
    #[inline]
    pub fn data_access(&mut self, address: u64, size_bytes: u64) {
        if !self.paging {
            self.statistics.data_accesses_without_paging += 1;
            return;
        }
        self.data_page_access(address);
        let last_byte = address.wrapping_add(size_bytes.max(1) - 1);
        if last_byte >> PAGE_SHIFT != address >> PAGE_SHIFT {
            self.statistics.page_crossings += 1;
            self.data_page_access(last_byte & !((1 << PAGE_SHIFT) - 1));
        }
    }

    /// One data access at `address`, through the fast path when it can, then fed to the cost
    /// model's caches if `cost_data` is on.
    #[inline]
    fn data_page_access(&mut self, address: u64) {
        let page = address >> PAGE_SHIFT;
        let offset = address & ((1 << PAGE_SHIFT) - 1);
        let recent = &mut self.recent_data;
        let physical = if recent.is_last(page) {
            // The entry is already its set's most recently used: counting is all a lookup does.
            self.model.repeat_mru_l1_hit(AccessKind::Data);
            self.statistics.fast_path_accesses += 1;
            Some(recent.physical[recent.last] | offset)
        } else if let Some(index) = recent.find(page) {
            recent.last = index;
            self.model
                .repeat_l1_hit(AccessKind::Data, recent.slots[index]);
            self.statistics.fast_path_accesses += 1;
            Some(recent.physical[index] | offset)
        } else {
            self.translate(AccessKind::Data, address)
        };
        if self.options.cost_data
            && let Some(physical) = physical
        {
            let line = physical >> LINE_SHIFT;
            if self.recent_line == Some(line) {
                self.cost.repeat_data_l1d_hit();
            } else {
                self.cost.data_access(PhysicalAddress::new(physical));
                self.recent_line = Some(line);
            }
        }
    }

    /// Looks `address` up in the model (the slow path): prices a walk, attributes it to its
    /// region, and remembers the page for the fast path if the L1 TLB of `kind` now holds it.
    /// An access that filled the L1 may have evicted an entry the fast path points to, so it
    /// forgets that kind's pages first. Returns the physical address, unless the access
    /// faulted.
    fn translate(&mut self, kind: AccessKind, address: u64) -> Option<u64> {
        let linear = VirtualAddress::new(address);
        let recorder = WalkRecorder::new(&self.memory);
        let outcome = self.model.access(kind, linear, &recorder);
        if let Some(end) = WalkEnd::of_outcome(&outcome) {
            // A fresh recorder saw exactly this walk's reads, so the trace always matches.
            if let Ok(trace) = recorder.trace(end) {
                self.cost
                    .walk_cycles(self.model.current_pcid(), linear, &trace);
            }
            // The walk's references went through the cache hierarchy.
            self.recent_line = None;
            if let Outcome::Walked(_) = outcome {
                self.count_region_walk(address);
            }
        }
        let recent = match kind {
            AccessKind::Instruction => &mut self.recent_code,
            AccessKind::Data => &mut self.recent_data,
        };
        if matches!(outcome, Outcome::StlbHit(_) | Outcome::Walked(_)) {
            *recent = RecentPages::EMPTY;
        }
        // Whatever this access touched, the previous page may no longer be its set's most
        // recently used; `insert` below names this access's page instead, if it is kept.
        recent.last = RECENT_PAGES;
        let translation = outcome.translation()?;
        let page_start = address & !((1 << PAGE_SHIFT) - 1);
        let physical = translation
            .physical_address(VirtualAddress::new(page_start))
            .as_u64();
        if let Some(slot) = self.model.l1_slot(kind, linear) {
            recent.insert(address >> PAGE_SHIFT, physical, slot);
        }
        Some(physical | (address - page_start))
    }

    /// Counts one successful walk for `address` in its region, and as a driver walk while the
    /// driver's address space is current.
    #[inline]
    fn count_region_walk(&mut self, address: u64) {
        if self.in_driver_space {
            self.driver_walks += 1;
        }
        if address >= KERNEL_HALF_START {
            self.region_walks.kernel += 1;
        } else if self.window().is_some_and(|window| window.contains(&address)) {
            self.region_walks.window += 1;
        } else {
            self.region_walks.private += 1;
        }
    }

    /// Recomputes whether the current address space is the driver's, after CR3 or the driver's
    /// root changed.
    fn update_driver_space(&mut self) {
        self.in_driver_space = self.driver_root == Some(page_table_root(self.cr3));
    }

    /// Forgets the fast path's pages: something may have invalidated their TLB entries.
    fn forget_recent_pages(&mut self) {
        self.recent_code = RecentPages::EMPTY;
        self.recent_data = RecentPages::EMPTY;
    }

    /// Applies a MOV to CR0 of `value`, with the real CR3, CR4 and EFER read at the same
    /// instruction; paging comes on or goes off here (see the module documentation).
    pub fn mov_to_cr0(&mut self, value: u64, real: PagingRegisters) {
        // CR0 bits 63:32 are reserved, and outside 64-bit mode the source is 32 bits wide.
        let cr0 = value & u64::from(u32::MAX);
        let paging = cr0 & CR0_PG != 0 && real.cr4 & CR4_PAE != 0 && real.efer & EFER_LME != 0;
        self.real_cr4 = real.cr4;
        self.cr3 = real.cr3;
        self.update_driver_space();
        if paging && !self.paging {
            self.model.synchronize_control_registers(ControlRegisters {
                cr3: self.cr3,
                cr4: self.modelled_cr4(),
            });
        }
        self.paging = paging;
        self.forget_recent_pages();
    }

    /// Applies a MOV to CR3 of `value`; after a `KeepNextCr3` marker with bit 63 added.
    pub fn mov_to_cr3(&mut self, value: u64) {
        let value = if core::mem::take(&mut self.keep_next_cr3) {
            value | CR3_NO_FLUSH
        } else {
            value
        };
        self.cr3 = value & !CR3_NO_FLUSH;
        self.update_driver_space();
        if self.paging {
            let before = self.model.control_registers();
            self.model.write_cr3(value);
            self.cost.write_cr3(before, value);
        } else {
            self.synchronize();
        }
        self.forget_recent_pages();
    }

    /// Applies a MOV to CR4 of `value` (PCIDE added while simulated).
    pub fn mov_to_cr4(&mut self, value: u64) {
        self.real_cr4 = value;
        self.write_modelled_cr4();
    }

    /// Applies INVLPG of linear address `address`.
    pub fn invlpg(&mut self, address: u64) {
        if self.paging {
            let linear = VirtualAddress::new(address);
            self.model.invlpg(linear);
            self.cost.invlpg(self.model.current_pcid(), linear);
            self.forget_recent_pages();
        }
    }

    /// Applies INVPCID of type `invpcid_type` with its descriptor at linear address
    /// `descriptor_address`, read through the current paging structures. A descriptor that
    /// cannot be read, or an INVPCID that would raise #GP, gives a note and changes nothing.
    pub fn invpcid(&mut self, invpcid_type: u64, descriptor_address: u64) {
        if !self.paging {
            return;
        }
        let Some(descriptor) = self.read_linear::<INVPCID_DESCRIPTOR_BYTES>(descriptor_address)
        else {
            self.note(format!(
                "invpcid descriptor at {descriptor_address:#x} is not mapped; ignored"
            ));
            return;
        };
        let (low, high) = descriptor.split_at(8);
        let word = |bytes: &[u8]| {
            let mut word = [0u8; 8];
            word.copy_from_slice(bytes);
            u64::from_le_bytes(word)
        };
        let pcid_enabled = self.model.control_registers().pcid_enabled();
        match Invpcid::decode(invpcid_type, word(low), word(high), pcid_enabled) {
            Ok(invalidation) => {
                self.model.invpcid(invalidation);
                self.cost.invpcid(invalidation);
                self.forget_recent_pages();
            }
            Err(error) => self.note(format!("{error}: the CPU raises #GP; ignored")),
        }
    }

    /// Applies a marker `command` with argument `rax`; `instructions` are the plugin's
    /// instruction totals at the marker (the marker itself included).
    pub fn marker(&mut self, command: Command, rax: u64, instructions: InstructionCounts) {
        self.statistics.markers += 1;
        match command {
            Command::BeginPhase => self.begin_phase(rax, instructions),
            Command::EndPhase => self.end_phase(rax, instructions),
            Command::NamePhase => self.name.push_word(rax),
            Command::Reset => {
                self.model.reset();
                self.cost.reset();
                self.keep_next_cr3 = false;
                self.zero_extras(instructions);
                self.phase_start = None;
                self.forget_recent_pages();
                self.recent_line = None;
            }
            Command::Dump => {
                let now = self.extras(instructions);
                let snapshot = match (self.model.phase_snapshot(), self.phase_start) {
                    (Some(report), Some(start)) => now.since(&start).complete(report),
                    _ => self.whole_run(instructions),
                };
                self.lines.push(snapshot.to_line());
            }
            Command::SimulatePcid => self.simulate_pcid(rax),
            Command::KeepNextCr3 => self.keep_next_cr3 = true,
            Command::ZeroCounters => {
                self.model.reset_counters();
                self.cost.reset_counters();
                self.zero_extras(instructions);
                if self.phase_start.is_some() {
                    self.phase_start = Some(Extras::default());
                }
            }
            Command::FlushTlbs => {
                self.model.empty_tlbs();
                self.cost.empty_paging_structure_caches();
                self.forget_recent_pages();
            }
            Command::WindowStart => self.window_start = Some(rax),
            Command::WindowEnd => self.window_end = Some(rax),
            Command::DriverSpace => {
                self.driver_root = Some(page_table_root(self.cr3));
                self.update_driver_space();
            }
        }
    }

    /// Ends the run: reports the open phase, if any, then the whole run and the statistics;
    /// `instructions` are the plugin's instruction totals at exit.
    pub fn finish(&mut self, instructions: InstructionCounts) {
        let now = self.extras(instructions);
        if let Some(open) = self.model.end_phase() {
            self.note(format!(
                "phase {} ({}) was still open at exit; reported up to here",
                open.id, open.name
            ));
            let start = self.phase_start.take().unwrap_or_default();
            self.lines.push(now.since(&start).complete(open).to_line());
        }
        let whole_run = self.whole_run(instructions);
        self.lines.push(whole_run.to_line());
        let statistics = self.statistics;
        self.lines.push(format!(
            "{INFO_LINE_PREFIX}v=1 mode={} blocks={} relocated_blocks={} \
             fetches_without_paging={} data_accesses_without_paging={} markers={} notes={} \
             fast_path_accesses={} page_crossings={} skipped_blocks={}",
            self.options.mode.name(),
            statistics.blocks,
            statistics.relocated_blocks,
            statistics.fetches_without_paging,
            statistics.data_accesses_without_paging,
            statistics.markers,
            statistics.notes,
            statistics.fast_path_accesses,
            statistics.page_crossings,
            statistics.skipped_blocks,
        ));
    }

    /// Returns the extras accumulated since the last `Reset` or `ZeroCounters`, given the
    /// instruction totals now.
    fn extras(&self, instructions: InstructionCounts) -> Extras {
        Extras {
            instructions: instructions.since(&self.instruction_base),
            region_walks: self.region_walks,
            driver_walks: self.driver_walks,
            cost: *self.cost.counters(),
        }
    }

    /// Restarts the extras from zero (the cost model's counters are reset by the caller).
    fn zero_extras(&mut self, instructions: InstructionCounts) {
        self.instruction_base = instructions;
        self.region_walks = RegionWalks::default();
        self.driver_walks = 0;
    }

    /// Counts one instruction fetch at `address`, if paging is on.
    #[inline]
    fn fetch(&mut self, address: u64) {
        if !self.paging {
            self.statistics.fetches_without_paging += 1;
            return;
        }
        let page = address >> PAGE_SHIFT;
        let recent = &mut self.recent_code;
        if recent.is_last(page) {
            self.model.repeat_mru_l1_hit(AccessKind::Instruction);
            self.statistics.fast_path_accesses += 1;
        } else if let Some(index) = recent.find(page) {
            recent.last = index;
            self.model
                .repeat_l1_hit(AccessKind::Instruction, recent.slots[index]);
            self.statistics.fast_path_accesses += 1;
        } else {
            self.translate(AccessKind::Instruction, address);
        }
    }

    /// Writes the modelled CR4 (the real one, with PCIDE while simulated) to the model and the
    /// cost model while paging is on, or seeds it while paging is off.
    fn write_modelled_cr4(&mut self) {
        if self.paging {
            let before = self.model.control_registers();
            let value = self.modelled_cr4();
            self.model.write_cr4(value);
            self.cost.write_cr4(before, value);
        } else {
            self.synchronize();
        }
        self.forget_recent_pages();
    }

    /// Returns CR4 as the model should see it: the real one, with PCIDE while simulated.
    fn modelled_cr4(&self) -> u64 {
        if self.simulate_pcid {
            self.real_cr4 | CR4_PCIDE
        } else {
            self.real_cr4
        }
    }

    /// Seeds the model with CR3 and the modelled CR4 without counting anything.
    fn synchronize(&mut self) {
        let control = ControlRegisters {
            cr3: self.cr3,
            cr4: self.modelled_cr4(),
        };
        self.model.synchronize_control_registers(control);
    }

    /// Handles `BeginPhase` with id `id`.
    fn begin_phase(&mut self, id: u64, instructions: InstructionCounts) {
        if self.name.is_truncated() {
            self.note(format!(
                "name of phase {id} cut to {} bytes",
                tlbsim_protocol::MAX_NAME_BYTES
            ));
        }
        let name = String::from_utf8_lossy(self.name.as_bytes()).into_owned();
        self.name.clear();
        if id == WHOLE_RUN_PHASE_ID {
            self.note(format!(
                "phase id {WHOLE_RUN_PHASE_ID} is reserved for the whole-run report"
            ));
        }
        let now = self.extras(instructions);
        if let Some(previous) = self.model.begin_phase(id, &name) {
            self.note(format!(
                "phase {} ({}) ended by the begin of phase {id}",
                previous.id, previous.name
            ));
            let start = self.phase_start.take().unwrap_or_default();
            self.lines
                .push(now.since(&start).complete(previous).to_line());
        }
        self.phase_start = Some(now);
    }

    /// Handles `EndPhase` with id `id`.
    fn end_phase(&mut self, id: u64, instructions: InstructionCounts) {
        let now = self.extras(instructions);
        match self.model.end_phase() {
            Some(report) => {
                let start = self.phase_start.take().unwrap_or_default();
                let report = now.since(&start).complete(report);
                if report.id != id {
                    self.note(format!(
                        "end-phase {id} ended the open phase {} ({})",
                        report.id, report.name
                    ));
                }
                self.lines.push(report.to_line());
            }
            None => self.note(format!("end-phase {id} without an open phase; ignored")),
        }
    }

    /// Handles `SimulatePcid` with argument `argument`.
    fn simulate_pcid(&mut self, argument: u64) {
        let simulate = match argument {
            SIMULATE_PCID_ON => true,
            SIMULATE_PCID_OFF => false,
            _ => {
                self.note(format!(
                    "simulate-pcid {argument} is neither 0 nor 1; ignored"
                ));
                return;
            }
        };
        self.simulate_pcid = simulate;
        // The MOV to CR4 that sets or clears PCIDE on hardware.
        self.write_modelled_cr4();
    }

    /// Returns the whole-run report: everything since the start or the last reset, given the
    /// instruction totals now.
    fn whole_run(&self, instructions: InstructionCounts) -> PhaseReport {
        self.extras(instructions).complete(PhaseReport {
            id: WHOLE_RUN_PHASE_ID,
            name: WHOLE_RUN_PHASE_NAME.to_owned(),
            counters: *self.model.counters(),
            ..PhaseReport::default()
        })
    }

    /// Queues a note line.
    fn note(&mut self, text: String) {
        self.statistics.notes += 1;
        self.lines.push(format!("{NOTE_LINE_PREFIX}{text}"));
    }

    /// Reads `N` bytes at linear address `address` through the model's current paging
    /// structures (without touching the TLBs or the counters), or `None` if a byte is not
    /// mapped or not backed by RAM.
    fn read_linear<const N: usize>(&self, address: u64) -> Option<[u8; N]> {
        let root = self.model.control_registers().root();
        let mut bytes = [0u8; N];
        for (offset, byte) in bytes.iter_mut().enumerate() {
            let linear = VirtualAddress::new(address.wrapping_add(offset as u64));
            if !linear.is_canonical() {
                return None;
            }
            let mapping = walk::walk(&self.memory, root, linear).result.ok()?;
            let within_page = linear.as_u64() & (mapping.page_size.size_bytes() - 1);
            let physical = mapping.physical_page.as_u64() + within_page;
            let word = self.memory.read_u64(PhysicalAddress::new(physical & !7))?;
            *byte = word.to_le_bytes()[(physical & 7) as usize];
        }
        Some(bytes)
    }
}

/// Returns the page-table root that `cr3` selects, CR3 bits 51:12 as the walker reads it: CR3
/// without the PCID (bits 11:0), bit 63 (the no-flush bit of a MOV to CR3) and bits 62:52
/// (reserved, or the linear-address-masking enables 62:61, which select no tables; Intel SDM
/// vol. 3A §4.5). Two CR3 values with the same root are the same address space whatever
/// their PCIDs.
pub fn page_table_root(cr3: u64) -> u64 {
    cr3 & walk::ENTRY_ADDRESS_MASK
}
