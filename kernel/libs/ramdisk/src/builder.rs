//! Writing ramdisk archives on the host (feature `builder`).
//!
//! [`Builder`] applies the same rules as [`Ramdisk::parse`](crate::Ramdisk::parse) (names, limits,
//! uniqueness) when a file is added, so every archive it finishes parses. Headers are encoded by
//! the [`tar`] crate; the builder writes the blocks itself into a `Vec`, so nothing can fail at
//! the I/O level and the output is deterministic: owner 0, mode `0o644`, modification time 0.

use std::string::String;
use std::vec::Vec;

use crate::{
    BLOCK_SIZE_BYTES, EntryName, MAX_ENTRIES, MAX_FILE_BYTES, MIN_ARCHIVE_BLOCKS, RamdiskError,
    check_name,
};

/// Permission bits written for every file, so `tar x` yields readable files.
const FILE_MODE: u32 = 0o644;

/// Builds a ramdisk archive in memory.
///
/// ```
/// # #[cfg(feature = "builder")] {
/// let mut builder = ramdisk::Builder::new();
/// builder.add("hello", b"\x7fELF...")?.add("scenario.txt", b"spawn hello\n")?;
/// let bytes = builder.finish();
/// let ramdisk = ramdisk::Ramdisk::parse(&bytes)?;
/// assert_eq!(ramdisk.get("scenario.txt"), Some(&b"spawn hello\n"[..]));
/// # }
/// # Ok::<(), ramdisk::RamdiskError>(())
/// ```
#[derive(Debug, Default)]
pub struct Builder {
    archive: Vec<u8>,
    /// Names added so far, with the offsets of their headers.
    names: Vec<(String, usize)>,
}

impl Builder {
    /// Returns a builder for an empty archive.
    #[must_use]
    pub fn new() -> Self {
        Builder::default()
    }

    /// Appends the file `name` with contents `bytes`.
    ///
    /// # Errors
    ///
    /// Returns [`RamdiskError::InvalidName`] if `name` breaks the naming rules (see
    /// [`NameProblem`](crate::NameProblem)), [`RamdiskError::DuplicateName`] if it was added
    /// before, [`RamdiskError::TooManyEntries`] past [`MAX_ENTRIES`] files, and
    /// [`RamdiskError::FileTooLarge`] if `bytes` is longer than [`MAX_FILE_BYTES`]. The builder is
    /// unchanged after an error.
    pub fn add(&mut self, name: &str, bytes: &[u8]) -> Result<&mut Self, RamdiskError> {
        let offset_bytes = self.archive.len();
        check_name(name.as_bytes()).map_err(|problem| RamdiskError::InvalidName {
            offset_bytes,
            name: EntryName::new(name.as_bytes()),
            problem,
        })?;
        if let Some((_, first_offset_bytes)) = self.names.iter().find(|(added, _)| added == name) {
            return Err(RamdiskError::DuplicateName {
                name: EntryName::new(name.as_bytes()),
                first_offset_bytes: *first_offset_bytes,
                second_offset_bytes: offset_bytes,
            });
        }
        if self.names.len() == MAX_ENTRIES {
            return Err(RamdiskError::TooManyEntries { offset_bytes });
        }
        let size_bytes = u64::try_from(bytes.len())
            .ok()
            .filter(|&size| size <= MAX_FILE_BYTES)
            .ok_or(RamdiskError::FileTooLarge {
                name: EntryName::new(name.as_bytes()),
                length_bytes: bytes.len(),
            })?;

        let mut header = tar::Header::new_ustar();
        // `check_name` guarantees the name fits the name field and is already normalised, so it
        // is stored byte for byte (`Header::set_path` would normalise it again).
        header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(size_bytes);
        header.set_mode(FILE_MODE);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(0);
        header.set_cksum();

        self.archive.extend_from_slice(header.as_bytes());
        self.archive.extend_from_slice(bytes);
        self.pad_to_block();
        self.names.push((String::from(name), offset_bytes));
        Ok(self)
    }

    /// Appends the end marker and returns the archive bytes.
    ///
    /// An archive with no files gets one extra zero block, because the reader (like
    /// `tar_no_std`) requires at least three blocks.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        let end_marker_bytes = 2 * BLOCK_SIZE_BYTES;
        self.archive
            .resize(self.archive.len() + end_marker_bytes, 0);
        let minimum_bytes = MIN_ARCHIVE_BLOCKS * BLOCK_SIZE_BYTES;
        if self.archive.len() < minimum_bytes {
            self.archive.resize(minimum_bytes, 0);
        }
        self.archive
    }

    /// Pads the archive with zeros to a whole number of blocks.
    fn pad_to_block(&mut self) {
        let padded_bytes = self.archive.len().next_multiple_of(BLOCK_SIZE_BYTES);
        self.archive.resize(padded_bytes, 0);
    }
}
