//! Validates a user ELF file before the kernel maps anything, and plans how to load it.
//!
//! [`plan`] reads an ELF file from a byte slice and checks it against everything shoal's loader
//! relies on: an ELF64, little-endian, x86_64 `ET_EXEC` or `ET_DYN` image whose program headers and
//! segments lie inside the file, whose `PT_LOAD` segments have `filesz <= memsz`, do not wrap the
//! address space, are page-congruent (`p_vaddr % 4096 == p_offset % 4096`), never share a page,
//! lie inside the caller's allowed range, and are never writable and executable at once (W^X);
//! whose entry point lies in an executable segment; which asks for no interpreter and no shared
//! library; and whose relocations are all `R_X86_64_RELATIVE` (or `R_X86_64_NONE`) with targets
//! inside the image. Each broken rule is its own [`ElfError`] variant with a message that names the
//! values, and a stable short name from [`ElfError::kind`] that tests compare against. No input
//! makes it panic: every read is bounds-checked and all address arithmetic is checked.
//!
//! The result is a [`LoadPlan`]: the relocated [`PlannedSegment`]s, the relocated entry point, and
//! the relocation table. Because [`plan`] already walks every relocation once, a plan that was
//! returned cannot fail later when it is applied to the same file. The kernel loads an image in
//! this order:
//! 1. for each segment, map (or allocate) the pages `page_start..page_end` writable by the kernel,
//!    copy [`PlannedSegment::file_data`] to `virtual_address` and zero the rest of the pages;
//! 2. apply [`LoadPlan::relocations`]: write each [`Relocation::value`] as a little-endian `u64` at
//!    [`Relocation::target`];
//! 3. only then give each segment its final permissions (`writable`, `executable`), and keep the
//!    pristine copy of the writable segments (DESIGN.md, "Address space").
//!
//! # Decisions
//! - **One permission set per page.** shoal maps each page with a single set of permissions, so
//!   two `PT_LOAD` segments may not share a page, even when their bytes do not overlap. Linkers
//!   that put the read-only and writable segments on separate pages (lld and GNU ld by default,
//!   and shoal's own userland, which even keeps them in separate 2 MiB regions) pass this check.
//! - **Relocation targets may be read-only.** In a static PIE, `R_X86_64_RELATIVE` targets often
//!   lie in the RELRO part of the image, which is mapped read-only. The kernel applies the
//!   relocations while it still writes the image (step 2 above), so a target only has to lie inside
//!   *some* loaded segment, whatever its permissions; it may also lie in the zero-filled tail.
//! - **Only `RELA`.** `DT_REL` (relocations without addend), `DT_RELR` (packed relative
//!   relocations) and `DT_JMPREL` (PLT relocations) are rejected with
//!   [`ElfError::UnsupportedRelocationFormat`]; `DT_NEEDED` and `PT_INTERP` are rejected because
//!   shoal has no dynamic linker. `R_X86_64_NONE` entries are skipped.
//! - **Empty segments.** A `PT_LOAD` with `p_memsz == 0` is checked like any other but loads
//!   nothing: it is left out of the plan and of the overlap and range checks.
//! - **Fixed capacity.** A plan holds at most [`MAX_LOAD_SEGMENTS`] segments and the file at most
//!   [`MAX_PROGRAM_HEADERS`] program headers; the plan itself never allocates.
//!
//! # Use of goblin
//! The structures (`Header`, `ProgramHeader`, `Dyn`, `Rela`), the constants (`PT_LOAD`,
//! `EM_X86_64`, `R_X86_64_RELATIVE`, ...) and the readers come from goblin's `elf64` module, read
//! with `scroll`'s `Pread` at explicit offsets with little-endian byte order. That needs goblin's
//! `alloc` feature (which derives the readers; the kernel has a heap), but nothing here allocates.
//! goblin's whole-file `Elf::parse` (feature `endian_fd`) is not used: it also parses section
//! headers, symbol and string tables and notes, allocating vectors sized by the file, none of which
//! a loader needs, and it neither reports what this crate must check nor in the form it needs. The
//! zero-copy `from_bytes` casts are not used either: they panic on a misaligned slice.
//!
//! # Features
//! - `corpus`: the [`corpus`] module, a valid minimal static-PIE image and a list of broken ones
//!   with the error kind each must produce (for the kernel's QEMU tests). Needs only `alloc`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

#[cfg(any(test, feature = "corpus"))]
extern crate alloc;

#[cfg(any(test, feature = "corpus"))]
pub mod corpus;
#[cfg(test)]
mod tests;

use core::fmt;
use core::ops::Range;

use goblin::elf64::dynamic::{
    DT_JMPREL, DT_NEEDED, DT_NULL, DT_REL, DT_RELA, DT_RELAENT, DT_RELASZ, Dyn, SIZEOF_DYN,
};
use goblin::elf64::header::{
    EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS64, ELFDATA2LSB, ELFMAG, EM_X86_64, ET_DYN, ET_EXEC,
    EV_CURRENT, Header, SELFMAG, SIZEOF_EHDR, SIZEOF_IDENT,
};
use goblin::elf64::program_header::{
    PF_W, PF_X, PT_DYNAMIC, PT_GNU_RELRO, PT_INTERP, PT_LOAD, PT_NOTE, PT_PHDR, ProgramHeader,
    SIZEOF_PHDR,
};
use goblin::elf64::reloc::{R_X86_64_IRELATIVE, R_X86_64_NONE, R_X86_64_RELATIVE, Rela, SIZEOF_RELA};
use scroll::{LE, Pread};

/// Dynamic tag of the count of `R_X86_64_RELATIVE` entries at the start of `DT_RELA` (goblin's
/// `DT_RELACOUNT` lives in its `alloc`-only module, which this crate leaves out).
pub const DT_RELACOUNT: u64 = 0x6fff_fff9;

/// Size of one page in bytes: the granularity at which shoal maps segments.
pub const PAGE_SIZE_BYTES: u64 = 4096;

/// Most `PT_LOAD` segments (with a non-zero memory size) a plan can hold.
pub const MAX_LOAD_SEGMENTS: usize = 16;

/// Most program headers (of any type) a file may have.
pub const MAX_PROGRAM_HEADERS: usize = 64;

/// Dynamic tag of the packed relative relocation table (`DT_RELR`; goblin has no constant for it).
pub const DT_RELR: u64 = 36;

/// Number of bytes an `R_X86_64_RELATIVE` relocation writes (one little-endian `u64`).
pub const RELOCATION_WIDTH_BYTES: u64 = 8;

/// Where an image goes in the address space, chosen by the kernel before it calls [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    /// Address at which an `ET_DYN` image's address 0 is placed; must be page aligned. An
    /// `ET_EXEC` image is loaded at its link addresses and requires `base == 0`.
    pub base: u64,
    /// Virtual addresses the image's pages may occupy (after adding `base`): every page of every
    /// loaded segment must lie inside this range.
    pub allowed: Range<u64>,
}

/// The ELF type of a planned image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    /// `ET_EXEC`: loaded at its link addresses (`base == 0`).
    Executable,
    /// `ET_DYN`: a position-independent executable (static PIE), loaded at `base`.
    PositionIndependent,
}

/// Which system-call interface a binary is written against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Personality {
    /// shoal's own ABI: the file carries shoal's personality note (`abi::linux::NOTE_NAME`).
    Native,
    /// Linux x86-64: every executable without shoal's note.
    Linux,
}

/// Where the program header table lies in the loaded image (for the auxiliary vector's
/// `AT_PHDR`, `AT_PHENT` and `AT_PHNUM`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramHeaders {
    /// Relocated address of the first entry.
    pub address: u64,
    /// Number of entries.
    pub count: u16,
    /// Bytes of one entry.
    pub entry_bytes: u16,
}

/// One `PT_LOAD` segment of a [`LoadPlan`], with every address already relocated by the base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct PlannedSegment {
    /// Index of the segment's program header in the file.
    pub program_header_index: usize,
    /// First page of the segment: `virtual_address` rounded down to a page boundary.
    pub page_start: u64,
    /// End of the segment's last page (exclusive): `virtual_address + memory_bytes` rounded up.
    pub page_end: u64,
    /// Exact relocated address of the segment's first byte (`base + p_vaddr`).
    pub virtual_address: u64,
    /// Size of the segment in memory (`p_memsz`); bytes past `file_bytes` are zero.
    pub memory_bytes: u64,
    /// Offset of the segment's bytes in the file (`p_offset`).
    pub file_offset: u64,
    /// Number of bytes copied from the file (`p_filesz`).
    pub file_bytes: u64,
    /// Whether user code may write the segment (`PF_W`).
    pub writable: bool,
    /// Whether user code may execute the segment (`PF_X`).
    pub executable: bool,
}

impl PlannedSegment {
    /// Returns the number of pages `page_start..page_end` covers.
    pub const fn page_count(&self) -> u64 {
        self.page_end.saturating_sub(self.page_start) / PAGE_SIZE_BYTES
    }

    /// Returns the bytes to copy to `virtual_address`, or `None` when `file` is not the file the
    /// plan was made from (it is too short).
    pub fn file_data<'file>(&self, file: &'file [u8]) -> Option<&'file [u8]> {
        file.get(file_range(file.len(), self.file_offset, self.file_bytes)?)
    }

    /// Returns whether the `length_bytes` bytes at `address` all lie inside the segment's memory.
    fn contains(&self, address: u64, length_bytes: u64) -> bool {
        let Some(segment_end) = self.virtual_address.checked_add(self.memory_bytes) else {
            return false;
        };
        address >= self.virtual_address
            && address
                .checked_add(length_bytes)
                .is_some_and(|end| end <= segment_end)
    }
}

/// One relocation to apply: write `value` as a little-endian `u64` at `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Relocation {
    /// Relocated address of the 8 bytes to write (`base + r_offset`); it lies inside a segment.
    pub target: u64,
    /// Value to write: `base + r_addend`, computed modulo 2^64 as the x86_64 psABI defines it.
    pub value: u64,
}

/// Where the validated `RELA` table lies in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RelocationTable {
    /// Link-time address of the table (`DT_RELA`), for error messages.
    address: u64,
    /// Offset of the table in the file.
    file_offset: usize,
    /// Number of entries (`DT_RELASZ / DT_RELAENT`), including `R_X86_64_NONE` ones.
    entry_count: usize,
}

/// A validated image and how to load it, returned by [`plan`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadPlan {
    /// ELF type of the image.
    kind: ImageKind,
    /// Base the plan was made for.
    base: u64,
    /// Relocated entry point.
    entry: u64,
    /// The first `segment_count` entries are the planned segments, in program-header order.
    segments: [PlannedSegment; MAX_LOAD_SEGMENTS],
    /// Number of valid entries in `segments`.
    segment_count: usize,
    /// The `RELA` table, if the image has a non-empty one.
    relocation_table: Option<RelocationTable>,
    /// Number of `R_X86_64_RELATIVE` relocations the table holds.
    relocation_count: usize,
    /// The relocated `PT_GNU_RELRO` range: read-only once the relocations are applied.
    read_only_after_relocation: Option<Range<u64>>,
    /// Which system-call interface the binary expects.
    personality: Personality,
    /// The program header table in memory, when a segment loads it.
    program_headers: Option<ProgramHeaders>,
    /// Relocated addresses of the values of the dynamic entries `DT_RELASZ` and `DT_RELACOUNT`.
    relocation_size_fields: [Option<u64>; 2],
}

impl LoadPlan {
    /// Returns the ELF type of the image.
    pub const fn kind(&self) -> ImageKind {
        self.kind
    }

    /// Returns the base the plan was made for (0 for an `ET_EXEC` image).
    pub const fn base(&self) -> u64 {
        self.base
    }

    /// Returns the relocated entry point; it lies inside an executable segment.
    pub const fn entry(&self) -> u64 {
        self.entry
    }

    /// Returns the planned segments in program-header order; there is at least one.
    pub fn segments(&self) -> &[PlannedSegment] {
        self.segments.get(..self.segment_count).unwrap_or(&[])
    }

    /// Returns the page-aligned range from the lowest segment page to the end of the highest one.
    pub fn page_span(&self) -> Range<u64> {
        let start = self
            .segments()
            .iter()
            .map(|segment| segment.page_start)
            .min();
        let end = self.segments().iter().map(|segment| segment.page_end).max();
        start.unwrap_or(0)..end.unwrap_or(0)
    }

    /// Returns the relocated `PT_GNU_RELRO` range, if the file has one: the bytes there are
    /// written only by the relocations and may be mapped read-only afterwards.
    pub fn read_only_after_relocation(&self) -> Option<Range<u64>> {
        self.read_only_after_relocation.clone()
    }

    /// Returns which system-call interface the binary expects.
    pub const fn personality(&self) -> Personality {
        self.personality
    }

    /// Returns where the program header table lies in the loaded image: at `PT_PHDR`'s address,
    /// or where a `PT_LOAD` segment that covers the table's file bytes puts it; `None` when no
    /// segment loads it.
    pub const fn program_headers(&self) -> Option<ProgramHeaders> {
        self.program_headers
    }

    /// Returns the relocated addresses of the 8-byte values of the dynamic entries `DT_RELASZ`
    /// and `DT_RELACOUNT`, each inside a loaded segment. A loader that applies the relocations
    /// itself writes 0 there, so that a static-pie's own start-up code (musl's `_dlstart_c`)
    /// finds nothing left to relocate and never writes the shared read-only image.
    pub fn relocation_size_fields(&self) -> impl Iterator<Item = u64> + '_ {
        self.relocation_size_fields.iter().flatten().copied()
    }

    /// Returns the number of relocations [`LoadPlan::relocations`] yields (`R_X86_64_NONE`
    /// entries are not counted).
    pub const fn relocation_count(&self) -> usize {
        self.relocation_count
    }

    /// Returns the relocations to apply, read lazily from `file`, which must be the file the plan
    /// was made from.
    ///
    /// # Errors
    /// An item is an error only when `file` is not the planned file; the iterator then stops.
    pub fn relocations<'iteration>(
        &'iteration self,
        file: &'iteration [u8],
    ) -> Relocations<'iteration> {
        Relocations {
            plan: self,
            file,
            next_index: 0,
        }
    }

    /// Reads relocation `index` of `table` and checks it; `Ok(None)` means `R_X86_64_NONE`.
    fn read_relocation(
        &self,
        file: &[u8],
        table: &RelocationTable,
        index: usize,
    ) -> Result<Option<Relocation>, ElfError> {
        let out_of_bounds = ElfError::RelocationTableOutOfBounds {
            address: table.address,
            size_bytes: u64::try_from(table.entry_count)
                .unwrap_or(u64::MAX)
                .saturating_mul(SIZEOF_RELA as u64),
        };
        let offset = index
            .checked_mul(SIZEOF_RELA)
            .and_then(|offset| offset.checked_add(table.file_offset))
            .ok_or_else(|| out_of_bounds.clone())?;
        let rela: Rela = file.pread_with(offset, LE).map_err(|_| out_of_bounds)?;
        match goblin::elf64::reloc::r_type(rela.r_info) {
            R_X86_64_NONE => Ok(None),
            R_X86_64_RELATIVE => {
                let outside = ElfError::RelocationOutsideImage {
                    index,
                    offset: rela.r_offset,
                    base: self.base,
                };
                let target = self
                    .base
                    .checked_add(rela.r_offset)
                    .ok_or_else(|| outside.clone())?;
                if !self
                    .segments()
                    .iter()
                    .any(|segment| segment.contains(target, RELOCATION_WIDTH_BYTES))
                {
                    return Err(outside);
                }
                Ok(Some(Relocation {
                    target,
                    value: self.base.wrapping_add_signed(rela.r_addend),
                }))
            }
            relocation_type => Err(ElfError::UnsupportedRelocation {
                index,
                relocation_type,
            }),
        }
    }

    /// Checks a `PT_LOAD` program header and adds it to the plan (unless its memory size is 0).
    fn add_segment(
        &mut self,
        file: &[u8],
        index: usize,
        program_header: &ProgramHeader,
        placement: &Placement,
    ) -> Result<(), ElfError> {
        let ProgramHeader {
            p_flags,
            p_offset,
            p_vaddr,
            p_filesz,
            p_memsz,
            p_align,
            ..
        } = *program_header;
        if p_align > 1 && !p_align.is_power_of_two() {
            return Err(ElfError::BadSegmentAlignment {
                index,
                alignment_bytes: p_align,
            });
        }
        if p_filesz > p_memsz {
            return Err(ElfError::FileSizeExceedsMemorySize {
                index,
                file_bytes: p_filesz,
                memory_bytes: p_memsz,
            });
        }
        if file_range(file.len(), p_offset, p_filesz).is_none() {
            return Err(ElfError::SegmentOutsideFile {
                index,
                file_offset: p_offset,
                file_bytes: p_filesz,
                file_length_bytes: file.len(),
            });
        }
        let overflow = ElfError::AddressOverflow {
            index,
            virtual_address: p_vaddr,
            memory_bytes: p_memsz,
            base: self.base,
        };
        let virtual_address = self
            .base
            .checked_add(p_vaddr)
            .ok_or_else(|| overflow.clone())?;
        let page_end = virtual_address
            .checked_add(p_memsz)
            .and_then(page_round_up)
            .ok_or(overflow)?;
        if p_vaddr % PAGE_SIZE_BYTES != p_offset % PAGE_SIZE_BYTES {
            return Err(ElfError::MisalignedSegment {
                index,
                virtual_address: p_vaddr,
                file_offset: p_offset,
            });
        }
        let writable = p_flags & PF_W != 0;
        let executable = p_flags & PF_X != 0;
        if writable && executable {
            return Err(ElfError::WriteAndExecute {
                index,
                virtual_address: p_vaddr,
            });
        }
        if p_memsz == 0 {
            return Ok(());
        }
        let page_start = page_round_down(virtual_address);
        if page_start < placement.allowed.start || page_end > placement.allowed.end {
            return Err(ElfError::OutsideAllowedRange {
                index,
                page_start,
                page_end,
                allowed: placement.allowed.clone(),
            });
        }
        if let Some(other) = self
            .segments()
            .iter()
            .find(|other| page_start < other.page_end && other.page_start < page_end)
        {
            return Err(ElfError::OverlappingSegments {
                index,
                page_start,
                page_end,
                other_index: other.program_header_index,
                other_page_start: other.page_start,
                other_page_end: other.page_end,
            });
        }
        let slot = self
            .segments
            .get_mut(self.segment_count)
            .ok_or(ElfError::TooManySegments {
                index,
                maximum: MAX_LOAD_SEGMENTS,
            })?;
        *slot = PlannedSegment {
            program_header_index: index,
            page_start,
            page_end,
            virtual_address,
            memory_bytes: p_memsz,
            file_offset: p_offset,
            file_bytes: p_filesz,
            writable,
            executable,
        };
        self.segment_count = self.segment_count.saturating_add(1);
        Ok(())
    }

    /// Relocates the entry point and checks that it lies inside an executable segment.
    fn locate_program_headers(&self, header: &Header, phdr: Option<&ProgramHeader>) -> Option<ProgramHeaders> {
        let count = header.e_phnum;
        let entry_bytes = header.e_phentsize;
        let table_bytes = u64::from(count) * u64::from(entry_bytes);
        let address = match phdr {
            Some(phdr) => self.base.checked_add(phdr.p_vaddr)?,
            None => {
                // The segment whose file bytes hold the table loads it.
                self.segments().iter().find_map(|segment| {
                    let end = segment.file_offset.checked_add(segment.file_bytes)?;
                    let table_end = header.e_phoff.checked_add(table_bytes)?;
                    (header.e_phoff >= segment.file_offset && table_end <= end)
                        .then(|| segment.virtual_address.checked_add(header.e_phoff - segment.file_offset))
                        .flatten()
                })?
            }
        };
        self.segments().iter().any(|segment| segment.contains(address, table_bytes)).then_some(ProgramHeaders { address, count, entry_bytes })
    }

    fn set_entry(&mut self, linked_entry: u64) -> Result<(), ElfError> {
        let bad_entry = ElfError::BadEntry {
            entry: linked_entry,
            base: self.base,
        };
        let entry = self
            .base
            .checked_add(linked_entry)
            .ok_or_else(|| bad_entry.clone())?;
        if !self
            .segments()
            .iter()
            .any(|segment| segment.executable && segment.contains(entry, 1))
        {
            return Err(bad_entry);
        }
        self.entry = entry;
        Ok(())
    }

    /// Finds the file offset of `length_bytes` bytes at link-time `address`, which must lie in
    /// the file-backed part of one segment.
    fn file_offset_of(&self, address: u64, length_bytes: u64) -> Option<usize> {
        let relocated = self.base.checked_add(address)?;
        let segment = self.segments().iter().find(|segment| {
            relocated >= segment.virtual_address
                && relocated
                    .checked_add(length_bytes)
                    .zip(segment.virtual_address.checked_add(segment.file_bytes))
                    .is_some_and(|(end, file_end)| end <= file_end)
        })?;
        let offset = segment
            .file_offset
            .checked_add(relocated.checked_sub(segment.virtual_address)?)?;
        usize::try_from(offset).ok()
    }
}

/// Iterator over the relocations of a [`LoadPlan`], returned by [`LoadPlan::relocations`].
#[derive(Clone, Debug)]
pub struct Relocations<'iteration> {
    /// The plan whose table is read.
    plan: &'iteration LoadPlan,
    /// The file the plan was made from.
    file: &'iteration [u8],
    /// Index of the next table entry to read.
    next_index: usize,
}

impl Iterator for Relocations<'_> {
    type Item = Result<Relocation, ElfError>;

    fn next(&mut self) -> Option<Self::Item> {
        let table = self.plan.relocation_table?;
        while self.next_index < table.entry_count {
            let index = self.next_index;
            self.next_index = index.saturating_add(1);
            match self.plan.read_relocation(self.file, &table, index) {
                Ok(None) => {}
                Ok(Some(relocation)) => return Some(Ok(relocation)),
                Err(error) => {
                    self.next_index = table.entry_count;
                    return Some(Err(error));
                }
            }
        }
        None
    }
}

/// Errors reported by [`plan`]: the first rule the file breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElfError {
    /// The file does not start with `\x7fELF`.
    BadMagic {
        /// The first four bytes of the file.
        found: [u8; 4],
    },
    /// The file is shorter than its identification or ELF header.
    Truncated {
        /// Length of the file.
        file_length_bytes: usize,
        /// Length the header needs.
        needed_bytes: usize,
    },
    /// The file is not a 64-bit ELF file (`EI_CLASS` is not `ELFCLASS64`).
    NotElf64 {
        /// The `EI_CLASS` byte.
        class: u8,
    },
    /// The file is not little-endian (`EI_DATA` is not `ELFDATA2LSB`).
    NotLittleEndian {
        /// The `EI_DATA` byte.
        encoding: u8,
    },
    /// `EI_VERSION` or `e_version` is not `EV_CURRENT` (1).
    WrongVersion {
        /// The offending version number.
        version: u32,
    },
    /// `e_machine` is not `EM_X86_64`.
    WrongMachine {
        /// The `e_machine` value.
        machine: u16,
    },
    /// `e_type` is neither `ET_EXEC` nor `ET_DYN`.
    UnsupportedType {
        /// The `e_type` value.
        elf_type: u16,
    },
    /// `e_phentsize` is not the size of an ELF64 program header.
    BadProgramHeaderSize {
        /// The `e_phentsize` value.
        entry_size_bytes: u16,
    },
    /// `e_phnum` is larger than [`MAX_PROGRAM_HEADERS`].
    TooManyProgramHeaders {
        /// The `e_phnum` value.
        count: u16,
        /// [`MAX_PROGRAM_HEADERS`].
        maximum: usize,
    },
    /// The program header table reaches past the end of the file.
    ProgramHeadersOutOfBounds {
        /// The `e_phoff` value.
        file_offset: u64,
        /// The `e_phnum` value.
        count: u16,
        /// Length of the file.
        file_length_bytes: usize,
    },
    /// [`Placement::base`] is not page aligned.
    BaseNotPageAligned {
        /// The base.
        base: u64,
    },
    /// An `ET_EXEC` image was given a non-zero base.
    FixedImageWithBase {
        /// The base.
        base: u64,
    },
    /// The file has a `PT_INTERP` program header: it wants a dynamic linker.
    Interpreter {
        /// Index of the program header.
        index: usize,
    },
    /// A `PT_LOAD` segment's `p_align` is not 0, 1 or a power of two.
    BadSegmentAlignment {
        /// Index of the program header.
        index: usize,
        /// The `p_align` value.
        alignment_bytes: u64,
    },
    /// A `PT_LOAD` segment has `p_filesz > p_memsz`.
    FileSizeExceedsMemorySize {
        /// Index of the program header.
        index: usize,
        /// The `p_filesz` value.
        file_bytes: u64,
        /// The `p_memsz` value.
        memory_bytes: u64,
    },
    /// A `PT_LOAD` segment's file bytes reach past the end of the file.
    SegmentOutsideFile {
        /// Index of the program header.
        index: usize,
        /// The `p_offset` value.
        file_offset: u64,
        /// The `p_filesz` value.
        file_bytes: u64,
        /// Length of the file.
        file_length_bytes: usize,
    },
    /// `base + p_vaddr + p_memsz`, rounded up to a page, does not fit in 64 bits.
    AddressOverflow {
        /// Index of the program header.
        index: usize,
        /// The `p_vaddr` value.
        virtual_address: u64,
        /// The `p_memsz` value.
        memory_bytes: u64,
        /// The base.
        base: u64,
    },
    /// A `PT_LOAD` segment's `p_vaddr` and `p_offset` differ modulo the page size.
    MisalignedSegment {
        /// Index of the program header.
        index: usize,
        /// The `p_vaddr` value.
        virtual_address: u64,
        /// The `p_offset` value.
        file_offset: u64,
    },
    /// A `PT_LOAD` segment is writable and executable.
    WriteAndExecute {
        /// Index of the program header.
        index: usize,
        /// The `p_vaddr` value.
        virtual_address: u64,
    },
    /// A segment's pages are not all inside [`Placement::allowed`].
    OutsideAllowedRange {
        /// Index of the program header.
        index: usize,
        /// First relocated page of the segment.
        page_start: u64,
        /// End of the segment's relocated pages (exclusive).
        page_end: u64,
        /// The allowed range.
        allowed: Range<u64>,
    },
    /// The file has more than [`MAX_LOAD_SEGMENTS`] non-empty `PT_LOAD` segments.
    TooManySegments {
        /// Index of the program header that does not fit.
        index: usize,
        /// [`MAX_LOAD_SEGMENTS`].
        maximum: usize,
    },
    /// Two `PT_LOAD` segments share at least one page.
    OverlappingSegments {
        /// Index of the later program header.
        index: usize,
        /// First relocated page of the later segment.
        page_start: u64,
        /// End of the later segment's pages (exclusive).
        page_end: u64,
        /// Index of the earlier program header.
        other_index: usize,
        /// First relocated page of the earlier segment.
        other_page_start: u64,
        /// End of the earlier segment's pages (exclusive).
        other_page_end: u64,
    },
    /// The file has no `PT_LOAD` segment with a non-zero memory size.
    NoLoadableSegment,
    /// The entry point does not lie inside an executable segment.
    BadEntry {
        /// The `e_entry` value.
        entry: u64,
        /// The base.
        base: u64,
    },
    /// The file has more than one `PT_DYNAMIC` program header.
    MultipleDynamicSegments {
        /// Index of the second `PT_DYNAMIC`.
        index: usize,
        /// Index of the first `PT_DYNAMIC`.
        first_index: usize,
    },
    /// The `PT_DYNAMIC` segment's bytes reach past the end of the file.
    DynamicOutOfBounds {
        /// The `p_offset` value.
        file_offset: u64,
        /// The `p_filesz` value.
        file_bytes: u64,
        /// Length of the file.
        file_length_bytes: usize,
    },
    /// The dynamic table has no `DT_NULL` entry.
    DynamicNotTerminated {
        /// Number of entries read.
        entry_count: usize,
    },
    /// A relocation-table tag appears twice in the dynamic table.
    DuplicateDynamicTag {
        /// The tag.
        tag: u64,
    },
    /// The dynamic table has a `DT_NEEDED` entry: the program wants a shared library.
    NeededLibrary {
        /// Index of the dynamic entry.
        entry_index: usize,
    },
    /// The dynamic table has a relocation table of a kind shoal does not apply.
    UnsupportedRelocationFormat {
        /// The tag (`DT_REL`, `DT_RELR` or `DT_JMPREL`).
        tag: u64,
    },
    /// The dynamic table describes a `RELA` table but lacks one of its tags.
    IncompleteRelocationTable {
        /// The missing tag (`DT_RELA`, `DT_RELASZ` or `DT_RELAENT`).
        missing_tag: u64,
    },
    /// `DT_RELAENT` is not the size of an ELF64 `Rela`.
    BadRelocationEntrySize {
        /// The `DT_RELAENT` value.
        entry_size_bytes: u64,
    },
    /// `DT_RELASZ` is not a multiple of the `Rela` size.
    BadRelocationTableSize {
        /// The `DT_RELASZ` value.
        size_bytes: u64,
    },
    /// The `RELA` table does not lie inside the file-backed part of one segment.
    RelocationTableOutOfBounds {
        /// The `DT_RELA` value (link-time address).
        address: u64,
        /// The `DT_RELASZ` value.
        size_bytes: u64,
    },
    /// A relocation has a type other than `R_X86_64_RELATIVE` or `R_X86_64_NONE`.
    UnsupportedRelocation {
        /// Index of the relocation in the table.
        index: usize,
        /// The relocation type.
        relocation_type: u32,
    },
    /// A relocation's 8 target bytes do not lie inside one loaded segment.
    RelocationOutsideImage {
        /// Index of the relocation in the table.
        index: usize,
        /// The `r_offset` value (link-time address).
        offset: u64,
        /// The base.
        base: u64,
    },
}

impl ElfError {
    /// Every value [`ElfError::kind`] can return, one per variant, in declaration order.
    pub const KINDS: &'static [&'static str] = &[
        "bad-magic",
        "truncated",
        "not-elf64",
        "not-little-endian",
        "wrong-version",
        "wrong-machine",
        "unsupported-type",
        "bad-program-header-size",
        "too-many-program-headers",
        "program-headers-out-of-bounds",
        "base-not-page-aligned",
        "fixed-image-with-base",
        "interpreter",
        "bad-segment-alignment",
        "filesz-exceeds-memsz",
        "segment-outside-file",
        "address-overflow",
        "misaligned-segment",
        "write-and-execute",
        "outside-user-range",
        "too-many-segments",
        "overlapping-segments",
        "no-load-segment",
        "bad-entry",
        "multiple-dynamic-segments",
        "dynamic-out-of-bounds",
        "dynamic-not-terminated",
        "duplicate-dynamic-tag",
        "needed-library",
        "unsupported-relocation-format",
        "incomplete-relocation-table",
        "bad-relocation-entry-size",
        "bad-relocation-table-size",
        "relocation-table-out-of-bounds",
        "unsupported-relocation",
        "relocation-outside-image",
    ];

    /// Returns a stable short name for the kind of error, e.g. `"overlapping-segments"`.
    ///
    /// Tests (here and in the kernel's QEMU suite) compare against these names; they never
    /// change. [`ElfError::KINDS`] lists them all.
    pub const fn kind(&self) -> &'static str {
        match self {
            ElfError::BadMagic { .. } => "bad-magic",
            ElfError::Truncated { .. } => "truncated",
            ElfError::NotElf64 { .. } => "not-elf64",
            ElfError::NotLittleEndian { .. } => "not-little-endian",
            ElfError::WrongVersion { .. } => "wrong-version",
            ElfError::WrongMachine { .. } => "wrong-machine",
            ElfError::UnsupportedType { .. } => "unsupported-type",
            ElfError::BadProgramHeaderSize { .. } => "bad-program-header-size",
            ElfError::TooManyProgramHeaders { .. } => "too-many-program-headers",
            ElfError::ProgramHeadersOutOfBounds { .. } => "program-headers-out-of-bounds",
            ElfError::BaseNotPageAligned { .. } => "base-not-page-aligned",
            ElfError::FixedImageWithBase { .. } => "fixed-image-with-base",
            ElfError::Interpreter { .. } => "interpreter",
            ElfError::BadSegmentAlignment { .. } => "bad-segment-alignment",
            ElfError::FileSizeExceedsMemorySize { .. } => "filesz-exceeds-memsz",
            ElfError::SegmentOutsideFile { .. } => "segment-outside-file",
            ElfError::AddressOverflow { .. } => "address-overflow",
            ElfError::MisalignedSegment { .. } => "misaligned-segment",
            ElfError::WriteAndExecute { .. } => "write-and-execute",
            ElfError::OutsideAllowedRange { .. } => "outside-user-range",
            ElfError::TooManySegments { .. } => "too-many-segments",
            ElfError::OverlappingSegments { .. } => "overlapping-segments",
            ElfError::NoLoadableSegment => "no-load-segment",
            ElfError::BadEntry { .. } => "bad-entry",
            ElfError::MultipleDynamicSegments { .. } => "multiple-dynamic-segments",
            ElfError::DynamicOutOfBounds { .. } => "dynamic-out-of-bounds",
            ElfError::DynamicNotTerminated { .. } => "dynamic-not-terminated",
            ElfError::DuplicateDynamicTag { .. } => "duplicate-dynamic-tag",
            ElfError::NeededLibrary { .. } => "needed-library",
            ElfError::UnsupportedRelocationFormat { .. } => "unsupported-relocation-format",
            ElfError::IncompleteRelocationTable { .. } => "incomplete-relocation-table",
            ElfError::BadRelocationEntrySize { .. } => "bad-relocation-entry-size",
            ElfError::BadRelocationTableSize { .. } => "bad-relocation-table-size",
            ElfError::RelocationTableOutOfBounds { .. } => "relocation-table-out-of-bounds",
            ElfError::UnsupportedRelocation { .. } => "unsupported-relocation",
            ElfError::RelocationOutsideImage { .. } => "relocation-outside-image",
        }
    }
}

/// Formats an ELF constant name from goblin, adding `prefix` unless goblin already did.
struct ConstantName {
    /// Prefix of the constant family (`"EM_"`, `"ET_"`, `"R_"`).
    prefix: &'static str,
    /// goblin's name for the value (with or without the prefix).
    name: &'static str,
}

impl fmt::Display for ConstantName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.name.starts_with(self.prefix) {
            f.write_str(self.name)
        } else {
            write!(f, "{}{}", self.prefix, self.name)
        }
    }
}

/// Returns the name of a dynamic tag this crate reports.
fn dynamic_tag_name(tag: u64) -> &'static str {
    match tag {
        DT_REL => "DT_REL (relocations without addend)",
        DT_RELR => "DT_RELR (packed relative relocations)",
        DT_JMPREL => "DT_JMPREL (PLT relocations)",
        DT_RELA => "DT_RELA",
        DT_RELASZ => "DT_RELASZ",
        DT_RELAENT => "DT_RELAENT",
        _ => "unknown tag",
    }
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::BadMagic { found } => write!(
                f,
                "not an ELF file: it starts with {found:02x?}, not 7f 45 4c 46 (\\x7fELF)"
            ),
            ElfError::Truncated {
                file_length_bytes,
                needed_bytes,
            } => write!(
                f,
                "ELF file is truncated: {file_length_bytes} bytes, its header needs {needed_bytes}"
            ),
            ElfError::NotElf64 { class } => write!(
                f,
                "ELF class {class} is not ELFCLASS64 ({ELFCLASS64}): only 64-bit files are loaded"
            ),
            ElfError::NotLittleEndian { encoding } => write!(
                f,
                "ELF data encoding {encoding} is not ELFDATA2LSB ({ELFDATA2LSB}): only \
                 little-endian files are loaded"
            ),
            ElfError::WrongVersion { version } => {
                write!(f, "ELF version {version} is not EV_CURRENT ({EV_CURRENT})")
            }
            ElfError::WrongMachine { machine } => write!(
                f,
                "ELF machine {machine} ({}) is not EM_X86_64 ({EM_X86_64})",
                ConstantName {
                    prefix: "EM_",
                    name: goblin::elf64::header::machine_to_str(*machine),
                }
            ),
            ElfError::UnsupportedType { elf_type } => write!(
                f,
                "ELF type {elf_type} ({}) is not supported: only ET_EXEC ({ET_EXEC}) and ET_DYN \
                 ({ET_DYN}) are loaded",
                ConstantName {
                    prefix: "ET_",
                    name: goblin::elf64::header::et_to_str(*elf_type),
                }
            ),
            ElfError::BadProgramHeaderSize { entry_size_bytes } => write!(
                f,
                "program header entry size is {entry_size_bytes} bytes, an ELF64 program header \
                 has {SIZEOF_PHDR}"
            ),
            ElfError::TooManyProgramHeaders { count, maximum } => write!(
                f,
                "file has {count} program headers, at most {maximum} are accepted"
            ),
            ElfError::ProgramHeadersOutOfBounds {
                file_offset,
                count,
                file_length_bytes,
            } => write!(
                f,
                "program header table at offset {file_offset:#x} with {count} entries of \
                 {SIZEOF_PHDR} bytes reaches past the end of the {file_length_bytes}-byte file"
            ),
            ElfError::BaseNotPageAligned { base } => write!(
                f,
                "load base {base:#x} is not aligned to the {PAGE_SIZE_BYTES}-byte page size"
            ),
            ElfError::FixedImageWithBase { base } => write!(
                f,
                "an ET_EXEC image is loaded at its link addresses, but base {base:#x} was given \
                 (it must be 0): shoal places every binary in a slot of its global window, so \
                 link it position-independent (-static-pie)"
            ),
            ElfError::Interpreter { index } => write!(
                f,
                "program header {index} is PT_INTERP: dynamic linking is not supported, link the \
                 program as a static position-independent executable (-static-pie, with musl)"
            ),
            ElfError::BadSegmentAlignment {
                index,
                alignment_bytes,
            } => write!(
                f,
                "segment {index} has alignment {alignment_bytes:#x}, which is not a power of two"
            ),
            ElfError::FileSizeExceedsMemorySize {
                index,
                file_bytes,
                memory_bytes,
            } => write!(
                f,
                "segment {index} has file size {file_bytes:#x} larger than its memory size \
                 {memory_bytes:#x}"
            ),
            ElfError::SegmentOutsideFile {
                index,
                file_offset,
                file_bytes,
                file_length_bytes,
            } => write!(
                f,
                "segment {index} at file offset {file_offset:#x} + {file_bytes:#x} bytes reaches \
                 past the end of the {file_length_bytes}-byte file"
            ),
            ElfError::AddressOverflow {
                index,
                virtual_address,
                memory_bytes,
                base,
            } => write!(
                f,
                "segment {index} at {virtual_address:#x} + {memory_bytes:#x} bytes (base \
                 {base:#x}) overflows the 64-bit address space"
            ),
            ElfError::MisalignedSegment {
                index,
                virtual_address,
                file_offset,
            } => write!(
                f,
                "segment {index} at {virtual_address:#x} has file offset {file_offset:#x}: they \
                 differ modulo the {PAGE_SIZE_BYTES}-byte page size, so it cannot be mapped page \
                 by page"
            ),
            ElfError::WriteAndExecute {
                index,
                virtual_address,
            } => write!(
                f,
                "segment {index} at {virtual_address:#x} is both writable and executable (W^X)"
            ),
            ElfError::OutsideAllowedRange {
                index,
                page_start,
                page_end,
                allowed,
            } => write!(
                f,
                "segment {index} occupies pages {page_start:#x}..{page_end:#x}, outside the \
                 allowed range {:#x}..{:#x}",
                allowed.start, allowed.end
            ),
            ElfError::TooManySegments { index, maximum } => write!(
                f,
                "segment {index} is one PT_LOAD segment too many: at most {maximum} are accepted"
            ),
            ElfError::OverlappingSegments {
                index,
                page_start,
                page_end,
                other_index,
                other_page_start,
                other_page_end,
            } => write!(
                f,
                "segment {index} at pages {page_start:#x}..{page_end:#x} overlaps segment \
                 {other_index} at pages {other_page_start:#x}..{other_page_end:#x}; shoal maps \
                 each page with one set of permissions, so PT_LOAD segments may not share a page"
            ),
            ElfError::NoLoadableSegment => {
                write!(f, "file has no PT_LOAD segment with a non-zero memory size")
            }
            ElfError::BadEntry { entry, base } => write!(
                f,
                "entry point {entry:#x} (base {base:#x}) does not lie inside an executable segment"
            ),
            ElfError::MultipleDynamicSegments { index, first_index } => write!(
                f,
                "program header {index} is a second PT_DYNAMIC (the first is {first_index})"
            ),
            ElfError::DynamicOutOfBounds {
                file_offset,
                file_bytes,
                file_length_bytes,
            } => write!(
                f,
                "PT_DYNAMIC at file offset {file_offset:#x} + {file_bytes:#x} bytes reaches past \
                 the end of the {file_length_bytes}-byte file"
            ),
            ElfError::DynamicNotTerminated { entry_count } => write!(
                f,
                "dynamic table has no DT_NULL entry among its {entry_count} entries"
            ),
            ElfError::DuplicateDynamicTag { tag } => write!(
                f,
                "dynamic table has {} ({tag}) twice",
                dynamic_tag_name(*tag)
            ),
            ElfError::NeededLibrary { entry_index } => write!(
                f,
                "dynamic entry {entry_index} is DT_NEEDED: the program needs a shared library, but \
                 only static executables are loaded"
            ),
            ElfError::UnsupportedRelocationFormat { tag } => write!(
                f,
                "dynamic table has {} ({tag}); only DT_RELA tables with R_X86_64_RELATIVE ({}) \
                 relocations are supported",
                dynamic_tag_name(*tag),
                R_X86_64_RELATIVE
            ),
            ElfError::IncompleteRelocationTable { missing_tag } => write!(
                f,
                "dynamic table describes a RELA table but has no {} ({missing_tag})",
                dynamic_tag_name(*missing_tag)
            ),
            ElfError::BadRelocationEntrySize { entry_size_bytes } => write!(
                f,
                "DT_RELAENT is {entry_size_bytes} bytes, an ELF64 Rela has {SIZEOF_RELA}"
            ),
            ElfError::BadRelocationTableSize { size_bytes } => write!(
                f,
                "DT_RELASZ {size_bytes:#x} is not a multiple of the {SIZEOF_RELA}-byte Rela size"
            ),
            ElfError::RelocationTableOutOfBounds {
                address,
                size_bytes,
            } => write!(
                f,
                "RELA table at {address:#x} + {size_bytes:#x} bytes does not lie inside the file \
                 bytes of one segment"
            ),
            ElfError::UnsupportedRelocation {
                index,
                relocation_type,
            } => write!(
                f,
                "relocation {index} has unsupported type {relocation_type} ({}); only \
                 R_X86_64_RELATIVE ({R_X86_64_RELATIVE}) is supported{}",
                ConstantName {
                    prefix: "R_",
                    name: goblin::elf64::reloc::r_to_str(*relocation_type, EM_X86_64),
                },
                if *relocation_type == R_X86_64_IRELATIVE {
                    " (IRELATIVE relocations come from glibc's static-pie, whose ifunc resolvers \
                     would have to run at load: build the program for musl instead)"
                } else {
                    ""
                }
            ),
            ElfError::RelocationOutsideImage {
                index,
                offset,
                base,
            } => write!(
                f,
                "relocation {index} writes {RELOCATION_WIDTH_BYTES} bytes at {offset:#x} (base \
                 {base:#x}), outside every loaded segment"
            ),
        }
    }
}

impl core::error::Error for ElfError {}

/// Validates `file` for loading at `placement` and returns how to load it.
///
/// Checks, in this order: the identification and ELF header, the placement, the program header
/// table, each program header (see [`ElfError`] for every rule), the entry point, the dynamic
/// table, and every relocation. A returned plan cannot fail later on the same file.
///
/// # Errors
/// Returns the first rule `file` or `placement` breaks, as an [`ElfError`].
pub fn plan(file: &[u8], placement: &Placement) -> Result<LoadPlan, ElfError> {
    let header = read_header(file)?;
    let kind = match header.e_type {
        ET_EXEC => ImageKind::Executable,
        ET_DYN => ImageKind::PositionIndependent,
        elf_type => return Err(ElfError::UnsupportedType { elf_type }),
    };
    if !placement.base.is_multiple_of(PAGE_SIZE_BYTES) {
        return Err(ElfError::BaseNotPageAligned {
            base: placement.base,
        });
    }
    if kind == ImageKind::Executable && placement.base != 0 {
        return Err(ElfError::FixedImageWithBase {
            base: placement.base,
        });
    }
    let table_offset = program_header_table(file, &header)?;

    let mut plan = LoadPlan {
        kind,
        base: placement.base,
        entry: 0,
        segments: [PlannedSegment::default(); MAX_LOAD_SEGMENTS],
        segment_count: 0,
        relocation_table: None,
        relocation_count: 0,
        read_only_after_relocation: None,
        personality: Personality::Linux,
        program_headers: None,
        relocation_size_fields: [None; 2],
    };
    let mut dynamic: Option<(usize, ProgramHeader)> = None;
    let mut program_header_segment: Option<ProgramHeader> = None;
    for index in 0..usize::from(header.e_phnum) {
        let table_out_of_bounds = ElfError::ProgramHeadersOutOfBounds {
            file_offset: header.e_phoff,
            count: header.e_phnum,
            file_length_bytes: file.len(),
        };
        let offset = index
            .checked_mul(SIZEOF_PHDR)
            .and_then(|offset| offset.checked_add(table_offset))
            .ok_or_else(|| table_out_of_bounds.clone())?;
        let program_header: ProgramHeader = file
            .pread_with(offset, LE)
            .map_err(|_| table_out_of_bounds)?;
        match program_header.p_type {
            PT_INTERP => return Err(ElfError::Interpreter { index }),
            PT_LOAD => plan.add_segment(file, index, &program_header, placement)?,
            PT_GNU_RELRO => {
                let overflow = ElfError::AddressOverflow {
                    index,
                    virtual_address: program_header.p_vaddr,
                    memory_bytes: program_header.p_memsz,
                    base: placement.base,
                };
                let start = placement.base.checked_add(program_header.p_vaddr).ok_or_else(|| overflow.clone())?;
                let end = start.checked_add(program_header.p_memsz).ok_or(overflow)?;
                plan.read_only_after_relocation = Some(start..end);
            }
            PT_NOTE => {
                if has_personality_note(file, &program_header) {
                    plan.personality = Personality::Native;
                }
            }
            PT_PHDR => program_header_segment = Some(program_header),
            PT_DYNAMIC => {
                if let Some((first_index, _)) = dynamic {
                    return Err(ElfError::MultipleDynamicSegments { index, first_index });
                }
                dynamic = Some((index, program_header));
            }
            _ => {}
        }
    }
    if plan.segment_count == 0 {
        return Err(ElfError::NoLoadableSegment);
    }
    plan.set_entry(header.e_entry)?;
    plan.program_headers = plan.locate_program_headers(&header, program_header_segment.as_ref());
    if let Some((_, dynamic_header)) = dynamic {
        let (table, size_fields) = relocation_table(file, &dynamic_header, &plan)?;
        plan.relocation_table = table;
        plan.relocation_size_fields = size_fields;
    }
    let mut relocation_count: usize = 0;
    for relocation in plan.relocations(file) {
        relocation?;
        relocation_count = relocation_count.saturating_add(1);
    }
    plan.relocation_count = relocation_count;
    Ok(plan)
}

/// Returns the page-aligned link-time address range of `file`'s loadable segments.
///
/// The kernel uses it to size the slot an `ET_DYN` image needs before it picks a base. It
/// validates the file completely, for base 0 and no range limit.
///
/// # Errors
/// Returns the first rule `file` breaks, as an [`ElfError`] (see [`plan`]).
pub fn link_span(file: &[u8]) -> Result<Range<u64>, ElfError> {
    let unlimited = Placement {
        base: 0,
        allowed: 0..u64::MAX,
    };
    Ok(plan(file, &unlimited)?.page_span())
}

/// Checks the identification bytes and reads the ELF header (version and machine included).
fn read_header(file: &[u8]) -> Result<Header, ElfError> {
    if let Some(found) = file
        .get(..SELFMAG)
        .and_then(|magic| <[u8; SELFMAG]>::try_from(magic).ok())
        && &found != ELFMAG
    {
        return Err(ElfError::BadMagic { found });
    }
    let identification: [u8; SIZEOF_IDENT] = file
        .get(..SIZEOF_IDENT)
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ElfError::Truncated {
            file_length_bytes: file.len(),
            needed_bytes: SIZEOF_IDENT,
        })?;
    if identification[EI_CLASS] != ELFCLASS64 {
        return Err(ElfError::NotElf64 {
            class: identification[EI_CLASS],
        });
    }
    if identification[EI_DATA] != ELFDATA2LSB {
        return Err(ElfError::NotLittleEndian {
            encoding: identification[EI_DATA],
        });
    }
    if identification[EI_VERSION] != EV_CURRENT {
        return Err(ElfError::WrongVersion {
            version: u32::from(identification[EI_VERSION]),
        });
    }
    let truncated = ElfError::Truncated {
        file_length_bytes: file.len(),
        needed_bytes: SIZEOF_EHDR,
    };
    if file.len() < SIZEOF_EHDR {
        return Err(truncated);
    }
    let header: Header = file.pread_with(0, LE).map_err(|_| truncated)?;
    if header.e_version != u32::from(EV_CURRENT) {
        return Err(ElfError::WrongVersion {
            version: header.e_version,
        });
    }
    if header.e_machine != EM_X86_64 {
        return Err(ElfError::WrongMachine {
            machine: header.e_machine,
        });
    }
    Ok(header)
}

/// Checks the program header table's entry size, count and bounds; returns its file offset.
fn program_header_table(file: &[u8], header: &Header) -> Result<usize, ElfError> {
    if usize::from(header.e_phentsize) != SIZEOF_PHDR {
        return Err(ElfError::BadProgramHeaderSize {
            entry_size_bytes: header.e_phentsize,
        });
    }
    if usize::from(header.e_phnum) > MAX_PROGRAM_HEADERS {
        return Err(ElfError::TooManyProgramHeaders {
            count: header.e_phnum,
            maximum: MAX_PROGRAM_HEADERS,
        });
    }
    let table_bytes = u64::from(header.e_phnum).saturating_mul(SIZEOF_PHDR as u64);
    file_range(file.len(), header.e_phoff, table_bytes)
        .map(|range| range.start)
        .ok_or(ElfError::ProgramHeadersOutOfBounds {
            file_offset: header.e_phoff,
            count: header.e_phnum,
            file_length_bytes: file.len(),
        })
}

/// Reads the dynamic table and returns the validated `RELA` table, if there is a non-empty one.
fn relocation_table(
    file: &[u8],
    dynamic_header: &ProgramHeader,
    plan: &LoadPlan,
) -> Result<(Option<RelocationTable>, [Option<u64>; 2]), ElfError> {
    let out_of_bounds = ElfError::DynamicOutOfBounds {
        file_offset: dynamic_header.p_offset,
        file_bytes: dynamic_header.p_filesz,
        file_length_bytes: file.len(),
    };
    let range = file_range(file.len(), dynamic_header.p_offset, dynamic_header.p_filesz)
        .ok_or_else(|| out_of_bounds.clone())?;
    let entry_count = range.len() / SIZEOF_DYN;

    let mut address = None;
    let mut size_bytes = None;
    let mut entry_size_bytes = None;
    let mut terminated = false;
    // Where the values of DT_RELASZ and DT_RELACOUNT lie in the loaded image, when a segment
    // holds them (the value is the second 8 bytes of an entry).
    let mut size_fields = [None; 2];
    let value_address = |entry_index: usize| {
        let offset = u64::try_from(entry_index).ok()?.checked_mul(SIZEOF_DYN as u64)?.checked_add(8)?;
        let address = plan.base.checked_add(dynamic_header.p_vaddr)?.checked_add(offset)?;
        plan.segments().iter().any(|segment| segment.contains(address, 8)).then_some(address)
    };
    for entry_index in 0..entry_count {
        let offset = entry_index
            .checked_mul(SIZEOF_DYN)
            .and_then(|offset| offset.checked_add(range.start))
            .ok_or_else(|| out_of_bounds.clone())?;
        let entry: Dyn = file
            .pread_with(offset, LE)
            .map_err(|_| out_of_bounds.clone())?;
        let slot = match entry.d_tag {
            DT_NULL => {
                terminated = true;
                break;
            }
            DT_NEEDED => return Err(ElfError::NeededLibrary { entry_index }),
            DT_REL | DT_RELR | DT_JMPREL => {
                return Err(ElfError::UnsupportedRelocationFormat { tag: entry.d_tag });
            }
            DT_RELA => &mut address,
            DT_RELASZ => {
                size_fields[0] = value_address(entry_index);
                &mut size_bytes
            }
            DT_RELAENT => &mut entry_size_bytes,
            DT_RELACOUNT => {
                size_fields[1] = value_address(entry_index);
                continue;
            }
            _ => continue,
        };
        if slot.replace(entry.d_val).is_some() {
            return Err(ElfError::DuplicateDynamicTag { tag: entry.d_tag });
        }
    }
    if !terminated {
        return Err(ElfError::DynamicNotTerminated { entry_count });
    }

    let (address, size_bytes) = match (address, size_bytes) {
        (None, None | Some(0)) => return Ok((None, size_fields)),
        (None, Some(_)) => {
            return Err(ElfError::IncompleteRelocationTable {
                missing_tag: DT_RELA,
            });
        }
        (Some(_), None) => {
            return Err(ElfError::IncompleteRelocationTable {
                missing_tag: DT_RELASZ,
            });
        }
        (Some(address), Some(size_bytes)) => (address, size_bytes),
    };
    match entry_size_bytes {
        None => {
            return Err(ElfError::IncompleteRelocationTable {
                missing_tag: DT_RELAENT,
            });
        }
        Some(entry_size_bytes) if entry_size_bytes != SIZEOF_RELA as u64 => {
            return Err(ElfError::BadRelocationEntrySize { entry_size_bytes });
        }
        Some(_) => {}
    }
    if !size_bytes.is_multiple_of(SIZEOF_RELA as u64) {
        return Err(ElfError::BadRelocationTableSize { size_bytes });
    }
    if size_bytes == 0 {
        return Ok((None, size_fields));
    }
    let out_of_bounds = ElfError::RelocationTableOutOfBounds {
        address,
        size_bytes,
    };
    let file_offset = plan
        .file_offset_of(address, size_bytes)
        .ok_or_else(|| out_of_bounds.clone())?;
    let entry_count =
        usize::try_from(size_bytes / SIZEOF_RELA as u64).map_err(|_| out_of_bounds)?;
    Ok((
        Some(RelocationTable {
            address,
            file_offset,
            entry_count,
        }),
        size_fields,
    ))
}

/// Returns whether the `PT_NOTE` segment `note_header` holds shoal's personality note: name
/// `abi::linux::NOTE_NAME` (NUL-terminated), type `NOTE_TYPE_PERSONALITY`, a 4-byte descriptor
/// with `NOTE_ABI_VERSION`. Malformed notes (bad sizes, out of the file) hold no such note: a
/// foreign file's notes are not shoal's to judge.
fn has_personality_note(file: &[u8], note_header: &ProgramHeader) -> bool {
    const NOTE_HEADER_BYTES: usize = 12;
    let Some(range) = file_range(file.len(), note_header.p_offset, note_header.p_filesz) else {
        return false;
    };
    let notes = &file[range];
    let align4 = |value: usize| value.checked_add(3).map(|value| value & !3);
    let mut offset = 0usize;
    while let Some(header) = offset.checked_add(NOTE_HEADER_BYTES).and_then(|end| notes.get(offset..end)) {
        let word = |at: usize| header.get(at..at + 4).and_then(|bytes| bytes.try_into().ok()).map(u32::from_le_bytes);
        let (Some(name_bytes), Some(descriptor_bytes), Some(note_type)) = (word(0), word(4), word(8)) else {
            return false;
        };
        let name_start = offset + NOTE_HEADER_BYTES;
        let Some(descriptor_start) = align4(name_bytes as usize).and_then(|bytes| name_start.checked_add(bytes)) else {
            return false;
        };
        let Some(next) = align4(descriptor_bytes as usize).and_then(|bytes| descriptor_start.checked_add(bytes)) else {
            return false;
        };
        let name = notes.get(name_start..name_start + name_bytes as usize);
        let descriptor = notes.get(descriptor_start..descriptor_start + descriptor_bytes as usize);
        let (Some(name), Some(descriptor)) = (name, descriptor) else { return false };
        if name.strip_suffix(&[0]) == Some(abi::linux::NOTE_NAME)
            && note_type == abi::linux::NOTE_TYPE_PERSONALITY
            && descriptor == abi::linux::NOTE_ABI_VERSION.to_le_bytes()
        {
            return true;
        }
        offset = next;
    }
    false
}

/// Returns `offset..offset + length_bytes` as indices into a file of `file_length_bytes`, or
/// `None` if it overflows or reaches past the end.
fn file_range(file_length_bytes: usize, offset: u64, length_bytes: u64) -> Option<Range<usize>> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(length_bytes).ok()?)?;
    (end <= file_length_bytes).then_some(start..end)
}

/// Rounds `address` down to a page boundary.
const fn page_round_down(address: u64) -> u64 {
    address & !(PAGE_SIZE_BYTES - 1)
}

/// Rounds `address` up to a page boundary, or returns `None` if that overflows.
fn page_round_up(address: u64) -> Option<u64> {
    address
        .checked_add(PAGE_SIZE_BYTES - 1)
        .map(page_round_down)
}
