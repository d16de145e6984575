//! tlbsim end to end: boot the `tlb-density` scenario under the TLB-simulator plugin and check
//! the page-walk law the Intel SDM predicts (vol. 3A §4.10), with exact counts, and that the
//! counts repeat exactly from run to run.
//!
//! The scenario (kernel/src/ktest/tlb.rs) runs N=4 processes that each touch P=16 shared window
//! pages per round for R=8 rounds, yielding after each round, once without the pages (P=0) and
//! once with them, in each global mode; each run is one marked phase. Subtracting the P=0 phase
//! from the P=16 phase leaves the walks the window pages cause:
//! - no PCID, G=0: every CR3 write flushes them: N*P*R = 512 data walks;
//! - no PCID, G=1: global entries survive the switches: P = 16 walks in all;
//! - (simulated) PCID, G=0: each address space keeps its own entries: N*P = 64;
//! - (simulated) PCID, G=1: P = 16.
//!
//! The kernel masks the timer during each phase (the processes yield, so they need no
//! preemption): no tick handler runs inside a phase at a moment that depends on the host's speed,
//! so the walk counts are exact and repeat from run to run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use tlbsim::report::PhaseReport;

const PROCESSES: u64 = 4;
const PAGES: u64 = 16;
const ROUNDS: u64 = 8;
const TIMEOUT_SECONDS: &str = "600";

/// Boots `kernel_args` under the plugin, checks that the suite `suite` passed its `checks`
/// checks, and returns the plugin's phase reports by name (the last line of each name) and its
/// output.
fn boot_phases(kernel_args: &str, suite: &str, checks: u32) -> (BTreeMap<String, PhaseReport>, String) {
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh"))
        .args(["--mode", "test", "--timeout", TIMEOUT_SECONDS])
        .args(["--args", kernel_args])
        .args(["--tlbsim", "preset=skylake-client", "--tlbsim-plugin", env!("SHOAL_TLBSIM_PLUGIN")])
        .arg(env!("SHOAL_BIOS_IMAGE"))
        .output()
        .expect("running qemu-runner.sh");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "{serial}\n{log}");
    assert!(serial.contains(&format!("ktest: {suite}: all {checks} checks passed")), "{serial}");
    let mut phases = BTreeMap::new();
    for line in log.lines().chain(serial.lines()).filter(|line| PhaseReport::is_phase_line(line)) {
        let report = PhaseReport::parse_line(line).unwrap_or_else(|error| panic!("{line}: {error:?}"));
        let walks = |counters: &tlbsim::AccessCounters| counters.walks_4k + counters.walks_2m + counters.walks_1g;
        assert_eq!(
            report.region_walks.total(),
            walks(&report.counters.instruction) + walks(&report.counters.data),
            "every successful walk is attributed to one region: {line}"
        );
        phases.insert(report.name.clone(), report);
    }
    (phases, log)
}

/// Boots the scenario under the plugin; returns the data walks per phase name.
fn data_walks(pcid: &str) -> BTreeMap<String, u64> {
    let (phases, log) = boot_phases(&format!("test=tlb-density tlbsim=on pcid={pcid}"), "tlb-density", 4);
    for name in ["touch-g0-p0", "touch-g0-p16", "touch-g1-p0", "touch-g1-p16"] {
        assert!(phases.contains_key(name), "no phase {name} in:\n{log}");
    }
    // The window pages' walks are attributed to the window.
    for global in [0, 1] {
        let with = &phases[&format!("touch-g{global}-p{PAGES}")];
        let without = &phases[&format!("touch-g{global}-p0")];
        let data = |report: &PhaseReport| report.counters.data.walks_4k + report.counters.data.walks_2m + report.counters.data.walks_1g;
        assert_eq!(
            with.region_walks.window - without.region_walks.window,
            data(with) - data(without),
            "the extra walks are the window pages': {with:?}"
        );
    }
    phases
        .into_iter()
        .map(|(name, report)| {
            let data = &report.counters.data;
            (name, data.walks_4k + data.walks_2m + data.walks_1g)
        })
        .collect()
}

fn extra(walks: &BTreeMap<String, u64>, global: u8) -> u64 {
    walks[&format!("touch-g{global}-p{PAGES}")] - walks[&format!("touch-g{global}-p0")]
}

#[test]
fn without_pcid_global_pages_are_walked_once_and_private_ones_after_every_switch() {
    let first = data_walks("off");
    assert_eq!(extra(&first, 0), PROCESSES * PAGES * ROUNDS, "{first:?}");
    assert_eq!(extra(&first, 1), PAGES, "{first:?}");
    let second = data_walks("off");
    assert_eq!(first, second, "the walk counts repeat exactly");
}

#[test]
fn with_simulated_pcid_each_address_space_walks_the_pages_once() {
    let walks = data_walks("on");
    assert_eq!(extra(&walks, 0), PROCESSES * PAGES, "{walks:?}");
    assert_eq!(extra(&walks, 1), PAGES, "{walks:?}");
}

/// Instructions QEMU 10 counts for one `rep movsb`, whatever its length: one (it runs the
/// iterations inside the instruction's generated code; see tlbsim/README.md, "Instruction
/// counts"). Measured with 100 and 65536 bytes.
const REP_MOVSB_INSTRUCTIONS: u64 = 1;

#[test]
fn instruction_counts_of_a_marked_phase_are_exact() {
    let (phases, log) = boot_phases("test=instructions tlbsim=on", "instructions", 3);
    let looped = phases.get("insn-loop").unwrap_or_else(|| panic!("no phase insn-loop in:\n{log}"));
    // mov ecx, 1000; 1000 x (dec ecx; jnz); the EndPhase marker. The BeginPhase marker belongs
    // to the instructions before the phase.
    assert_eq!(looped.instructions.kernel, 1 + 2 * 1000 + 1, "{looped:?}");
    assert_eq!(looped.instructions.user, 0, "{looped:?}");
    // One block per round, each one fetch on the loop's page: L1 hits (the plugin skips the
    // callback of a block that starts on the previous fetch's page and counts it later).
    assert_eq!(looped.counters.instruction.accesses, 1000, "{looped:?}");
    assert_eq!(looped.counters.instruction.l1_hits, 1000, "{looped:?}");
    let copy = phases.get("insn-rep-movsb").unwrap_or_else(|| panic!("no phase insn-rep-movsb in:\n{log}"));
    assert_eq!(copy.instructions.kernel, REP_MOVSB_INSTRUCTIONS + 1, "{copy:?}");
    assert_eq!(copy.instructions.user, 0, "{copy:?}");
    // 100 loads and 100 stores of one byte each, whatever the instruction count.
    assert_eq!(copy.counters.data.accesses, 200, "{copy:?}");
    let long = phases.get("insn-rep-movsb-long").unwrap_or_else(|| panic!("no phase insn-rep-movsb-long in:\n{log}"));
    assert_eq!(long.instructions.kernel, REP_MOVSB_INSTRUCTIONS + 1, "{long:?}");
    assert_eq!(long.counters.data.accesses, 2 * 65536, "{long:?}");
    // With cost_data on (the default) every data access reached the cost model's caches.
    assert_eq!(long.cost.data_accesses.iter().sum::<u64>(), 2 * 65536, "{long:?}");
}

#[test]
fn a_slot_swapped_live_under_the_plugin_shows_no_stale_translation() {
    // The stale-slot suite, with live bystanders patched across the unload and the load, and a
    // user spawn of an unloaded binary, with the plugin observing every access (TCG).
    let (_, _) = boot_phases("test=global-stale tlbsim=on", "global-stale", 8);
    let (_, _) = boot_phases("test=global-live tlbsim=on", "global-live", 5);
}
