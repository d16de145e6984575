//! A seeded 64-bit xorshift generator (Marsaglia, "Xorshift RNGs", 2003: shifts 13, 7, 17) for the
//! randomized tests of the pure crates: reproducible from a seed, without dependencies.
//!
//! Used only as a dev-dependency (`kernel/libs/*/src/tests.rs`); not for anything that needs
//! statistical quality or secrecy.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

/// A xorshift64 generator. The seed must not be 0 (the sequence would stay 0).
#[derive(Clone, Debug)]
pub struct XorShift(pub u64);

impl XorShift {
    /// Returns the next 64-bit value.
    #[allow(clippy::should_implement_trait)] // An endless generator, used as a plain method in tests.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Returns a value in `0..bound` (`bound > 0`).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// Returns a random byte.
    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

#[cfg(test)]
mod tests {
    use super::XorShift;

    #[test]
    fn the_sequence_is_the_published_xorshift64() {
        let mut generator = XorShift(1);
        // x ^= x << 13 -> 0x2001; x ^= x >> 7 -> 0x2041; x ^= x << 17 -> 0x40822041.
        assert_eq!(generator.next(), 0x4082_2041);
        let mut again = XorShift(1);
        again.next();
        assert_eq!(generator.next(), again.next());
    }

    #[test]
    fn below_stays_below_the_bound() {
        let mut generator = XorShift(0x5eed);
        assert!((0..10_000).all(|_| generator.below(7) < 7));
    }
}
