//! The code and read-only data of the synthetic runtimes (`src/synthetic.rs`), written by the
//! build scripts of both builds of those programs: `userland/programs/build.rs` (native,
//! x86_64-unknown-none) and `userland/linux/programs/workloads/build.rs` (the `synth-*-musl` programs,
//! x86_64-unknown-linux-musl), each with `#[path = ...] mod synthetic_blobs;`, so both embed
//! identical blobs: one tiny routine per 4 KiB code page (`lea rax, [rdi + page]; ret`, padded
//! with `int3`) and one 8-byte tag per data page.

/// Writes `synthetic-<preset>-code.bin` and `synthetic-<preset>-data.bin` of every preset into
/// `out_dir` (a file already holding the right bytes is left alone).
pub(crate) fn write_all(out_dir: &std::path::Path) {
    for (preset, mebibytes) in SYNTHETIC_PRESETS {
        write_synthetic(out_dir, preset, mebibytes);
    }
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
