//! The density study end to end: `shoal bench` runs a small sweep of the small synthetic runtime
//! under the tlbsim simulator and writes its results folder; the test reads `results.csv` and
//! checks the qualitative law with the run's exact counts: with the global segment
//! (`global=1 share_tables=1`) the shared code's page walks per invocation do not grow with the
//! number of instances (warm global entries are shared by every instance); without it
//! (`global=0 share_tables=0`) they do (with PCIDs each instance pays for its own entries).
//! A second test boots the bench image's other workloads (the WebAssembly runtime and the 64 MiB
//! synthetic runtime) through the harness in every mode, without the simulator.

use std::collections::BTreeMap;
use std::process::Command;

/// Instance counts compared: the smallest and the largest of the sweep.
const FEW: &str = "1";
const MANY: &str = "8";

#[test]
fn shared_code_walks_per_invocation_do_not_grow_with_density_only_with_the_global_segment() {
    let out = std::env::temp_dir().join(format!("shoal-density-test-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "--quick", "--instances", &format!("{FEW},{MANY}"), "--rounds", "4", "--memory", "1024", "--out"])
        .arg(&out)
        .output()
        .expect("running shoal bench");
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}\n{}", String::from_utf8_lossy(&output.stdout));
    for file in ["results.csv", "synth-small-walks.svg", "synth-small-walks.png", "synth-small-page-tables.svg", "synth-small-saved.png", "report.md"] {
        assert!(out.join(file).exists(), "{file} missing in {}", out.display());
    }
    assert!(log.contains("bench: synth-small pcid=on global=1 share_tables=1 instances=8 done"), "progress is shown: {log}");

    let csv = std::fs::read_to_string(out.join("results.csv")).expect("reading results.csv");
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    let column = |name: &str| header.iter().position(|column| *column == name).unwrap_or_else(|| panic!("no column {name}"));
    // (pcid, global, share, instances) -> instruction walks per invocation.
    let mut code_walks: BTreeMap<(String, String, String, String), f64> = BTreeMap::new();
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let walks: f64 = cells[column("i.walks_4k")].parse::<f64>().unwrap_or(0.0) + cells[column("i.walks_2m")].parse::<f64>().unwrap_or(0.0);
        let invocations: f64 = cells[column("invocations")].parse().expect("invocations");
        let key = |name: &str| cells[column(name)].to_owned();
        code_walks.insert((key("pcid"), key("global"), key("share_tables"), key("instances")), walks / invocations);
    }
    let get = |global: &str, share: &str, instances: &str| {
        code_walks[&("simulated".to_owned(), global.to_owned(), share.to_owned(), instances.to_owned())]
    };
    let (shared_few, shared_many) = (get("1", "1", FEW), get("1", "1", MANY));
    let (private_few, private_many) = (get("0", "0", FEW), get("0", "0", MANY));
    assert!(shared_many <= shared_few, "with the global segment: {shared_few} walks per invocation at N={FEW}, {shared_many} at N={MANY}");
    assert!(private_many > private_few, "without it: {private_few} at N={FEW}, {private_many} at N={MANY}");
    let report = std::fs::read_to_string(out.join("report.md")).expect("reading report.md");
    assert!(report.contains("QEMU TCG cycles: emulated, not hardware figures"), "{report}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Boots the bench image's density suite (no simulator) with `args`; returns the result lines.
fn density_lines(args: &str) -> Vec<String> {
    let output = Command::new(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh"))
        .args(["--mode", "test", "--firmware", "uefi", "--memory", "1024", "--timeout", "600", "--args", args])
        .arg(env!("SHOAL_BENCH_IMAGE"))
        .output()
        .expect("running qemu-runner.sh");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    assert_eq!(output.status.code(), Some(0), "{serial}");
    assert!(serial.contains("ktest: density: all 1 checks passed"), "{serial}");
    serial.lines().filter(|line| line.starts_with("result: density ")).map(str::to_owned).collect()
}

#[test]
fn the_bench_image_runs_the_webassembly_and_the_64_mib_runtimes_in_every_mode() {
    for workload in ["wasm-runtime", "synth-large"] {
        let lines = density_lines(&format!("test=density workload={workload} instances=1,8 rounds=1"));
        // Four modes, two instance counts; every invocation's self-check passed (or the suite fails).
        assert_eq!(lines.len(), 8, "{lines:#?}");
        assert!(lines.iter().all(|line| line.contains(&format!(" workload={workload} ")) && line.contains(" pmu=unavailable ")), "{lines:#?}");
        assert!(lines.iter().any(|line| line.contains(" instances=8 rounds=1 invocations=8 ")), "{lines:#?}");
    }
}
