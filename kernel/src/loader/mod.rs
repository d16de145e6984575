//! Loading user binaries: ELF images into address spaces.
//!
//! `elf` validates a file with the pure `elf-check` crate before any frame is taken, then copies
//! and relocates the pages; `mm::global_segment` maps them once for every process.

pub mod elf;
