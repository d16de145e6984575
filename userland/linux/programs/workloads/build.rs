//! Prepares what the `*-musl` programs (the native workloads built for Linux, `Cargo.toml`) embed:
//!
//! - the code and read-only data files of `synth-*-musl`, written by the generator of the native
//!   synthetic runtimes (`userland/programs/synthetic-blobs.rs`, the same file the native build
//!   script uses), so that both builds embed identical blobs. The 2 MiB segment alignment the
//!   native build script asks for per program (`-zmax-page-size=0x200000`) is this workspace's
//!   linker flag for every program already (`.cargo/config.toml`);
//! - the `wasm-functions` modules of `wasm-runtime-musl`, built from `userland/wasm-functions`
//!   for wasm32-unknown-unknown with a cargo of their own, and passed to the compiler as
//!   `CARGO_BIN_FILE_WASM_FUNCTIONS_<name>`, the variables the native `wasm-runtime.rs` reads
//!   (natively an artifact dependency sets them; here `bindeps` cannot be used, see
//!   `Cargo.toml`). That cargo runs in `userland/wasm-functions`, so it is the root workspace's
//!   (its Cargo.lock, `--locked`; its release profile, as the native build's) and not this
//!   workspace's (no `build-std`, no musl linker), into its own target directory under OUT_DIR
//!   (the outer cargo holds this workspace's target directory, and a root-workspace build that
//!   runs this one through the root build script holds the root one).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "../../../programs/synthetic-blobs.rs"]
mod synthetic_blobs;

/// The function modules (`wasm-functions`' binaries; `abi::wasm::FUNCTIONS`).
const WASM_FUNCTIONS: [&str; 8] = ["json", "aes", "compress", "sha256", "matmul", "rotate", "regex", "pagerank"];

fn main() {
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    synthetic_blobs::write_all(&out_dir);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../../programs/synthetic-blobs.rs");
    wasm_functions(&out_dir);
}

/// Builds the `wasm-functions` modules and tells the compiler where they are.
fn wasm_functions(out_dir: &Path) {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let crate_dir = manifest.join("../../../wasm-functions").canonicalize().expect("userland/wasm-functions");
    for watched in ["src", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", crate_dir.join(watched).display());
    }
    println!("cargo:rerun-if-changed={}", crate_dir.join("../../kernel/libs/abi/src").display());
    let target_dir = out_dir.join("wasm-functions-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.current_dir(&crate_dir).args(["build", "--release", "--locked", "--bins", "--features", "module", "--target", "wasm32-unknown-unknown", "--target-dir"]).arg(&target_dir);
    // What this build script inherits would configure that cargo as this one (this workspace's
    // flags, target, jobserver): remove it, as the root build script does for this workspace.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        let inherited = key.starts_with("CARGO_") && key != "CARGO_HOME"
            || ["RUSTFLAGS", "RUSTDOCFLAGS", "RUSTC_WRAPPER", "RUSTC_WORKSPACE_WRAPPER", "TARGET", "HOST", "OUT_DIR", "OPT_LEVEL", "PROFILE", "DEBUG", "NUM_JOBS", "MAKEFLAGS", "MFLAGS"].contains(&key);
        if inherited {
            command.env_remove(key);
        }
    }
    let status = command.status().unwrap_or_else(|error| panic!("running cargo in {}: {error}", crate_dir.display()));
    assert!(status.success(), "building the wasm-functions modules in {} failed ({status})", crate_dir.display());
    let built = target_dir.join("wasm32-unknown-unknown/release");
    for name in WASM_FUNCTIONS {
        let module = built.join(format!("{name}.wasm"));
        assert!(module.exists(), "{} missing after the wasm-functions build", module.display());
        println!("cargo:rustc-env=CARGO_BIN_FILE_WASM_FUNCTIONS_{name}={}", module.display());
    }
}
