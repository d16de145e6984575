//! Bochs integration tests: the hardware-path suite on CPU models that have what QEMU TCG lacks.
//!
//! Each test boots `shoal-bios-hardware.img` (its ramdisk file `args` holds `test=hardware pcids=64`, since
//! Bochs has no fw_cfg) through `bochs-runner.sh`, the one place that holds Bochs configuration.
//! Bochs' own exit status means nothing; the runner judges the run by the kernel's status line:
//! 0 success, 2 kernel failure, 3 Bochs ended without a status line, 124 timeout, 64 bad usage.
//! Runs in parallel are safe: each has its own directory, image copy and rfb port.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use shoal_protocol::ExitCode;

/// Generous per-boot limit: a boot takes 5-16 s on this machine's 2 cores (more when loaded).
const TIMEOUT_SECONDS: u32 = 300;

/// How one Bochs boot ended.
struct Run {
    model: &'static str,
    runner_status: i32,
    /// The kernel's serial output, with `\r` removed.
    serial: String,
    /// The runner's own messages (the Bochs command, the bochsrc path, the verdict).
    runner_log: String,
}

impl Run {
    /// Asserts that the serial output contains `text`.
    fn expect(&self, text: &str) -> &Self {
        assert!(
            self.serial.contains(text),
            "{}: expected {text:?} in the kernel output:\n{}",
            self.model,
            self.serial
        );
        self
    }

    /// Asserts that the hardware suite ran and the run ended with kernel success.
    fn expect_success(&self) -> &Self {
        assert_eq!(
            self.runner_status, 0,
            "{}: runner log:\n{}\nkernel output:\n{}",
            self.model, self.runner_log, self.serial
        );
        let status = self
            .serial
            .lines()
            .rev()
            .find_map(ExitCode::from_status_line);
        assert_eq!(
            status,
            Some(ExitCode::Success),
            "{}: kernel output:\n{}",
            self.model,
            self.serial
        );
        assert!(
            self.serial
                .lines()
                .any(|line| line == "shoal: exit success"),
            "{}",
            self.serial
        );
        self
    }
}

fn runner() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bochs-runner.sh")
}

/// Boots the hardware image under the Bochs CPU model `model`.
fn boot(model: &'static str) -> Run {
    let started = Instant::now();
    let output = Command::new(runner())
        .args([
            "--cpu-model",
            model,
            "--timeout",
            &TIMEOUT_SECONDS.to_string(),
        ])
        .arg(env!("SHOAL_HARDWARE_IMAGE"))
        .output()
        .expect("running bochs-runner.sh");
    eprintln!("bochs {model}: {:.1} s", started.elapsed().as_secs_f64());
    let run = Run {
        model,
        runner_status: output.status.code().unwrap_or(-1),
        serial: String::from_utf8_lossy(&output.stdout).replace('\r', ""),
        runner_log: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    assert!(
        run.runner_log.contains("bochs -q -f "),
        "the runner prints the Bochs command:\n{}",
        run.runner_log
    );
    assert!(
        run.runner_log.contains("bochsrc: "),
        "the runner names its bochsrc:\n{}",
        run.runner_log
    );
    run
}

/// What every model must show: the banner, the arguments from the ramdisk, the suite's summary.
fn check_common(run: &Run) {
    run.expect("shoal 0.1.0 — a research microkernel")
        .expect("bytes from the ramdisk's `args` file)")
        .expect("test=hardware")
        .expect("cpu: hypervisor=none engine=bochs")
        .expect("acpi: MADT: 1 processors, local APIC at 0xfee00000")
        // Bochs advertises performance counters in CPUID but faults on their registers.
        .expect("pmu: unavailable (Bochs emulates no performance counters, whatever CPUID says)")
        .expect("ktest: 7 suite(s), 35 checks passed")
        .expect_success();
}

/// What a model with PCID must show: the real PCID mode, recycling with 64 PCIDs in the pool.
fn check_real_pcid(run: &Run) {
    run.expect("translation: pcid mode on (64 PCIDs in the pool)")
        .expect("ktest: pcid: CPU pcid=true CR4.PCIDE=true mode on=true")
        .expect("ktest: pcid: 66 processes, 63 PCIDs: ")
        .expect("ktest: pcid: processes switching under PCIDs (or flushing without them) all run correctly ... ok");
}

#[test]
fn hardware_suite_passes_on_icelake_with_pcid_invpcid_pku_smep_smap() {
    let run = boot("corei7_icelake_u");
    run.expect("cpu: pge=yes pcid=yes invpcid=yes pku=yes smep=yes smap=yes")
        .expect("cpu: enabled nx=true pge=true smep=true smap=true pcide=true pke=true");
    run.expect("(protection violation, read, user, protection key)")
        // The kernel does not read another binary's data for a process either.
        .expect("keys-syscall: spawn(other + i, 1) for i in 0..64: always bad-address ok");
    check_real_pcid(&run);
    check_common(&run);
}

#[test]
fn hardware_suite_passes_on_haswell_without_pku_and_smap() {
    let run = boot("corei7_haswell_4770");
    run.expect("cpu: pge=yes pcid=yes invpcid=yes pku=no smep=yes smap=no")
        .expect("cpu: enabled nx=true pge=true smep=true smap=false pcide=true pke=false")
        .expect("protection keys unavailable (the CPU has no PKU)");
    check_real_pcid(&run);
    check_common(&run);
}

#[test]
fn hardware_suite_passes_on_ryzen_without_pcid() {
    let run = boot("ryzen");
    run.expect("cpu: pge=yes pcid=no invpcid=no pku=no")
        .expect("cpu: apic=yes x2apic=no")
        .expect("pcide=false")
        .expect("translation: pcid mode unavailable (the CPU has no PCID)");
    check_common(&run);
}

#[test]
fn the_bochs_runner_refuses_an_unknown_cpu_model() {
    let output = Command::new(runner())
        .args(["--cpu-model", "pentium_9000", env!("SHOAL_HARDWARE_IMAGE")])
        .output()
        .expect("running bochs-runner.sh");
    let log = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(64), "{log}");
    assert!(
        log.contains("is not one of Bochs' models") && log.contains("corei7_icelake_u"),
        "{log}"
    );
}
