//! The synthetic runtime shared by the `synth-*` programs: a function instance whose code and
//! read-only data footprint is a build-time parameter.
//!
//! Each invocation's payload is `seed: u64, code_pages: u32, data_pages: u32` (little-endian).
//! The handler walks a pseudo-random sequence (xorshift64 from the seed): for each of
//! `code_pages` steps it calls the routine at the start of a random 4 KiB page of `CODE` (each
//! adds its page index), and for each of `data_pages` steps it reads the tag of a random page of
//! `DATA`. It checks both against what they must be and returns a checksum; a wrong value ends
//! the instance with an error code, so a wrong answer fails the run.

/// Bytes of a page.
const PAGE_BYTES: usize = 4096;
/// Exit code of a code-walk mismatch.
const CODE_MISMATCH: u64 = 3;
/// Exit code of a data-walk mismatch.
const DATA_MISMATCH: u64 = 4;
/// Exit code of a malformed payload.
const BAD_PAYLOAD: u64 = 5;

/// Returns the tag of data page `page` (the same formula as `build.rs`).
fn data_tag(page: u64) -> u64 {
    let mut z = page.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Runs one invocation over `code` (executable, one routine per page) and `data`.
pub(crate) fn invoke(payload: &[u8], code: &'static [u8], data: &'static [u8]) -> Result<u64, u64> {
    let (Some(seed), Some(code_steps), Some(data_steps)) = (
        payload.get(0..8).map(|bytes| u64::from_le_bytes(bytes.try_into().unwrap_or([0; 8]))),
        payload.get(8..12).map(|bytes| u32::from_le_bytes(bytes.try_into().unwrap_or([0; 4]))),
        payload.get(12..16).map(|bytes| u32::from_le_bytes(bytes.try_into().unwrap_or([0; 4]))),
    ) else {
        return Err(BAD_PAYLOAD);
    };
    let code_pages = (code.len() / PAGE_BYTES) as u64;
    let data_pages = (data.len() / PAGE_BYTES) as u64;
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut accumulator = 0u64;
    let mut expected = 0u64;
    for _ in 0..code_steps {
        let page = next() % code_pages;
        let entry = code[page as usize * PAGE_BYTES..].as_ptr();
        // SAFETY: `code` lives in the executable text segment (see the programs' `CODE`); each
        // page starts with `lea rax, [rdi + page]; ret`, a leaf routine of the C calling
        // convention that touches nothing but rax.
        let routine: extern "sysv64" fn(u64) -> u64 = unsafe { core::mem::transmute(entry) };
        accumulator = routine(accumulator);
        expected += page;
    }
    if accumulator != expected {
        return Err(CODE_MISMATCH);
    }
    let mut checksum = accumulator;
    for _ in 0..data_steps {
        let page = next() % data_pages;
        let start = page as usize * PAGE_BYTES;
        let tag = u64::from_le_bytes(data[start..start + 8].try_into().unwrap_or([0; 8]));
        if tag != data_tag(page) {
            return Err(DATA_MISMATCH);
        }
        checksum ^= tag;
    }
    Ok(checksum)
}

/// Defines a synthetic runtime program: its code and data (the build script's files for
/// `$preset`), and a `main` that serves invocations with [`invoke`] over them.
macro_rules! runtime {
    ($preset:literal) => {
        /// The routines, one per 4 KiB page, in the executable text segment.
        #[unsafe(link_section = ".text.synthetic")]
        static CODE: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-", $preset, "-code.bin")).len()] =
            *include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-", $preset, "-code.bin"));
        /// The read-only data, one tag per 4 KiB page.
        static DATA: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-", $preset, "-data.bin")).len()] =
            *include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-", $preset, "-data.bin"));

        shoal_rt::entry!(main);

        fn main(_argument: u64) -> u64 {
            shoal_rt::faas::serve(|payload| synthetic::invoke(payload, &CODE, &DATA))
        }
    };
}
pub(crate) use runtime;
