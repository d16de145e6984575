//! DEFLATE compression of 4 KiB of text (the `miniz_oxide` crate), as a compression function
//! does: compress a seeded text, decompress it and compare, after inflating a fixed stream made by
//! another implementation (zlib, raw DEFLATE, level 9).

use alloc::vec::Vec;

use miniz_oxide::deflate::compress_to_vec;
use miniz_oxide::inflate::decompress_to_vec_with_limit;

use crate::{Checksum, Rng, ensure};

/// Bytes of text compressed per invocation.
pub const INPUT_BYTES: usize = 4096;
/// The compression level (zlib's default).
const LEVEL: u8 = 6;
/// Bytes of the module's arena ([`crate::arena`]): the compressor's state and buffers (the arena's
/// peak is 338 KiB in all), the text and the streams.
pub const ARENA_BYTES: usize = 384 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 2;

/// Self-check: the fixed stream inflates to its text.
pub const CHECK_KNOWN_STREAM: u32 = 1;
/// Self-check: the text compresses to fewer bytes.
pub const CHECK_SMALLER: u32 = 2;
/// Self-check: the compressed stream decompresses to the text.
pub const CHECK_ROUND_TRIP: u32 = 3;

/// The text of the fixed stream.
const KNOWN_TEXT: &[u8] = b"shoal: a FaaS host runs thousands of function instances. shoal: a FaaS host runs them warm.";
/// `KNOWN_TEXT` compressed by zlib 1.2 (`compressobj(9, DEFLATED, -15)`: raw DEFLATE).
const KNOWN_STREAM: [u8; 67] = [
    0x75, 0xcb, 0x51, 0x0d, 0x80, 0x30, 0x0c, 0x04, 0x50, 0x2b, 0xa7, 0x60, 0x02, 0x10, 0x80, 0x01, 0x14, 0x5c, 0xc6, 0x96, 0x2d, 0x61,
    0x6d, 0xb2, 0x6b, 0x83, 0x7d, 0x14, 0xf0, 0xfe, 0x9f, 0x86, 0xf3, 0x39, 0x40, 0x9c, 0xe4, 0x85, 0xe1, 0x0a, 0xec, 0x34, 0x21, 0x86,
    0xa7, 0x68, 0xb7, 0xe0, 0x1d, 0x3d, 0xad, 0xc6, 0x74, 0xc3, 0x34, 0x05, 0xad, 0x36, 0x15, 0xe8, 0x37, 0xb6, 0x85, 0x97, 0x7b, 0x95,
    0x0f,
];

/// The words of the generated text.
const WORDS: [&str; 24] = [
    "function", "instance", "warm", "cold", "start", "page", "table", "global", "segment", "translation", "lookaside", "buffer",
    "process", "kernel", "runtime", "invocation", "density", "memory", "frame", "address", "space", "switch", "context", "the",
];

/// Returns `INPUT_BYTES` of seeded text: words, spaces, sentence ends and line breaks.
pub fn text(random: &mut Rng) -> Vec<u8> {
    let mut text = Vec::with_capacity(INPUT_BYTES + 16);
    while text.len() < INPUT_BYTES {
        text.extend_from_slice(WORDS[random.index(WORDS.len())].as_bytes());
        text.push(match random.below(16) {
            0 => b'\n',
            1 | 2 => b'.',
            _ => b' ',
        });
    }
    text.truncate(INPUT_BYTES);
    text
}

/// Compresses and decompresses a seeded text; returns a checksum of the compressed stream.
///
/// # Errors
/// Returns the failed check ([`CHECK_KNOWN_STREAM`], [`CHECK_SMALLER`] or [`CHECK_ROUND_TRIP`]).
/// With `corrupt`, one byte of the compressed stream changes before decompression.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    let known = decompress_to_vec_with_limit(&KNOWN_STREAM, KNOWN_TEXT.len());
    ensure(known.as_deref().ok() == Some(KNOWN_TEXT), CHECK_KNOWN_STREAM)?;
    drop(known);

    let mut random = Rng::new(seed, STREAM);
    let input = text(&mut random);
    let mut compressed = compress_to_vec(&input, LEVEL);
    ensure(compressed.len() < input.len(), CHECK_SMALLER)?;
    let checksum = Checksum::new().bytes(&compressed).value(compressed.len() as u64).finish();

    if corrupt {
        let position = random.index(compressed.len());
        compressed[position] ^= 0x5a;
    }
    let output = decompress_to_vec_with_limit(&compressed, INPUT_BYTES);
    ensure(output.as_deref().ok() == Some(&input[..]), CHECK_ROUND_TRIP)?;
    Ok(checksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_compressible_and_a_changed_byte_fails_the_round_trip() {
        let input = text(&mut Rng::new(5, STREAM));
        assert_eq!(input.len(), INPUT_BYTES);
        assert!(compress_to_vec(&input, LEVEL).len() < INPUT_BYTES / 2);
        assert_eq!(handle(5, true), Err(CHECK_ROUND_TRIP));
    }
}
