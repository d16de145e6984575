//! AES-128 in CBC mode over 1 KiB (the `aes` crate's block cipher, chained here), as an
//! encryption function does: encrypt a seeded message under a seeded key and IV, decrypt it, and
//! compare, after the FIPS-197 known answers for AES-128 and AES-256.

use aes::cipher::generic_array::GenericArray;
use aes::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};

use crate::{Checksum, Rng, ensure};

/// Bytes encrypted per invocation (a multiple of the block size).
pub const MESSAGE_BYTES: usize = 1024;
/// Bytes of an AES block.
const BLOCK_BYTES: usize = 16;
/// Bytes of the module's arena ([`crate::arena`]): the handler allocates nothing (it works on
/// the stack), but the allocator must exist.
pub const ARENA_BYTES: usize = 4 * 1024;
/// The generator stream of this handler.
const STREAM: u64 = 1;

/// Self-check: the FIPS-197 vectors encrypt and decrypt to their known answers.
pub const CHECK_KNOWN_ANSWERS: u32 = 1;
/// Self-check: no ciphertext block equals its plaintext block.
pub const CHECK_CIPHERTEXT_DIFFERS: u32 = 2;
/// Self-check: decryption gives the message back.
pub const CHECK_ROUND_TRIP: u32 = 3;

/// FIPS-197 appendix C: the plaintext of both examples.
const FIPS_PLAINTEXT: [u8; 16] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];
/// FIPS-197 appendix C.1: the AES-128 ciphertext for key 00 01 .. 0f.
const FIPS_AES128_CIPHERTEXT: [u8; 16] = [0x69, 0xc4, 0xe0, 0xd8, 0x6a, 0x7b, 0x04, 0x30, 0xd8, 0xcd, 0xb7, 0x80, 0x70, 0xb4, 0xc5, 0x5a];
/// FIPS-197 appendix C.3: the AES-256 ciphertext for key 00 01 .. 1f.
const FIPS_AES256_CIPHERTEXT: [u8; 16] = [0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf, 0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49, 0x60, 0x89];

/// Returns the key `00 01 02 ...` of `N` bytes used by the FIPS-197 examples.
fn counting_key<const N: usize>() -> [u8; N] {
    core::array::from_fn(|index| index as u8)
}

/// Checks the FIPS-197 examples in both directions.
fn known_answers() -> bool {
    let aes128 = Aes128::new(&GenericArray::from(counting_key::<16>()));
    let aes256 = Aes256::new(&GenericArray::from(counting_key::<32>()));
    let mut block = GenericArray::from(FIPS_PLAINTEXT);
    aes128.encrypt_block(&mut block);
    let aes128_ok = block.as_slice() == FIPS_AES128_CIPHERTEXT;
    aes128.decrypt_block(&mut block);
    let aes128_back = block.as_slice() == FIPS_PLAINTEXT;
    aes256.encrypt_block(&mut block);
    let aes256_ok = block.as_slice() == FIPS_AES256_CIPHERTEXT;
    aes256.decrypt_block(&mut block);
    aes128_ok && aes128_back && aes256_ok && block.as_slice() == FIPS_PLAINTEXT
}

/// Encrypts `data` in place in CBC mode starting from `iv` (a trailing partial block is left).
fn cbc_encrypt(cipher: &Aes128, iv: [u8; BLOCK_BYTES], data: &mut [u8]) {
    let mut chain = iv;
    for block in data.as_chunks_mut::<BLOCK_BYTES>().0 {
        for (byte, previous) in block.iter_mut().zip(chain) {
            *byte ^= previous;
        }
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
        chain = *block;
    }
}

/// Decrypts `data` in place in CBC mode starting from `iv` (a trailing partial block is left).
fn cbc_decrypt(cipher: &Aes128, iv: [u8; BLOCK_BYTES], data: &mut [u8]) {
    let mut chain = iv;
    for block in data.as_chunks_mut::<BLOCK_BYTES>().0 {
        let next = *block;
        cipher.decrypt_block(GenericArray::from_mut_slice(block));
        for (byte, previous) in block.iter_mut().zip(chain) {
            *byte ^= previous;
        }
        chain = next;
    }
}

/// Encrypts and decrypts a seeded 1 KiB message; returns a checksum of the ciphertext.
///
/// # Errors
/// Returns the failed check ([`CHECK_KNOWN_ANSWERS`], [`CHECK_CIPHERTEXT_DIFFERS`] or
/// [`CHECK_ROUND_TRIP`]). With `corrupt`, one ciphertext bit flips before decryption.
pub fn handle(seed: u64, corrupt: bool) -> Result<u64, u32> {
    ensure(known_answers(), CHECK_KNOWN_ANSWERS)?;
    let mut random = Rng::new(seed, STREAM);
    let mut key = [0u8; 16];
    let mut iv = [0u8; BLOCK_BYTES];
    let mut message = [0u8; MESSAGE_BYTES];
    random.fill(&mut key);
    random.fill(&mut iv);
    random.fill(&mut message);
    let cipher = Aes128::new(&GenericArray::from(key));

    let mut data = message;
    cbc_encrypt(&cipher, iv, &mut data);
    let differs = data.as_chunks::<BLOCK_BYTES>().0.iter().zip(message.as_chunks::<BLOCK_BYTES>().0).all(|(encrypted, plain)| encrypted != plain);
    ensure(differs, CHECK_CIPHERTEXT_DIFFERS)?;
    let checksum = Checksum::new().bytes(&data).finish();

    if corrupt {
        let bit = random.index(MESSAGE_BYTES * 8);
        data[bit / 8] ^= 1 << (bit % 8);
    }
    cbc_decrypt(&cipher, iv, &mut data);
    ensure(data == message, CHECK_ROUND_TRIP)?;
    Ok(checksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fips_vectors_pass_and_a_flipped_bit_fails_the_round_trip() {
        assert!(known_answers());
        assert_eq!(handle(9, true), Err(CHECK_ROUND_TRIP));
    }

    #[test]
    fn cbc_chains_blocks() {
        // Two equal plaintext blocks encrypt to different ciphertext blocks.
        let cipher = Aes128::new(&GenericArray::from([7u8; 16]));
        let mut data = [0x42u8; 32];
        cbc_encrypt(&cipher, [0; 16], &mut data);
        assert_ne!(data[..16], data[16..]);
        cbc_decrypt(&cipher, [0; 16], &mut data);
        assert_eq!(data, [0x42u8; 32]);
    }
}
