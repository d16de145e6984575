//! Builds the disk images: the kernel (an artifact dependency built for x86_64-unknown-none) is
//! stripped and handed to the `bootloader` crate, which makes a BIOS and a UEFI image.
//!
//! The host tool and the integration tests find the results through compile-time environment
//! variables: `SHOAL_BIOS_IMAGE`, `SHOAL_UEFI_IMAGE`, and `SHOAL_KERNEL_ELF` (the unstripped
//! kernel, for a debugger).

use std::path::{Path, PathBuf};
use std::process::Command;

use bootloader::{BootConfig, DiskImageBuilder};

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

    let mut builder = DiskImageBuilder::new(stripped);
    builder.set_boot_config(&boot_config);
    let bios = out_dir.join("shoal-bios.img");
    let uefi = out_dir.join("shoal-uefi.img");
    builder.create_bios_image(&bios).expect("creating the BIOS disk image");
    builder.create_uefi_image(&uefi).expect("creating the UEFI disk image");

    println!("cargo:rustc-env=SHOAL_BIOS_IMAGE={}", bios.display());
    println!("cargo:rustc-env=SHOAL_UEFI_IMAGE={}", uefi.display());
    println!("cargo:rustc-env=SHOAL_KERNEL_ELF={}", kernel.display());
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
