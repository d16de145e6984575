//! Touches the first byte of each of the first `pages` pages of its read-only data (which lives
//! in the global window), `rounds` times, yielding after each round; exits with 0 when every
//! byte read back as expected. Argument: `pages | rounds << 16` (at most 64 pages).
//! The tlbsim end-to-end test runs several processes of it and counts the page walks.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

const PAGE_BYTES: usize = 4096;
const PAGES: usize = 64;
const ROUNDS_SHIFT: u64 = 16;
const PAGES_MASK: u64 = 0xffff;

static DATA: [u8; PAGES * PAGE_BYTES] = [1; PAGES * PAGE_BYTES];

fn main(argument: u64) -> u64 {
    let pages = ((argument & PAGES_MASK) as usize).min(PAGES);
    let rounds = argument >> ROUNDS_SHIFT;
    let mut sum = 0u64;
    for _ in 0..rounds {
        for page in 0..pages {
            // SAFETY: an in-bounds read of a static; volatile so that every touch happens.
            sum += u64::from(unsafe { core::ptr::read_volatile(&DATA[page * PAGE_BYTES]) });
        }
        shoal_rt::syscall::yield_now();
    }
    u64::from(sum != pages as u64 * rounds)
}
