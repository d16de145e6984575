//! The same density configuration gives the same simulated counts in separate QEMU runs.
//!
//! Two boots of one small sweep run at the same time (so their host timing differs: each
//! competes with the other for the cores) under the tlbsim plugin; every measured phase line of
//! one must equal the other's, field for field. What made them differ before: a timer tick at a
//! host-speed-dependent moment (one was pending in the APIC when the timer was masked and arrived
//! inside a phase) and TLB contents left by such ticks before a configuration started. The
//! whole-run line (id 0) covers the boot's ticks and is not compared.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;

/// The sweep: the small synthetic runtime at two instance counts, every window mode.
const ARGS: &str = "test=density tlbsim=on pcid=off workload=synth-small instances=1,4 warmup=16 invocations=16";

/// Boots the sweep once under the plugin; returns the plugin's measured phase lines.
fn phase_lines(run: &str) -> Vec<String> {
    let out: PathBuf = std::env::temp_dir().join(format!("shoal-repeatability-{}-{run}.txt", std::process::id()));
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh"))
        .args(["--mode", "test", "--firmware", "uefi", "--memory", "1024", "--timeout", "600", "--args", ARGS])
        .args(["--tlbsim", &format!("preset=skylake-client,out={}", out.display())])
        .args(["--tlbsim-plugin", env!("SHOAL_TLBSIM_PLUGIN")])
        .arg(env!("SHOAL_BENCH_IMAGE"))
        .output()
        .expect("running qemu-runner.sh");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    assert_eq!(output.status.code(), Some(0), "run {run}:\n{serial}\n{}", String::from_utf8_lossy(&output.stderr));
    let report = std::fs::read_to_string(&out).expect("the plugin's report");
    let _ = std::fs::remove_file(&out);
    report.lines().filter(|line| line.starts_with("tlbsim phase ") && !line.contains(" id=0 ")).map(str::to_owned).collect()
}

#[test]
fn a_configuration_repeats_exactly_in_separate_qemu_runs() {
    let other = thread::spawn(|| phase_lines("b"));
    let first = phase_lines("a");
    let second = other.join().expect("the second run");
    // Four phases (warm, cold shared-warm, cold flushed, spawn) per mode and instance count.
    assert_eq!(first.len(), 4 * 2 * 4, "{first:#?}");
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a, b, "the same phase differs between two runs");
    }
    assert_eq!(first.len(), second.len());
}
