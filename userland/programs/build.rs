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
    for (preset, mebibytes) in SYNTHETIC_PRESETS {
        write_synthetic(&out_dir, preset, mebibytes);
    }
    println!("cargo:rerun-if-changed=build.rs");
}

/// The synthetic runtimes: name and MiB of code (and as much read-only data).
const SYNTHETIC_PRESETS: [(&str, usize); 3] = [("small", 1), ("medium", 8), ("large", 64)];
/// Bytes of a page.
const PAGE_BYTES: usize = 4096;
/// `lea rax, [rdi + imm32]`, followed by the 32-bit page index.
const LEA_RAX_RDI_DISP32: [u8; 3] = [0x48, 0x8d, 0x87];
/// `ret`.
const RET: u8 = 0xc3;
/// `int3`, the padding: a stray jump into it traps.
const INT3: u8 = 0xcc;

/// Returns the tag of data page `page` (the same formula as `src/synthetic.rs`).
fn data_tag(page: u64) -> u64 {
    let mut z = page.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Writes the code and data files of one synthetic preset.
fn write_synthetic(out_dir: &std::path::Path, preset: &str, mebibytes: usize) {
    let pages = mebibytes * 1024 * 1024 / PAGE_BYTES;
    let mut code = vec![INT3; pages * PAGE_BYTES];
    let mut data = vec![0u8; pages * PAGE_BYTES];
    for page in 0..pages {
        let start = page * PAGE_BYTES;
        code[start..start + 3].copy_from_slice(&LEA_RAX_RDI_DISP32);
        code[start + 3..start + 7].copy_from_slice(&(page as u32).to_le_bytes());
        code[start + 7] = RET;
        data[start..start + 8].copy_from_slice(&data_tag(page as u64).to_le_bytes());
    }
    let code_path = out_dir.join(format!("synthetic-{preset}-code.bin"));
    let data_path = out_dir.join(format!("synthetic-{preset}-data.bin"));
    if std::fs::read(&code_path).ok().as_deref() != Some(&code[..]) {
        std::fs::write(&code_path, &code).expect("writing synthetic code");
    }
    if std::fs::read(&data_path).ok().as_deref() != Some(&data[..]) {
        std::fs::write(&data_path, &data).expect("writing synthetic data");
    }
}
