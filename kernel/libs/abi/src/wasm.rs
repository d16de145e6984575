//! The contract of the WebAssembly runtime (`userland/programs/src/bin/wasm-runtime.rs`) with
//! the kernel that starts it and with the function modules it hosts (`userland/wasm-functions`).
//!
//! - the process argument of a runtime instance is the number of its function, an index into
//!   [`FUNCTIONS`];
//! - an invocation's payload holds the seed and the flags ([`Payload`]); [`FLAG_CORRUPT`] asks
//!   the handler to perturb its own computation, so that its self-check must fail;
//! - each module exports [`HANDLER_EXPORT`] of type `(i64 seed, i64 flags) -> i64`, whose result
//!   is an [`Outcome`]: a checksum, or the number of the self-check that failed;
//! - a runtime instance that cannot serve exits with one of the `EXIT_*` codes (after printing a
//!   line that says why), so a wrong answer ends the instance instead of passing silently.

/// The hosted functions, by number: the names of the modules, modelled on FunctionBench and SeBS.
pub const FUNCTIONS: [&str; 8] = ["json", "aes", "compress", "sha256", "matmul", "rotate", "regex", "pagerank"];

/// Name of the handler every function module exports.
pub const HANDLER_EXPORT: &str = "handle";

/// Payload flag: perturb the computation, so that the handler's self-check must fail.
pub const FLAG_CORRUPT: u64 = 1;

/// Exit code of an instance whose process argument names no function.
pub const EXIT_UNKNOWN_FUNCTION: u64 = 40;
/// Exit code of an instance whose module did not compile, instantiate or export its handler.
pub const EXIT_LOAD_FAILED: u64 = 41;
/// Exit code of an instance whose handler reported a failed self-check.
pub const EXIT_SELF_CHECK_FAILED: u64 = 42;
/// Exit code of an instance whose handler trapped (a panic inside the module is a trap).
pub const EXIT_TRAPPED: u64 = 43;
/// Exit code of an instance that received a payload too short to hold a [`Payload`].
pub const EXIT_BAD_PAYLOAD: u64 = 44;

/// Returns the number of function `name`, if there is one.
pub fn function_number(name: &str) -> Option<usize> {
    FUNCTIONS.iter().position(|function| *function == name)
}

/// One invocation's input: little-endian seed in bytes 0..8, flags in bytes 8..16.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Payload {
    /// Seeds the handler's input data.
    pub seed: u64,
    /// [`FLAG_CORRUPT`] or 0.
    pub flags: u64,
}

impl Payload {
    /// Bytes of an encoded payload.
    pub const BYTES: usize = 16;

    /// Returns the payload's bytes.
    pub fn encode(self) -> [u8; Payload::BYTES] {
        let mut bytes = [0; Payload::BYTES];
        bytes[..8].copy_from_slice(&self.seed.to_le_bytes());
        bytes[8..].copy_from_slice(&self.flags.to_le_bytes());
        bytes
    }

    /// Returns the payload `bytes` begin with (later bytes are ignored), or `None` when they are
    /// too short.
    pub fn decode(bytes: &[u8]) -> Option<Payload> {
        let seed = bytes.get(..8)?.try_into().ok()?;
        let flags = bytes.get(8..Payload::BYTES)?.try_into().ok()?;
        Some(Payload { seed: u64::from_le_bytes(seed), flags: u64::from_le_bytes(flags) })
    }
}

/// What a handler returns, carried in one `i64`: a non-negative value is a 63-bit checksum of the
/// result; a negative value `-n` says that self-check `n` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every self-check passed; a checksum of the result (63 bits).
    Checksum(u64),
    /// Self-check number `n` (1 or more) failed.
    Failed(u32),
}

impl Outcome {
    /// Returns a successful outcome, keeping the low 63 bits of `checksum`.
    pub const fn checksum(checksum: u64) -> Outcome {
        Outcome::Checksum(checksum & i64::MAX as u64)
    }

    /// Returns the outcome as the handler's `i64` result.
    pub const fn to_raw(self) -> i64 {
        match self {
            Outcome::Checksum(checksum) => (checksum & i64::MAX as u64) as i64,
            Outcome::Failed(check) => -(check as i64),
        }
    }

    /// Returns the outcome a handler's `i64` result stands for.
    pub const fn from_raw(raw: i64) -> Outcome {
        if raw >= 0 {
            Outcome::Checksum(raw as u64)
        } else {
            // -i64::MIN does not fit; no handler has that many checks, so clamp.
            let check = raw.unsigned_abs();
            Outcome::Failed(if check > u32::MAX as u64 { u32::MAX } else { check as u32 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_are_unique_and_numbered_in_table_order() {
        for (index, name) in FUNCTIONS.iter().enumerate() {
            assert_eq!(function_number(name), Some(index));
        }
        assert_eq!(function_number("nonexistent"), None);
    }

    #[test]
    fn payloads_round_trip_and_short_ones_are_refused() {
        let payload = Payload { seed: 0x0123_4567_89ab_cdef, flags: FLAG_CORRUPT };
        let bytes = payload.encode();
        assert_eq!(bytes[0], 0xef);
        assert_eq!(bytes[8], 1);
        assert_eq!(Payload::decode(&bytes), Some(payload));
        let mut longer = [0xffu8; 64];
        longer[..Payload::BYTES].copy_from_slice(&bytes);
        assert_eq!(Payload::decode(&longer), Some(payload));
        assert_eq!(Payload::decode(&bytes[..15]), None);
    }

    #[test]
    fn outcomes_round_trip_through_i64() {
        for outcome in [Outcome::Checksum(0), Outcome::Checksum(i64::MAX as u64), Outcome::Failed(1), Outcome::Failed(7)] {
            assert_eq!(Outcome::from_raw(outcome.to_raw()), outcome);
        }
        assert_eq!(Outcome::checksum(u64::MAX), Outcome::Checksum(i64::MAX as u64));
        assert_eq!(Outcome::from_raw(-3), Outcome::Failed(3));
        assert_eq!(Outcome::from_raw(i64::MIN), Outcome::Failed(u32::MAX));
    }

    #[test]
    fn exit_codes_are_distinct_and_not_success() {
        let codes = [EXIT_UNKNOWN_FUNCTION, EXIT_LOAD_FAILED, EXIT_SELF_CHECK_FAILED, EXIT_TRAPPED, EXIT_BAD_PAYLOAD];
        for (index, code) in codes.iter().enumerate() {
            assert_ne!(*code, 0);
            assert!(!codes[index + 1..].contains(code));
        }
    }
}
