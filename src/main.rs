//! `shoal` — the host tool: boots the shoal kernel in QEMU and reports how the run ended.
//!
//! `cargo run` boots the default demo on the BIOS image under QEMU TCG and exits with the
//! kernel's result. Every QEMU flag lives in `qemu-runner.sh`; this tool chooses the image,
//! validates the options, and calls the script. The images are built by `build.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand, ValueEnum};

/// The BIOS disk image built by `build.rs`.
const BIOS_IMAGE: &str = env!("SHOAL_BIOS_IMAGE");
/// The UEFI disk image built by `build.rs`.
const UEFI_IMAGE: &str = env!("SHOAL_UEFI_IMAGE");
/// The unstripped kernel ELF, for a debugger.
const KERNEL_ELF: &str = env!("SHOAL_KERNEL_ELF");

/// Boots the shoal research microkernel in QEMU.
///
/// Without a subcommand, boots the default demo: the kernel prints its banner, the CPU features
/// and a memory summary, shows the timer ticking, runs the processes of the ramdisk's default
/// scenario, and exits; this tool exits with the kernel's result (0 success, 2 kernel failure,
/// 3 QEMU failure, 124 timeout).
#[derive(Parser, Debug)]
#[command(name = "shoal", version, about, long_about = None, after_help = KERNEL_ARGS_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Option<Commands>,
    #[command(flatten)]
    boot: BootOptions,
}

#[derive(Subcommand, Debug)]
enum Commands {
    /// Boot the kernel (the default when no subcommand is given).
    Run(BootOptions),
    /// Print the paths of the disk images and of the kernel ELF.
    Images,
}

/// How to boot.
#[derive(clap::Args, Debug, Clone)]
struct BootOptions {
    /// Firmware to boot through.
    #[arg(long, value_enum, default_value_t = Firmware::Bios)]
    firmware: Firmware,
    /// Execution engine: QEMU's TCG emulator, or KVM (on this machine /dev/kvm is PVM, a software
    /// virtualiser whose timings are not hardware timings; the runner warns).
    #[arg(long, value_enum, default_value_t = Accel::Tcg)]
    accel: Accel,
    /// Guest memory in MiB (at least 128).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(128..))]
    memory: u32,
    /// Kernel arguments, e.g. "log=debug ticks=50" (see the list below).
    #[arg(long = "args", default_value = "")]
    kernel_args: String,
    /// Stop QEMU after this many seconds; 0 waits forever.
    #[arg(long, default_value_t = 300)]
    timeout: u32,
    /// QEMU CPU model (default: max under TCG, host under KVM).
    #[arg(long)]
    cpu: Option<String>,
    /// Print the QEMU command without running it.
    #[arg(long)]
    dry_run: bool,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum Firmware {
    Bios,
    Uefi,
}

#[derive(ValueEnum, Debug, Clone, Copy)]
enum Accel {
    Tcg,
    Kvm,
}

const KERNEL_ARGS_HELP: &str = "\
Kernel arguments (--args), space separated key=value pairs; an unknown key or a bad value stops
the boot with a message:
  log=error|warn|info|debug|trace   log level (default info)
  test=SUITE                        run an in-kernel test suite instead of the demo: all,
                                    paging, memory, timer, breakpoint, preemption, user-faults,
                                    bad-elf, bad-syscalls, processes (give it --memory 2048),
                                    costs, write-kernel-text, page-fault, invalid-opcode, panic
  timer_hz=10..10000                local APIC timer frequency (default 100)
  ticks=0..1000000                  timer ticks the demo waits before its processes (default 20)
  pcid=on|off                       tag address spaces with PCIDs where the CPU has them (on)
  quantum_ticks=1..1000             timer ticks a process runs before preemption (default 1)";

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(Commands::Images) => {
            println!("bios image: {BIOS_IMAGE}");
            println!("uefi image: {UEFI_IMAGE}");
            println!("kernel elf: {KERNEL_ELF}");
            ExitCode::SUCCESS
        }
        Some(Commands::Run(options)) => boot(&options),
        None => boot(&cli.boot),
    }
}

/// Returns the path of `qemu-runner.sh` (it sits next to this package's manifest).
fn runner_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("qemu-runner.sh")
}

/// Boots the image that `options` select and returns the runner's exit status.
fn boot(options: &BootOptions) -> ExitCode {
    let image = match options.firmware {
        Firmware::Bios => BIOS_IMAGE,
        Firmware::Uefi => UEFI_IMAGE,
    };
    let mut command = Command::new(runner_path());
    command
        .arg("--mode")
        .arg("run")
        .arg("--firmware")
        .arg(match options.firmware {
            Firmware::Bios => "bios",
            Firmware::Uefi => "uefi",
        })
        .arg("--accel")
        .arg(match options.accel {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        })
        .arg("--memory")
        .arg(options.memory.to_string())
        .arg("--timeout")
        .arg(options.timeout.to_string());
    if !options.kernel_args.trim().is_empty() {
        command.arg("--args").arg(&options.kernel_args);
    }
    if let Some(cpu) = &options.cpu {
        command.arg("--cpu").arg(cpu);
    }
    if options.dry_run {
        command.arg("--dry-run");
    }
    command.arg(image);
    match command.status() {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)),
            None => {
                eprintln!("shoal: qemu-runner.sh was killed by a signal");
                ExitCode::from(3)
            }
        },
        Err(error) => {
            eprintln!("shoal: cannot run {}: {error}", runner_path().display());
            ExitCode::from(3)
        }
    }
}
