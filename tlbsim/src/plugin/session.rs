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
//! - [`Session::data_access`] per load or store;
//! - [`Session::mov_to_cr0`], [`Session::mov_to_cr3`], [`Session::mov_to_cr4`],
//!   [`Session::invlpg`], [`Session::invpcid`] before those instructions execute;
//! - [`Session::marker`] for each `tlbsim_protocol` marker;
//! - [`Session::finish`] when QEMU exits.
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
//! ([`Session::take_lines`]): the geometry line first, a phase line at every `EndPhase`, at
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
use crate::model::{
    AccessKind, CR3_NO_FLUSH, CR4_PAE, CR4_PCIDE, ControlRegisters, Invpcid, Model,
};
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
}

/// One simulated run; see the module documentation.
#[derive(Debug)]
pub struct Session<M> {
    /// The TLB model.
    model: Model,
    /// Guest physical memory, for page walks.
    memory: M,
    /// How fetch addresses are found; only reported.
    mode: FetchMode,
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
}

impl<M: GuestMemory> Session<M> {
    /// Starts a session: paging off, CR0 as after reset, and the geometry line queued.
    pub fn new(model: Model, memory: M, mode: FetchMode) -> Session<M> {
        let geometry_line = report::format_geometry_line(model.geometry());
        Session {
            model,
            memory,
            mode,
            paging: false,
            cr3: 0,
            real_cr4: 0,
            simulate_pcid: false,
            keep_next_cr3: false,
            name: NameCollector::new(),
            block_address: 0,
            lines: vec![geometry_line],
            statistics: SessionStatistics::default(),
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

    /// Records that execution reached the executing block's code at `offset_bytes` from its
    /// start, on a code page the block has not touched yet: one instruction fetch there.
    pub fn enter_page(&mut self, offset_bytes: u64) {
        self.fetch(self.block_address.wrapping_add(offset_bytes));
    }

    /// Records one load or store at linear address `address`.
    pub fn data_access(&mut self, address: u64) {
        if self.paging {
            self.model
                .access(AccessKind::Data, VirtualAddress::new(address), &self.memory);
        } else {
            self.statistics.data_accesses_without_paging += 1;
        }
    }

    /// Applies a MOV to CR0 of `value`, with the real CR3, CR4 and EFER read at the same
    /// instruction; paging comes on or goes off here (see the module documentation).
    pub fn mov_to_cr0(&mut self, value: u64, real: PagingRegisters) {
        // CR0 bits 63:32 are reserved, and outside 64-bit mode the source is 32 bits wide.
        let cr0 = value & u64::from(u32::MAX);
        let paging = cr0 & CR0_PG != 0 && real.cr4 & CR4_PAE != 0 && real.efer & EFER_LME != 0;
        self.real_cr4 = real.cr4;
        self.cr3 = real.cr3;
        if paging && !self.paging {
            self.model.synchronize_control_registers(ControlRegisters {
                cr3: self.cr3,
                cr4: self.modelled_cr4(),
            });
        }
        self.paging = paging;
    }

    /// Applies a MOV to CR3 of `value`; after a `KeepNextCr3` marker with bit 63 added.
    pub fn mov_to_cr3(&mut self, value: u64) {
        let value = if core::mem::take(&mut self.keep_next_cr3) {
            value | CR3_NO_FLUSH
        } else {
            value
        };
        self.cr3 = value & !CR3_NO_FLUSH;
        if self.paging {
            self.model.write_cr3(value);
        } else {
            self.synchronize();
        }
    }

    /// Applies a MOV to CR4 of `value` (PCIDE added while simulated).
    pub fn mov_to_cr4(&mut self, value: u64) {
        self.real_cr4 = value;
        if self.paging {
            self.model.write_cr4(self.modelled_cr4());
        } else {
            self.synchronize();
        }
    }

    /// Applies INVLPG of linear address `address`.
    pub fn invlpg(&mut self, address: u64) {
        if self.paging {
            self.model.invlpg(VirtualAddress::new(address));
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
            }
            Err(error) => self.note(format!("{error}: the CPU raises #GP; ignored")),
        }
    }

    /// Applies a marker `command` with argument `rax`.
    pub fn marker(&mut self, command: Command, rax: u64) {
        self.statistics.markers += 1;
        match command {
            Command::BeginPhase => self.begin_phase(rax),
            Command::EndPhase => self.end_phase(rax),
            Command::NamePhase => self.name.push_word(rax),
            Command::Reset => {
                self.model.reset();
                self.keep_next_cr3 = false;
            }
            Command::Dump => {
                let snapshot = self
                    .model
                    .phase_snapshot()
                    .unwrap_or_else(|| self.whole_run());
                self.lines.push(snapshot.to_line());
            }
            Command::SimulatePcid => self.simulate_pcid(rax),
            Command::KeepNextCr3 => self.keep_next_cr3 = true,
            Command::ZeroCounters => self.model.reset_counters(),
            Command::FlushTlbs => self.model.empty_tlbs(),
        }
    }

    /// Ends the run: reports the open phase, if any, then the whole run and the statistics.
    pub fn finish(&mut self) {
        if let Some(open) = self.model.end_phase() {
            self.note(format!(
                "phase {} ({}) was still open at exit; reported up to here",
                open.id, open.name
            ));
            self.lines.push(open.to_line());
        }
        let whole_run = self.whole_run();
        self.lines.push(whole_run.to_line());
        let statistics = self.statistics;
        self.lines.push(format!(
            "{INFO_LINE_PREFIX}v=1 mode={} blocks={} relocated_blocks={} \
             fetches_without_paging={} data_accesses_without_paging={} markers={} notes={}",
            self.mode.name(),
            statistics.blocks,
            statistics.relocated_blocks,
            statistics.fetches_without_paging,
            statistics.data_accesses_without_paging,
            statistics.markers,
            statistics.notes,
        ));
    }

    /// Counts one instruction fetch at `address`, if paging is on.
    fn fetch(&mut self, address: u64) {
        if self.paging {
            self.model.access(
                AccessKind::Instruction,
                VirtualAddress::new(address),
                &self.memory,
            );
        } else {
            self.statistics.fetches_without_paging += 1;
        }
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
    fn begin_phase(&mut self, id: u64) {
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
        if let Some(previous) = self.model.begin_phase(id, &name) {
            self.note(format!(
                "phase {} ({}) ended by the begin of phase {id}",
                previous.id, previous.name
            ));
            self.lines.push(previous.to_line());
        }
    }

    /// Handles `EndPhase` with id `id`.
    fn end_phase(&mut self, id: u64) {
        match self.model.end_phase() {
            Some(report) => {
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
        if self.paging {
            // The MOV to CR4 that sets or clears PCIDE on hardware.
            self.model.write_cr4(self.modelled_cr4());
        } else {
            self.synchronize();
        }
    }

    /// Returns the whole-run report: everything since the start or the last reset.
    fn whole_run(&self) -> PhaseReport {
        PhaseReport {
            id: WHOLE_RUN_PHASE_ID,
            name: WHOLE_RUN_PHASE_NAME.to_owned(),
            counters: *self.model.counters(),
        }
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
