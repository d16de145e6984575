//! Tests of the plugin's session logic, driven with synthetic page tables exactly as the FFI
//! module drives it with the guest's RAM.

use tlbsim_protocol::{Command, name_words};

use super::config::FetchMode;
use super::session::{
    CR0_AT_RESET, CR0_PG, EFER_LME, PagingRegisters, Session, SessionOptions, page_table_root,
};
use crate::cost::{PscSensitivity, WalkCostModel};
use crate::counters::{InstructionCounts, RegionWalks};
use crate::model::AccessKind;
use crate::model::{CR3_NO_FLUSH, CR4_PAE, CR4_PCIDE, CR4_PGE};
use crate::report::{self, PhaseReport};
use crate::{
    Counters, FlushCause, Geometry, Model, PageSize, PageTableBuilder, PhysicalAddress,
    SyntheticMemory, VirtualAddress,
};

/// Instruction totals for tests that do not look at instructions.
const NO_INSTRUCTIONS: InstructionCounts = InstructionCounts { user: 0, kernel: 0 };

/// Linear address of the code page the tests execute.
const CODE: u64 = 0x40_0000;
/// Linear address of the data page the tests access.
const DATA: u64 = 0x60_0000;

/// Two address spaces mapping the same code and data pages, without G.
struct Fixture {
    memory: SyntheticMemory,
    roots: [u64; 2],
}

impl Fixture {
    fn new() -> Fixture {
        let mut tables = PageTableBuilder::new();
        let roots = [tables.new_root(), tables.new_root()];
        for root in roots {
            for (page, frame) in [(CODE, 0x10_0000), (DATA, 0x20_0000)] {
                tables.map(
                    root,
                    VirtualAddress::new(page),
                    PageSize::Size4KiB,
                    PhysicalAddress::new(frame),
                    false,
                );
            }
        }
        Fixture {
            memory: tables.memory().clone(),
            roots: roots.map(PhysicalAddress::as_u64),
        }
    }

    /// Returns a session on the Skylake preset, not yet paging.
    fn session(&self) -> Session<&SyntheticMemory> {
        let geometry = Geometry::from_preset("skylake-client").expect("preset");
        Session::new(
            Model::new(geometry).expect("valid"),
            WalkCostModel::from_preset("skylake-client", PscSensitivity::Nominal)
                .expect("cost preset"),
            &self.memory,
            SessionOptions {
                mode: FetchMode::Fast,
                cost_preset: "skylake-client".to_owned(),
                psc: PscSensitivity::Nominal,
                cost_data: true,
            },
        )
    }

    /// Returns a session with IA-32e paging on, CR4.PGE set, in address space 0.
    fn paging_session(&self) -> Session<&SyntheticMemory> {
        let mut session = self.session();
        session.mov_to_cr0(
            CR0_AT_RESET | CR0_PG,
            PagingRegisters {
                cr3: self.roots[0],
                cr4: CR4_PAE | CR4_PGE,
                efer: EFER_LME,
            },
        );
        assert!(session.paging());
        session
    }
}

/// Ends the session and returns its phase lines, parsed, in order.
fn finish(session: &mut Session<&SyntheticMemory>) -> Vec<PhaseReport> {
    session.finish(NO_INSTRUCTIONS);
    phases(session.take_lines())
}

/// Parses the phase lines among `lines`.
fn phases(lines: Vec<String>) -> Vec<PhaseReport> {
    lines
        .iter()
        .filter(|line| PhaseReport::is_phase_line(line))
        .map(|line| PhaseReport::parse_line(line).expect("valid phase line"))
        .collect()
}

/// Emits the NamePhase markers for `name`, then BeginPhase `id`.
fn begin(session: &mut Session<&SyntheticMemory>, id: u64, name: &str) {
    for word in name_words(name.as_bytes()) {
        session.marker(Command::NamePhase, word, NO_INSTRUCTIONS);
    }
    session.marker(Command::BeginPhase, id, NO_INSTRUCTIONS);
}

#[test]
fn the_geometry_line_comes_first_then_the_cost_line() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    let lines = session.take_lines();
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1],
        "tlbsim cost v=1 preset=skylake-client psc=nominal data=on base_cpi=1.000 \
         psc_sizes=split:4/4/32 l1d=32k/8w/4c l2=256k/4w/12c llc=8192k/16w/44c memory=250c"
    );
    let (geometry, verified) = report::parse_geometry_line(&lines[0]).expect("geometry line");
    assert!(verified);
    assert_eq!(
        geometry,
        Geometry::from_preset("skylake-client").expect("preset")
    );
    assert!(session.take_lines().is_empty());
}

#[test]
fn nothing_is_counted_before_paging() {
    let fixture = Fixture::new();
    let mut session = fixture.session();
    session.mov_to_cr3(fixture.roots[0]);
    session.mov_to_cr4(CR4_PAE);
    session.block(CODE, CODE);
    session.data_access(DATA, 8);
    session.invlpg(DATA);
    // CR0.PG without EFER.LME is 32-bit paging, which the model does not follow.
    session.mov_to_cr0(
        CR0_PG,
        PagingRegisters {
            cr3: fixture.roots[0],
            cr4: CR4_PAE,
            efer: 0,
        },
    );
    session.data_access(DATA, 8);
    let statistics = session.statistics();
    assert_eq!(statistics.fetches_without_paging, 1);
    assert_eq!(statistics.data_accesses_without_paging, 2);
    let reports = finish(&mut session);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].name, "whole-run");
    assert_eq!(reports[0].counters, Counters::default());
}

#[test]
fn the_whole_run_counts_fetches_data_and_cr3_writes() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.block(CODE, CODE);
    session.data_access(DATA, 8);
    session.data_access(DATA + 8, 8);
    // A block that runs onto a second page: one more fetch (a walk: the page is unmapped,
    // so it faults, which is counted as such).
    session.block(CODE + 0xff0, CODE + 0xff0);
    session.enter_page(0x10);
    // Switching address spaces without PCIDE flushes the non-global entries.
    session.mov_to_cr3(fixture.roots[1]);
    session.block(CODE, CODE);
    session.data_access(DATA, 8);
    let reports = finish(&mut session);
    assert_eq!(reports.len(), 1);
    let whole = &reports[0].counters;
    assert_eq!((reports[0].id, reports[0].name.as_str()), (0, "whole-run"));
    assert_eq!(whole.instruction.accesses, 4);
    assert_eq!(whole.instruction.walks_4k, 2);
    assert_eq!(whole.instruction.faulting_walks, 1);
    assert_eq!(whole.instruction.l1_hits, 1);
    assert_eq!(whole.data.accesses, 3);
    assert_eq!(whole.data.walks_4k, 2);
    assert_eq!(whole.data.l1_hits, 1);
    assert_eq!(whole.cr3_writes, 1);
    assert_eq!(whole.flush(FlushCause::Cr3Write).events, 1);
    assert_eq!(session.statistics().blocks, 3);
}

#[test]
fn named_phases_and_dumps() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.data_access(DATA, 8);
    begin(&mut session, 7, "density-n64");
    session.data_access(DATA, 8);
    session.marker(Command::Dump, 0, NO_INSTRUCTIONS);
    session.data_access(DATA, 8);
    session.marker(Command::EndPhase, 7, NO_INSTRUCTIONS);
    // Without an open phase, Dump reports the whole run so far.
    session.marker(Command::Dump, 0, NO_INSTRUCTIONS);
    let reports = phases(session.take_lines());
    let summary: Vec<(u64, &str, u64)> = reports
        .iter()
        .map(|report| {
            (
                report.id,
                report.name.as_str(),
                report.counters.data.accesses,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (7, "density-n64", 1),
            (7, "density-n64", 2),
            (0, "whole-run", 3)
        ]
    );
    assert_eq!(reports[1].counters.data.l1_hits, 2);
    // The name was consumed: the next phase has an empty name.
    session.marker(Command::BeginPhase, 8, NO_INSTRUCTIONS);
    session.marker(Command::EndPhase, 8, NO_INSTRUCTIONS);
    assert_eq!(phases(session.take_lines())[0].name, "");
}

#[test]
fn phase_anomalies_give_notes_and_keep_counting() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.take_lines();
    session.marker(Command::EndPhase, 1, NO_INSTRUCTIONS);
    begin(&mut session, 1, "first");
    session.data_access(DATA, 8);
    begin(&mut session, 2, "second");
    session.data_access(DATA, 8);
    session.marker(Command::EndPhase, 3, NO_INSTRUCTIONS);
    begin(&mut session, 4, "open-at-exit");
    session.finish(NO_INSTRUCTIONS);
    let lines = session.take_lines();
    let notes = lines
        .iter()
        .filter(|line| line.starts_with("tlbsim note "))
        .count();
    assert_eq!(notes, 4, "{lines:#?}");
    let reports = phases(lines);
    let ids: Vec<u64> = reports.iter().map(|report| report.id).collect();
    assert_eq!(ids, vec![1, 2, 4, 0]);
    assert_eq!(reports[3].counters.data.accesses, 2);
    assert_eq!(session.statistics().notes, 4);
}

#[test]
fn reset_zeroes_the_counters_and_empties_the_tlbs() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.data_access(DATA, 8);
    begin(&mut session, 5, "dropped");
    session.marker(Command::Reset, 0, NO_INSTRUCTIONS);
    session.data_access(DATA, 8);
    let reports = finish(&mut session);
    // The open phase was dropped unreported; the whole run starts at the reset.
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].counters.data.accesses, 1);
    assert_eq!(reports[0].counters.data.walks_4k, 1);
}

#[test]
fn zero_counters_keeps_the_tlbs_warm_and_the_phase_open() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    // Warm-up: one walk fills the TLBs.
    session.data_access(DATA, 8);
    begin(&mut session, 7, "warm");
    session.data_access(DATA, 8);
    session.marker(Command::ZeroCounters, 0, NO_INSTRUCTIONS);
    // Measured: the entry is still cached, so the access hits and nothing is walked.
    session.data_access(DATA, 8);
    session.marker(Command::EndPhase, 7, NO_INSTRUCTIONS);
    let reports = finish(&mut session);
    assert_eq!(reports.iter().map(|report| report.id).collect::<Vec<_>>(), vec![7, 0]);
    let warm = &reports[0].counters;
    assert_eq!((warm.data.accesses, warm.data.walks_4k, warm.data.l1_hits), (1, 0, 1));
    // The whole run counts from the zeroing too.
    assert_eq!((reports[1].counters.data.accesses, reports[1].counters.data.walks_4k), (1, 0));
}

#[test]
fn flush_tlbs_empties_the_tlbs_and_keeps_the_counters() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    begin(&mut session, 3, "cold");
    session.data_access(DATA, 8);
    session.data_access(DATA, 8);
    session.marker(Command::FlushTlbs, 0, NO_INSTRUCTIONS);
    // Cold again: the same page is walked a second time.
    session.data_access(DATA, 8);
    session.marker(Command::EndPhase, 3, NO_INSTRUCTIONS);
    let reports = finish(&mut session);
    let cold = &reports[0].counters;
    assert_eq!((cold.data.accesses, cold.data.walks_4k), (3, 2));
    // Not an architectural flush: no flush counter moved.
    assert_eq!(cold.flush(FlushCause::Cr3Write).events + cold.flush(FlushCause::Cr4Write).events, 0);
}

/// Switches to address space `index` with PCID `index + 1`, optionally keeping entries.
fn switch(session: &mut Session<&SyntheticMemory>, fixture: &Fixture, index: usize, keep: bool) {
    if keep {
        session.marker(Command::KeepNextCr3, 0, NO_INSTRUCTIONS);
    }
    session.mov_to_cr3(fixture.roots[index] | (index as u64 + 1));
}

#[test]
fn simulated_pcid_keeps_entries_across_marked_switches() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    // Setting PCIDE requires CR3[11:0] = 0, which root 0 satisfies.
    session.marker(Command::SimulatePcid, 1, NO_INSTRUCTIONS);
    begin(&mut session, 1, "pcid");
    for _round in 0..3 {
        for index in 0..2 {
            switch(&mut session, &fixture, index, true);
            session.data_access(DATA, 8);
        }
    }
    session.marker(Command::EndPhase, 1, NO_INSTRUCTIONS);
    let pcid = &phases(session.take_lines())[0].counters;
    // One walk per address space, then hits: the entries survive the switches.
    assert_eq!((pcid.data.accesses, pcid.data.walks_4k), (6, 2));
    assert_eq!(pcid.cr3_writes, 6);
    assert_eq!(pcid.flush(FlushCause::Cr3Write).events, 0);
    assert_eq!(
        session.model().control_registers().cr4,
        CR4_PAE | CR4_PGE | CR4_PCIDE
    );

    // Without KeepNextCr3 the switch flushes the new PCID's entries only.
    begin(&mut session, 2, "flushing");
    for index in 0..2 {
        switch(&mut session, &fixture, index, false);
        session.data_access(DATA, 8);
    }
    session.marker(Command::EndPhase, 2, NO_INSTRUCTIONS);
    let flushing = &phases(session.take_lines())[0].counters;
    assert_eq!(flushing.data.walks_4k, 2);
    assert_eq!(flushing.flush(FlushCause::Cr3Write).events, 2);

    // Turning simulation off is the MOV to CR4 that clears PCIDE: everything goes.
    begin(&mut session, 3, "off");
    session.marker(Command::SimulatePcid, 0, NO_INSTRUCTIONS);
    session.data_access(DATA, 8);
    session.marker(Command::EndPhase, 3, NO_INSTRUCTIONS);
    let off = &phases(session.take_lines())[0].counters;
    assert_eq!(off.cr4_writes, 1);
    assert_eq!(off.flush(FlushCause::Cr4Write).events, 1);
    assert_eq!(off.data.walks_4k, 1);
    assert_eq!(session.model().control_registers().cr4, CR4_PAE | CR4_PGE);
}

#[test]
fn keep_next_cr3_applies_to_one_write_only() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.marker(Command::SimulatePcid, 1, NO_INSTRUCTIONS);
    session.marker(Command::KeepNextCr3, 0, NO_INSTRUCTIONS);
    session.mov_to_cr3(fixture.roots[0] | 1);
    session.mov_to_cr3(fixture.roots[0] | 1);
    let whole = &finish(&mut session)[0].counters;
    assert_eq!(whole.cr3_writes, 2);
    assert_eq!(whole.flush(FlushCause::Cr3Write).events, 1);
}

#[test]
fn a_bad_simulate_pcid_argument_is_ignored() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.marker(Command::SimulatePcid, 2, NO_INSTRUCTIONS);
    assert_eq!(session.model().control_registers().cr4, CR4_PAE | CR4_PGE);
    assert_eq!(session.statistics().notes, 1);
}

#[test]
fn cr4_writes_while_simulating_keep_pcide() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.marker(Command::SimulatePcid, 1, NO_INSTRUCTIONS);
    session.mov_to_cr4(CR4_PAE);
    // Clearing PGE flushes everything, and PCIDE stays modelled.
    assert_eq!(session.model().control_registers().cr4, CR4_PAE | CR4_PCIDE);
    let whole = &finish(&mut session)[0].counters;
    assert_eq!(whole.cr4_writes, 2);
    assert_eq!(whole.flush(FlushCause::Cr4Write).events, 1);
}

#[test]
fn invlpg_removes_the_page() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.data_access(DATA, 8);
    session.invlpg(DATA + 0x123);
    session.data_access(DATA, 8);
    let whole = &finish(&mut session)[0].counters;
    assert_eq!(whole.data.walks_4k, 2);
    assert_eq!(whole.flush(FlushCause::Invlpg).events, 1);
}

#[test]
fn invpcid_reads_its_descriptor_through_the_page_tables() {
    let mut fixture = Fixture::new();
    // The descriptor at DATA + 0x10: PCID 0, address DATA (type 0 needs a canonical one).
    fixture.memory.write_u64(PhysicalAddress::new(0x20_0010), 0);
    fixture
        .memory
        .write_u64(PhysicalAddress::new(0x20_0018), DATA);
    let mut session = fixture.paging_session();
    session.data_access(DATA, 8);
    session.invpcid(0, DATA + 0x10);
    session.data_access(DATA, 8);
    // Type 1 with PCID 0: every non-global entry of PCID 0.
    session.invpcid(1, DATA + 0x10);
    // Type 4 does not exist (#GP), and an unmapped descriptor cannot be read: both noted.
    session.invpcid(4, DATA + 0x10);
    session.invpcid(2, 0x7000_0000);
    let notes = session.statistics().notes;
    let whole = &finish(&mut session)[0].counters;
    assert_eq!(whole.data.walks_4k, 2);
    assert_eq!(whole.flush(FlushCause::InvpcidIndividualAddress).events, 1);
    assert_eq!(whole.flush(FlushCause::InvpcidSingleContext).events, 1);
    assert_eq!(whole.flush(FlushCause::InvpcidAllIncludingGlobal).events, 0);
    assert_eq!(notes, 2);
}

#[test]
fn relocated_blocks_are_counted() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.block(CODE, CODE);
    session.block(CODE, CODE + 0x1000);
    assert_eq!(session.statistics().relocated_blocks, 1);
    session.finish(NO_INSTRUCTIONS);
    let lines = session.take_lines();
    let info = lines.last().expect("info line");
    assert!(
        info.starts_with("tlbsim info v=1 mode=fast blocks=2 relocated_blocks=1 "),
        "{info}"
    );
}

/// A page in the global-segment window of the region tests.
const WINDOW_PAGE: u64 = 0x4000_0000_0000;
/// The window the region tests announce.
const WINDOW: core::ops::Range<u64> = 0x4000_0000_0000..0x4080_0000_0000;
/// A page in the kernel half.
const KERNEL_PAGE: u64 = 0xffff_8000_0010_0000;

/// One address space mapping `pages` (4 KiB each) to consecutive frames from 0x30_0000.
fn mapped(pages: &[u64]) -> (SyntheticMemory, u64) {
    let mut tables = PageTableBuilder::new();
    let root = tables.new_root();
    for (index, page) in pages.iter().enumerate() {
        tables.map(
            root,
            VirtualAddress::new(*page),
            PageSize::Size4KiB,
            PhysicalAddress::new(0x30_0000 + 0x1000 * index as u64),
            false,
        );
    }
    (tables.memory().clone(), root.as_u64())
}

/// A paging session on `memory` with CR3 = `root`, CR4.PGE set, `cost_data` as given.
fn session_on(memory: &SyntheticMemory, root: u64, cost_data: bool) -> Session<&SyntheticMemory> {
    let geometry = Geometry::from_preset("skylake-client").expect("preset");
    let mut session = Session::new(
        Model::new(geometry).expect("valid"),
        WalkCostModel::from_preset("skylake-client", PscSensitivity::Nominal).expect("cost"),
        memory,
        SessionOptions {
            mode: FetchMode::Fast,
            cost_preset: "skylake-client".to_owned(),
            psc: PscSensitivity::Nominal,
            cost_data,
        },
    );
    session.mov_to_cr0(
        CR0_AT_RESET | CR0_PG,
        PagingRegisters {
            cr3: root,
            cr4: CR4_PAE | CR4_PGE,
            efer: EFER_LME,
        },
    );
    session.take_lines();
    session
}

/// Instruction totals as the plugin would pass them.
const fn totals(user: u64, kernel: u64) -> InstructionCounts {
    InstructionCounts { user, kernel }
}

#[test]
fn phases_count_the_instructions_between_their_markers() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.take_lines();
    session.marker(Command::BeginPhase, 1, totals(10, 100));
    session.marker(Command::Dump, 0, totals(12, 110));
    session.marker(Command::EndPhase, 1, totals(15, 130));
    // ZeroCounters inside a phase restarts it from zero, like the model's counters.
    session.marker(Command::BeginPhase, 2, totals(20, 140));
    session.marker(Command::ZeroCounters, 0, totals(25, 150));
    session.marker(Command::EndPhase, 2, totals(26, 160));
    let reports = phases(session.take_lines());
    let counts: Vec<(u64, InstructionCounts)> = reports
        .iter()
        .map(|report| (report.id, report.instructions))
        .collect();
    assert_eq!(
        counts,
        vec![(1, totals(2, 10)), (1, totals(5, 30)), (2, totals(1, 10))]
    );
    // The whole run counts from the last ZeroCounters (or Reset).
    session.finish(totals(30, 200));
    let whole = phases(session.take_lines());
    assert_eq!(whole[0].instructions, totals(5, 50));
    session.marker(Command::Reset, 0, totals(31, 201));
    session.finish(totals(32, 203));
    assert_eq!(phases(session.take_lines())[0].instructions, totals(1, 2));
}

#[test]
fn successful_walks_are_attributed_to_the_window_the_kernel_half_or_private() {
    let private = 0x60_0000;
    let (memory, root) = mapped(&[WINDOW_PAGE, KERNEL_PAGE, private]);
    let mut session = session_on(&memory, root, false);
    // Before the window is announced, a window address counts as private.
    session.data_access(WINDOW_PAGE, 8);
    assert_eq!(session.window(), None);
    session.marker(Command::WindowStart, WINDOW.start, NO_INSTRUCTIONS);
    session.marker(Command::WindowEnd, WINDOW.end, NO_INSTRUCTIONS);
    assert_eq!(session.window(), Some(WINDOW));
    session.marker(Command::FlushTlbs, 0, NO_INSTRUCTIONS);
    begin(&mut session, 4, "regions");
    session.data_access(WINDOW_PAGE + 8, 8);
    session.block(KERNEL_PAGE, KERNEL_PAGE);
    session.data_access(KERNEL_PAGE + 0x100, 8);
    session.data_access(private, 8);
    // The last byte of the window is in it, the first byte past it is not (a faulting walk,
    // which no region counts).
    session.data_access(WINDOW.end - 8, 8);
    session.data_access(WINDOW.end, 8);
    session.marker(Command::EndPhase, 4, NO_INSTRUCTIONS);
    let phase = &phases(session.take_lines())[0];
    let walks = |counters: &crate::AccessCounters| {
        counters.walks_4k + counters.walks_2m + counters.walks_1g
    };
    assert_eq!(
        phase.region_walks,
        RegionWalks {
            // WINDOW_PAGE (the TLBs were emptied) and WINDOW.end - 8 (unmapped: it faults).
            window: 1,
            // The instruction fetch at KERNEL_PAGE walked; the data access then hit the STLB.
            kernel: 1,
            private: 1,
        }
    );
    assert_eq!(phase.counters.data.faulting_walks, 2);
    assert_eq!(
        phase.region_walks.total(),
        walks(&phase.counters.instruction) + walks(&phase.counters.data)
    );
    // Before the window was announced the first walk counted as private.
    session.finish(NO_INSTRUCTIONS);
    let whole = phases(session.take_lines());
    assert_eq!(whole[0].region_walks.private, 2);
}

/// Returns the successful walks (every page size, fetches and data) of `counters`.
fn successful_walks(counters: &Counters) -> u64 {
    [counters.instruction, counters.data]
        .iter()
        .map(|kind| kind.walks_4k + kind.walks_2m + kind.walks_1g)
        .sum()
}

#[test]
fn walks_in_the_driver_space_are_counted_beside_the_regions() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    // Before the marker: a walk in what will be the driver's space is nobody's.
    session.data_access(DATA, 8);
    assert_eq!(session.driver_walks(), 0);
    session.marker(Command::DriverSpace, 0, NO_INSTRUCTIONS);
    assert_eq!(session.driver_root(), Some(fixture.roots[0]));
    session.marker(Command::FlushTlbs, 0, NO_INSTRUCTIONS);
    begin(&mut session, 6, "driver");
    // The driver's space: a fetch and a data access walk, both the driver's.
    session.block(CODE, CODE);
    session.data_access(DATA, 8);
    // An instance's space (the switch flushes: no PCIDE): walks, not the driver's.
    session.mov_to_cr3(fixture.roots[1]);
    session.block(CODE, CODE);
    session.data_access(DATA, 8);
    // Back in the driver's space: its pages are walked again, and counted again.
    session.mov_to_cr3(fixture.roots[0]);
    session.data_access(DATA, 8);
    session.marker(Command::EndPhase, 6, NO_INSTRUCTIONS);
    let lines = session.take_lines();
    let line = lines
        .iter()
        .find(|line| PhaseReport::is_phase_line(line))
        .expect("a phase line");
    // The key comes right after the region keys.
    assert!(
        line.contains(" walks.kernel=0 walks.driver=3 cost.walks="),
        "{line}"
    );
    let phase = &phases(lines)[0];
    assert_eq!(phase.driver_walks, 3);
    // An extra split: the regions still add up to every walk, the driver's included.
    assert_eq!(successful_walks(&phase.counters), 5);
    assert_eq!(phase.region_walks.total(), 5);
    // The whole run has the walk before the marker, which is not the driver's.
    let whole = &finish(&mut session)[0];
    assert_eq!(
        (whole.driver_walks, successful_walks(&whole.counters)),
        (3, 6)
    );
}

#[test]
fn a_second_driver_space_replaces_the_first() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.marker(Command::DriverSpace, 0, NO_INSTRUCTIONS);
    session.data_access(DATA, 8);
    assert_eq!(session.driver_walks(), 1);
    session.mov_to_cr3(fixture.roots[1]);
    session.marker(Command::DriverSpace, 0, NO_INSTRUCTIONS);
    assert_eq!(session.driver_root(), Some(fixture.roots[1]));
    // The marker takes effect at once, in the space current at it.
    session.data_access(DATA, 8);
    assert_eq!(session.driver_walks(), 2);
    // The first space is no longer the driver's.
    session.mov_to_cr3(fixture.roots[0]);
    session.data_access(DATA, 8);
    assert_eq!(session.driver_walks(), 2);
    // Paging coming back on in the driver's space (CR0 seeds CR3) is tracked too.
    session.mov_to_cr0(
        CR0_AT_RESET | CR0_PG,
        PagingRegisters {
            cr3: fixture.roots[1],
            cr4: CR4_PAE | CR4_PGE,
            efer: EFER_LME,
        },
    );
    session.marker(Command::FlushTlbs, 0, NO_INSTRUCTIONS);
    session.data_access(DATA, 8);
    assert_eq!(session.driver_walks(), 3);
}

#[test]
fn the_driver_space_is_compared_without_the_pcid_and_bit_63() {
    let fixture = Fixture::new();
    assert_eq!(
        page_table_root(fixture.roots[0] | 0xfff | CR3_NO_FLUSH),
        fixture.roots[0]
    );
    let mut session = fixture.paging_session();
    session.marker(Command::SimulatePcid, 1, NO_INSTRUCTIONS);
    session.mov_to_cr3(fixture.roots[0] | 1);
    session.marker(Command::DriverSpace, 0, NO_INSTRUCTIONS);
    assert_eq!(session.driver_root(), Some(fixture.roots[0]));
    session.data_access(DATA, 8);
    // The same tables under another PCID, written with bit 63 (as a real PCID kernel does):
    // a new PCID, so a walk, and still the driver's space.
    session.mov_to_cr3(fixture.roots[0] | 2 | CR3_NO_FLUSH);
    session.data_access(DATA, 8);
    // Another space under the driver's old PCID is not the driver's.
    session.mov_to_cr3(fixture.roots[1] | 1);
    session.data_access(DATA, 8);
    let whole = &finish(&mut session)[0];
    assert_eq!(
        (whole.driver_walks, successful_walks(&whole.counters)),
        (2, 3)
    );
}

#[test]
fn no_walk_is_the_drivers_before_the_marker() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    begin(&mut session, 1, "no-driver");
    for index in [0, 1, 0] {
        session.mov_to_cr3(fixture.roots[index]);
        session.block(CODE, CODE);
        session.data_access(DATA, 8);
    }
    session.marker(Command::EndPhase, 1, NO_INSTRUCTIONS);
    assert_eq!(session.driver_root(), None);
    let reports = finish(&mut session);
    for report in &reports {
        assert_eq!(successful_walks(&report.counters), 6, "{}", report.name);
        assert_eq!(report.driver_walks, 0, "{}", report.name);
    }
}

#[test]
fn reset_and_zero_counters_zero_the_driver_walks_and_keep_the_space() {
    let fixture = Fixture::new();
    let mut session = fixture.paging_session();
    session.marker(Command::DriverSpace, 0, NO_INSTRUCTIONS);
    session.data_access(DATA, 8);
    begin(&mut session, 2, "warm");
    session.block(CODE, CODE);
    assert_eq!(session.driver_walks(), 2);
    session.marker(Command::ZeroCounters, 0, NO_INSTRUCTIONS);
    assert_eq!(session.driver_walks(), 0);
    // The open phase counts from the zeroing; the TLBs stay warm, so flush to walk again.
    session.marker(Command::FlushTlbs, 0, NO_INSTRUCTIONS);
    session.data_access(DATA, 8);
    session.marker(Command::EndPhase, 2, NO_INSTRUCTIONS);
    assert_eq!(phases(session.take_lines())[0].driver_walks, 1);
    // Reset zeroes them too (and empties the TLBs); the driver's space stays known.
    session.marker(Command::Reset, 0, NO_INSTRUCTIONS);
    assert_eq!(session.driver_walks(), 0);
    assert_eq!(session.driver_root(), Some(fixture.roots[0]));
    session.data_access(DATA, 8);
    let whole = &finish(&mut session)[0];
    assert_eq!(
        (whole.driver_walks, successful_walks(&whole.counters)),
        (1, 1)
    );
}

#[test]
fn walks_are_priced_by_the_cost_model_and_invalidations_reach_it() {
    // Two pages whose PTEs share one 64-byte line of one page table.
    let first = 0x60_0000;
    let second = 0x60_1000;
    let (memory, root) = mapped(&[first, second]);
    let mut session = session_on(&memory, root, true);
    // Cold: the paging-structure caches miss, the four references come from memory.
    session.data_access(first, 8);
    assert_eq!(session.cost().counters().walk_cycles, 4 * 250);
    begin(&mut session, 1, "cost");
    // The PDE cache hits: one reference, the PTE, whose line the first walk brought into L1D.
    session.data_access(second, 8);
    // INVLPG empties the current PCID's paging-structure-cache entries (three: PML4E, PDPTE,
    // PDE) and the TLB entry of `first`; its walk then misses them but finds every line in L1D.
    session.invlpg(first);
    session.data_access(first + 64, 8);
    session.marker(Command::EndPhase, 1, NO_INSTRUCTIONS);
    let cost = phases(session.take_lines())[0].cost;
    assert_eq!(cost.walks, 2);
    assert_eq!(cost.walk_cycles, 4 + 4 * 4);
    assert_eq!(cost.psc_hits, [0, 0, 1]);
    assert_eq!(cost.psc_misses, 1);
    assert_eq!(cost.walk_references, [5, 0, 0, 0]);
    assert_eq!(cost.psc_invalidations, 1);
    assert_eq!(cost.psc_entries_removed, 3);
    // cost_data: `second` missed every level (a new line); `first + 64` is another new line.
    assert_eq!(cost.data_accesses, [0, 0, 0, 2]);
    // A CR3 write without PCIDE empties every paging-structure-cache entry (3 again: the INVLPG
    // emptied them and the last walk refilled them).
    session.mov_to_cr3(root);
    assert_eq!(session.cost().counters().psc_entries_removed, 6);
    // ZeroCounters keeps the caches: the next walk is priced warm.
    session.marker(Command::ZeroCounters, 0, NO_INSTRUCTIONS);
    session.data_access(first, 8);
    assert_eq!(session.cost().counters().walk_cycles, 4 * 4);
    // Reset empties them: cold again.
    session.marker(Command::Reset, 0, NO_INSTRUCTIONS);
    session.data_access(first, 8);
    assert_eq!(session.cost().counters().walk_cycles, 4 * 250);
    assert_eq!(session.cost().counters().data_accesses, [0, 0, 0, 1]);
}

#[test]
fn flush_tlbs_empties_the_paging_structure_caches_but_not_the_data_caches() {
    let (memory, root) = mapped(&[0x60_0000]);
    let mut session = session_on(&memory, root, false);
    session.data_access(0x60_0000, 8);
    session.marker(Command::FlushTlbs, 0, NO_INSTRUCTIONS);
    session.marker(Command::ZeroCounters, 0, NO_INSTRUCTIONS);
    session.data_access(0x60_0000, 8);
    let cost = *session.cost().counters();
    // A full walk (no paging-structure-cache hit) whose four lines are still in L1D; nothing
    // counted as an invalidation; with cost_data off no data access reached the caches.
    assert_eq!((cost.walks, cost.psc_misses, cost.walk_cycles), (1, 1, 16));
    assert_eq!(cost.psc_invalidations, 0);
    assert_eq!(cost.data_accesses, [0; 4]);
}

#[test]
fn an_access_whose_last_byte_is_on_the_next_page_accesses_both_pages() {
    let first = 0x60_0000;
    let (memory, root) = mapped(&[first, first + 0x1000]);
    let mut session = session_on(&memory, root, false);
    // 8 bytes from 4 bytes before the end of the page: both pages, two walks.
    session.data_access(first + 0xffc, 8);
    // The last 8 bytes of the page: one page.
    session.data_access(first + 0xff8, 8);
    // A one-byte access never crosses.
    session.data_access(first + 0xfff, 1);
    // A 2-byte access at the last byte crosses: both pages hit now.
    session.data_access(first + 0xfff, 2);
    let data = session.model().counters().data;
    assert_eq!(data.accesses, 2 + 1 + 1 + 2);
    assert_eq!(data.walks_4k, 2);
    assert_eq!(data.l1_hits, 4);
    assert_eq!(session.statistics().page_crossings, 2);
}

#[test]
fn the_recent_page_fast_path_counts_exactly_what_the_model_would() {
    // Pages in one PT, in other PML4 slots, and a code page; a mixed sequence of fetches, data
    // accesses, page crossings and invalidations, run through a session (fast path) and
    // through a bare model (every access looked up), must count the same.
    // 300 pages: more than the L1 dTLB (64) and STLB sets hold, so entries the fast path
    // remembers get evicted.
    let pages: Vec<u64> = (0..300u64)
        .map(|index| 0x60_0000 + index * 0x1000)
        .chain([WINDOW_PAGE, KERNEL_PAGE, CODE])
        .collect();
    let (memory, root) = mapped(&pages);
    let mut session = session_on(&memory, root, true);
    let geometry = Geometry::from_preset("skylake-client").expect("preset");
    let mut model = Model::new(geometry).expect("valid");
    model.synchronize_control_registers(crate::ControlRegisters {
        cr3: root,
        cr4: CR4_PAE | CR4_PGE,
    });
    let mut state = 0x1234_5678_u64;
    for step in 0..20_000u64 {
        // xorshift: a deterministic mix of repeats and new pages.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Mostly one of a few recent pages (as real code does), sometimes any page.
        let recent_window = 6 + (step / 1000) % 10;
        let index = if state & 0x300 != 0 {
            ((step / 7 + (state >> 40) % recent_window) as usize) % pages.len()
        } else {
            (state % pages.len() as u64) as usize
        };
        // Now and then a burst over five pages of one 4-way L1 set (16 pages apart): each fill
        // evicts a page the fast path remembers.
        let page = if step % 1000 < 100 {
            0x60_0000 + (step % 5) * 0x1_0000
        } else {
            pages[index]
        };
        let repeat = state & 0x30 != 0;
        let address = if repeat { page } else { page + (state >> 20) % 4096 };
        match state % 7 {
            0 => {
                session.block(CODE + (state >> 8) % 4096, 0);
                model.access(
                    AccessKind::Instruction,
                    VirtualAddress::new(CODE + (state >> 8) % 4096),
                    &memory,
                );
            }
            1 if step % 50 == 0 => {
                session.invlpg(address);
                model.invlpg(VirtualAddress::new(address));
            }
            2 if step % 300 == 0 => {
                session.mov_to_cr3(root);
                model.write_cr3(root);
            }
            _ => {
                session.data_access(address, 8);
                model.access(AccessKind::Data, VirtualAddress::new(address), &memory);
                if address % 4096 > 4088 {
                    let next = (address | 0xfff) + 1;
                    model.access(AccessKind::Data, VirtualAddress::new(next), &memory);
                }
            }
        }
    }
    assert_eq!(session.model().counters(), model.counters());
    assert!(session.statistics().fast_path_accesses > 5000);
    assert!(model.counters().data.l1_misses > 1000, "{:?}", model.counters().data);
}

#[test]
fn skipped_blocks_on_the_previous_fetch_page_count_like_executed_ones() {
    // The plugin skips the callback of a block that starts on `code_mru_page` and reports
    // such blocks later through `repeated_fetches`: the counts must equal those of calling
    // `block` each time.
    let fixture = Fixture::new();
    let mut called = fixture.paging_session();
    let mut skipping = fixture.paging_session();
    assert_eq!(skipping.code_mru_page(), None);
    for session in [&mut called, &mut skipping] {
        session.block(CODE, CODE);
    }
    assert_eq!(skipping.code_mru_page(), Some(CODE >> 12));
    for _ in 0..5 {
        called.block(CODE + 0x40, CODE + 0x40);
    }
    skipping.repeated_fetches(5);
    // A second page through `enter_page_at` moves the most recent page.
    called.enter_page_at(DATA);
    skipping.enter_page_at(DATA);
    assert_eq!(skipping.code_mru_page(), Some(DATA >> 12));
    called.block(DATA + 8, DATA + 8);
    skipping.repeated_fetches(1);
    assert_eq!(called.model().counters(), skipping.model().counters());
    assert_eq!(called.statistics().blocks, skipping.statistics().blocks);
    assert_eq!(skipping.statistics().skipped_blocks, 6);
    // Anything that may invalidate forgets it: every block calls back again.
    skipping.invlpg(CODE);
    assert_eq!(skipping.code_mru_page(), None);
    skipping.block(CODE, CODE);
    assert_eq!(skipping.code_mru_page(), Some(CODE >> 12));
    skipping.mov_to_cr3(fixture.roots[1]);
    assert_eq!(skipping.code_mru_page(), None);
}
