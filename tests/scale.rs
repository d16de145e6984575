//! Density at scale, small configurations of the `scale` suite (kernel/src/ktest/scale.rs): the
//! exact memory split of an instance, and the exact instruction count of a spawn under the tlbsim
//! plugin (the target: at most 20,000 guest instructions from the spawn request until the
//! instance is runnable). The full run (`cargo run -- --memory 4096 --args "test=scale"`, at least
//! 50,000 live instances) is the benchmark whose figures the README shows.

use std::path::Path;
use std::process::{Command, Output};

use tlbsim::report::PhaseReport;

const TIMEOUT_SECONDS: &str = "900";
/// The target for one spawn, in guest instructions.
const SPAWN_INSTRUCTIONS_TARGET: u64 = 20_000;

/// Boots the BIOS image through qemu-runner.sh with `extra` options and `kernel_args`.
fn boot(kernel_args: &str, extra: &[&str]) -> (Output, String, String) {
    let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh"))
        .args(["--mode", "test", "--timeout", TIMEOUT_SECONDS])
        .args(["--args", kernel_args])
        .args(extra)
        .arg(env!("SHOAL_BIOS_IMAGE"))
        .output()
        .expect("running qemu-runner.sh");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, serial, log)
}

/// Returns the suite's "maximum live instances with M MiB: N" figure.
fn maximum_live(serial: &str) -> u64 {
    serial
        .lines()
        .find_map(|line| line.strip_prefix("scale: maximum live instances with ").and_then(|rest| rest.split(": ").nth(1)))
        .and_then(|count| count.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no maximum in\n{serial}"))
}

#[test]
fn a_small_guest_fills_with_instances_of_an_exact_size_and_gets_every_frame_back() {
    let (output, serial, log) = boot("test=scale", &["--memory", "128"]);
    assert_eq!(output.status.code(), Some(0), "{serial}\n{log}");
    assert!(serial.contains("ktest: scale: all 1 checks passed"), "{serial}");
    assert!(serial.contains("scale: every frame came back"), "{serial}");
    // Memory, not a table size, stops the spawns: well over a thousand instances fit in 128 MiB.
    let live = maximum_live(&serial);
    assert!(live > 1_000, "{live} instances in 128 MiB:\n{serial}");
    assert!(serial.contains("too few frames were left for another instance"), "{serial}");
    // A binary unloaded and loaded again beside all of them patches every live window PDPT.
    let live_line = format!("scale: unloaded hello beside {live} live instances: {live} window PDPTs patched, 0 private tables freed");
    assert!(serial.contains(&live_line), "{serial}");
    // A warm synth-small instance: six page tables (PML4, window PDPT, its binary's directory,
    // and the PDPT, PD and PT of its stack), one stack page touched, no data page (the runtime
    // has no writable data), a 16 KiB kernel stack.
    assert!(
        serial.contains("page tables 24.0 KiB, stack 4.0 KiB, data 0.0 KiB, heap 0.0 KiB, kernel stack 16.0 KiB"),
        "{serial}"
    );
    // A spawn zeroes one frame (the PML4) and copies two templates (the window PDPT and the
    // binary's page directory); it touches nothing of the stack.
    assert!(serial.contains("a spawn wrote 4096 bytes zeroed and 8192 bytes copied on average (max 4096 and 8192)"), "{serial}");
}

#[test]
fn a_spawn_costs_at_most_20000_guest_instructions() {
    const SPAWNS: u64 = 200;
    let (output, serial, log) = boot(
        &format!("test=scale tlbsim=on scale_target={SPAWNS}"),
        &["--memory", "256", "--tlbsim", "preset=skylake-client", "--tlbsim-plugin", env!("SHOAL_TLBSIM_PLUGIN")],
    );
    assert_eq!(output.status.code(), Some(0), "{serial}\n{log}");
    assert!(serial.contains("ktest: scale: all 1 checks passed"), "{serial}");
    assert_eq!(maximum_live(&serial), SPAWNS, "{serial}");
    let phases: Vec<PhaseReport> = log
        .lines()
        .chain(serial.lines())
        .filter(|line| PhaseReport::is_phase_line(line))
        .map(|line| PhaseReport::parse_line(line).unwrap_or_else(|error| panic!("{line}: {error:?}")))
        .collect();
    let instructions = |name: &str| -> Vec<u64> {
        phases.iter().filter(|report| report.name == name).map(|report| report.instructions.user + report.instructions.kernel).collect()
    };
    let spawns = instructions("spawn");
    // The live unload and load beside the instances: one of each, patching every live space.
    let (unload, load) = (instructions("unload-live"), instructions("load-live"));
    assert_eq!((unload.len(), load.len()), (1, 1), "one live unload and one live load");
    println!("with {SPAWNS} live instances: unloading hello took {} and loading it again {} guest instructions", unload[0], load[0]);
    assert!(serial.contains(&format!("scale: unloaded hello beside {SPAWNS} live instances: {SPAWNS} window PDPTs patched, 0 private tables freed")), "{serial}");
    assert_eq!(spawns.len() as u64, SPAWNS, "one spawn phase per spawn");
    let max = *spawns.iter().max().expect("spawns");
    let mean = spawns.iter().sum::<u64>() as f64 / spawns.len() as f64;
    println!("spawn cost under tlbsim (skylake-client), {SPAWNS} spawns of synth-small: mean {mean:.0}, max {max} guest instructions (markers included)");
    assert!(spawns.iter().all(|&count| count > 0), "{spawns:?}");
    assert!(max <= SPAWN_INSTRUCTIONS_TARGET, "a spawn took {max} instructions, more than {SPAWN_INSTRUCTIONS_TARGET}: {spawns:?}");
}
