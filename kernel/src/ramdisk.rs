//! The boot ramdisk: user binaries (`bin/<name>`) and scenario files (`scenarios/<name>`).
//!
//! The bootloader loads the archive `build.rs` packed; [`init`] finds its physical bytes (through
//! the bootloader's tables, before the switch), validates it with the `ramdisk` crate, and keeps
//! it for the kernel's life. The memory is reported as bootloader memory, so the frame allocator
//! never hands it out.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::vec::Vec;

use ramdisk::{Entry, Ramdisk, RamdiskError};
use spin::Once;

/// Folder of the user binaries inside the archive.
pub const BINARY_FOLDER: &str = "bin/";
/// Folder of the scenario files inside the archive.
pub const SCENARIO_FOLDER: &str = "scenarios/";

static RAMDISK: Once<Ramdisk<'static>> = Once::new();
/// The entries, decoded once ([`index`]).
static INDEX: Once<Vec<Entry<'static>>> = Once::new();

/// Validates and keeps the archive; returns the number of files in it.
///
/// # Errors
/// Returns the archive's first problem (a large error, but returned once, at boot).
#[allow(clippy::result_large_err)]
pub fn init(bytes: &'static [u8]) -> Result<usize, RamdiskError> {
    let ramdisk = Ramdisk::parse(bytes)?;
    let count = ramdisk.len();
    RAMDISK.call_once(|| ramdisk);
    Ok(count)
}

/// Returns every file of the archive (none before [`init`]).
pub fn entries() -> impl Iterator<Item = Entry<'static>> {
    RAMDISK.get().into_iter().flat_map(|ramdisk| ramdisk.entries())
}

/// Returns the binary `name` as (its name, borrowed from the archive, and its bytes).
pub fn find(name: &str) -> Option<(&'static str, &'static [u8])> {
    index()
        .iter()
        .find_map(|entry| entry.name.strip_prefix(BINARY_FOLDER).filter(|binary| *binary == name).map(|binary| (binary, entry.bytes)))
}

/// Returns the file at archive path `path` (no leading `/`), as (its path, borrowed from the
/// archive, and its bytes): the files a Linux process may open read-only.
pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
    index().iter().find(|entry| entry.name == path).map(|entry| (entry.name, entry.bytes))
}

/// Returns whether `path` (no leading or trailing `/`; empty for the root) is a folder of the
/// archive: the root, or a prefix of some file's path followed by `/`.
pub fn is_folder(path: &str) -> bool {
    path.is_empty()
        || index().iter().any(|entry| entry.name.strip_prefix(path).is_some_and(|rest| rest.starts_with('/')))
}

/// Returns every entry, decoded once (on first use, after the heap is up): walking the archive
/// itself steps through every 512-byte block of every file, which a spawn must not pay for.
fn index() -> &'static [Entry<'static>] {
    if RAMDISK.get().is_none() {
        return &[];
    }
    INDEX.call_once(|| entries().collect())
}

/// Returns the scenario file `name`.
pub fn scenario(name: &str) -> Option<&'static [u8]> {
    let path = format!("{SCENARIO_FOLDER}{name}");
    entries().find(|entry| entry.name == path).map(|entry| entry.bytes)
}

/// Returns the names of the binaries, in archive order.
pub fn binaries() -> impl Iterator<Item = &'static str> {
    entries().filter_map(|entry| entry.name.strip_prefix(BINARY_FOLDER))
}

/// The prefix of the broken ELF files of the corpus (loaded only by the `bad-elf` tests).
pub const CORPUS_PREFIX: &str = "corpus-";
/// Prefixes of binaries loaded on first use rather than at boot: the 16 MiB test binary, the
/// synthetic runtimes, and the Linux programs (the test programs, the QuickJS and Lua runtimes and
/// the musl builds of the native workloads, `wasm-runtime-musl` among them: most boots never
/// start them).
pub const LAZY_PREFIXES: [&str; 6] = ["big-", "synth-", "linux-", "js-", "lua-", "wasm-runtime-"];

/// Name of the optional kernel-argument file at the top of the archive.
pub const ARGS_FILE: &str = "args";

/// Returns the ramdisk's kernel-argument file, if the image carries one.
pub fn args_file() -> Option<&'static [u8]> {
    entries().find(|entry| entry.name == ARGS_FILE).map(|entry| entry.bytes)
}
