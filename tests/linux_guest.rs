//! The Linux baseline's guest boots: the kernel pinned in `guest/linux/kernel.pin` (unpacked by
//! `./setup.sh`) starts a minimal static init from an initramfs that the host tool's writer made,
//! through `qemu-runner.sh --linux-kernel`, and the init's greeting and its success status (port
//! 0xf4, as shoal reports) come back.
//!
//! The root package is a binary crate, so this test includes the host tool's `linux_guest` module
//! by path (its unit tests then run here too). Without the cached kernel it fails with the
//! module's message naming `./setup.sh`; `SHOAL_SKIP_LINUX_GUEST=1` skips it instead.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

#[path = "../src/linux_guest/mod.rs"]
mod linux_guest;

/// The guest's init: greets on its console, then ends the run with the success status.
const INIT_SOURCE: &str = r#"
#include <stdio.h>
#include <sys/io.h>
#include <unistd.h>

/* isa-debug-exit (qemu-runner.sh): QEMU exits with status (value << 1) | 1. */
#define EXIT_PORT 0xf4
#define EXIT_SUCCESS_VALUE 0x10

int main(void) {
    printf("hello from init, pid %d\n", getpid());
    fflush(stdout);
    if (ioperm(EXIT_PORT, 4, 1) != 0) {
        perror("ioperm");
        return 1; /* the kernel panics when init exits; panic=-1 ends QEMU without a status */
    }
    outb(EXIT_SUCCESS_VALUE, EXIT_PORT);
    for (;;) pause();
}
"#;

#[test]
fn the_pinned_linux_kernel_boots_an_initramfs_init_to_its_success_status() {
    if std::env::var_os("SHOAL_SKIP_LINUX_GUEST").is_some_and(|value| value == "1") {
        eprintln!("skipped: SHOAL_SKIP_LINUX_GUEST=1");
        return;
    }
    let kernel = linux_guest::GuestKernel::locate().unwrap_or_else(|message| panic!("{message}"));

    let dir = tempfile::Builder::new().prefix("shoal-test-linux-guest-").tempdir().expect("creating a temporary directory");
    let source = dir.path().join("init.c");
    let init = dir.path().join("init");
    std::fs::write(&source, INIT_SOURCE).expect("writing init.c");
    let compiled = Command::new("musl-gcc")
        .args(["-static", "-O2", "-o"])
        .arg(&init)
        .arg(&source)
        .output()
        .expect("running musl-gcc (run ./setup.sh for musl-tools)");
    assert!(compiled.status.success(), "musl-gcc failed:\n{}", String::from_utf8_lossy(&compiled.stderr));

    let mut initramfs = linux_guest::initramfs::Initramfs::new();
    let program = std::fs::read(&init).expect("reading the init program");
    initramfs
        .add_file(linux_guest::GUEST_INIT_PATH.trim_start_matches('/'), &program, 0o755)
        .expect("adding init");
    let archive = dir.path().join("initramfs.cpio");
    initramfs.write(&archive).expect("writing the initramfs");

    let runner = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh");
    let started = Instant::now();
    let output = Command::new(&runner)
        .args(["--mode", "test", "--timeout", "180", "--icount", "--linux-kernel"])
        .arg(&kernel.vmlinux)
        .arg("--initrd")
        .arg(&archive)
        .args(["--append", &linux_guest::guest_command_line("")])
        .output()
        .expect("running qemu-runner.sh");
    let console = String::from_utf8_lossy(&output.stdout);
    let log = String::from_utf8_lossy(&output.stderr);
    eprintln!("{log}the guest booted in {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(output.status.code(), Some(0), "qemu-runner.sh did not report success:\n{console}\n{log}");
    assert!(console.contains("hello from init, pid 1"), "no greeting from init:\n{console}");
    assert!(log.contains("la57=off"), "the guest's CPU has no LA57 (4-level paging):\n{log}");
}
