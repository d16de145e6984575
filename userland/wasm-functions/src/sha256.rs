//! SHA-256 of 4 KiB of data (the `sha2` crate), as a hashing function does: the digest of the
//! whole input is compared with the digest of the same input fed in uneven pieces, after the
//! FIPS 180-2 known answers.

use sha2::{Digest, Sha256};

use crate::{Checksum, Rng, ensure};

/// Bytes hashed per invocation.
pub const INPUT_BYTES: usize = 4096;
/// Largest piece of the incremental pass.
const PIECE_MAX_BYTES: usize = 97;
/// Bytes of the module's arena ([`crate::arena`]): the handler allocates nothing (it works on
/// the stack), but the allocator must exist.
pub const ARENA_BYTES: usize = 4 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 4;

/// Self-check: the FIPS 180-2 vectors give their digests.
pub const CHECK_KNOWN_ANSWERS: u32 = 1;
/// Self-check: the whole input and its pieces give one digest.
pub const CHECK_INCREMENTAL: u32 = 2;

/// FIPS 180-2 appendix B: messages and their SHA-256 digests.
const KNOWN_ANSWERS: [(&[u8], [u8; 32]); 3] = [
    (
        b"abc",
        [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96,
            0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
        ],
    ),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        [
            0x24, 0x8d, 0x6a, 0x61, 0xd2, 0x06, 0x38, 0xb8, 0xe5, 0xc0, 0x26, 0x93, 0x0c, 0x3e, 0x60, 0x39, 0xa3, 0x3c, 0xe4, 0x59, 0x64,
            0xff, 0x21, 0x67, 0xf6, 0xec, 0xed, 0xd4, 0x19, 0xdb, 0x06, 0xc1,
        ],
    ),
    (
        b"",
        [
            0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24, 0x27, 0xae, 0x41, 0xe4, 0x64,
            0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
        ],
    ),
];

/// Hashes a seeded 4 KiB input twice (whole, then in pieces) and returns a checksum of the digest.
///
/// # Errors
/// Returns the failed check: [`CHECK_KNOWN_ANSWERS`] or [`CHECK_INCREMENTAL`]. With `corrupt`,
/// one byte changes between the two passes.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    for (message, digest) in KNOWN_ANSWERS {
        ensure(Sha256::digest(message).as_slice() == digest, CHECK_KNOWN_ANSWERS)?;
    }
    let mut random = Rng::new(seed, STREAM);
    let mut data = [0u8; INPUT_BYTES];
    random.fill(&mut data);
    let whole = Sha256::digest(data);

    if corrupt {
        let position = random.index(INPUT_BYTES);
        data[position] ^= 1;
    }
    let mut hasher = Sha256::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let piece = (1 + random.index(PIECE_MAX_BYTES)).min(rest.len());
        hasher.update(&rest[..piece]);
        rest = &rest[piece..];
    }
    let pieces = hasher.finalize();
    ensure(whole == pieces, CHECK_INCREMENTAL)?;
    Ok(Checksum::new().bytes(&whole).finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_byte_fails_the_incremental_check() {
        assert_eq!(handle(3, true), Err(CHECK_INCREMENTAL));
        assert!(handle(3, false).is_ok());
    }
}
