//! The payload of the synthetic runtimes (`synth-small`, `synth-medium`, `synth-large`, and their
//! `-musl` builds): the seed of the invocation's random page choices and how many code and data
//! pages it visits, little-endian (`userland/programs/src/synthetic.rs` decodes it). Shoal's
//! density driver and the Linux guest's driver both encode it here, so both kernels feed the
//! same bytes.

/// One synthetic invocation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Seeds the page choices.
    pub seed: u64,
    /// Code pages the invocation calls into.
    pub code_pages: u32,
    /// Read-only data pages the invocation reads.
    pub data_pages: u32,
}

impl Payload {
    /// Bytes of an encoded payload.
    pub const BYTES: usize = 16;

    /// Returns the payload's bytes: seed, code pages, data pages.
    pub fn encode(self) -> [u8; Payload::BYTES] {
        let mut bytes = [0; Payload::BYTES];
        bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        bytes[8..12].copy_from_slice(&self.code_pages.to_le_bytes());
        bytes[12..].copy_from_slice(&self.data_pages.to_le_bytes());
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_are_little_endian_in_order() {
        let bytes = Payload { seed: 0x0102_0304_0506_0708, code_pages: 32, data_pages: 0x1_0000 }.encode();
        assert_eq!(bytes, [8, 7, 6, 5, 4, 3, 2, 1, 32, 0, 0, 0, 0, 0, 1, 0]);
    }
}
