//! QEMU integration tests: boot the real disk images and assert on what the kernel prints and
//! on how the run ends.
//!
//! Each test boots one image through `qemu-runner.sh --mode test` (the same script `cargo run`
//! uses) with kernel arguments that pick a scenario or an in-kernel test suite (`test=...`).
//! The runner's exit status says how the run ended: 0 kernel success, 2 kernel failure,
//! 3 QEMU failure, 124 timeout. Suites that provoke a fatal kernel exception must end in
//! failure *with the right report*: that report is what they test.

use std::path::Path;
use std::process::Command;

use shoal_protocol::{ExitCode, STATUS_PREFIX};

/// Generous per-boot limit: a boot takes 1-3 s under TCG, but CI machines may be loaded.
const TIMEOUT_SECONDS: u32 = 120;
/// Runner exit status for a kernel-reported success.
const RUNNER_SUCCESS: i32 = 0;
/// Runner exit status for a kernel-reported failure.
const RUNNER_KERNEL_FAILURE: i32 = 2;
/// Runner exit status for a timeout.
const RUNNER_TIMEOUT: i32 = 124;
/// Runner exit status for bad usage.
const RUNNER_USAGE: i32 = 64;

#[derive(Clone, Copy, Debug)]
enum Firmware {
    Bios,
    Uefi,
}

/// How one boot ended.
struct Run {
    runner_status: i32,
    /// The kernel's serial output, with `\r` removed.
    serial: String,
    /// The runner's own messages (the QEMU command, the verdict).
    runner_log: String,
}

impl Run {
    /// Returns the kernel's final status, read from its status line.
    fn kernel_status(&self) -> Option<ExitCode> {
        self.serial.lines().rev().find_map(ExitCode::from_status_line)
    }

    /// Asserts that the serial output contains `text`.
    fn expect(&self, text: &str) -> &Self {
        assert!(self.serial.contains(text), "expected {text:?} in the kernel output:\n{}", self.serial);
        self
    }

    /// Asserts that the run ended with kernel success.
    fn expect_success(&self) -> &Self {
        assert_eq!(self.runner_status, RUNNER_SUCCESS, "runner log:\n{}\nkernel output:\n{}", self.runner_log, self.serial);
        assert_eq!(self.kernel_status(), Some(ExitCode::Success), "kernel output:\n{}", self.serial);
        self
    }

    /// Asserts that the run ended with kernel failure, for `reason`.
    fn expect_failure(&self, reason: &str) -> &Self {
        assert_eq!(self.runner_status, RUNNER_KERNEL_FAILURE, "runner log:\n{}\nkernel output:\n{}", self.runner_log, self.serial);
        assert_eq!(self.kernel_status(), Some(ExitCode::Failure), "kernel output:\n{}", self.serial);
        self.expect(&format!("{STATUS_PREFIX}failure ({reason})"))
    }

    /// Returns the decimal number that follows `prefix` on the first line containing `line_marker`.
    fn decimal_after(&self, line_marker: &str, prefix: &str) -> u64 {
        let line = self.serial.lines().find(|line| line.contains(line_marker)).unwrap_or_else(|| panic!("{line_marker:?} not in:\n{}", self.serial));
        let start = line.find(prefix).unwrap_or_else(|| panic!("{prefix:?} not in {line:?}")) + prefix.len();
        let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or_else(|error| panic!("no number after {prefix:?} in {line:?}: {error}"))
    }

    /// Returns the first hexadecimal number that follows `marker` in the output.
    fn hex_after(&self, marker: &str) -> u64 {
        let start = self.serial.find(marker).unwrap_or_else(|| panic!("{marker:?} not in:\n{}", self.serial)) + marker.len();
        let digits: String = self.serial[start..]
            .trim_start()
            .trim_start_matches("0x")
            .chars()
            .take_while(char::is_ascii_hexdigit)
            .collect();
        u64::from_str_radix(&digits, 16).unwrap_or_else(|error| panic!("no hex number after {marker:?}: {error}"))
    }
}

fn image(firmware: Firmware) -> &'static str {
    match firmware {
        Firmware::Bios => env!("SHOAL_BIOS_IMAGE"),
        Firmware::Uefi => env!("SHOAL_UEFI_IMAGE"),
    }
}

fn runner() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh")
}

/// Boots `firmware`'s image with `kernel_args` and `extra` runner options.
fn boot_with(firmware: Firmware, kernel_args: &str, extra: &[&str]) -> Run {
    let mut command = Command::new(runner());
    command.args(["--mode", "test", "--timeout", &TIMEOUT_SECONDS.to_string()]);
    command.args(["--firmware", match firmware { Firmware::Bios => "bios", Firmware::Uefi => "uefi" }]);
    if !kernel_args.is_empty() {
        command.args(["--args", kernel_args]);
    }
    command.args(extra).arg(image(firmware));
    let output = command.output().expect("running qemu-runner.sh");
    Run {
        runner_status: output.status.code().unwrap_or(-1),
        serial: String::from_utf8_lossy(&output.stdout).replace('\r', ""),
        runner_log: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn boot(firmware: Firmware, kernel_args: &str) -> Run {
    boot_with(firmware, kernel_args, &[])
}

/// The default boot shows the banner, the CPU features and the memory summary.
fn check_demo(run: &Run) {
    run.expect("shoal 0.1.0 — a research microkernel")
        .expect("cpu: pge=")
        .expect("cpu: hypervisor=\"TCGTCGTCGTCG\" engine=tcg")
        .expect("cpu: enabled nx=true pge=true")
        .expect("running on the kernel's own page tables")
        .expect("memory: direct map 4096 MiB in 1 GiB pages")
        .expect("demo: waiting for 3 timer ticks at 100 Hz")
        .expect("timer: tick 3 (3 of 3 waited)")
        .expect("translation: pcid mode unavailable (the CPU has no PCID)")
        .expect("acpi: MADT: 1 processors, local APIC at 0xfee00000, I/O APIC 0 at 0xfec00000 (GSI base 0)")
        .expect("ramdisk: ")
        .expect("demo: running scenario `default` (8 commands)")
        .expect("hello from process ")
        .expect("alloc-exerciser: 1 MiB block, 1000 boxes, a string: all correct")
        .expect("spawn-wait: 3 children spawned and reaped, 0 wrong")
        .expect(") exited with 0")
        // The same binary answers the same on Linux (`tests/linux_runtimes.rs`, JSON_SEED_7).
        .expect("invoke js-runtime handler 0 (json) seed 7: instance ")
        .expect(" answered 0x12d5665ba70b013 (its self-checks passed)")
        .expect("demo: 29 processes ended after ")
        .expect("demo: done")
        .expect_success();
    // Every frame the demo's processes used came back.
    let before = run.decimal_after("demo: 29 processes ended", "free frames ");
    let after = run.decimal_after("demo: 29 processes ended", "before, ");
    assert_eq!(before, after, "{}", run.serial);
    assert!(run.runner_log.contains("qemu-system-x86_64 -machine q35"), "runner prints the QEMU command:\n{}", run.runner_log);
}

#[test]
fn bios_boots_to_the_banner_and_succeeds() {
    check_demo(&boot(Firmware::Bios, "ticks=3"));
}

#[test]
fn uefi_boots_to_the_banner_and_succeeds() {
    check_demo(&boot(Firmware::Uefi, "ticks=3"));
}

#[test]
fn paging_suite_passes_on_bios() {
    boot(Firmware::Bios, "test=paging")
        .expect("ktest: paging: CR3 holds the kernel's own root, not the bootloader's ... ok")
        .expect("ktest: paging: the direct map reads the kernel's ELF file where the bootloader put it ... ok")
        .expect("ktest: paging: kernel text is present, read-only, executable and global ... ok")
        .expect("ktest: paging: the boot stack is kernel stack 0 and its guard page is unmapped ... ok")
        .expect("ktest: paging: all 9 checks passed")
        .expect_success();
}

#[test]
fn every_normal_suite_passes_on_uefi() {
    boot(Firmware::Uefi, "test=all")
        .expect("ktest: paging: all 9 checks passed")
        .expect("ktest: memory: all 4 checks passed")
        .expect("ktest: timer: all 2 checks passed")
        .expect("ktest: breakpoint: all 1 checks passed")
        .expect("ktest: preemption: all 1 checks passed")
        .expect("ktest: user-faults: all 6 checks passed")
        .expect("ktest: bad-elf: all 2 checks passed")
        .expect("ktest: bad-syscalls: all 3 checks passed")
        .expect("ktest: wasm: all 8 checks passed")
        .expect("ktest: 11 suite(s), 41 checks passed")
        .expect_success();
}

#[test]
fn memory_suite_takes_and_returns_every_frame() {
    let run = boot(Firmware::Bios, "test=memory");
    run.expect("ktest: memory: every free frame can be taken exactly once, then allocation fails, then all return ... ok")
        .expect("ktest: memory: all 4 checks passed")
        .expect_success();
    // Nothing allocates frames between the boot summary and the suite, and the suite's earlier
    // checks return theirs: the suite must take exactly the free count the boot log reported.
    let free_at_boot = run.decimal_after("frames free after boot", "; ");
    let taken = run.decimal_after("free frames (", "ktest: memory: took all ");
    assert_eq!(taken, free_at_boot, "{}", run.serial);
    assert!(taken > 200_000, "1 GiB of guest memory leaves more than 200000 free frames: {taken}");
}

#[test]
fn timer_ticks() {
    boot(Firmware::Bios, "test=timer timer_hz=250")
        .expect("ktest: timer: 5 timer interrupts arrive while the kernel halts ... ok")
        .expect_success();
}

#[test]
fn breakpoint_is_reported_and_execution_continues() {
    boot(Firmware::Bios, "test=breakpoint")
        .expect("EXCEPTION: #BP breakpoint (vector 3) in kernel mode")
        .expect("(continuing after the breakpoint)")
        .expect("ktest: breakpoint: int3 is reported and the kernel continues ... ok")
        .expect_success();
}

#[test]
fn writing_kernel_text_faults_with_a_report() {
    let run = boot(Firmware::Bios, "test=write-kernel-text");
    run.expect("EXCEPTION: #PF page fault (vector 14) in kernel mode")
        .expect("(protection violation, write, supervisor)")
        .expect_failure("CPU exception in the kernel");
    let target = run.hex_after("writing to kernel text at ");
    let fault = run.hex_after("fault address (CR2): ");
    assert_eq!(target, fault, "CR2 names the text address:\n{}", run.serial);
    assert!(target >= 0xffff_ffff_8000_0000, "kernel text is in the top 2 GiB: {target:#x}");
    assert!(!run.serial.contains("did not fault"));
}

#[test]
fn a_kernel_page_fault_produces_the_report_and_the_failure_status() {
    let run = boot(Firmware::Bios, "test=page-fault");
    run.expect("EXCEPTION: #PF page fault (vector 14) in kernel mode")
        .expect("(page not present, read, supervisor)")
        .expect("  RIP: 0xffffffff8")
        .expect_failure("CPU exception in the kernel");
    assert_eq!(run.hex_after("reading unmapped address "), run.hex_after("fault address (CR2): "));
}

#[test]
fn invalid_opcode_is_reported() {
    boot(Firmware::Bios, "test=invalid-opcode")
        .expect("EXCEPTION: #UD invalid opcode (vector 6) in kernel mode")
        .expect_failure("CPU exception in the kernel");
}

#[test]
fn a_kernel_panic_is_reported() {
    boot(Firmware::Bios, "test=panic")
        .expect("PANIC: panicked at kernel/src/ktest/faults.rs")
        .expect("deliberate panic from the `panic` test suite")
        .expect_failure("kernel panic");
}

#[test]
fn an_unknown_kernel_argument_is_refused() {
    let run = boot(Firmware::Bios, "ticks=3 bogus=1");
    run.expect("boot: kernel arguments refused: unknown kernel argument key \"bogus\"; known keys: log test timer_hz ticks pcid quantum_ticks global share_tables large_pages pcids tlbsim instances warmup invocations workload binary code_pages data_pages modes max_frames heap_bytes fuzz_seeds fuzz_calls scale_target kstack_probe")
        .expect_failure("kernel arguments refused");
    assert!(!run.serial.contains("demo:"), "the boot stops before the demo:\n{}", run.serial);
}

#[test]
fn a_bad_density_mode_list_is_refused() {
    boot(Firmware::Bios, "test=density modes=global-shared,global")
        .expect("boot: kernel arguments refused: bad value \"global-shared,global\" for kernel argument key \"modes\": expected 1 to 4 different modes, comma-separated, of: global-shared local-shared global-private local-private")
        .expect_failure("kernel arguments refused");
}

#[test]
fn a_bad_value_is_refused_and_commas_reach_the_kernel() {
    boot(Firmware::Bios, "log=debug,verbose")
        .expect("bad value \"debug,verbose\" for kernel argument key \"log\": expected one of: error warn info debug trace")
        .expect_failure("kernel arguments refused");
    boot(Firmware::Bios, "timer_hz=99999999999")
        .expect("bad value \"99999999999\" for kernel argument key \"timer_hz\"")
        .expect_failure("kernel arguments refused");
    boot(Firmware::Bios, "test=nonexistent")
        .expect("bad value \"nonexistent\" for kernel argument key \"test\"")
        .expect_failure("kernel arguments refused");
}

#[test]
fn kernel_arguments_reach_the_kernel() {
    boot(Firmware::Bios, "log=debug timer_hz=50 ticks=2")
        .expect("arguments (")
        .expect("bytes from fw_cfg): log=debug timer_hz=50 ticks=2")
        .expect("[debug] kernel text")
        .expect("demo: waiting for 2 timer ticks at 50 Hz")
        .expect_success();
}

#[test]
fn the_runner_times_out_and_says_so() {
    let run = boot_with(Firmware::Bios, "ticks=1000000", &["--timeout", "3"]);
    assert_eq!(run.runner_status, RUNNER_TIMEOUT, "{}", run.runner_log);
    assert!(run.runner_log.contains("timed out after 3s"), "{}", run.runner_log);
}

#[test]
fn the_runner_refuses_bad_options() {
    let run = boot_with(Firmware::Bios, "", &["--memory", "12"]);
    assert_eq!(run.runner_status, RUNNER_USAGE);
    assert!(run.runner_log.contains("--memory must be a whole number of MiB, at least 128"), "{}", run.runner_log);
}

#[test]
fn the_host_tool_boots_the_demo_and_exits_with_the_kernel_result() {
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["--args", "ticks=2", "--timeout", "120"])
        .output()
        .expect("running the shoal host tool");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    assert_eq!(output.status.code(), Some(0), "{serial}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(serial.contains("demo: 2 ticks in total") && serial.contains("demo: done"), "{serial}");

    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["--args", "test=panic", "--timeout", "120"])
        .output()
        .expect("running the shoal host tool");
    assert_eq!(output.status.code(), Some(RUNNER_KERNEL_FAILURE));
}

#[test]
fn xapic_and_2mib_direct_map_paths_work_on_a_cpu_without_x2apic_and_1gib_pages() {
    boot_with(Firmware::Bios, "test=all", &["--cpu", "max,phys-bits=39,-x2apic,-pdpe1gb"])
        .expect("cpu: apic=yes x2apic=no")
        .expect("1g-pages=no")
        .expect("apic: xapic id 0")
        .expect("memory: direct map 4096 MiB in 2 MiB pages")
        .expect("ktest: 11 suite(s), 41 checks passed")
        .expect_success();
}

#[test]
fn five_thousand_processes_run_with_exact_exit_codes_and_return_every_frame() {
    let run = boot_with(Firmware::Bios, "test=processes", &["--memory", "2048"]);
    run.expect("ktest: processes: 5000 processes alive, using ")
        .expect("ktest: processes: 5000 processes (more than there are PCIDs) all run and exit with their own code ... ok")
        .expect("ktest: processes: every frame the 5000 processes used came back ... ok")
        .expect("ktest: processes: spawn cost ")
        .expect("cycles per process (QEMU TCG emulated cycles, not a hardware figure)")
        .expect_success();
}

#[test]
fn spinners_that_never_yield_are_preempted() {
    let run = boot(Firmware::Bios, "test=preemption quantum_ticks=2");
    run.expect("ktest: preemption: spinners that never yield are preempted and all finish ... ok")
        .expect_success();
    assert_eq!(run.serial.matches("ktest: preemption: spinner ").count(), 4, "{}", run.serial);
}

#[test]
fn each_user_fault_kills_only_the_offender_with_a_report() {
    let run = boot(Firmware::Bios, "test=user-faults");
    run.expect("(fault-write-ro): killed by #PF page fault at RIP ")
        .expect("(protection violation, write, user)")
        .expect("(fault-exec-nx): killed by #PF page fault at RIP ")
        .expect("(protection violation, read, instruction fetch, user)")
        .expect("(fault-kernel-address): killed by #PF page fault at RIP ")
        .expect("address 0xffff800000000000 (protection violation, read, user)")
        .expect("(fault-exec-window): killed by #PF page fault at RIP ")
        .expect("(fault-divide): killed by #DE divide error at RIP ")
        .expect("(fault-invalid-opcode): killed by #UD invalid opcode at RIP ")
        .expect("ktest: user-faults: all 6 checks passed")
        .expect_success();
    // The write fault's address is the read-only datum the program announced.
    let target = run.hex_after("fault-write-ro: writing to read-only data at ");
    let reported = run.hex_after("(fault-write-ro): killed by #PF page fault at RIP ");
    let address_line = run.serial.lines().find(|line| line.contains("(fault-write-ro): killed")).unwrap_or("");
    assert!(address_line.contains(&format!("address {target:#x}")), "{address_line} should name {target:#x} (RIP {reported:#x})");
    assert_eq!(run.serial.matches("sibling exited with 0, frames all back").count(), 6, "{}", run.serial);
}

#[test]
fn broken_elf_files_are_each_refused_and_bad_system_calls_get_error_codes() {
    let run = boot(Firmware::Bios, "test=bad-elf");
    run.expect("ktest: bad-elf: corpus-truncated")
        .expect("refused (unsupported-relocation): relocation 1 has unsupported type 7 (R_X86_64_JUMP_SLOT)")
        .expect("refused (overlapping-segments)")
        .expect("refused (write-and-execute)")
        .expect("refused (wrong-machine)")
        .expect("refused (outside-user-range)")
        .expect("refused (bad-entry)")
        .expect("broken files refused, no frame lost")
        .expect("ktest: bad-elf: a valid program still runs after the refusals ... ok")
        .expect_success();
    let run = boot(Firmware::Bios, "test=bad-syscalls log=debug");
    run.expect("bad-syscalls: unknown call 99 -> unknown-syscall ok")
        .expect("bad-syscalls: write kernel address -> bad-address ok")
        .expect("bad-syscalls: write past the end of user space -> bad-address ok")
        .expect("bad-syscalls: wait with read-only status -> bad-address ok")
        .expect("bad-syscalls: spawn unknown binary -> not-found ok")
        .expect("bad-syscalls: 0 failures")
        .expect("spawn-wait: 8 children spawned and reaped, 0 wrong")
        .expect("window-guard: protect own code (window) writable -> forbidden ok")
        .expect("window-guard: protect the kernel half -> forbidden ok")
        .expect("window-guard: verify own binary digest ok")
        .expect("window-guard: 0 failures")
        .expect("ktest: bad-syscalls: all 3 checks passed")
        .expect_success();
    assert!(!run.serial.contains("FAILED"), "{}", run.serial);
}

#[test]
fn spawn_and_context_switch_costs_are_reported_with_their_engine() {
    boot(Firmware::Bios, "test=costs pcid=off")
        .expect("translation: pcid mode unavailable (the CPU has no PCID)")
        .expect("ktest: costs: spawn ")
        .expect("ktest: costs: context switch ")
        .expect("cycles per switch, yield system call included")
        .expect("(QEMU TCG emulated cycles, not a hardware figure)")
        .expect_success();
}

#[test]
fn the_window_is_mapped_identically_in_every_mode_for_1_10_and_1000_processes() {
    let run = boot_with(Firmware::Bios, "test=global-segment", &["--memory", "2048"]);
    for mode in ["global=on share_tables=on", "global=off share_tables=on", "global=on share_tables=off", "global=off share_tables=off"] {
        for density in [1, 10, 1000] {
            run.expect(&format!("ktest: global-segment: {mode}: {density} processes of hello and yield-loop map the window identically"));
        }
    }
    run.expect("ktest: global-segment: the read-only digests are unchanged after 4 modes x 1011 processes ... ok")
        .expect("ktest: global-segment: all 13 checks passed")
        .expect_success();
}

#[test]
fn large_pages_map_every_read_only_region_with_one_2_mib_page() {
    let run = boot_with(Firmware::Bios, "test=global-large large_pages=on", &["--memory", "2048"]);
    run.expect("translation: window leaves: one 2 MiB page per read-only 2 MiB region (large_pages=on)");
    let regions = run.decimal_after("read-only regions mapped with 2 MiB pages", "global segment: ");
    assert!(regions > 0, "no read-only region mapped with a 2 MiB page");
    run.expect(&format!("global segment: {regions} of {regions} read-only regions mapped with 2 MiB pages"));
    for mode in ["global=on share_tables=on", "global=off share_tables=on", "global=on share_tables=off", "global=off share_tables=off"] {
        run.expect(&format!("ktest: global-large: {mode}: 10 processes map "));
    }
    run.expect("ktest: global-large: every read-only region is one 2 MiB page, in every process and mode, with no table below it ... ok")
        .expect("ktest: global-large: exit-code: 3 read-only pages in 3 2 MiB pages (1533 zeroed filler frames); the load took 1537 frames, the unload gave all back")
        .expect("ktest: global-large: the digests and the zeroed filler hold after the processes ran ... ok")
        .expect("ktest: global-large: all 3 checks passed")
        .expect_success();
    // Without large_pages=on the suite refuses to pretend.
    boot_with(Firmware::Bios, "test=global-large", &["--memory", "2048"])
        .expect("FAILED: this suite needs the window's 2 MiB pages: boot with large_pages=on")
        .expect_failure("test failed");
}

#[test]
fn page_tables_per_process_do_not_grow_with_binary_size_when_shared() {
    let run = boot_with(Firmware::Bios, "test=global-tables", &["--memory", "2048"]);
    run.expect("global=on share_tables=on: hello (4 read-only pages): 3 page-table pages per process (layout predicts 3)")
        .expect("global=on share_tables=on: big-rodata (4101 read-only pages): 3 page-table pages per process (layout predicts 3)")
        .expect("ktest: global-tables: a spawn allocates exactly the private frames, no read-only page ... ok")
        .expect("ktest: global-tables: shared tables: equal for both sizes; private tables: more for the large binary ... ok")
        .expect("ktest: global-tables: foreign-layout: 0 read-only, 1 mixed, 0 writable regions; 10 processes ran with identical read-only entries")
        .expect("ktest: global-tables: all 10 checks passed")
        .expect_success();
    // Without sharing, the large binary's process owns more tables than the small one's.
    let small = run.decimal_after("share_tables=off: hello (", "read-only pages): ");
    let large = run.decimal_after("share_tables=off: big-rodata (", "read-only pages): ");
    assert!(large > small, "{large} tables for big-rodata, {small} for hello, without sharing");
}

#[test]
fn a_slot_reused_after_an_unload_never_shows_a_stale_translation() {
    let run = boot_with(Firmware::Bios, "test=global-stale", &["--memory", "2048"]);
    for mode in ["global=on share_tables=on", "global=off share_tables=on", "global=on share_tables=off", "global=off share_tables=off"] {
        run.expect(&format!("ktest: global-segment: {mode}: slot "));
    }
    for mode in ["global=on share_tables=on", "global=off share_tables=on", "global=on share_tables=off", "global=off share_tables=off"] {
        run.expect(&format!("ktest: global-segment: {mode}: slot "))
            .expect(&format!("ktest: global-segment: {mode}: unloaded hello (slot 2) with 5 live bystanders: 5 window entries cleared, "))
            .expect(" reused by exit-code with live bystanders: its process ran exit-code, not the stale hello");
    }
    // The live unload and load reach every bystander (3 instances, 2 fresh processes): one
    // entry each with shared tables, private copies of the binary's tables without.
    run.expect("ktest: global-segment: global=on share_tables=on: unloaded exit-code (slot 12) with 5 live bystanders: 5 window entries cleared, 0 page-table frames freed")
        .expect("ktest: global-segment: global=off share_tables=on: loaded exit-code into slot 2 with 5 live bystanders: 5 window entries written, 0 page-table frames copied")
        .expect("ktest: global-stale: with live bystanders: they see the slot emptied, then the new binary, and run on ... ok");
    let copied = run.decimal_after("global=on share_tables=off: loaded exit-code into slot ", "5 window entries written, ");
    let freed = run.decimal_after("global=off share_tables=off: unloaded exit-code (slot 12)", "5 window entries cleared, ");
    assert!(copied >= 10 && copied == freed, "{copied} page-table frames copied into 5 bystanders without shared tables, {freed} freed");
    run.expect("ktest: global-stale: all 8 checks passed").expect_success();
}

#[test]
fn a_user_process_spawns_a_binary_that_is_not_loaded_while_others_run() {
    let run = boot_with(Firmware::Bios, "test=global-live", &["--memory", "2048"]);
    for mode in ["global=on share_tables=on", "global=off share_tables=on", "global=on share_tables=off", "global=off share_tables=off"] {
        run.expect(&format!("ktest: global-live: {mode}: spawn-wait spawned 3 children of the unloaded exit-code beside 3 live instances"));
    }
    // The load happened inside the user's spawn, with 3 instances and the parent alive.
    run.expect("registry: loaded exit-code into slot ")
        .expect(" while 4 address spaces live: 4 window entries written, 0 page-table frames copied")
        .expect("spawn-wait: 3 children spawned and reaped, 0 wrong")
        .expect("ktest: global-live: global=on share_tables=off: a live load of exit-code (")
        .expect("tables per space) with frames for 2 of 3 spaces failed with out-of-memory and was rolled back")
        .expect("ktest: global-live: all 5 checks passed")
        .expect_success();
}

#[test]
fn the_demo_prints_the_global_segment_report_with_invariants_holding() {
    let run = boot(Firmware::Bios, "ticks=1");
    run.expect("translation: global segment global=on share_tables=on")
        .expect("report: global segment, global=on share_tables=on, ")
        .expect("report: process ")
        .expect("invariants hold")
        .expect("report: 29 address spaces, ")
        .expect("invariants hold in every address space")
        .expect_success();
    assert!(!run.serial.contains("BROKEN"), "{}", run.serial);
}

#[test]
fn without_pcid_the_mode_is_reported_unavailable_and_the_hardware_suite_passes() {
    boot(Firmware::Bios, "test=hardware pcids=16")
        .expect("translation: pcid mode unavailable (the CPU has no PCID) (16 PCIDs in the pool)")
        .expect("ktest: pcid: CPU pcid=false CR4.PCIDE=false mode on=false")
        .expect("ktest: pcid: 18 processes, 15 PCIDs: 0 assignments (each flushed), 0 switches kept their entries, 0 PCIDs taken back")
        .expect("ktest: 7 suite(s), 35 checks passed")
        .expect_success();
}

#[test]
fn protection_keys_keep_a_process_from_reading_another_binarys_data() {
    let run = boot(Firmware::Bios, "test=keys");
    run.expect("translation: global segment global=on share_tables=on; protection keys on (one per binary slot, 15 keys)")
        .expect("(read-address): killed by #PF page fault at RIP ")
        .expect("(protection violation, read, user, protection key)")
        .expect("ktest: keys: all 3 checks passed")
        .expect("keys-syscall: spawn(other + i, 1) for i in 0..64: always bad-address ok")
        .expect_success();
}

/// The command, `cargo run -- --memory 2048 --args "test=hostile"`: RFLAGS attacks,
/// 3 seeds x 200,000 random system calls, boundary pointers, protection keys through system
/// calls, UMIP, a forged verdict, heap exhaustion from 16 processes, a fork bomb and a spawn
/// flood; after each the kernel is up with every frame and heap byte back.
#[test]
fn hostile_processes_cannot_crash_hang_or_fool_the_kernel() {
    let run = boot_with(Firmware::Bios, "test=hostile", &["--memory", "2048", "--timeout", "600"]);
    run.expect_success()
        .expect("ktest: hostile: fuzzing done: 3 seeds x 200000 calls = 600000 system calls")
        .expect("ktest: hostile: a fuzzer that sets TF is killed by #DB, and the next one runs ... ok")
        .expect("killed by #DB debug exception")
        .expect(" interrupts from user mode with AC set; the kernel ran 0 of them with AC set")
        .expect("(umip-probe): killed by #GP general protection fault")
        .expect("spawn-refusals: corpus-truncated -> bad-executable ok")
        .expect("hostile-heap: wedge: 0 failures")
        .expect("ktest: hostile: all 21 checks passed");
    // The forged verdicts are there, tagged as the process's output ...
    let forger = run.serial.lines().find(|line| line.ends_with("] shoal: exit success")).expect("the forged lines, tagged");
    assert!(forger.starts_with('['), "{forger}");
    run.expect("\\rshoal: exit success").expect("text\\u{1b}[2K\\rshoal: exit success").expect("a\\u{0}b\\u{7}c");
    // ... and no line but the kernel's own starts with the status prefix (what bochs-runner.sh
    // and the host tool read), and no raw control character reached the console.
    let status_lines: Vec<&str> = run.serial.lines().filter(|line| line.starts_with(STATUS_PREFIX)).collect();
    assert_eq!(status_lines, ["shoal: exit success"], "{}", run.serial);
    assert!(!run.serial.contains(['\u{1b}', '\0', '\u{7}']), "raw control characters in the output");
}

/// The exhaustion checks with a 6 MiB kernel heap, of which booting uses about 4.6 MB: 16
/// processes that map all of a 2 GiB guest (half a million frames) must not cost the kernel heap
/// a byte, or the kernel panics here (frame lists on the heap did, with 4 GiB and 16 MiB).
#[test]
fn memory_exhaustion_costs_no_kernel_heap() {
    boot_with(Firmware::Bios, "test=hostile-exhaustion heap_bytes=6291456", &["--memory", "2048", "--timeout", "600"])
        .expect("heap 6144 KiB")
        .expect("ktest: hostile-exhaustion: all 4 checks passed")
        .expect_success();
}

/// Nothing can ever run again (an instance waits for an invocation and no driver runs): the run
/// ends with a report naming the blocked process instead of idling until the timeout.
#[test]
fn a_run_where_no_process_can_run_again_ends_with_a_report() {
    boot(Firmware::Bios, "test=stuck")
        .expect("(synth-small) is blocked: waits for an invocation that no driver will send")
        .expect("scheduler: 1 processes are alive and none can ever run again")
        .expect_failure("no process can run again");
}

#[test]
fn without_a_pmu_the_boot_log_says_why() {
    // The default `-cpu max` is an AMD model without PerfCtrExtCore behind TCG's hypervisor bit.
    boot(Firmware::Bios, "test=timer")
        .expect("\npmu: unavailable (AMD CPU without PerfCtrExtCore under a hypervisor: the legacy counters are not promised)\n")
        .expect_success();
    // An Intel model: TCG answers CPUID leaf 0xA with zeros.
    boot_with(Firmware::Bios, "test=timer", &["--cpu", "Skylake-Client,phys-bits=39"])
        .expect("cpu: GenuineIntel family 0x6 model 0x5e")
        .expect("\npmu: unavailable (CPUID leaf 0xA reports version 0)\n")
        .expect_success();
}

#[test]
fn every_realistic_handler_passes_its_self_check_with_several_instances() {
    // The WebAssembly runtime: 3 warm instances of each of the 8 function modules, 3 rounds.
    let run = boot(Firmware::Bios, "test=wasm");
    run.expect("ktest: wasm: every instance compiles and instantiates its module ... ok")
        .expect("ktest: wasm: every instance answers every invocation of every round ... ok")
        .expect("ktest: wasm: the instances of each function agree on the checksum of a seed ... ok")
        .expect("ktest: wasm: a corrupted invocation fails each handler's self-check and ends its instance ... ok")
        .expect("wasm-runtime: no function 8: the functions are 0..8")
        .expect("ktest: wasm: after the failures a fresh instance gives the same answer, and every frame is back ... ok")
        .expect("ktest: wasm: all 8 checks passed")
        .expect_success();
    for name in ["json", "aes", "compress", "sha256", "matmul", "rotate", "regex", "pagerank"] {
        run.expect(&format!("ktest: wasm: {name}: 9 invocations, checksum 0x"))
            .expect(&format!("wasm-runtime: handler {name} failed its self-check "))
            .expect(&format!("ktest: wasm: {name}: the corrupted invocation failed the self-check; instance "));
    }
    // A failed self-check is reported as one; nothing traps.
    assert!(!run.serial.contains("trapped"), "{}", run.serial);
}

#[test]
fn a_musl_static_pie_runs_on_the_linux_personality_and_bad_binaries_are_refused() {
    // `linux-abi` (C, musl static-pie) checks every implemented Linux call itself; it runs twice.
    let run = boot(Firmware::Bios, "test=linux-abi");
    run.expect("linux-abi: hello from a musl static-pie")
        .expect("linux-abi: writev in two pieces")
        .expect("linux-abi: all ")
        .expect("ktest: linux-abi: a musl static-pie runs every implemented call with good and bad arguments ... ok")
        .expect("ktest: linux-abi: its read-only image is shared and unwritten: the load-time digest still matches ... ok")
        .expect("ktest: linux-abi: linux-static-exec: refused (fixed-image-with-base)")
        .expect("ktest: linux-abi: linux-dynamic: refused (interpreter)")
        .expect("ktest: linux-abi: every frame is back ... ok")
        .expect("linux-std-test: ok")
        .expect("ktest: linux-abi: a Rust std program (println!, collections, time, a ramdisk file) runs ... ok")
        .expect("ktest: linux-abi: js-runtime: json: 2 invocations, checksum 0x")
        .expect("js-runtime: handler pagerank failed its self-check ")
        .expect("ktest: linux-abi: lua-runtime: json: 2 invocations, checksum 0x")
        .expect("lua-runtime: handler pagerank failed its self-check ")
        .expect("ktest: linux-abi: all 21 checks passed")
        .expect_success();
    assert!(!run.serial.contains("linux-abi: FAIL"), "{}", run.serial);
    // An unimplemented call answers ENOSYS and is reported once per number and process: the
    // program calls fork twice and numbers past the table three times, in each of its two runs.
    assert_eq!(run.serial.matches("linux: unimplemented system call 57 (fork) by pid ").count(), 2, "{}", run.serial);
    assert_eq!(run.serial.matches("linux: unimplemented system call 100000 (?) by pid ").count(), 2, "{}", run.serial);
    // Numbers Linux does not assign share one report per process: 100001 and -1 add none.
    assert_eq!(run.serial.matches("linux: unimplemented system call ").count(), 4, "{}", run.serial);
}
