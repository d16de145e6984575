//! Links every user program so that its segments with different permissions never share a
//! 2 MiB region: each PT_LOAD starts on its own 2 MiB boundary (plus its offset within the page,
//! as the ELF rules want). The kernel loads a binary once into a slot of the global window and
//! shares whole page tables (each maps 2 MiB) of its read-only segments between processes; a
//! writable page in the same 2 MiB would force a private table. The file does not grow: lld
//! places segments by virtual address only. (1 GiB alignment, which would let whole page
//! directories be shared, breaks the small code model: text and data end up more than 2 GiB
//! apart for RIP-relative references.)
//!
//! It also writes the data files that programs embed:
//! - `big-rodata.bin`: the 16 MiB of read-only data of `big-rodata` (a large binary for the
//!   page-table tests), from a fixed pseudo-random sequence;
//! - `synthetic-<preset>-code.bin` and `synthetic-<preset>-data.bin`: the code and read-only data
//!   of the synthetic runtimes (`src/synthetic.rs`): one tiny routine per 4 KiB code page
//!   (`lea rax, [rdi + page]; ret`, padded with `int3`) and one 8-byte tag per data page.

use std::path::PathBuf;

// The synthetic runtimes' generator, shared with the Linux builds of the same programs
// (`userland/linux/programs/workloads/build.rs`, the `synth-*-musl` programs).
#[path = "synthetic-blobs.rs"]
mod synthetic_blobs;

/// Size of the large program's read-only data.
const BIG_RODATA_BYTES: usize = 16 * 1024 * 1024;

/// Programs linked the way a foreign toolchain would (4 KiB pages: read-only and writable
/// segments share 2 MiB regions), to show that such a binary still loads correctly.
const FOREIGN_LAYOUT: [&str; 1] = ["foreign-layout"];

fn main() {
    const TWO_MIB: u64 = 2 << 20;
    let programs = std::fs::read_dir("src/bin").expect("reading src/bin");
    for entry in programs {
        let path = entry.expect("a program file").path();
        let Some(name) = path.file_stem().and_then(|stem| stem.to_str()) else { continue };
        if !FOREIGN_LAYOUT.contains(&name) {
            println!("cargo:rustc-link-arg-bin={name}=-zmax-page-size={TWO_MIB:#x}");
        }
    }
    println!("cargo:rerun-if-changed=src/bin");

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let path = out_dir.join("big-rodata.bin");
    if std::fs::metadata(&path).map(|metadata| metadata.len() as usize).ok() != Some(BIG_RODATA_BYTES) {
        let mut state: u64 = 0x5348_4f41_4c00_0001;
        let bytes: Vec<u8> = (0..BIG_RODATA_BYTES)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(&path, bytes).expect("writing big-rodata.bin");
    }
    synthetic_blobs::write_all(&out_dir);
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=synthetic-blobs.rs");
}
