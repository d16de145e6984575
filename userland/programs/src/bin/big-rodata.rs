//! A 16 MiB binary: embeds 16 MiB of read-only data (written by build.rs), reads one byte of
//! each 4 KiB page of it selected by its argument, and exits with their sum modulo 256. Used to
//! show that page-table pages per process do not grow with binary size when tables are shared.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

static DATA: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/big-rodata.bin"));
const PAGE_BYTES: usize = 4096;

fn main(argument: u64) -> u64 {
    let data = core::hint::black_box(DATA);
    let offset = argument as usize % PAGE_BYTES;
    let sum = data.iter().skip(offset).step_by(PAGE_BYTES).fold(0u64, |sum, &byte| sum + u64::from(byte));
    sum % 256
}
