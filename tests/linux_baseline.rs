//! The Linux baseline end to end: `shoal bench --baseline linux` boots the pinned Debian kernel
//! (fetched by `./setup.sh`) under the tlbsim simulator with the same `synth-small-musl` file
//! that shoal runs on its Linux personality, at N = 1 and 4 for 2 rounds, and writes Linux rows
//! beside shoal's. The test checks that the Linux rows exist and agree with shoal's
//! `local-private pcid=off` rows (Linux's own way to map a shared binary: non-global entries,
//! page tables per process, no PCID under TCG) within what the Linux side's known extra work
//! explains (see [`EXTRA_WALKS_PER_INVOCATION`]), and that shoal's global segment beats both.
//!
//! The `linux-batch` baseline (the driver under `SCHED_BATCH`) runs beside them: an invocation
//! there switches address spaces exactly twice.
//!
//! A second test boots the same Linux configuration twice at once and checks that its measured
//! phases repeat exactly (`--icount`).
//!
//! Without the guest kernel the bench fails with a message naming `./setup.sh`, and so do these
//! tests, unless `SHOAL_SKIP_LINUX_GUEST=1` asks to skip them (they then say so).

use std::collections::BTreeMap;
use std::process::Command;

/// Walks per warm invocation Linux may make beyond shoal's `local-private pcid=off` on the same
/// file. Measured on this tree (README, "Linux beside shoal"): synth-small walks about 62 times
/// per invocation for its binary on both kernels (every page the invocation touches, re-walked
/// after every address-space switch); what Linux adds is its driver, a process whose pages
/// (code, stack, pipe buffers' user side) are re-walked after each of the two CR3 writes of an
/// invocation, and the instance's own stack and libc data, about 15 in all. 25 leaves room for
/// the timer tick's moments, which vary between runs; a Linux row below shoal's, or more than
/// this above, means the two drivers no longer measure the same thing.
const EXTRA_WALKS_PER_INVOCATION: f64 = 25.0;

#[test]
fn linux_rows_sit_beside_shoals_and_agree_with_its_linux_like_mode() {
    if std::env::var("SHOAL_SKIP_LINUX_GUEST").is_ok_and(|value| value == "1") {
        eprintln!("SKIPPED: SHOAL_SKIP_LINUX_GUEST=1 asks to skip the Linux baseline test");
        return;
    }
    let out = std::env::temp_dir().join(format!("shoal-linux-baseline-test-{}", std::process::id()));
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "--workload", "synth-small", "--binary", "linux-musl", "--instances", "1,4", "--rounds", "2", "--pcid", "off"])
        .args(["--modes", "global-shared,local-private", "--baseline", "linux,linux-batch", "--no-plugin-slowdown", "--memory", "1024", "--out"])
        .arg(&out)
        .output()
        .expect("running shoal bench");
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{log}\n{}", String::from_utf8_lossy(&output.stdout));
    eprintln!("shoal bench with the Linux baseline took {:.0} s (2 jobs)", started.elapsed().as_secs_f64());
    assert!(log.contains("synth-small on linux instances=4 done in "), "progress names the baseline: {log}");

    let csv = std::fs::read_to_string(out.join("results.csv")).expect("reading results.csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header = reader.headers().expect("a header").clone();
    let column = |name: &str| header.iter().position(|column| column == name).unwrap_or_else(|| panic!("no column {name}"));
    // (kernel, global, instances) -> the row's cells.
    let mut rows: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for record in reader.records() {
        let cells: Vec<String> = record.expect("a valid CSV record").iter().map(str::to_owned).collect();
        let line = cells.join(",");
        assert_eq!(cells[column("binary")], "linux-musl", "every row ran the musl file: {line}");
        rows.insert((cells[column("kernel")].clone(), cells[column("global")].clone(), cells[column("instances")].clone()), cells);
    }
    assert_eq!(rows.len(), 8, "two shoal modes and two Linux baselines, at N = 1 and 4: {csv}");
    let number = |cells: &[String], name: &str| cells[column(name)].parse::<f64>().unwrap_or_else(|_| panic!("{name} = {:?}", cells[column(name)]));
    for instances in ["1", "4"] {
        let linux = &rows[&("linux".to_owned(), "0".to_owned(), instances.to_owned())];
        let local = &rows[&("shoal".to_owned(), "0".to_owned(), instances.to_owned())];
        let global = &rows[&("shoal".to_owned(), "1".to_owned(), instances.to_owned())];
        assert_eq!(linux[column("pcid")], "unavailable", "TCG gives Linux no PCID");
        assert_eq!(linux[column("guest_kernel")], "6.1.0-50-amd64", "the pinned kernel booted");
        assert!(linux[column("guest_cmdline")].contains("transparent_hugepage=never"), "{}", linux[column("guest_cmdline")]);
        assert_eq!(number(linux, "page_faults"), 0.0, "the populate pass leaves no fault in the measured rounds");
        assert_eq!(number(linux, "invocations"), number(local, "invocations"), "the same measured invocations");
        let (linux_walks, local_walks, global_walks) =
            (number(linux, "walks_per_invocation"), number(local, "walks_per_invocation"), number(global, "walks_per_invocation"));
        eprintln!("N = {instances}: warm walks per invocation: linux {linux_walks:.2}, shoal local-private {local_walks:.2}, shoal global-shared {global_walks:.2}");
        assert!(
            linux_walks >= local_walks && linux_walks <= local_walks + EXTRA_WALKS_PER_INVOCATION,
            "N = {instances}: Linux's {linux_walks:.2} walks per invocation should be shoal local-private's {local_walks:.2} plus at most {EXTRA_WALKS_PER_INVOCATION}"
        );
        assert!(global_walks < local_walks, "N = {instances}: the global segment saves walks: {global_walks:.2} < {local_walks:.2}");
        assert!(number(linux, "window_walks_per_invocation") > number(global, "window_walks_per_invocation"), "Linux re-walks the binary's pages");
        assert!(number(linux, "page_table_pages_per_instance") > 0.0 && number(linux, "instructions_per_invocation") > 0.0);
        let driver = number(linux, "driver_walks_per_invocation");
        assert!(driver > 0.0 && driver < linux_walks, "N = {instances}: the driver's own walks ({driver:.2}) are a part of Linux's {linux_walks:.2}");
        // Measured: about 760,000 instructions for fork + execve, 520,000 for posix_spawn,
        // 20,000 for shoal's spawn with the global segment.
        let (fork_exec, posix_spawn, shoal_spawn) =
            (number(linux, "spawn_instructions"), number(linux, "posix_spawn_instructions"), number(global, "spawn_instructions"));
        assert!(shoal_spawn > 0.0 && fork_exec > shoal_spawn && posix_spawn > shoal_spawn, "N = {instances}: spawn instructions: shoal {shoal_spawn}, fork + execve {fork_exec}, posix_spawn {posix_spawn}");
        // One switch per invocation on shoal (its driver is in the kernel); two on Linux under
        // SCHED_BATCH, whose driver's wake-ups never preempt an instance.
        let batch = &rows[&("linux-batch".to_owned(), "0".to_owned(), instances.to_owned())];
        assert_eq!(number(global, "cr3_writes_per_invocation"), 1.0, "N = {instances}: shoal switches once per invocation");
        assert_eq!(number(batch, "cr3_writes_per_invocation"), 2.0, "N = {instances}: driver, instance, driver");
        // The Linux driver reports its instances' preemptions (`number` fails on an empty cell).
        let _ = (number(batch, "preemptions_per_invocation"), number(linux, "preemptions_per_invocation"));
        assert_eq!(global[column("preemptions_per_invocation")], "", "shoal's rows count no preemptions");
    }
    let report = std::fs::read_to_string(out.join("report.md")).expect("reading report.md");
    assert!(report.contains("## Linux beside shoal") && report.contains("| linux | 4 |"), "the ratio table: {report}");
    let svg = std::fs::read_to_string(out.join("synth-small-walks.svg")).expect("the walks chart");
    assert!(svg.lines().any(|line| line.trim() == "linux"), "the chart's legend has a Linux series");
    let _ = std::fs::remove_dir_all(&out);
}

/// Runs a tiny study with the Linux baseline into `out` and returns the Linux boot's measured
/// phase lines (the plugin's whole-run line, which covers the boot, is left out).
fn linux_phase_lines(out: &std::path::Path) -> Vec<String> {
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["bench", "--workload", "synth-small", "--binary", "linux-musl", "--instances", "4", "--rounds", "2", "--pcid", "off"])
        .args(["--modes", "global-shared", "--baseline", "linux", "--no-plugin-slowdown", "--memory", "1024", "--jobs", "1", "--out"])
        .arg(out)
        .output()
        .expect("running shoal bench");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let plugin = std::fs::read_to_string(out.join("raw/synth-small-linux-n4.tlbsim.txt")).expect("the Linux boot's plugin output");
    plugin.lines().filter(|line| line.starts_with("tlbsim phase ") && !line.contains(" id=0 ")).map(str::to_owned).collect()
}

/// Under `--icount` the guest's timer ticks land at the same instruction counts, so two Linux
/// boots of the same configuration, run at the same time (competing for the cores), measure
/// identical phases. Without `--icount` they differed by thousands of instructions.
#[test]
fn a_linux_configuration_measures_the_same_counts_in_two_boots() {
    if std::env::var("SHOAL_SKIP_LINUX_GUEST").is_ok_and(|value| value == "1") {
        eprintln!("SKIPPED: SHOAL_SKIP_LINUX_GUEST=1 asks to skip the Linux baseline test");
        return;
    }
    let base = std::env::temp_dir().join(format!("shoal-linux-repeat-{}", std::process::id()));
    let (first_dir, second_dir) = (base.join("a"), base.join("b"));
    let other = std::thread::spawn(move || linux_phase_lines(&second_dir));
    let first = linux_phase_lines(&first_dir);
    let second = other.join().expect("the second run");
    assert_eq!(first.len(), 5, "warm, cold shared-warm, cold flushed, spawn, posix_spawn: {first:#?}");
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a, b, "the same Linux phase differs between two boots");
    }
    let _ = std::fs::remove_dir_all(&base);
}
