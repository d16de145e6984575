//! The density study end to end: `shoal bench` runs a small sweep of the small synthetic runtime
//! under the tlbsim simulator and writes its results folder; the test reads `results.csv` and
//! checks the law with the run's exact counts, measured warm (after the warm-up, with the
//! modelled TLBs kept): with the global segment (`global=1 share_tables=1`) the shared code
//! costs next to no page walks per invocation at any number of instances (its global entries
//! stay cached for every instance); without it (`global=0 share_tables=0`) the code walks grow
//! with the number of instances (with PCIDs each instance pays for its own entries). A fresh
//! instance's first invocation (cold) walks more than a warm one, and less when the runtime's
//! global entries are already warm.
//! A second test runs a tiny study once whole and once as two shards, merges the shards, and
//! compares the two results.csv files.
//! A third test boots the bench image's other workloads (the WebAssembly runtime and the 64 MiB
//! synthetic runtime) through the harness in every mode, without the simulator.

use std::collections::BTreeMap;
use std::process::Command;

/// A configuration: pcid, global, share_tables, instances.
type Key = (String, String, String, String);
/// Its figures: warm instruction walks per invocation, warm walks per invocation, cold walks
/// flushed, cold walks shared-warm.
type Figures = (f64, f64, f64, f64);

/// Instance counts compared: the smallest and the largest of the sweep.
const FEW: &str = "1";
const MANY: &str = "8";

#[test]
fn shared_code_walks_per_invocation_do_not_grow_with_density_only_with_the_global_segment() {
    let out = std::env::temp_dir().join(format!("shoal-density-test-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "--quick", "--instances", &format!("{FEW},{MANY}"), "--pcid", "on", "--modes", "global-shared,local-private", "--memory", "1024", "--out"])
        .arg(&out)
        .output()
        .expect("running shoal bench");
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}\n{}", String::from_utf8_lossy(&output.stdout));
    for file in ["results.csv", "synth-small-walks.svg", "synth-small-walks.png", "synth-small-page-tables.svg", "synth-small-cold.png", "synth-small-overhead.svg", "report.md", "manifest.txt"] {
        assert!(out.join(file).exists(), "{file} missing in {}", out.display());
    }
    assert!(log.contains("] synth-small pcid=on global-shared instances=8 done in "), "progress is shown: {log}");
    assert!(log.contains("bench: [5/5] "), "four configurations and the run without the plugin: {log}");

    let mut reader = csv::Reader::from_path(out.join("results.csv")).expect("reading results.csv");
    let header = reader.headers().expect("a header").clone();
    let column = |name: &str| header.iter().position(|column| column == name).unwrap_or_else(|| panic!("no column {name}"));
    // (pcid, global, share, instances) -> (warm instruction walks per invocation, warm walks per
    // invocation, cold walks flushed, cold walks shared-warm).
    let mut figures: BTreeMap<Key, Figures> = BTreeMap::new();
    for record in reader.records() {
        let cells = record.expect("a valid CSV record");
        let line = cells.iter().collect::<Vec<_>>().join(",");
        let number = |name: &str| cells[column(name)].parse::<f64>().unwrap_or_else(|_| panic!("{name} in {line}"));
        let code_walks = number("i.walks_4k") + number("i.walks_2m");
        let key = |name: &str| cells[column(name)].to_owned();
        assert!(number("warmup_invocations") >= number("instances"), "at least one warm-up round: {line}");
        figures.insert(
            (key("pcid"), key("global"), key("share_tables"), key("instances")),
            (code_walks / number("invocations"), number("walks_per_invocation"), number("cold_walks_per_invocation"), number("cold_shared_walks_per_invocation")),
        );
    }
    let get = |global: &str, share: &str, instances: &str| {
        figures[&("simulated".to_owned(), global.to_owned(), share.to_owned(), instances.to_owned())]
    };
    let (shared_few, shared_many) = (get("1", "1", FEW), get("1", "1", MANY));
    let (private_few, private_many) = (get("0", "0", FEW), get("0", "0", MANY));
    eprintln!("warm code walks per invocation: global {} -> {}, private {} -> {}", shared_few.0, shared_many.0, private_few.0, private_many.0);
    assert!(shared_few.0 <= 0.1 && shared_many.0 <= 0.1, "with the global segment, warm code walks: {} at N={FEW}, {} at N={MANY}", shared_few.0, shared_many.0);
    assert!(private_many.0 > private_few.0, "without it: {} at N={FEW}, {} at N={MANY}", private_few.0, private_many.0);
    for (label, (_, warm, cold, cold_shared)) in [("global", shared_many), ("private", private_many)] {
        assert!(cold > warm, "{label}: a cold first invocation ({cold} walks) walks more than a warm one ({warm})");
        assert!(cold_shared <= cold, "{label}: cold with others warm ({cold_shared}) walks no more than cold flushed ({cold})");
    }
    assert!(shared_many.3 < shared_many.2, "the global segment's warm entries serve a new instance: {} < {}", shared_many.3, shared_many.2);
    let report = std::fs::read_to_string(out.join("report.md")).expect("reading report.md");
    assert!(report.contains("under QEMU TCG they are emulated, not hardware figures"), "{report}");
    assert!(report.contains("the plugin slows the guest "), "{report}");
    assert!(report.contains("synth-small`, pcid=simulated, N = 8: local-private (global off) made "), "generated findings: {report}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Columns of results.csv that are emulator timings: TCG's TSC follows host time, so they differ
/// between any two runs, serial or not (docs/result-schema.md). Every other column is a count.
const TIMING_COLUMNS: [&str; 2] = ["cycles_per_invocation", "spawn_cycles"];

/// Returns results.csv with the timing columns emptied.
fn without_timings(csv: &str) -> String {
    let header: Vec<&str> = csv.lines().next().unwrap_or("").split(',').collect();
    let timing: Vec<usize> = TIMING_COLUMNS.iter().map(|name| header.iter().position(|column| column == name).unwrap_or_else(|| panic!("no column {name}"))).collect();
    csv.lines()
        .enumerate()
        .map(|(line, text)| {
            let cells: Vec<&str> = text.split(',').enumerate().map(|(index, cell)| if line > 0 && timing.contains(&index) { "" } else { cell }).collect();
            cells.join(",") + "\n"
        })
        .collect()
}

/// Runs `shoal bench` with the tiny study's options and `extra`, writing to `out`.
fn tiny_bench(out: &std::path::Path, extra: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "--workload", "synth-small", "--instances", "1,2", "--pcid", "on", "--modes", "global-shared,local-private"])
        .args(["--warmup", "16", "--invocations", "16", "--memory", "1024", "--no-plugin-slowdown", "--out"])
        .arg(out)
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running shoal bench")
}

/// Waits for a `shoal bench` and checks it succeeded.
fn succeeded(child: std::process::Child) {
    let output = child.wait_with_output().expect("waiting for shoal bench");
    assert_eq!(output.status.code(), Some(0), "{}\n{}", String::from_utf8_lossy(&output.stderr), String::from_utf8_lossy(&output.stdout));
}

#[test]
fn two_merged_shards_give_the_same_results_csv_as_one_run() {
    let base = std::env::temp_dir().join(format!("shoal-shard-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    // The whole study (four configurations, two boots at once), then its two shards side by side.
    succeeded(tiny_bench(&base.join("whole"), &["--jobs", "2"]));
    let first = tiny_bench(&base.join("shard-1"), &["--jobs", "1", "--shard", "1/2"]);
    let second = tiny_bench(&base.join("shard-2"), &["--jobs", "1", "--shard", "2/2"]);
    succeeded(first);
    succeeded(second);
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "merge"])
        .args([base.join("shard-2"), base.join("shard-1")])
        .arg("--out")
        .arg(base.join("merged"))
        .output()
        .expect("running shoal bench merge");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let read = |dir: &str| std::fs::read_to_string(base.join(dir).join("results.csv")).expect("reading results.csv");
    let (whole, merged) = (read("whole"), read("merged"));
    assert_eq!(whole.lines().count(), 5, "{whole}");
    assert_eq!(read("shard-1").lines().count(), 3, "shard 1/2 holds units 0 and 2");
    // Every count is the same, byte for byte; the emulator's timings cannot be.
    assert_eq!(without_timings(&merged), without_timings(&whole), "merged:\n{merged}\nwhole:\n{whole}");
    assert_eq!(
        std::fs::read_to_string(base.join("merged/manifest.txt")).ok(),
        std::fs::read_to_string(base.join("whole/manifest.txt")).ok(),
        "the merged folder is the whole study's"
    );
    let _ = std::fs::remove_dir_all(&base);
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
        let lines = density_lines(&format!("test=density workload={workload} instances=1,8 warmup=1 invocations=1"));
        // Four modes, two instance counts; every invocation's self-check passed (or the suite fails).
        assert_eq!(lines.len(), 8, "{lines:#?}");
        assert!(lines.iter().all(|line| line.contains(&format!(" workload={workload} ")) && line.contains(" pmu=unavailable ")), "{lines:#?}");
        assert!(lines.iter().any(|line| line.contains(" instances=8 warmup_invocations=8 rounds=1 invocations=8 ")), "{lines:#?}");
    }
}
