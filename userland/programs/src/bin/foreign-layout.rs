//! Linked with 4 KiB pages (see `build.rs`), like a binary from a foreign toolchain: its
//! read-only and writable segments share 2 MiB regions, so the kernel gives that region a
//! private page table per process. It writes its own data, reads it back with its read-only
//! data, and exits with 0 when all is as expected.
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

shoal_rt::entry!(main);

static COUNTER: AtomicU64 = AtomicU64::new(41);
static CONSTANTS: [u64; 4] = [1, 2, 3, 4];

fn main(argument: u64) -> u64 {
    COUNTER.fetch_add(argument + 1, Ordering::Relaxed);
    let sum: u64 = core::hint::black_box(&CONSTANTS).iter().sum();
    u64::from(COUNTER.load(Ordering::Relaxed) != 42 + argument || sum != 10)
}
