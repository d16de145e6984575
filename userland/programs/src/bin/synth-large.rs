//! The large synthetic runtime: a function instance with 64 MiB of code and 64 MiB of read-only
//! data (the size class of a Node runtime; see `src/synthetic.rs` and `build.rs`), serving
//! invocations until shut down. Only the bench image carries it (see the root `build.rs`).
#![no_std]
#![no_main]

#[path = "../synthetic.rs"]
mod synthetic;

/// The routines, one per 4 KiB page, in the executable text segment.
#[unsafe(link_section = ".text.synthetic")]
static CODE: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-large-code.bin")).len()] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-large-code.bin"));
/// The read-only data, one tag per 4 KiB page.
static DATA: [u8; include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-large-data.bin")).len()] =
    *include_bytes!(concat!(env!("OUT_DIR"), "/synthetic-large-data.bin"));

shoal_rt::entry!(main);

fn main(_argument: u64) -> u64 {
    shoal_rt::faas::serve(|payload| synthetic::invoke(payload, &CODE, &DATA))
}
