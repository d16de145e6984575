//! `scripts/hardware-compare.sh`: a hardware run's PMU counts set beside tlbsim's, per warm
//! invocation, from fixture inputs (no machine here has a PMU to produce real ones).

use std::path::Path;
use std::process::Command;

/// A results.csv with the columns the script reads (others are ignored).
const RESULTS: &str = "id,workload,pcid,global,share_tables,instances,invocations,i.walks_4k,i.walks_2m,d.walks_4k,d.walks_2m,instructions_per_invocation,walk_cycles_per_invocation,translation_overhead_percent\n\
100,synth-small,simulated,1,1,16,1024,64,0,1000,24,3800.00,120.500,3.071\n\
103,synth-small,simulated,0,1,16,1024,33000,0,32000,0,3800.00,9000.000,70.000\n";

/// A console log: boot noise, one result line (CR line ends, as serial-over-LAN saves them) and
/// one for a configuration the simulator did not run.
const CONSOLE: &str = "pmu: intel-v4 ...\r\n\
result: density id=100 workload=synth-small global=1 share_tables=1 pcid=on instances=16 warmup_invocations=512 rounds=64 invocations=1024 cycles_per_invocation=9000 engine=hardware pmu=intel-v4 pmu.cycles=9216000 pmu.instructions=4096000 pmu.itlb_walks=512 pmu.dtlb_load_walks=1024 pmu.dtlb_store_walks=1024 page_table_pages=96\r\n\
result: density id=112 workload=synth-small global=1 share_tables=1 pcid=on instances=64 invocations=1024 engine=hardware pmu=intel-v4\r\n";

fn run(name: &str, console: &str, results: &str) -> (i32, String, String) {
    let directory = std::env::temp_dir().join(format!("shoal-hardware-compare-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temporary directory");
    let (log, csv) = (directory.join("console.log"), directory.join("results.csv"));
    std::fs::write(&log, console).expect("write log");
    std::fs::write(&csv, results).expect("write csv");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/hardware-compare.sh");
    let output = Command::new(script).arg(&log).arg(&csv).output().expect("run the script");
    let _ = std::fs::remove_dir_all(&directory);
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn row<'a>(output: &'a str, label: &str) -> Vec<&'a str> {
    let line = output.lines().find(|line| line.trim_start().starts_with(label)).unwrap_or_else(|| panic!("no {label} row in:\n{output}"));
    line.trim_start()[label.len()..].split_whitespace().collect()
}

#[test]
fn hardware_counts_sit_beside_the_simulated_ones_per_invocation() {
    let (status, output, errors) = run("counts", CONSOLE, RESULTS);
    assert_eq!(status, 0, "stderr: {errors}");
    assert!(output.contains("synth-small g1 s1 N=16"), "{output}");
    assert!(output.contains("pcid: hardware on, tlbsim simulated"), "{output}");
    // 512 / 1024 against (64 + 0) / 1024; (1024 + 1024) / 1024 against 1024 / 1024.
    assert_eq!(row(&output, "i-side walks"), ["0.50", "0.06", "8.33"]);
    assert_eq!(row(&output, "d-side walks"), ["2.00", "1.00", "2.00"]);
    assert_eq!(row(&output, "instructions"), ["4000.00", "3800.00", "1.05"]);
    assert_eq!(row(&output, "cycles"), ["9000.00", "-", "-"]);
    assert_eq!(row(&output, "walk cycles"), ["-", "120.500", "-"]);
    assert!(output.contains("synth-small g1 s1 N=64") && output.contains("no tlbsim row"), "{output}");
}

#[test]
fn a_log_without_result_lines_is_refused_by_name() {
    let (status, _, errors) = run("refused", "shoal: exit success\n", RESULTS);
    assert_eq!(status, 65);
    assert!(errors.contains("has no 'result: density' line"), "{errors}");
}
