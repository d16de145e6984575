//! `shoal` — the host tool: boots the shoal kernel in QEMU or Bochs and reports how the run ended,
//! and makes a bootable ISO.
//!
//! `cargo run` boots the default demo on the BIOS image under QEMU TCG and exits with the
//! kernel's result. Every QEMU flag lives in `qemu-runner.sh` and every Bochs setting in
//! `bochs-runner.sh`; this tool chooses the image, validates the options, and calls the scripts.
//! The images are built by `build.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use clap::{Parser, Subcommand, ValueEnum};

mod bench;
mod iso;
mod linux_guest;

/// The BIOS disk image built by `build.rs`.
const BIOS_IMAGE: &str = env!("SHOAL_BIOS_IMAGE");
/// The UEFI disk image built by `build.rs`.
const UEFI_IMAGE: &str = env!("SHOAL_UEFI_IMAGE");
/// The BIOS disk image whose ramdisk holds the kernel arguments `test=hardware pcids=64` (for Bochs and
/// bare metal, which have no fw_cfg).
const HARDWARE_IMAGE: &str = env!("SHOAL_HARDWARE_IMAGE");
/// The UEFI system partition (a FAT image) that `shoal iso` wraps.
const UEFI_PARTITION: &str = env!("SHOAL_UEFI_PARTITION");
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
    /// Write a bootable ISO for UEFI machines (needs xorriso).
    ///
    /// The UEFI system partition becomes the ISO's El Torito EFI boot image, so UEFI machines boot
    /// it from a CD or a server's virtual media. BIOS machines boot the raw BIOS image written to
    /// a USB stick instead (`shoal images` names it): it has two partitions and cannot be an El
    /// Torito hard-disk image.
    Iso {
        /// Where to write the ISO file.
        #[arg(long)]
        out: PathBuf,
        /// Kernel arguments for the machine that boots it, stored as the ramdisk's `args` file
        /// (real machines have no fw_cfg), e.g. "test=density workload=synth-small
        /// instances=1,64,1024". The kernel checks them at boot and stops on a bad one.
        #[arg(long)]
        args: Option<String>,
        /// Start from the bench image's ramdisk (with the 8 MiB and 64 MiB synthetic runtimes).
        #[arg(long)]
        bench: bool,
    },
    /// Run the density study under the tlbsim TLB simulator and write a results folder.
    ///
    /// Boots the bench image under QEMU TCG with the tlbsim plugin, once per configuration
    /// (workload, PCID setting, window mode, instance count), up to --jobs boots at once, and
    /// writes results.csv, charts per workload (warm walks, cold walks, translation overhead,
    /// page-table pages; SVG and PNG), report.md and the raw outputs. Walk counts are the
    /// simulator's (deterministic); cycle counts are QEMU TCG's, not hardware figures.
    /// `shoal bench merge` joins the folders of --shard runs.
    Bench(Box<BenchCommand>),
    /// Boot the hardware-path test suite under Bochs (needs bochs: run ./setup.sh).
    ///
    /// Boots the BIOS image whose ramdisk file `args` holds `test=hardware pcids=64` (Bochs has no fw_cfg)
    /// through `bochs-runner.sh`, and exits with its result: 0 kernel success, 2 kernel failure,
    /// 3 Bochs ended without a status line, 124 timeout.
    Bochs(BochsOptions),
}

/// `shoal bench`: run the study (the options below) or merge shard folders.
#[derive(clap::Args, Debug, Clone)]
#[command(args_conflicts_with_subcommands = true)]
struct BenchCommand {
    #[command(subcommand)]
    action: Option<BenchAction>,
    #[command(flatten)]
    arguments: BenchArguments,
}

#[derive(Subcommand, Debug, Clone)]
enum BenchAction {
    /// Join the results folders of `--shard K/N` runs into one results folder.
    ///
    /// The shards must come from one study (the same options but --shard, checked against each
    /// folder's manifest.txt), each shard once, all N present. The result is the folder a single
    /// run would have written: results.csv, charts and report.md are rebuilt from the shards'
    /// raw outputs.
    Merge {
        /// The shard folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// The merged results folder.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Options of `shoal bench`.
#[derive(clap::Args, Debug, Clone)]
struct BenchArguments {
    /// The quick preset: synth-small, instances 1,2,4,8,16 (a few minutes). Without it: the full
    /// sweep, every workload, instances 1,4,16,64,256,1024 (hours).
    #[arg(long)]
    quick: bool,
    /// Workloads, comma-separated (overrides the preset): synth-small (1 MiB code + 1 MiB data),
    /// synth-medium (8 + 8 MiB), synth-large (64 + 64 MiB), wasm-runtime (eight WebAssembly
    /// handlers), js-runtime and lua-runtime (the same handlers in JavaScript on QuickJS and in
    /// Lua 5.4: Linux static-pie binaries).
    #[arg(long, value_delimiter = ',')]
    workload: Option<Vec<String>>,
    /// Builds to run, comma-separated: native (shoal's own ABI) and/or linux-musl (a musl
    /// static-pie on shoal's Linux personality), each for every workload that has it
    /// (synth-small and wasm-runtime have both, js-runtime and lua-runtime only linux-musl).
    /// Default: each workload's first build (native where it has one).
    #[arg(long, value_delimiter = ',')]
    binary: Vec<String>,
    /// Instance counts, comma-separated and increasing, at most 16 (overrides the preset).
    #[arg(long, value_delimiter = ',')]
    instances: Option<Vec<u32>>,
    /// Window modes, comma-separated: global-shared, local-shared, global-private,
    /// local-private (global bit on/off x shared page tables on/off).
    #[arg(long, value_delimiter = ',', default_value = "global-shared,local-shared,global-private,local-private")]
    modes: Vec<String>,
    /// Warm-up invocations per configuration, before the measured ones (whole rounds of all
    /// instances, at least one round). The default reaches steady state for every shipped
    /// workload (see the README).
    #[arg(long, default_value_t = kernel_args::DEFAULT_WARMUP)]
    warmup: u32,
    /// Measured invocations per configuration (whole rounds, at least one round).
    #[arg(long, default_value_t = kernel_args::DEFAULT_INVOCATIONS)]
    invocations: u32,
    /// Rounds instead: R rounds of warm-up and R measured rounds at every instance count (R x N
    /// invocations each for N instances); replaces --warmup and --invocations.
    #[arg(long, conflicts_with_all = ["warmup", "invocations"])]
    rounds: Option<u32>,
    /// PCID settings, comma-separated: on (simulated under TCG) and/or off.
    #[arg(long, value_delimiter = ',', default_value = "on,off")]
    pcid: Vec<String>,
    /// Leaf sizes of the global segment's read-only regions, comma-separated: off (4 KiB pages)
    /// and/or on (one 2 MiB page per read-only 2 MiB region of a binary: the kernel's
    /// large_pages=on; costs up to 2 MiB of memory per region, once, not per process).
    #[arg(long, value_delimiter = ',', default_value = "off")]
    large_pages: Vec<String>,
    /// tlbsim TLB preset: skylake-client, golden-cove, zen4 (see tlbsim/README.md).
    #[arg(long, default_value = "skylake-client")]
    preset: String,
    /// Paging-structure-cache sizes of the walk-cost model: low, nominal or high (passed to the
    /// plugin as psc=; default: the plugin's own, needs the plugin with the cost model).
    #[arg(long)]
    psc: Option<String>,
    /// Cycles per instruction of everything but the page walks, for the translation overhead
    /// (passed to the plugin as base_cpi=; default: the plugin's own).
    #[arg(long)]
    base_cpi: Option<String>,
    /// Results folder.
    #[arg(long, default_value = "results/density")]
    out: PathBuf,
    /// Guest memory in MiB per boot (the full sweep's 1024 instances without shared tables need
    /// about 2 GiB). Each boot under the plugin keeps its RAM in a /dev/shm file.
    #[arg(long, default_value_t = 4096)]
    memory: u32,
    /// QEMU boots run at once (default: the number of cores); results do not depend on it.
    #[arg(long)]
    jobs: Option<usize>,
    /// Run only part K of N of the configurations (1 <= K <= N; every unit whose index in the
    /// stable unit order is K-1 modulo N), for a cluster array job; `shoal bench merge` joins
    /// the N folders.
    #[arg(long, default_value = "1/1")]
    shard: String,
    /// Skip the plugin-slowdown boots (one per workload without the simulator).
    #[arg(long)]
    no_plugin_slowdown: bool,
    /// Linux baselines to run beside shoal, comma-separated: linux (Debian 12's kernel, pinned in
    /// guest/linux/kernel.pin and fetched by ./setup.sh), linux-pti (the same with page-table
    /// isolation forced on), linux-thp (transparent huge pages always, the workload started from
    /// a huge-page tmpfs), linux-batch (the linux kernel with the driver under SCHED_BATCH, so
    /// its wake-ups never preempt an instance). Each runs the linux-musl build of every workload at every instance
    /// count on a Linux guest under the same simulator; needs workloads with a musl build
    /// (synth-small, wasm-runtime, js-runtime, lua-runtime).
    #[arg(long, value_delimiter = ',')]
    baseline: Vec<String>,
    /// Code and data pages each synthetic invocation touches, CODE,DATA (default 32,32); 0,0 is
    /// the empty handler, which calibrates an invocation's fixed cost on each kernel.
    #[arg(long, value_delimiter = ',')]
    pages: Option<Vec<u32>>,
}

/// How to boot under Bochs.
#[derive(clap::Args, Debug, Clone)]
struct BochsOptions {
    /// Bochs CPU model: corei7_icelake_u (PCID, INVPCID, PKU, SMEP, SMAP), corei7_haswell_4770
    /// (PCID, INVPCID; no PKU, no SMAP), ryzen (no PCID), or any other of `bochs -help cpu`.
    #[arg(long, default_value = "corei7_icelake_u")]
    cpu_model: String,
    /// Guest memory in MiB (at least 128).
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(128..))]
    memory: u32,
    /// Stop Bochs after this many seconds; 0 waits forever.
    #[arg(long, default_value_t = 300)]
    timeout: u32,
    /// Print the Bochs command and configuration without running it.
    #[arg(long)]
    dry_run: bool,
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
                                    hardware (what `shoal bochs` runs), paging, memory, timer, breakpoint, preemption, user-faults,
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
            println!("hardware image (bios, args test=hardware pcids=64): {HARDWARE_IMAGE}");
            println!("uefi partition: {UEFI_PARTITION}");
            println!("bench image (uefi, with the density study's large programs): {}", env!("SHOAL_BENCH_IMAGE"));
            println!("tlbsim plugin: {}", env!("SHOAL_TLBSIM_PLUGIN"));
            println!("kernel elf: {KERNEL_ELF}");
            ExitCode::SUCCESS
        }
        Some(Commands::Run(options)) => boot(&options),
        Some(Commands::Iso { out, args, bench }) => make_iso(&out, args.as_deref(), bench),
        Some(Commands::Bochs(options)) => boot_bochs(&options),
        Some(Commands::Bench(bench)) => match bench.action {
            Some(BenchAction::Merge { dirs, out }) => bench_merge(&dirs, &out),
            None => bench_command(&bench.arguments),
        },
        None => boot(&cli.boot),
    }
}

/// Returns the path of `qemu-runner.sh` (it sits next to this package's manifest).
fn runner_path() -> PathBuf {
    script_path("qemu-runner.sh")
}

/// Returns the path of one of the scripts next to this package's manifest.
fn script_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

/// Runs `command` (a runner script) and returns its exit status as this tool's.
fn run_script(mut command: Command, name: &str) -> ExitCode {
    match command.status() {
        Ok(status) => match status.code() {
            Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX)),
            None => {
                eprintln!("shoal: {name} was killed by a signal");
                ExitCode::from(3)
            }
        },
        Err(error) => {
            eprintln!("shoal: cannot run {}: {error}", script_path(name).display());
            ExitCode::from(3)
        }
    }
}

/// Boots the hardware image under Bochs through `bochs-runner.sh`.
fn boot_bochs(options: &BochsOptions) -> ExitCode {
    let mut command = Command::new(script_path("bochs-runner.sh"));
    command
        .arg("--cpu-model")
        .arg(&options.cpu_model)
        .arg("--memory")
        .arg(options.memory.to_string())
        .arg("--timeout")
        .arg(options.timeout.to_string());
    if options.dry_run {
        command.arg("--dry-run");
    }
    command.arg(HARDWARE_IMAGE);
    run_script(command, "bochs-runner.sh")
}

/// Writes a UEFI-bootable ISO to `out` (see `iso.rs`).
fn make_iso(out: &Path, args: Option<&str>, bench: bool) -> ExitCode {
    let bench_ramdisk = PathBuf::from(env!("SHOAL_BENCH_RAMDISK"));
    let options = iso::IsoOptions {
        out,
        partition: Path::new(UEFI_PARTITION),
        ramdisk: bench.then_some(bench_ramdisk.as_path()),
        args,
    };
    match iso::write_iso(&options) {
        Ok(()) => {
            eprintln!("shoal: wrote {}", out.display());
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("shoal: iso: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Renders `command` as one line, for the user to see exactly what runs.
pub(crate) fn describe(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|part| part.to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
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
    run_script(command, "qemu-runner.sh")
}

/// Exit status of `shoal bench` when a boot failed or the options were refused.
const BENCH_FAILED: u8 = 2;

/// Builds the bench options from the command line.
fn bench_options(arguments: &BenchArguments) -> Result<bench::BenchOptions, String> {
    const QUICK_WORKLOADS: [&str; 1] = ["synth-small"];
    const FULL_WORKLOADS: [&str; 4] = ["synth-small", "synth-medium", "synth-large", "wasm-runtime"];
    const QUICK_INSTANCES: [u32; 5] = [1, 2, 4, 8, 16];
    const FULL_INSTANCES: [u32; 6] = [1, 4, 16, 64, 256, 1024];
    let (workloads, instances): (&[&str], &[u32]) =
        if arguments.quick { (&QUICK_WORKLOADS, &QUICK_INSTANCES) } else { (&FULL_WORKLOADS, &FULL_INSTANCES) };
    let modes = arguments
        .modes
        .iter()
        .map(|name| {
            kernel_args::WindowMode::from_name(name).ok_or_else(|| {
                format!("unknown mode \"{name}\" in --modes; known: {}", kernel_args::WindowMode::ALL.map(kernel_args::WindowMode::name).join(" "))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(bench::BenchOptions {
        study: bench::Study {
            preset: arguments.preset.clone(),
            psc: arguments.psc.clone(),
            base_cpi: arguments.base_cpi.clone(),
            workloads: arguments.workload.clone().unwrap_or_else(|| workloads.iter().map(|name| (*name).to_owned()).collect()),
            binaries: arguments.binary.clone(),
            instances: arguments.instances.clone().unwrap_or_else(|| instances.to_vec()),
            modes,
            warmup: arguments.warmup,
            invocations: arguments.invocations,
            rounds: arguments.rounds,
            pcid: arguments.pcid.clone(),
            large_pages: arguments.large_pages.clone(),
            memory_mib: arguments.memory,
            plugin_slowdown: !arguments.no_plugin_slowdown,
            baselines: arguments.baseline.clone(),
            pages: match arguments.pages.as_deref() {
                None => None,
                Some(&[code, data]) => Some((code, data)),
                Some(other) => return Err(format!("--pages takes two numbers, CODE,DATA (such as 0,0), not {} of them", other.len())),
            },
        },
        runner: runner_path(),
        image: PathBuf::from(env!("SHOAL_BENCH_IMAGE")),
        plugin: PathBuf::from(env!("SHOAL_TLBSIM_PLUGIN")),
        guest: if arguments.baseline.is_empty() { None } else { Some(linux_guest::GuestKernel::locate()?) },
        out_dir: arguments.out.clone(),
        timeout_seconds: 6 * 3600,
        jobs: arguments.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
        shard: bench::unit::Shard::parse(&arguments.shard)?,
    })
}

/// Runs `shoal bench`.
fn bench_command(arguments: &BenchArguments) -> ExitCode {
    let options = match bench_options(arguments).and_then(|options| bench::check(&options).map(|()| options)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("shoal bench: {message}");
            return ExitCode::from(BENCH_FAILED);
        }
    };
    match bench::run(&options) {
        Ok(rows) => {
            println!("bench: {} configurations; results in {}", rows.len(), options.out_dir.display());
            for file in bench::output_files(&options.out_dir, &options.study) {
                println!("bench: wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(bench::runner::Stopped::Failed(message)) => {
            eprintln!("shoal bench: {message}");
            ExitCode::from(BENCH_FAILED)
        }
        Err(bench::runner::Stopped::Signal(signal)) => {
            eprintln!("shoal bench: stopped by signal {signal}; the running QEMU boots were ended");
            // The shell's convention: 128 + the signal's number.
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(u8::MAX))
        }
    }
}

/// Runs `shoal bench merge`.
fn bench_merge(dirs: &[PathBuf], out: &Path) -> ExitCode {
    match bench::merge(dirs, out) {
        Ok((study, rows)) => {
            println!("bench: merged {} shard folders, {} configurations; results in {}", dirs.len(), rows.len(), out.display());
            for file in bench::output_files(out, &study) {
                println!("bench: wrote {}", file.display());
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("shoal bench merge: {message}");
            ExitCode::from(BENCH_FAILED)
        }
    }
}
