//! The boot ramdisk: a ustar archive of user programs and scenario files, looked up by name.
//!
//! The root build script packs the userland ELF files and the default scenario file into one
//! archive with `Builder` (feature `builder`, host only); the bootloader loads that archive as its
//! ramdisk, and the kernel wraps the bytes in a [`Ramdisk`] with [`Ramdisk::parse`]. Parsing
//! validates the whole archive up front, so [`Ramdisk::get`] and [`Ramdisk::entries`] cannot fail
//! afterwards. Every [`Entry`] borrows its name and bytes from the archive: nothing is copied and
//! the reader never allocates.
//!
//! # Format
//!
//! The archive is a POSIX ustar file: a sequence of 512-byte blocks, each file being one header
//! block (name, octal size, checksum, type flag, ...) followed by its data padded to a whole block,
//! and two all-zero blocks marking the end. Every file's data therefore starts on a 512-byte
//! boundary of the ramdisk. Standard tools can inspect the archive (`tar tvf ramdisk.tar`).
//!
//! Why ustar and these crates: the issue asks for a maintained crate if one fits `no_std`.
//! [`tar_no_std`] (0.5) fits: it is `no_std`, never allocates, and since 0.5 its constructor
//! rejects bad checksums, unknown type flags, unparsable sizes, data running past the end, and a
//! missing end marker with a typed error, so its iterators (which `expect` on those facts) cannot
//! panic afterwards; the mutation test in this crate's tests backs that up. The host side writes
//! headers with the standard [`tar`](https://docs.rs/tar) crate. (`cpio_reader` was the
//! alternative: newc has no header checksum, and it reports any corruption as a silent end of
//! iteration instead of an error.)
//!
//! On top of `tar_no_std` this crate applies a stricter policy of its own:
//! - only regular files (type `'0'` or NUL) are allowed; directories, links, devices, FIFOs and
//!   PAX extended headers are refused with [`RamdiskError::UnsupportedEntryType`];
//! - a name lives entirely in the 100-byte name field ([`MAX_NAME_BYTES`]); the ustar prefix field
//!   must be empty, so the reader can hand out names borrowed from the archive;
//! - names must be valid, relative, normalised paths (see [`NameProblem`]): no leading `/`, no
//!   empty, `.` or `..` components, no NUL or control characters;
//! - names are unique;
//! - at most [`MAX_ENTRIES`] files.
//!
//! # Malformed input
//!
//! No input makes [`Ramdisk::parse`] panic; it returns a [`RamdiskError`] naming the problem and
//! the offset of the offending header. A truncated archive is always an error, never a silently
//! shorter archive: cutting anywhere leaves either a partial block
//! ([`RamdiskError::TruncatedBlock`]), data running past the end ([`RamdiskError::EntryPastEnd`]),
//! or no end marker ([`RamdiskError::MissingTerminator`]). Bytes after the end marker are ignored,
//! as in every tar reader (GNU tar pads archives to 10 KiB records with zeros).
//!
//! # Features
//!
//! - default: the reader only; `no_std`, no `alloc`.
//! - `builder`: `Builder`, which needs `std` (the root build script uses it).
//!
//! # Example
//!
//! ```
//! // The smallest valid archive: the two-block end marker plus the third block the reader
//! // requires at minimum, all zeros.
//! let bytes = [0u8; 3 * ramdisk::BLOCK_SIZE_BYTES];
//! let ramdisk = ramdisk::Ramdisk::parse(&bytes)?;
//! assert!(ramdisk.is_empty());
//! assert_eq!(ramdisk.get("hello"), None);
//! # Ok::<(), ramdisk::RamdiskError>(())
//! ```

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(all(feature = "builder", not(test)))]
extern crate std;

use core::fmt;

use tar_no_std::{CorruptDataError, PosixHeader, TarArchiveRef};

#[cfg(any(test, feature = "builder"))]
mod builder;
#[cfg(any(test, feature = "builder"))]
pub use builder::Builder;

/// Size of one archive block in bytes: every header, every data run, and the end marker are
/// multiples of it.
pub const BLOCK_SIZE_BYTES: usize = 512;

/// Largest number of files an archive may hold.
///
/// The duplicate-name check is quadratic in the number of files, so this also bounds the work
/// [`Ramdisk::parse`] does at boot (about 33,000 name comparisons at the limit).
pub const MAX_ENTRIES: usize = 256;

/// Longest allowed name in bytes: the size of the ustar name field.
pub const MAX_NAME_BYTES: usize = 100;

const _: () = assert!(
    MAX_NAME_BYTES <= u8::MAX as usize,
    "EntryName stores lengths as u8"
);

/// Largest file `Builder` writes: the largest size the 11 octal digits of a ustar size field
/// hold (8 GiB - 1). Larger sizes need a GNU or PAX extension that the reader does not support.
pub const MAX_FILE_BYTES: u64 = 0o777_7777_7777;

/// Smallest archive `tar_no_std` accepts: one block that may be a header, plus the end marker.
const MIN_ARCHIVE_BLOCKS: usize = 3;

/// Offset of the type flag within a header block.
const TYPE_FLAG_OFFSET: usize = 156;
/// Type flag of a regular file.
const TYPE_REGULAR: u8 = b'0';
/// Type flag of a regular file in pre-POSIX archives.
const TYPE_REGULAR_OLD: u8 = 0;
/// Offset of the magic field within a header block.
const MAGIC_OFFSET: usize = 257;
/// The magic of a POSIX ustar header (GNU tar writes `"ustar  \0"` and has no prefix field).
const USTAR_MAGIC: &[u8] = b"ustar\0";
/// Offset of the version field within a header block; a POSIX ustar header has `"00"` there.
const VERSION_OFFSET: usize = 263;
/// The version of a POSIX ustar header.
const USTAR_VERSION: &[u8] = b"00";
/// Offset of the ustar prefix field, which holds the leading part of a long name.
const PREFIX_OFFSET: usize = 345;

/// Why a name is refused, by [`Ramdisk::parse`] or by `Builder::add`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// The name is longer than [`MAX_NAME_BYTES`].
    TooLong {
        /// Length of the name in bytes.
        length_bytes: usize,
    },
    /// The header stores part of the name in the ustar prefix field.
    UsesPrefixField,
    /// The name contains a NUL byte (in an archive: a non-zero byte after the name's NUL).
    ContainsNul,
    /// The name is not valid UTF-8.
    NotUtf8,
    /// The name contains a control character (such as a newline or DEL).
    ControlCharacter,
    /// The name starts with `/`.
    Absolute,
    /// The name has an empty path component (`a//b` or a trailing `/`).
    EmptyComponent,
    /// The name has a `.` path component.
    DotComponent,
    /// The name has a `..` path component.
    DotDotComponent,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            NameProblem::Empty => write!(f, "the name is empty"),
            NameProblem::TooLong { length_bytes } => write!(
                f,
                "the name is {length_bytes} bytes, longer than the limit of {MAX_NAME_BYTES}"
            ),
            NameProblem::UsesPrefixField => write!(
                f,
                "the name continues in the ustar prefix field \
                 (names must fit the {MAX_NAME_BYTES}-byte name field)"
            ),
            NameProblem::ContainsNul => write!(f, "the name contains a NUL byte"),
            NameProblem::NotUtf8 => write!(f, "the name is not valid UTF-8"),
            NameProblem::ControlCharacter => write!(f, "the name contains a control character"),
            NameProblem::Absolute => write!(f, "the name is an absolute path (starts with '/')"),
            NameProblem::EmptyComponent => write!(
                f,
                "the name has an empty path component ('//' or a trailing '/')"
            ),
            NameProblem::DotComponent => write!(f, "the name has a '.' path component"),
            NameProblem::DotDotComponent => write!(f, "the name has a '..' path component"),
        }
    }
}

/// A copy of an entry name for error messages, which must not borrow the archive.
///
/// It holds at most [`MAX_NAME_BYTES`] bytes; a longer name is cut and marked as truncated. The
/// bytes need not be valid UTF-8: `Display` shows them quoted, with invalid bytes as `\xNN` and
/// control characters escaped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct EntryName {
    bytes: [u8; MAX_NAME_BYTES],
    /// Stored length; a `u8` (`MAX_NAME_BYTES` fits) keeps [`RamdiskError`] small.
    length_bytes: u8,
    truncated: bool,
}

impl EntryName {
    /// Returns a copy of `name`, cut to [`MAX_NAME_BYTES`] bytes.
    #[must_use]
    pub fn new(name: &[u8]) -> Self {
        let stored = &name[..name.len().min(MAX_NAME_BYTES)];
        let mut bytes = [0; MAX_NAME_BYTES];
        bytes[..stored.len()].copy_from_slice(stored);
        EntryName {
            bytes,
            length_bytes: u8::try_from(stored.len()).unwrap_or(u8::MAX),
            truncated: name.len() > MAX_NAME_BYTES,
        }
    }

    /// Returns a copy of the name stored in a raw name field: the field without trailing NULs.
    fn from_field(field: &[u8]) -> Self {
        let used_bytes = field
            .iter()
            .rposition(|&byte| byte != 0)
            .map_or(0, |last| last + 1);
        EntryName::new(&field[..used_bytes])
    }

    /// Returns the stored bytes (cut to [`MAX_NAME_BYTES`]).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.length_bytes)]
    }

    /// Returns whether the original name was longer than what is stored.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("\"")?;
        for chunk in self.as_bytes().utf8_chunks() {
            for character in chunk.valid().chars() {
                write!(f, "{}", character.escape_debug())?;
            }
            for byte in chunk.invalid() {
                write!(f, "\\x{byte:02x}")?;
            }
        }
        f.write_str("\"")?;
        if self.truncated {
            f.write_str("...")?;
        }
        Ok(())
    }
}

impl fmt::Debug for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Errors reported by [`Ramdisk::parse`] and `Builder::add`.
///
/// Offsets are byte offsets of a header block from the start of the archive. For errors from
/// `Builder::add` they are where the refused header would have gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RamdiskError {
    /// The archive has no bytes at all.
    Empty,
    /// The archive ends inside a block: its length is not a multiple of [`BLOCK_SIZE_BYTES`].
    TruncatedBlock {
        /// Offset of the incomplete last block.
        offset_bytes: usize,
        /// Bytes present of that block.
        present_bytes: usize,
    },
    /// The archive is a whole number of blocks but fewer than the minimum of three.
    TooShort {
        /// Length of the archive.
        length_bytes: usize,
    },
    /// A header's stored checksum does not match its contents (or is not a number).
    BadChecksum {
        /// Offset of the header.
        offset_bytes: usize,
    },
    /// A header describes something other than a regular file.
    UnsupportedEntryType {
        /// Offset of the header.
        offset_bytes: usize,
        /// The entry's name, as stored.
        name: EntryName,
        /// The raw type flag byte (`'5'` directory, `'2'` symbolic link, `'x'` PAX header, ...).
        type_flag: u8,
    },
    /// A header's size field is not an octal number.
    InvalidSize {
        /// Offset of the header.
        offset_bytes: usize,
        /// The entry's name, as stored.
        name: EntryName,
    },
    /// An entry's data (rounded up to whole blocks) runs past the end of the archive.
    EntryPastEnd {
        /// Offset of the header.
        offset_bytes: usize,
        /// The entry's name, as stored.
        name: EntryName,
        /// Length of the archive.
        archive_length_bytes: usize,
    },
    /// The headers run up to the end of the archive without the two zero blocks that end it.
    MissingTerminator {
        /// Length of the archive.
        archive_length_bytes: usize,
    },
    /// An entry's name breaks the naming rules.
    InvalidName {
        /// Offset of the header.
        offset_bytes: usize,
        /// The name, as stored or given.
        name: EntryName,
        /// Which rule it breaks.
        problem: NameProblem,
    },
    /// Two entries have the same name.
    DuplicateName {
        /// The name.
        name: EntryName,
        /// Offset of the first header with that name.
        first_offset_bytes: usize,
        /// Offset of the second header with that name.
        second_offset_bytes: usize,
    },
    /// The archive holds more than [`MAX_ENTRIES`] files.
    TooManyEntries {
        /// Offset of the first header past the limit.
        offset_bytes: usize,
    },
    /// A file given to `Builder::add` is larger than [`MAX_FILE_BYTES`].
    FileTooLarge {
        /// The file's name.
        name: EntryName,
        /// The file's length.
        length_bytes: usize,
    },
}

impl fmt::Display for RamdiskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RamdiskError::Empty => write!(f, "ramdisk archive is empty (0 bytes)"),
            RamdiskError::TruncatedBlock {
                offset_bytes,
                present_bytes,
            } => write!(
                f,
                "ramdisk archive is truncated: the block at offset {offset_bytes} has only \
                 {present_bytes} of {BLOCK_SIZE_BYTES} bytes"
            ),
            RamdiskError::TooShort { length_bytes } => write!(
                f,
                "ramdisk archive is {length_bytes} bytes, shorter than the minimum of \
                 {MIN_ARCHIVE_BLOCKS} blocks ({} bytes)",
                MIN_ARCHIVE_BLOCKS * BLOCK_SIZE_BYTES
            ),
            RamdiskError::BadChecksum { offset_bytes } => {
                write!(
                    f,
                    "ramdisk header at offset {offset_bytes} has a bad checksum"
                )
            }
            RamdiskError::UnsupportedEntryType {
                offset_bytes,
                name,
                type_flag,
            } => write!(
                f,
                "ramdisk header at offset {offset_bytes}: entry {name} has type flag {:?} \
                 (0x{type_flag:02x}); only regular files are supported",
                char::from(type_flag)
            ),
            RamdiskError::InvalidSize { offset_bytes, name } => write!(
                f,
                "ramdisk header at offset {offset_bytes}: entry {name} has a size field that is \
                 not an octal number"
            ),
            RamdiskError::EntryPastEnd {
                offset_bytes,
                name,
                archive_length_bytes,
            } => write!(
                f,
                "ramdisk header at offset {offset_bytes}: entry {name} extends past the end of \
                 the {archive_length_bytes}-byte archive"
            ),
            RamdiskError::MissingTerminator {
                archive_length_bytes,
            } => write!(
                f,
                "ramdisk archive of {archive_length_bytes} bytes does not end with two zero \
                 blocks (truncated?)"
            ),
            RamdiskError::InvalidName {
                offset_bytes,
                name,
                problem,
            } => write!(
                f,
                "ramdisk header at offset {offset_bytes}: invalid name {name}: {problem}"
            ),
            RamdiskError::DuplicateName {
                name,
                first_offset_bytes,
                second_offset_bytes,
            } => write!(
                f,
                "ramdisk has duplicate name {name} (headers at offsets {first_offset_bytes} and \
                 {second_offset_bytes})"
            ),
            RamdiskError::TooManyEntries { offset_bytes } => write!(
                f,
                "ramdisk has too many entries: the header at offset {offset_bytes} is past the \
                 limit of {MAX_ENTRIES}"
            ),
            RamdiskError::FileTooLarge { name, length_bytes } => write!(
                f,
                "ramdisk entry {name} is {length_bytes} bytes, larger than the ustar limit of \
                 {MAX_FILE_BYTES} bytes"
            ),
        }
    }
}

impl core::error::Error for RamdiskError {}

impl RamdiskError {
    /// Converts a `tar_no_std` validation error, naming the entry where there is a header.
    fn from_tar(error: CorruptDataError, bytes: &[u8]) -> Self {
        let offset_of = |block_index: usize| block_index.saturating_mul(BLOCK_SIZE_BYTES);
        let name_at = |offset_bytes: usize| {
            EntryName::from_field(field(bytes, offset_bytes, 0, MAX_NAME_BYTES).unwrap_or(&[]))
        };
        match error {
            CorruptDataError::EmptyArchive => RamdiskError::Empty,
            CorruptDataError::InvalidBlockSize => {
                let present_bytes = bytes.len() % BLOCK_SIZE_BYTES;
                RamdiskError::TruncatedBlock {
                    offset_bytes: bytes.len() - present_bytes,
                    present_bytes,
                }
            }
            CorruptDataError::TooShort { byte_count, .. } => RamdiskError::TooShort {
                length_bytes: byte_count,
            },
            CorruptDataError::InvalidChecksum { block_index } => RamdiskError::BadChecksum {
                offset_bytes: offset_of(block_index),
            },
            CorruptDataError::InvalidTypeFlag { block_index } => {
                let offset_bytes = offset_of(block_index);
                RamdiskError::UnsupportedEntryType {
                    offset_bytes,
                    name: name_at(offset_bytes),
                    type_flag: field(bytes, offset_bytes, TYPE_FLAG_OFFSET, 1)
                        .and_then(|flag| flag.first().copied())
                        .unwrap_or(0),
                }
            }
            CorruptDataError::InvalidPayloadSize { block_index } => {
                let offset_bytes = offset_of(block_index);
                RamdiskError::InvalidSize {
                    offset_bytes,
                    name: name_at(offset_bytes),
                }
            }
            CorruptDataError::PayloadExtendsBeyondArchive { block_index } => {
                let offset_bytes = offset_of(block_index);
                RamdiskError::EntryPastEnd {
                    offset_bytes,
                    name: name_at(offset_bytes),
                    archive_length_bytes: bytes.len(),
                }
            }
            CorruptDataError::MissingTerminator => RamdiskError::MissingTerminator {
                archive_length_bytes: bytes.len(),
            },
        }
    }
}

/// One file of the ramdisk: its name and contents, both borrowed from the archive.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The file's name, a relative path such as `hello` or `bin/hello`.
    pub name: &'a str,
    /// The file's contents. They start on a [`BLOCK_SIZE_BYTES`] boundary of the archive.
    pub bytes: &'a [u8],
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("name", &self.name)
            .field("length_bytes", &self.bytes.len())
            .finish()
    }
}

/// A validated ramdisk archive, borrowing its bytes.
///
/// Lookups walk the headers (the reader keeps no index, so it needs no allocator); with at most
/// [`MAX_ENTRIES`] files that is cheap next to loading a program.
#[derive(Clone)]
pub struct Ramdisk<'a> {
    archive: TarArchiveRef<'a>,
    bytes: &'a [u8],
    entry_count: usize,
}

impl<'a> Ramdisk<'a> {
    /// Validates `bytes` as a ramdisk archive and returns a view of it.
    ///
    /// Checks the whole archive before returning: the block layout, every header's checksum, type
    /// and size, that every entry's data lies inside the archive, the end marker, every name
    /// against the rules in [`NameProblem`], that names are unique, and the entry limit.
    ///
    /// # Errors
    ///
    /// Returns the first problem found as a [`RamdiskError`]; see the crate documentation for how
    /// truncated archives are reported.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, RamdiskError> {
        let archive =
            TarArchiveRef::new(bytes).map_err(|error| RamdiskError::from_tar(error, bytes))?;
        let mut entry_count = 0;
        let mut entries = Entries::new(bytes, &archive);
        while let Some(located) = entries.next_located() {
            let (offset_bytes, entry) = located?;
            if entry_count == MAX_ENTRIES {
                return Err(RamdiskError::TooManyEntries { offset_bytes });
            }
            let mut earlier_entries = Entries::new(bytes, &archive);
            for _ in 0..entry_count {
                if let Some(Ok((first_offset_bytes, earlier))) = earlier_entries.next_located()
                    && earlier.name == entry.name
                {
                    return Err(RamdiskError::DuplicateName {
                        name: EntryName::new(entry.name.as_bytes()),
                        first_offset_bytes,
                        second_offset_bytes: offset_bytes,
                    });
                }
            }
            entry_count += 1;
        }
        Ok(Ramdisk {
            archive,
            bytes,
            entry_count,
        })
    }

    /// Returns the contents of the file called `name`, or `None` if there is none.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.entries()
            .find(|entry| entry.name == name)
            .map(|entry| entry.bytes)
    }

    /// Returns an iterator over the files, in archive order.
    #[must_use]
    pub fn entries(&self) -> Entries<'a> {
        Entries::new(self.bytes, &self.archive)
    }

    /// Returns the number of files.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entry_count
    }

    /// Returns whether the archive holds no files.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entry_count == 0
    }

    /// Returns the whole archive.
    #[must_use]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

impl fmt::Debug for Ramdisk<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ramdisk")
            .field("length_bytes", &self.bytes.len())
            .field("entry_count", &self.entry_count)
            .finish()
    }
}

/// Iterator over the files of a [`Ramdisk`], returned by [`Ramdisk::entries`].
pub struct Entries<'a> {
    bytes: &'a [u8],
    headers: tar_no_std::ArchiveHeaderIterator<'a>,
}

impl<'a> Entries<'a> {
    fn new(bytes: &'a [u8], archive: &TarArchiveRef<'a>) -> Self {
        Entries {
            bytes,
            headers: archive.headers(),
        }
    }

    /// Returns the next entry with the offset of its header, or the reason it is refused.
    fn next_located(&mut self) -> Option<Result<(usize, Entry<'a>), RamdiskError>> {
        let (block_index, header) = self.headers.next()?;
        Some(decode_entry(self.bytes, block_index, header))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Entry<'a>;

    fn next(&mut self) -> Option<Entry<'a>> {
        // `Ramdisk::parse` decoded every header successfully, so nothing is skipped here.
        self.next_located()?.ok().map(|(_, entry)| entry)
    }
}

impl fmt::Debug for Entries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entries").finish_non_exhaustive()
    }
}

/// Returns `length` bytes at `offset_in_header` of the header block at `header_offset`, or `None`
/// if they are not all inside `bytes`.
fn field(
    bytes: &[u8],
    header_offset: usize,
    offset_in_header: usize,
    length: usize,
) -> Option<&[u8]> {
    let start = header_offset.checked_add(offset_in_header)?;
    bytes.get(start..start.checked_add(length)?)
}

/// Applies this crate's policy to one header that `tar_no_std` has already validated, and returns
/// the entry's header offset and contents.
fn decode_entry<'a>(
    bytes: &'a [u8],
    block_index: usize,
    header: &PosixHeader,
) -> Result<(usize, Entry<'a>), RamdiskError> {
    // `tar_no_std` only hands out headers whose block lies inside `bytes`, so the offsets below
    // cannot overflow; `checked_*` and `get` turn a broken assumption into an error, not a panic.
    let offset_bytes = block_index.saturating_mul(BLOCK_SIZE_BYTES);
    let archive_length_bytes = bytes.len();
    let header_block =
        field(bytes, offset_bytes, 0, BLOCK_SIZE_BYTES).ok_or(RamdiskError::TruncatedBlock {
            offset_bytes,
            present_bytes: archive_length_bytes.saturating_sub(offset_bytes),
        })?;
    let name_field = &header_block[..MAX_NAME_BYTES];
    let name = EntryName::from_field(name_field);

    let type_flag = header_block[TYPE_FLAG_OFFSET];
    if type_flag != TYPE_REGULAR && type_flag != TYPE_REGULAR_OLD {
        return Err(RamdiskError::UnsupportedEntryType {
            offset_bytes,
            name,
            type_flag,
        });
    }

    let invalid_name = |problem| RamdiskError::InvalidName {
        offset_bytes,
        name,
        problem,
    };
    let is_posix_ustar = header_block[MAGIC_OFFSET..].starts_with(USTAR_MAGIC)
        && header_block[VERSION_OFFSET..].starts_with(USTAR_VERSION);
    if is_posix_ustar && header_block[PREFIX_OFFSET] != 0 {
        return Err(invalid_name(NameProblem::UsesPrefixField));
    }
    let name_length_bytes = name_field
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(MAX_NAME_BYTES);
    let (name_bytes, after_name) = name_field.split_at(name_length_bytes);
    if after_name.iter().any(|&byte| byte != 0) {
        return Err(invalid_name(NameProblem::ContainsNul));
    }
    let name_str = check_name(name_bytes).map_err(invalid_name)?;

    let size_bytes: usize = header
        .size
        .as_number()
        .map_err(|_| RamdiskError::InvalidSize { offset_bytes, name })?;
    let data_start = offset_bytes.checked_add(BLOCK_SIZE_BYTES);
    let data = data_start
        .and_then(|start| bytes.get(start..start.checked_add(size_bytes)?))
        .ok_or(RamdiskError::EntryPastEnd {
            offset_bytes,
            name,
            archive_length_bytes,
        })?;
    Ok((
        offset_bytes,
        Entry {
            name: name_str,
            bytes: data,
        },
    ))
}

/// Checks `name` against the naming rules (see [`NameProblem`]) and returns it as a `str`.
fn check_name(name: &[u8]) -> Result<&str, NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameProblem::TooLong {
            length_bytes: name.len(),
        });
    }
    if name.contains(&0) {
        return Err(NameProblem::ContainsNul);
    }
    let name = core::str::from_utf8(name).map_err(|_| NameProblem::NotUtf8)?;
    if name.chars().any(char::is_control) {
        return Err(NameProblem::ControlCharacter);
    }
    if name.starts_with('/') {
        return Err(NameProblem::Absolute);
    }
    for component in name.split('/') {
        match component {
            "" => return Err(NameProblem::EmptyComponent),
            "." => return Err(NameProblem::DotComponent),
            ".." => return Err(NameProblem::DotDotComponent),
            _ => {}
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests;
