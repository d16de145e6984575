//! The bootable ISO: `shoal iso` wraps the UEFI system partition as an El Torito EFI boot image,
//! and the ISO boots under OVMF from a CD-ROM (`qemu-runner.sh --iso`) to the kernel's banner and
//! its success status.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[test]
fn the_iso_boots_under_ovmf_from_a_cdrom() {
    let dir = tempfile::Builder::new().prefix("shoal-test-iso-").tempdir().expect("creating a temporary directory");
    let iso = dir.path().join("shoal.iso");
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["iso", "--out"])
        .arg(&iso)
        .output()
        .expect("running the shoal host tool");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "shoal iso failed:\n{log}");
    assert!(
        log.contains("xorriso -as mkisofs -e efi.img -no-emul-boot -o"),
        "shoal iso prints the xorriso command:\n{log}"
    );
    // ISO 9660: the primary volume descriptor at sector 16, then the El Torito boot record.
    let bytes = std::fs::read(&iso).expect("reading the ISO");
    assert_eq!(
        &bytes[0x8001..0x8006],
        b"CD001",
        "not an ISO 9660 file system"
    );
    assert_eq!(&bytes[0x8801..0x8806], b"CD001");
    assert_eq!(
        &bytes[0x8807..0x8807 + 23],
        b"EL TORITO SPECIFICATION",
        "no El Torito boot record"
    );

    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh");
    let started = Instant::now();
    let output = Command::new(runner)
        .args([
            "--mode",
            "test",
            "--firmware",
            "uefi",
            "--iso",
            "--timeout",
            "120",
            "--args",
            "ticks=1",
        ])
        .arg(&iso)
        .output()
        .expect("running qemu-runner.sh");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    let log = String::from_utf8_lossy(&output.stderr);
    eprintln!("the ISO boot took {:.1} s", started.elapsed().as_secs_f64());
    assert!(
        log.contains(&format!("-cdrom {}", iso.display())),
        "the runner attaches the ISO as a CD-ROM:\n{log}"
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "runner log:\n{log}\nkernel output:\n{serial}"
    );
    assert!(
        serial.contains("shoal 0.1.0 — a research microkernel"),
        "no banner:\n{serial}"
    );
    assert!(serial.contains("demo: done"), "{serial}");
    assert!(
        serial.lines().any(|line| line == "shoal: exit success"),
        "{serial}"
    );
}

#[test]
fn the_runner_refuses_an_iso_without_uefi() {
    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh");
    let output = Command::new(runner)
        .args([
            "--mode",
            "test",
            "--firmware",
            "bios",
            "--iso",
            "--dry-run",
            env!("SHOAL_UEFI_PARTITION"),
        ])
        .output()
        .expect("running qemu-runner.sh");
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--iso needs --firmware uefi"));
}

#[test]
fn an_iso_made_with_args_runs_them_without_fw_cfg_arguments() {
    let dir = tempfile::Builder::new().prefix("shoal-test-iso-args-").tempdir().expect("creating a temporary directory");
    let iso = dir.path().join("shoal-args.iso");
    let output = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["iso", "--args", "test=timer ticks=2", "--out"])
        .arg(&iso)
        .output()
        .expect("running the shoal host tool");
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "shoal iso --args failed:\n{log}");
    assert!(log.contains("mformat -i ") && log.contains(" -F -v SHOAL ::"), "the partition is rebuilt as FAT32:\n{log}");

    // No --args for the runner: the kernel finds no fw_cfg argument file and reads the ramdisk's.
    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh");
    let output = Command::new(runner)
        .args(["--mode", "test", "--firmware", "uefi", "--iso", "--timeout", "120"])
        .arg(&iso)
        .output()
        .expect("running qemu-runner.sh");
    let serial = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    assert_eq!(output.status.code(), Some(0), "kernel output:\n{serial}");
    assert!(serial.contains("arguments (18 bytes from the ramdisk's `args` file)"), "{serial}");
    assert!(serial.contains("ktest: timer: all "), "{serial}");

    let refused = Command::new(env!("CARGO_BIN_EXE_shoal"))
        .args(["iso", "--args", "test=timer\tlog=debug", "--out"])
        .arg(dir.path().join("refused.iso"))
        .output()
        .expect("running the shoal host tool");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("shoal: iso: --args may hold printable ASCII and spaces only, not '\\t'"));
    assert!(!dir.path().join("refused.iso").exists(), "nothing is written for refused arguments");
}
