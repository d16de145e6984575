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

/// Boots the scenario under the plugin; returns the data walks per phase name.
fn data_walks(pcid: &str) -> BTreeMap<String, u64> {
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh"))
        .args(["--mode", "test", "--timeout", TIMEOUT_SECONDS])
        .args(["--args", &format!("test=tlb-density tlbsim=on pcid={pcid}")])
        .args(["--tlbsim", "preset=skylake-client", "--tlbsim-plugin", env!("SHOAL_TLBSIM_PLUGIN")])
        .arg(env!("SHOAL_BIOS_IMAGE"))
        .output()
        .expect("running qemu-runner.sh");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{serial}\n{log}");
    assert!(serial.contains("ktest: tlb-density: all 4 checks passed"), "{serial}");
    let mut walks = BTreeMap::new();
    for line in log.lines().chain(serial.lines()).filter(|line| PhaseReport::is_phase_line(line)) {
        let report = PhaseReport::parse_line(line).unwrap_or_else(|error| panic!("{line}: {error:?}"));
        let total = report.counters.data.walks_4k + report.counters.data.walks_2m + report.counters.data.walks_1g;
        walks.insert(report.name.clone(), total);
    }
    for name in ["touch-g0-p0", "touch-g0-p16", "touch-g1-p0", "touch-g1-p16"] {
        assert!(walks.contains_key(name), "no phase {name} in:\n{log}");
    }
    walks
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
