//! Loading user binaries: ELF images into address spaces.
//!
//! `elf` validates a file with the pure `elf-check` crate before anything is mapped, then maps
//! and fills the pages and applies the relocations.

pub mod elf;
