//! The Linux baselines of `shoal bench --baseline`: the same musl workload files on a Debian
//! Linux guest under the same simulator.
//!
//! A baseline unit boots the pinned guest kernel ([`crate::linux_guest::GuestKernel`]) with an
//! initramfs this module writes once per run: `/init` is `linux-guest-init`
//! (`userland/linux/guest`), the density driver that mirrors shoal's, and `/bin/<file>` holds
//! every workload's `linux-musl` build, the stripped files shoal's bench image holds. The
//! kernel command line is [`crate::linux_guest::guest_command_line`] plus the baseline's own
//! parameters; after `--` come the driver's arguments (Linux hands them to init). The driver
//! prints shoal's result line with `kernel=<baseline>`, so the rows join like shoal's.

use std::path::Path;

use kernel_args::{Build, Workload};

use super::unit::{self, Unit};
use crate::linux_guest::{self, initramfs::Initramfs};

/// The Linux baselines: `linux` (Debian 12's kernel as it boots on this CPU model: no PTI, since
/// QEMU's `max` CPU model under TCG is an AMD one, which Linux does not isolate, and no
/// transparent huge pages), `linux-pti` (page-table isolation forced on, `pti=on`: the
/// Meltdown-era configuration, which switches CR3 at every kernel entry and exit) and
/// `linux-thp` (transparent huge pages always, and the workload started from a tmpfs mounted
/// `huge=always`, so that its file pages, text included, may be mapped with 2 MiB pages where a
/// whole aligned 2 MiB of a mapping allows it; the results say how much was) and `linux-batch`
/// (the `linux` kernel with the driver under `SCHED_BATCH`, whose wake-ups never preempt an
/// instance: an invocation then switches address spaces exactly twice, as the driver's design
/// says, where under the default policy an instance that ran longer than the scheduler's wake-up
/// granularity is preempted by the driver's wake-up and switched in once more later; the
/// result line's `instance_preemptions` counts those switches).
pub(crate) const BASELINES: [&str; 4] = ["linux", "linux-pti", "linux-thp", "linux-batch"];

/// Returns the kernel parameters a baseline adds to the common command line (a later
/// `transparent_hugepage=` overrides the common `never`).
fn parameters(baseline: &str) -> &'static str {
    match baseline {
        "linux-pti" => "pti=on",
        "linux-thp" => "transparent_hugepage=always",
        _ => "",
    }
}

/// Returns the guest kernel's command line for `baseline`, without the driver's arguments: what
/// the results' `guest_cmdline` column records.
pub(crate) fn command_line(baseline: &str) -> String {
    linux_guest::guest_command_line(parameters(baseline))
}

/// Returns the whole command line of a baseline unit: the kernel's, then `--` and the driver's
/// arguments for this configuration.
pub(crate) fn unit_command_line(unit: &Unit, warmup: u32, invocations: u32) -> String {
    let workload = unit::workload_named(&unit.workload);
    let file = workload.map_or(unit.workload.as_str(), |known| known.file_name(Build::LinuxMusl));
    let handlers = u8::from(workload.is_some_and(Workload::hosts_handlers));
    format!(
        "{} -- workload={} file={file} instances={} warmup={warmup} invocations={invocations} handlers={handlers} kernel={} thp={} sched={}",
        command_line(&unit.kernel),
        unit.workload,
        unit.instances,
        unit.kernel,
        u8::from(unit.kernel == "linux-thp"),
        if unit.kernel == "linux-batch" { "batch" } else { "normal" }
    )
}

/// The stripped Linux programs built by `build.rs` (`user-<name>`).
const STRIPPED: &str = env!("SHOAL_LINUX_STRIPPED");

/// Writes the guest's initramfs to `path`: `/init` (the driver) and `/bin/<file>` for the
/// `linux-musl` build of each of `workloads` that has one.
///
/// # Errors
/// Returns a message naming the file that could not be read or written.
pub(crate) fn write_initramfs(path: &Path, workloads: &[String]) -> Result<(), String> {
    let read = |name: &str| {
        let file = Path::new(STRIPPED).join(format!("user-{name}"));
        std::fs::read(&file).map_err(|error| format!("reading {}: {error} (built by the build script)", file.display()))
    };
    let mut archive = Initramfs::new();
    let fail = |error: linux_guest::initramfs::InitramfsError| format!("initramfs: {error}");
    archive.add_file(linux_guest::GUEST_INIT_PATH.trim_start_matches('/'), &read("linux-guest-init")?, 0o755).map_err(fail)?;
    archive.add_directory("bin", 0o755).map_err(fail)?;
    archive.add_directory("proc", 0o555).map_err(fail)?;
    for workload in workloads.iter().filter_map(|name| unit::workload_named(name)) {
        if workload.has_build(Build::LinuxMusl) {
            let file = workload.file_name(Build::LinuxMusl);
            archive.add_file(&format!("bin/{file}"), &read(file)?, 0o755).map_err(fail)?;
        }
    }
    archive.write(path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kernel_args::WindowMode;

    fn unit(workload: &str, kernel: &str) -> Unit {
        Unit {
            workload: workload.into(),
            binary: "linux-musl".into(),
            pcid: "off".into(),
            mode: WindowMode::LocalPrivate,
            large_pages: false,
            instances: 16,
            plugin: true,
            kernel: kernel.into(),
        }
    }

    #[test]
    fn a_baseline_unit_passes_the_driver_its_configuration_after_the_kernel_parameters() {
        assert_eq!(
            unit_command_line(&unit("synth-small", "linux"), 512, 1024),
            format!("{} -- workload=synth-small file=synth-small-musl instances=16 warmup=512 invocations=1024 handlers=0 kernel=linux thp=0 sched=normal", command_line("linux"))
        );
        let pti = unit_command_line(&unit("js-runtime", "linux-pti"), 8, 8);
        assert!(pti.contains(" pti=on ") && pti.ends_with("-- workload=js-runtime file=js-runtime instances=16 warmup=8 invocations=8 handlers=1 kernel=linux-pti thp=0 sched=normal"), "{pti}");
        assert!(!command_line("linux").contains("pti="));
        let thp = unit_command_line(&unit("synth-small", "linux-thp"), 8, 8);
        assert!(thp.contains("transparent_hugepage=never") && thp.contains(" transparent_hugepage=always ") && thp.ends_with(" kernel=linux-thp thp=1 sched=normal"), "the later value wins: {thp}");
        let batch = unit_command_line(&unit("wasm-runtime", "linux-batch"), 8, 8);
        assert!(batch.starts_with(&format!("{} -- ", command_line("linux"))) && batch.ends_with(" kernel=linux-batch thp=0 sched=batch"), "the linux kernel, the driver under SCHED_BATCH: {batch}");
    }

    #[test]
    fn the_initramfs_holds_the_driver_and_each_musl_workload() {
        let path = std::env::temp_dir().join(format!("shoal-initramfs-test-{}.cpio", std::process::id()));
        write_initramfs(&path, &["synth-small".into(), "synth-large".into(), "lua-runtime".into()]).unwrap();
        let listing = std::process::Command::new("cpio").arg("-it").stdin(std::fs::File::open(&path).unwrap()).output().expect("cpio (setup.sh installs it)");
        let _ = std::fs::remove_file(&path);
        let names: Vec<String> = String::from_utf8_lossy(&listing.stdout).lines().map(str::to_owned).collect();
        assert_eq!(names, ["dev", "dev/console", "init", "bin", "proc", "bin/synth-small-musl", "bin/lua-runtime"]);
    }
}
