//! Builds the disk images: the kernel (an artifact dependency built for x86_64-unknown-none) is
//! stripped and handed to the `bootloader` crate, which makes a BIOS and a UEFI image. The
//! images carry a ramdisk (a ustar archive, see `kernel/libs/ramdisk`) with:
//! - `bin/<name>`: every userland program (`userland/programs/src/bin/*.rs`), stripped;
//! - `bin/corpus-<name>`: the broken ELF files of `elf-check`'s corpus, which the kernel must
//!   refuse one by one (the processes test suite spawns them);
//! - `bin/<name>` for the Linux programs: the C test programs of `userland/linux/c` (built with
//!   musl-gcc) and the Rust workspace `userland/linux` (the QuickJS and Lua runtimes and a std
//!   test program, static-pie executables for x86_64-unknown-linux-musl, built by a cargo of
//!   their own);
//! - `scenarios/<name>`: every file of `userland/scenarios/`.
//!
//! A third image, `shoal-bios-hardware.img`, is the BIOS image with one more ramdisk file: `args`,
//! holding [`HARDWARE_ARGS`]. Emulators without fw_cfg (Bochs, see `bochs-runner.sh`) and bare
//! metal cannot pass kernel arguments, so the kernel reads that file instead and runs the
//! hardware-path suite. A fourth, `shoal-uefi-bench.img`, is the only one whose ramdisk also
//! holds the programs of [`BENCH_ONLY`]: the 8 MiB and 64 MiB synthetic runtimes make a 170 MiB ramdisk
//! that every boot would have to load, so only `shoal bench` boots it. It is a UEFI image
//! because the bootloader's BIOS stage reads the disk about four times slower under QEMU TCG
//! (measured: 65 s for this ramdisk). The UEFI system partition (a FAT image) is kept on its own too: the host
//! tool's `iso` command wraps it as an El Torito EFI boot image.
//!
//! The host tool and the integration tests find the results through compile-time environment
//! variables: `SHOAL_BIOS_IMAGE`, `SHOAL_UEFI_IMAGE`, `SHOAL_HARDWARE_IMAGE`, `SHOAL_BENCH_IMAGE`,
//! `SHOAL_UEFI_PARTITION`, `SHOAL_RAMDISK`, `SHOAL_BENCH_RAMDISK`, `SHOAL_KERNEL_ELF` (the unstripped kernel, for a
//! debugger), `SHOAL_LINUX_PROGRAMS` (the folder of the Linux programs, unstripped) and
//! `SHOAL_LINUX_STRIPPED` (the folder of their stripped copies, `user-<name>`, and of the Linux
//! baseline's init `user-linux-guest-init`, which `shoal bench --baseline` packs into the Linux
//! guest's initramfs: the same workload files shoal's bench image holds).

use std::path::{Path, PathBuf};
use std::process::Command;

use bootloader::{BootConfig, DiskImageBuilder};

/// The kernel arguments of `shoal-bios-hardware.img`, stored as its ramdisk file `args`.
const HARDWARE_ARGS: &str = "test=hardware pcids=64";

/// Programs only the bench image carries (too large to load on every boot: each MiB of ramdisk
/// adds about 0.4 s to a BIOS boot under QEMU TCG), and the musl builds of the small native
/// workloads (for the density study's Linux side).
const BENCH_ONLY: [&str; 4] = ["synth-medium", "synth-large", "synth-small-musl", "wasm-runtime-musl"];

/// Programs built but packed into no image: the musl builds of the 8 MiB and 64 MiB synthetic
/// runtimes (150 MiB together) would double the bench image's ramdisk, and no suite or study
/// starts them yet (`userland/linux/check-workloads.py` checks them on Linux).
const NOT_PACKED: [&str; 2] = ["synth-medium-musl", "synth-large-musl"];

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let kernel = PathBuf::from(
        std::env::var_os("CARGO_BIN_FILE_SHOAL_KERNEL_kernel")
            .expect("the kernel artifact dependency is built by cargo (needs -Z bindeps)"),
    );

    // A stripped kernel loads faster: the bootloader reads the whole file from disk.
    let stripped = out_dir.join("kernel-stripped");
    strip(&kernel, &stripped);

    let mut boot_config = BootConfig::default();
    // The frame-buffer console is slow under emulation and shoal logs to serial itself.
    boot_config.frame_buffer_logging = false;
    boot_config.serial_logging = false;

    let bench_files: Vec<(String, Vec<u8>)> = ramdisk_files(&out_dir)
        .into_iter()
        .filter(|(name, _)| !NOT_PACKED.iter().any(|program| name == &format!("bin/{program}")))
        .collect();
    let files: Vec<(String, Vec<u8>)> = bench_files
        .iter()
        .filter(|(name, _)| !BENCH_ONLY.iter().any(|program| name == &format!("bin/{program}")))
        .cloned()
        .collect();
    let ramdisk_path = out_dir.join("ramdisk.tar");
    std::fs::write(&ramdisk_path, pack_ramdisk(&files, None)).expect("writing the ramdisk");
    let bench_ramdisk_path = out_dir.join("ramdisk-bench.tar");
    std::fs::write(&bench_ramdisk_path, pack_ramdisk(&bench_files, None)).expect("writing the bench image's ramdisk");
    let hardware_ramdisk_path = out_dir.join("ramdisk-hardware.tar");
    std::fs::write(&hardware_ramdisk_path, pack_ramdisk(&files, Some(HARDWARE_ARGS)))
        .expect("writing the hardware image's ramdisk");

    let mut builder = DiskImageBuilder::new(stripped);
    builder.set_boot_config(&boot_config);
    builder.set_ramdisk(ramdisk_path.clone());
    let bios = out_dir.join("shoal-bios.img");
    let uefi = out_dir.join("shoal-uefi.img");
    let uefi_partition = out_dir.join("shoal-uefi-partition.fat");
    builder.create_bios_image(&bios).expect("creating the BIOS disk image");
    builder.create_uefi_image(&uefi).expect("creating the UEFI disk image");
    builder
        .create_uefi_fat_partition(&uefi_partition)
        .expect("creating the UEFI system partition");

    builder.set_ramdisk(hardware_ramdisk_path);
    let hardware = out_dir.join("shoal-bios-hardware.img");
    builder.create_bios_image(&hardware).expect("creating the hardware BIOS disk image");

    builder.set_ramdisk(bench_ramdisk_path.clone());
    let bench = out_dir.join("shoal-uefi-bench.img");
    builder.create_uefi_image(&bench).expect("creating the bench UEFI disk image");

    println!("cargo:rustc-env=SHOAL_BIOS_IMAGE={}", bios.display());
    println!("cargo:rustc-env=SHOAL_UEFI_IMAGE={}", uefi.display());
    println!("cargo:rustc-env=SHOAL_HARDWARE_IMAGE={}", hardware.display());
    println!("cargo:rustc-env=SHOAL_BENCH_IMAGE={}", bench.display());
    println!("cargo:rustc-env=SHOAL_BENCH_RAMDISK={}", bench_ramdisk_path.display());
    println!("cargo:rustc-env=SHOAL_UEFI_PARTITION={}", uefi_partition.display());
    println!("cargo:rustc-env=SHOAL_KERNEL_ELF={}", kernel.display());
    println!("cargo:rustc-env=SHOAL_RAMDISK={}", ramdisk_path.display());
    // The tlbsim QEMU plugin (a cdylib artifact dependency), for `shoal bench` and the tests.
    let plugin = std::env::var_os("CARGO_CDYLIB_FILE_TLBSIM").expect("the tlbsim plugin artifact is built by cargo");
    println!("cargo:rustc-env=SHOAL_TLBSIM_PLUGIN={}", PathBuf::from(plugin).display());
}

/// Packs `files` into one ramdisk archive, after a top-level `args` file when `args` is given
/// (the kernel reads its arguments from it where fw_cfg is absent).
fn pack_ramdisk(files: &[(String, Vec<u8>)], args: Option<&str>) -> Vec<u8> {
    let mut archive = ramdisk::Builder::new();
    if let Some(args) = args {
        archive.add("args", args.as_bytes()).expect("adding the args file to the ramdisk");
    }
    for (name, bytes) in files {
        archive.add(name, bytes).expect("adding a file to the ramdisk");
    }
    archive.finish()
}

/// Collects the ramdisk's files: the userland programs, the broken-ELF corpus and the scenarios,
/// as (archive name, contents) pairs in archive order.
fn ramdisk_files(out_dir: &Path) -> Vec<(String, Vec<u8>)> {
    const PROGRAM_PREFIX: &str = "CARGO_BIN_FILE_USERLAND_PROGRAMS_";
    let mut files = Vec::new();
    let mut programs: Vec<(String, PathBuf)> = std::env::vars_os()
        .filter_map(|(key, value)| {
            let key = key.into_string().ok()?;
            let name = key.strip_prefix(PROGRAM_PREFIX)?.to_owned();
            Some((name, PathBuf::from(value)))
        })
        .collect();
    programs.sort();
    assert!(!programs.is_empty(), "no userland programs were built");
    for (name, path) in &programs {
        let stripped = out_dir.join(format!("user-{name}"));
        strip(path, &stripped);
        let bytes = std::fs::read(&stripped).expect("reading a stripped user program");
        files.push((format!("bin/{name}"), bytes));
    }
    for broken in elf_check::corpus::broken() {
        files.push((format!("bin/corpus-{}", broken.name), broken.bytes.to_vec()));
    }
    files.extend(linux_c_programs(out_dir));
    files.extend(linux_rust_programs(out_dir));
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("userland/scenarios");
    println!("cargo:rerun-if-changed={}", scenarios.display());
    let mut entries: Vec<_> = std::fs::read_dir(&scenarios)
        .expect("reading userland/scenarios")
        .map(|entry| entry.expect("a scenario file").path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().and_then(|name| name.to_str()).expect("a UTF-8 scenario name");
        let bytes = std::fs::read(&path).expect("reading a scenario");
        files.push((format!("scenarios/{name}"), bytes));
    }
    files
}

/// Builds the C programs of the Linux personality's tests (`userland/linux/c/`) with Debian's
/// musl (`musl-gcc`, package musl-tools, installed by `setup.sh`) and returns them as ramdisk
/// files:
/// - `linux-abi`: a static-pie, linked with `-z max-page-size=2M` like every program shoal
///   shares. Debian's musl-gcc specs know no `-static-pie` (they link `Scrt1.o` and ask for the
///   dynamic linker), so the start files are named here: musl's `rcrt1.o` (which applies the
///   image's relocations itself, the way the kernel must make harmless), `crti.o`, gcc's
///   `crtbeginS.o`/`crtendS.o`, `crtn.o`, with `-Bstatic` and `--no-dynamic-linker`. The linker is
///   the toolchain's lld (through its `gcc-ld` shim): GNU ld would pad the file with 6 MiB of
///   zeros to keep offsets congruent to 2 MiB-aligned addresses (`userland/linux/link` says more);
/// - `linux-static-exec` (a non-PIE static executable, ET_EXEC) and `linux-dynamic` (linked
///   against glibc's dynamic linker, PT_INTERP): the binaries the kernel must refuse.
fn linux_c_programs(out_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let sources = Path::new(env!("CARGO_MANIFEST_DIR")).join("userland/linux/c");
    println!("cargo:rerun-if-changed={}", sources.display());
    let musl = Path::new("/usr/lib/x86_64-linux-musl");
    let gcc_file = |name: &str| -> PathBuf {
        let output = Command::new("gcc").arg(format!("-print-file-name={name}")).output().expect("running gcc (install build-essential: run ./setup.sh)");
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    };
    let abi_test = out_dir.join("linux-abi");
    let mut static_pie = Command::new("musl-gcc");
    static_pie
        .args(["-O2", "-fPIE", "-static-pie", "-nostartfiles", "-Wl,-Bstatic", "-Wl,--no-dynamic-linker", "-Wl,-z,max-page-size=0x200000"])
        .arg(format!("-B{}", llvm_tool("gcc-ld").display()))
        .arg("-fuse-ld=lld")
        .arg(musl.join("rcrt1.o"))
        .arg(musl.join("crti.o"))
        .arg(gcc_file("crtbeginS.o"))
        .arg(sources.join("linux-abi.c"))
        .arg(gcc_file("crtendS.o"))
        .arg(musl.join("crtn.o"))
        .arg("-o")
        .arg(&abi_test);
    run_compiler(static_pie);
    let static_exec = out_dir.join("linux-static-exec");
    let mut exec = Command::new("musl-gcc");
    exec.args(["-O2", "-static", "-no-pie"]).arg(sources.join("refused.c")).arg("-o").arg(&static_exec);
    run_compiler(exec);
    let dynamic = out_dir.join("linux-dynamic");
    let mut dynamic_command = Command::new("gcc");
    dynamic_command.args(["-O2"]).arg(sources.join("refused.c")).arg("-o").arg(&dynamic);
    run_compiler(dynamic_command);
    [("linux-abi", abi_test), ("linux-static-exec", static_exec), ("linux-dynamic", dynamic)]
        .into_iter()
        .map(|(name, path)| {
            let stripped = out_dir.join(format!("user-{name}"));
            strip(&path, &stripped);
            (format!("bin/{name}"), std::fs::read(&stripped).expect("reading a stripped Linux test program"))
        })
        .collect()
}

/// Builds the Rust workspace of Linux programs (`userland/linux`: the QuickJS and Lua runtimes
/// and a std test program, static-pie executables for x86_64-unknown-linux-musl) with a cargo of
/// its own, and returns every `programs/src/bin/<name>.rs` binary as `bin/<name>`, stripped.
///
/// That workspace needs its own `.cargo/config.toml` (std built from rust-src, the musl linker
/// script), which cargo reads only from its working directory: so it runs there, into its own
/// target directory (`userland/linux/target`, shared by dev and release builds of this one), with
/// the variables this build script inherits that would override its configuration removed.
fn linux_rust_programs(out_dir: &Path) -> Vec<(String, Vec<u8>)> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("userland/linux");
    for watched in ["Cargo.toml", "Cargo.lock", ".cargo/config.toml", "link", "rt", "programs", "guest"] {
        println!("cargo:rerun-if-changed={}", workspace.join(watched).display());
    }
    // The musl builds of the native workloads compile the native sources.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for shared in ["userland/rt", "userland/programs/src", "userland/programs/synthetic-blobs.rs", "userland/wasm-functions"] {
        println!("cargo:rerun-if-changed={}", root.join(shared).display());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // The whole workspace: the programs, and `wasm-reference`, which the host test of the musl
    // workloads (`tests/linux_runtimes.rs`) compares `wasm-runtime-musl` with.
    command.current_dir(&workspace).args(["build", "--release", "--workspace", "--bins", "--locked"]);
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let inherited = key.starts_with("CARGO_") && key != "CARGO_HOME"
            || ["RUSTFLAGS", "RUSTDOCFLAGS", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "TARGET", "HOST", "OUT_DIR", "OPT_LEVEL", "PROFILE", "DEBUG", "NUM_JOBS", "MAKEFLAGS", "MFLAGS", "CARGO_MAKEFLAGS"].contains(&key);
        if inherited {
            command.env_remove(key);
        }
    }
    let status = command.status().unwrap_or_else(|error| panic!("running cargo in {}: {error}", workspace.display()));
    assert!(status.success(), "building the Linux programs in {} failed ({status}); run ./setup.sh for musl-tools", workspace.display());
    let built = workspace.join("target/x86_64-unknown-linux-musl/release");
    // The host test runs the same binaries on this Linux host (`tests/linux_runtimes.rs`).
    println!("cargo:rustc-env=SHOAL_LINUX_PROGRAMS={}", built.display());
    // The Linux baseline's init (`guest/`) is packed into no shoal image: `shoal bench
    // --baseline` puts it, with the stripped workloads below, into the Linux guest's initramfs.
    strip(&built.join("linux-guest-init"), &out_dir.join("user-linux-guest-init"));
    println!("cargo:rustc-env=SHOAL_LINUX_STRIPPED={}", out_dir.display());
    let mut names: Vec<String> = std::fs::read_dir(workspace.join("programs/src/bin"))
        .expect("reading userland/linux/programs/src/bin")
        .filter_map(|entry| Some(entry.ok()?.path().file_stem()?.to_str()?.to_owned()))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let stripped = out_dir.join(format!("user-{name}"));
            strip(&built.join(&name), &stripped);
            let bytes = std::fs::read(&stripped).expect("reading a stripped Linux program");
            (format!("bin/{name}"), bytes)
        })
        .collect()
}

/// Runs a C compiler command, failing the build with a pointer to `setup.sh` when it is missing.
fn run_compiler(mut command: Command) {
    let program = command.get_program().to_string_lossy().into_owned();
    let status = command
        .status()
        .unwrap_or_else(|error| panic!("running {program}: {error} (musl-gcc comes from the musl-tools package: run ./setup.sh)"));
    assert!(status.success(), "{program} failed ({status}) building a Linux test program: {command:?}");
}

/// Copies `input` to `output` without symbols or debug information, using the toolchain's
/// llvm-objcopy (component `llvm-tools-preview`, installed by `setup.sh`).
fn strip(input: &Path, output: &Path) {
    let objcopy = llvm_tool("llvm-objcopy");
    let status = Command::new(&objcopy)
        .arg("--strip-all")
        .arg(input)
        .arg(output)
        .status()
        .unwrap_or_else(|error| panic!("running {}: {error}", objcopy.display()));
    assert!(status.success(), "{} --strip-all failed: {status}", objcopy.display());
}

/// Returns the path of an LLVM tool shipped with the active Rust toolchain.
fn llvm_tool(name: &str) -> PathBuf {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("running rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    let host = std::env::var("HOST").expect("cargo sets HOST");
    let path = sysroot.join("lib/rustlib").join(host).join("bin").join(name);
    assert!(
        path.exists(),
        "{} not found: install the llvm-tools-preview component (run ./setup.sh)",
        path.display()
    );
    path
}
