//! Link glue for std on x86_64-unknown-linux-musl with the host's musl and gcc (see
//! `.cargo/config.toml`).
//!
//! std's `unwind` crate asks for a static `libunwind.a` on musl targets (Rust's self-contained
//! musl ships one; `link-self-contained=no` leaves it out). The programs are built with
//! panic = "abort", so the unwinder is linked but never runs: gcc's own unwinder, `libgcc_eh.a`,
//! serves. This script makes a directory in OUT_DIR holding `libunwind.a` -> `libgcc_eh.a` and
//! adds it to the native search path of every program that depends on this crate.
//! gcc 12's unwinder then references glibc's `_dl_find_object` (glibc 2.35+), which musl lacks:
//! `src/lib.rs` defines a stub that reports "not found".

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Returns gcc's `libgcc_eh.a`: asks `gcc -print-file-name`, else tries the usual Debian paths.
fn libgcc_eh() -> PathBuf {
    if let Ok(output) = Command::new("gcc").arg("-print-file-name=libgcc_eh.a").output() {
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if output.status.success() && path.is_absolute() && path.exists() {
            return path;
        }
    }
    for version in ["14", "13", "12", "11", "10"] {
        let path = PathBuf::from(format!("/usr/lib/gcc/x86_64-linux-gnu/{version}/libgcc_eh.a"));
        if path.exists() {
            return path;
        }
    }
    panic!("linux-rt: libgcc_eh.a not found (install gcc): std's unwind crate needs it as libunwind.a");
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let dir = out.join("libunwind");
    std::fs::create_dir_all(&dir).expect("create the libunwind directory");
    let link = dir.join("libunwind.a");
    let target = libgcc_eh();
    if std::fs::read_link(&link).ok().as_deref() != Some(Path::new(&target)) {
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&target, &link).expect("link libunwind.a to libgcc_eh.a");
    }
    println!("cargo:rustc-link-search=native={}", dir.display());
}
