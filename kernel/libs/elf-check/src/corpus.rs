//! A valid minimal static-PIE image and a corpus of broken variants of it, for loader tests.
//!
//! [`valid_minimal`] builds, byte by byte, the smallest image shaped like shoal's userland: an
//! `ET_DYN` x86_64 file linked at address 0 with a read-only executable segment, a writable data
//! segment with a zero-filled tail, a `PT_DYNAMIC` segment and a `RELA` table of
//! `R_X86_64_RELATIVE` relocations (one of them into the read-only segment, like a RELRO pointer,
//! and one `R_X86_64_NONE` that must be skipped). [`broken`] derives one broken file per rule of
//! [`crate::plan`], each with the [`crate::ElfError::kind`] it must produce. The kernel's QEMU
//! tests load these too, so the corpus only needs `alloc`.
//!
//! Layout of [`valid_minimal`] (file offset = link-time address in the text segment):
//!
//! ```text
//! file offset  address  contents
//! 0x000        0x0000   ELF header                        ┐
//! 0x040        0x0040   4 program headers                 │ PT_LOAD 0: R+X, 0x200 bytes
//! 0x120        0x0120   RELA table, 4 entries             │
//! 0x180        0x0180   pointer relocated at load (RELRO) │
//! 0x1c0        0x01c0   code: `pause; jmp` (entry)        ┘
//! 0x200        0x1200   dynamic table, 5 entries          ┐ PT_LOAD 1: R+W, 0x60 bytes in the
//! 0x250        0x1250   two pointers relocated at load    ┘ file, 0x100 in memory; PT_DYNAMIC
//! ```
//!
//! Every broken entry fails with its `expected` kind for any [`Placement`] whose base is page
//! aligned, below `0x7fff_0000_0000`, and whose allowed range covers the valid image's pages at
//! that base and stays in the lower canonical half, such as [`example_placement`].

use alloc::vec;
use alloc::vec::Vec;

use goblin::elf64::dynamic::{
    DT_DEBUG, DT_JMPREL, DT_NEEDED, DT_NULL, DT_REL, DT_RELA, DT_RELACOUNT, DT_RELAENT, DT_RELASZ,
};
use goblin::elf64::header::{
    EI_CLASS, EI_DATA, EI_VERSION, ELFCLASS32, ELFCLASS64, ELFDATA2LSB, ELFDATA2MSB, ELFMAG,
    EM_AARCH64, EM_X86_64, ET_DYN, ET_EXEC, ET_REL, EV_CURRENT, SIZEOF_EHDR, SIZEOF_IDENT,
};
use goblin::elf64::program_header::{
    PF_R, PF_W, PF_X, PT_DYNAMIC, PT_GNU_STACK, PT_INTERP, PT_LOAD, PT_NULL, ProgramHeader,
    SIZEOF_PHDR,
};
use goblin::elf64::reloc::{
    R_X86_64_64, R_X86_64_JUMP_SLOT, R_X86_64_NONE, R_X86_64_RELATIVE, Rela,
};

use crate::{DT_RELR, PAGE_SIZE_BYTES, Placement, Relocation};

/// A broken ELF file and the error kind [`crate::plan`] must report for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokenElf {
    /// Short name of what is broken, e.g. `"huge-memsz"`.
    pub name: &'static str,
    /// The file.
    pub bytes: Vec<u8>,
    /// The [`crate::ElfError::kind`] that [`crate::plan`] must return.
    pub expected: &'static str,
}

/// File offset (and link-time address) of the program header table.
pub(crate) const PROGRAM_HEADERS_OFFSET: u64 = SIZEOF_EHDR as u64;
/// File offset (and link-time address) of the `RELA` table.
const RELA_OFFSET: u64 = 0x120;
/// Link-time address of the pointer relocated inside the read-only segment.
const READ_ONLY_POINTER_ADDRESS: u64 = 0x180;
/// File offset (and link-time address) of the code and entry point.
const CODE_OFFSET: u64 = 0x1c0;
/// Size of the text segment in the file and in memory.
const TEXT_BYTES: u64 = 0x200;
/// File offset of the data segment.
const DATA_OFFSET: u64 = 0x200;
/// Link-time address of the data segment (congruent to its offset modulo the page size).
pub(crate) const DATA_ADDRESS: u64 = 0x1200;
/// Size of the data segment in the file.
const DATA_FILE_BYTES: u64 = 0x60;
/// Size of the data segment in memory (the rest is zero-filled).
const DATA_MEMORY_BYTES: u64 = 0x100;
/// Link-time address of the first relocated pointer in the data segment.
const DATA_POINTER_ADDRESS: u64 = 0x1250;
/// Size of one dynamic entry.
const DYNAMIC_ENTRY_BYTES: u64 = 16;
/// Number of entries of the valid dynamic table (`DT_NULL` included).
const DYNAMIC_ENTRY_COUNT: u64 = 5;
/// Size of one `Rela` entry.
const RELA_ENTRY_BYTES: u64 = 24;
/// Number of entries of the valid `RELA` table (`R_X86_64_NONE` included).
const RELA_ENTRY_COUNT: u64 = 4;
/// Machine code at the entry point: `pause; jmp` back to the `pause` (an endless loop).
const CODE: [u8; 4] = [0xf3, 0x90, 0xeb, 0xfc];

/// Byte offsets of ELF64 header fields.
mod header_field {
    /// `e_type` (2 bytes).
    pub(crate) const TYPE: u64 = 16;
    /// `e_machine` (2 bytes).
    pub(crate) const MACHINE: u64 = 18;
    /// `e_version` (4 bytes).
    pub(crate) const VERSION: u64 = 20;
    /// `e_entry` (8 bytes).
    pub(crate) const ENTRY: u64 = 24;
    /// `e_phoff` (8 bytes).
    pub(crate) const PROGRAM_HEADER_OFFSET: u64 = 32;
    /// `e_ehsize` (2 bytes).
    pub(crate) const HEADER_SIZE: u64 = 52;
    /// `e_phentsize` (2 bytes).
    pub(crate) const PROGRAM_HEADER_ENTRY_SIZE: u64 = 54;
    /// `e_phnum` (2 bytes).
    pub(crate) const PROGRAM_HEADER_COUNT: u64 = 56;
    /// `e_shentsize` (2 bytes).
    pub(crate) const SECTION_HEADER_ENTRY_SIZE: u64 = 58;
}

/// Byte offsets of ELF64 program header fields, from the start of the entry.
mod program_header_field {
    /// `p_type` (4 bytes).
    pub(crate) const TYPE: u64 = 0;
    /// `p_flags` (4 bytes).
    pub(crate) const FLAGS: u64 = 4;
    /// `p_offset` (8 bytes).
    pub(crate) const OFFSET: u64 = 8;
    /// `p_vaddr` (8 bytes).
    pub(crate) const VIRTUAL_ADDRESS: u64 = 16;
    /// `p_paddr` (8 bytes).
    pub(crate) const PHYSICAL_ADDRESS: u64 = 24;
    /// `p_filesz` (8 bytes).
    pub(crate) const FILE_SIZE: u64 = 32;
    /// `p_memsz` (8 bytes).
    pub(crate) const MEMORY_SIZE: u64 = 40;
    /// `p_align` (8 bytes).
    pub(crate) const ALIGNMENT: u64 = 48;
}

use header_field::*;

/// Returns the offsets of every header and program-header field of [`valid_minimal`] with its
/// width in bytes (for the fuzz test).
#[cfg(test)]
pub(crate) fn field_offsets() -> Vec<(u64, usize)> {
    let mut fields = vec![
        (TYPE, 2),
        (MACHINE, 2),
        (VERSION, 4),
        (ENTRY, 8),
        (PROGRAM_HEADER_OFFSET, 8),
        (PROGRAM_HEADER_ENTRY_SIZE, 2),
        (PROGRAM_HEADER_COUNT, 2),
    ];
    for index in 0..4 {
        let start = PROGRAM_HEADERS_OFFSET + index * SIZEOF_PHDR as u64;
        for (offset, width) in [
            (program_header_field::TYPE, 4),
            (program_header_field::FLAGS, 4),
            (program_header_field::OFFSET, 8),
            (program_header_field::VIRTUAL_ADDRESS, 8),
            (program_header_field::FILE_SIZE, 8),
            (program_header_field::MEMORY_SIZE, 8),
            (program_header_field::ALIGNMENT, 8),
        ] {
            fields.push((start + offset, width));
        }
    }
    for index in 0..DYNAMIC_ENTRY_COUNT {
        fields.push((DATA_OFFSET + index * DYNAMIC_ENTRY_BYTES, 8));
        fields.push((DATA_OFFSET + index * DYNAMIC_ENTRY_BYTES + 8, 8));
    }
    for index in 0..RELA_ENTRY_COUNT {
        for field in 0..3 {
            fields.push((RELA_OFFSET + index * RELA_ENTRY_BYTES + field * 8, 8));
        }
    }
    fields
}

/// The parts of an image, edited by the corpus and the tests, then written out by
/// [`ImageSpec::to_bytes`].
#[derive(Clone, Debug)]
pub(crate) struct ImageSpec {
    /// `e_type`.
    pub(crate) elf_type: u16,
    /// `e_entry`.
    pub(crate) entry: u64,
    /// File offset the program headers are written at (and `e_phoff`).
    pub(crate) program_headers_offset: u64,
    /// The program headers, written in order.
    pub(crate) program_headers: Vec<ProgramHeader>,
    /// The dynamic table as `(tag, value)` pairs, written at [`DATA_OFFSET`].
    pub(crate) dynamic: Vec<(u64, u64)>,
    /// The `RELA` table, written at [`RELA_OFFSET`].
    pub(crate) relocations: Vec<Rela>,
}

/// Returns a `Rela` entry of `relocation_type` for symbol 0 at `offset` with `addend`.
fn rela(offset: u64, relocation_type: u32, addend: u64) -> Rela {
    Rela {
        r_offset: offset,
        r_info: u64::from(relocation_type),
        r_addend: i64::try_from(addend).unwrap_or(i64::MAX),
    }
}

/// Returns a program header with the fields that matter here (`p_paddr` = `p_vaddr`).
fn program_header(
    p_type: u32,
    p_flags: u32,
    offset: u64,
    virtual_address: u64,
    file_bytes: u64,
    memory_bytes: u64,
    alignment_bytes: u64,
) -> ProgramHeader {
    ProgramHeader {
        p_type,
        p_flags,
        p_offset: offset,
        p_vaddr: virtual_address,
        p_paddr: virtual_address,
        p_filesz: file_bytes,
        p_memsz: memory_bytes,
        p_align: alignment_bytes,
    }
}

impl ImageSpec {
    /// Returns the valid minimal image of type `elf_type`, linked at `link_address`.
    pub(crate) fn minimal(elf_type: u16, link_address: u64) -> ImageSpec {
        let at = |offset: u64| link_address.saturating_add(offset);
        ImageSpec {
            elf_type,
            entry: at(CODE_OFFSET),
            program_headers_offset: PROGRAM_HEADERS_OFFSET,
            program_headers: vec![
                program_header(
                    PT_LOAD,
                    PF_R | PF_X,
                    0,
                    at(0),
                    TEXT_BYTES,
                    TEXT_BYTES,
                    PAGE_SIZE_BYTES,
                ),
                program_header(
                    PT_LOAD,
                    PF_R | PF_W,
                    DATA_OFFSET,
                    at(DATA_ADDRESS),
                    DATA_FILE_BYTES,
                    DATA_MEMORY_BYTES,
                    PAGE_SIZE_BYTES,
                ),
                program_header(
                    PT_DYNAMIC,
                    PF_R | PF_W,
                    DATA_OFFSET,
                    at(DATA_ADDRESS),
                    DYNAMIC_ENTRY_COUNT * DYNAMIC_ENTRY_BYTES,
                    DYNAMIC_ENTRY_COUNT * DYNAMIC_ENTRY_BYTES,
                    8,
                ),
                program_header(PT_GNU_STACK, PF_R | PF_W, 0, 0, 0, 0, 16),
            ],
            dynamic: vec![
                (DT_RELA, at(RELA_OFFSET)),
                (DT_RELASZ, RELA_ENTRY_COUNT * RELA_ENTRY_BYTES),
                (DT_RELAENT, RELA_ENTRY_BYTES),
                (DT_RELACOUNT, 3),
                (DT_NULL, 0),
            ],
            relocations: vec![
                rela(at(DATA_POINTER_ADDRESS), R_X86_64_RELATIVE, at(CODE_OFFSET)),
                rela(0, R_X86_64_NONE, 0),
                rela(
                    at(DATA_POINTER_ADDRESS + 8),
                    R_X86_64_RELATIVE,
                    at(DATA_ADDRESS),
                ),
                rela(
                    at(READ_ONLY_POINTER_ADDRESS),
                    R_X86_64_RELATIVE,
                    at(DATA_POINTER_ADDRESS),
                ),
            ],
        }
    }

    /// Returns program header `index` for editing, if it exists.
    pub(crate) fn program_header_mut(&mut self, index: usize) -> Option<&mut ProgramHeader> {
        self.program_headers.get_mut(index)
    }

    /// Writes the image out as an ELF file.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = vec![0; (DATA_OFFSET + DATA_FILE_BYTES) as usize];
        let mut identification = [0; SIZEOF_IDENT];
        if let Some(magic) = identification.get_mut(..ELFMAG.len()) {
            magic.copy_from_slice(ELFMAG);
        }
        identification[EI_CLASS] = ELFCLASS64;
        identification[EI_DATA] = ELFDATA2LSB;
        identification[EI_VERSION] = EV_CURRENT;
        put(&mut bytes, 0, &identification);
        put(&mut bytes, TYPE, &self.elf_type.to_le_bytes());
        put(&mut bytes, MACHINE, &EM_X86_64.to_le_bytes());
        put(&mut bytes, VERSION, &u32::from(EV_CURRENT).to_le_bytes());
        put(&mut bytes, ENTRY, &self.entry.to_le_bytes());
        put(
            &mut bytes,
            PROGRAM_HEADER_OFFSET,
            &self.program_headers_offset.to_le_bytes(),
        );
        put(&mut bytes, HEADER_SIZE, &(SIZEOF_EHDR as u16).to_le_bytes());
        put(
            &mut bytes,
            PROGRAM_HEADER_ENTRY_SIZE,
            &(SIZEOF_PHDR as u16).to_le_bytes(),
        );
        let count = u16::try_from(self.program_headers.len()).unwrap_or(u16::MAX);
        put(&mut bytes, PROGRAM_HEADER_COUNT, &count.to_le_bytes());
        put(&mut bytes, SECTION_HEADER_ENTRY_SIZE, &64_u16.to_le_bytes());

        let mut offset = self.program_headers_offset;
        for header in &self.program_headers {
            use program_header_field as field;
            put(
                &mut bytes,
                offset + field::TYPE,
                &header.p_type.to_le_bytes(),
            );
            put(
                &mut bytes,
                offset + field::FLAGS,
                &header.p_flags.to_le_bytes(),
            );
            put(
                &mut bytes,
                offset + field::OFFSET,
                &header.p_offset.to_le_bytes(),
            );
            put(
                &mut bytes,
                offset + field::VIRTUAL_ADDRESS,
                &header.p_vaddr.to_le_bytes(),
            );
            put(
                &mut bytes,
                offset + field::PHYSICAL_ADDRESS,
                &header.p_paddr.to_le_bytes(),
            );
            put(
                &mut bytes,
                offset + field::FILE_SIZE,
                &header.p_filesz.to_le_bytes(),
            );
            put(
                &mut bytes,
                offset + field::MEMORY_SIZE,
                &header.p_memsz.to_le_bytes(),
            );
            put(
                &mut bytes,
                offset + field::ALIGNMENT,
                &header.p_align.to_le_bytes(),
            );
            offset += SIZEOF_PHDR as u64;
        }
        let mut offset = RELA_OFFSET;
        for relocation in &self.relocations {
            put(&mut bytes, offset, &relocation.r_offset.to_le_bytes());
            put(&mut bytes, offset + 8, &relocation.r_info.to_le_bytes());
            put(&mut bytes, offset + 16, &relocation.r_addend.to_le_bytes());
            offset += RELA_ENTRY_BYTES;
        }
        put(&mut bytes, CODE_OFFSET, &CODE);
        let mut offset = DATA_OFFSET;
        for (tag, value) in &self.dynamic {
            put(&mut bytes, offset, &tag.to_le_bytes());
            put(&mut bytes, offset + 8, &value.to_le_bytes());
            offset += DYNAMIC_ENTRY_BYTES;
        }
        bytes
    }
}

/// Writes `value` at `offset` of `bytes`, growing `bytes` with zeros if needed.
fn put(bytes: &mut Vec<u8>, offset: u64, value: &[u8]) {
    let Some(range) = usize::try_from(offset)
        .ok()
        .and_then(|start| Some(start..start.checked_add(value.len())?))
    else {
        return;
    };
    if bytes.len() < range.end {
        bytes.resize(range.end, 0);
    }
    if let Some(slot) = bytes.get_mut(range) {
        slot.copy_from_slice(value);
    }
}

/// Returns the valid minimal static-PIE image described in the module documentation.
pub fn valid_minimal() -> Vec<u8> {
    ImageSpec::minimal(ET_DYN, 0).to_bytes()
}

/// Returns the relocations [`crate::LoadPlan::relocations`] must yield for [`valid_minimal`]
/// loaded at `base`, in table order.
pub fn valid_minimal_relocations(base: u64) -> Vec<Relocation> {
    vec![
        Relocation {
            target: base.wrapping_add(DATA_POINTER_ADDRESS),
            value: base.wrapping_add(CODE_OFFSET),
        },
        Relocation {
            target: base.wrapping_add(DATA_POINTER_ADDRESS + 8),
            value: base.wrapping_add(DATA_ADDRESS),
        },
        Relocation {
            target: base.wrapping_add(READ_ONLY_POINTER_ADDRESS),
            value: base.wrapping_add(DATA_POINTER_ADDRESS),
        },
    ]
}

/// Returns a placement like a slot of the global-segment window: base `0x4000_0000_0000`, 1 GiB.
pub fn example_placement() -> Placement {
    const WINDOW_START: u64 = 0x4000_0000_0000;
    const SLOT_BYTES: u64 = 1 << 30;
    Placement {
        base: WINDOW_START,
        allowed: WINDOW_START..WINDOW_START + SLOT_BYTES,
    }
}

/// Returns [`valid_minimal`] with `edit` applied to its description.
fn edited(edit: impl FnOnce(&mut ImageSpec)) -> Vec<u8> {
    let mut spec = ImageSpec::minimal(ET_DYN, 0);
    edit(&mut spec);
    spec.to_bytes()
}

/// Returns [`valid_minimal`] with `value` written over the bytes at `offset`.
fn patched(offset: u64, value: &[u8]) -> Vec<u8> {
    let mut bytes = valid_minimal();
    put(&mut bytes, offset, value);
    bytes
}

/// Returns [`valid_minimal`] cut to `length_bytes`.
fn truncated(length_bytes: usize) -> Vec<u8> {
    let mut bytes = valid_minimal();
    bytes.truncate(length_bytes);
    bytes
}

/// Index of the text `PT_LOAD` in [`valid_minimal`].
const TEXT: usize = 0;
/// Index of the data `PT_LOAD` in [`valid_minimal`].
const DATA: usize = 1;
/// Index of the `PT_DYNAMIC` in [`valid_minimal`].
const DYNAMIC: usize = 2;
/// Index of the `PT_GNU_STACK` in [`valid_minimal`], replaced by variants that need one more.
const SPARE: usize = 3;

/// Returns `spec` with its program header `index` edited by `edit`.
fn edit_header(spec: &mut ImageSpec, index: usize, edit: impl FnOnce(&mut ProgramHeader)) {
    if let Some(header) = spec.program_header_mut(index) {
        edit(header);
    }
}

/// Replaces dynamic entry `index` of `spec` with `entry`.
fn set_dynamic(spec: &mut ImageSpec, index: usize, entry: (u64, u64)) {
    if let Some(slot) = spec.dynamic.get_mut(index) {
        *slot = entry;
    }
}

/// Replaces relocation `index` of `spec` with `relocation`.
fn set_relocation(spec: &mut ImageSpec, index: usize, relocation: Rela) {
    if let Some(slot) = spec.relocations.get_mut(index) {
        *slot = relocation;
    }
}

/// Index of the `DT_RELACOUNT` entry, replaced by variants that need one more dynamic entry.
const SPARE_DYNAMIC: usize = 3;

/// Returns the broken files, one or more per rule of [`crate::plan`], with their expected kinds.
pub fn broken() -> Vec<BrokenElf> {
    let entry = |name, expected, bytes| BrokenElf {
        name,
        bytes,
        expected,
    };
    vec![
        entry("empty", "truncated", Vec::new()),
        entry("truncated", "truncated", truncated(40)),
        entry("bad-magic", "bad-magic", patched(0, b"MZ\x90\x00")),
        entry(
            "elf32",
            "not-elf64",
            patched(EI_CLASS as u64, &[ELFCLASS32]),
        ),
        entry(
            "big-endian",
            "not-little-endian",
            patched(EI_DATA as u64, &[ELFDATA2MSB]),
        ),
        entry(
            "wrong-version",
            "wrong-version",
            patched(VERSION, &2_u32.to_le_bytes()),
        ),
        entry(
            "wrong-machine",
            "wrong-machine",
            patched(MACHINE, &EM_AARCH64.to_le_bytes()),
        ),
        entry(
            "relocatable-object",
            "unsupported-type",
            patched(TYPE, &ET_REL.to_le_bytes()),
        ),
        entry(
            "bad-program-header-size",
            "bad-program-header-size",
            patched(PROGRAM_HEADER_ENTRY_SIZE, &32_u16.to_le_bytes()),
        ),
        entry(
            "too-many-program-headers",
            "too-many-program-headers",
            patched(PROGRAM_HEADER_COUNT, &65_u16.to_le_bytes()),
        ),
        entry(
            "program-headers-outside-file",
            "program-headers-out-of-bounds",
            patched(
                PROGRAM_HEADER_OFFSET,
                &0xffff_ffff_ffff_ff00_u64.to_le_bytes(),
            ),
        ),
        entry(
            "truncated-program-headers",
            "program-headers-out-of-bounds",
            truncated(0x100),
        ),
        entry(
            "interpreter",
            "interpreter",
            edited(|spec| {
                edit_header(spec, SPARE, |header| {
                    *header = program_header(PT_INTERP, PF_R, CODE_OFFSET, CODE_OFFSET, 4, 4, 1);
                });
            }),
        ),
        entry(
            "bad-segment-alignment",
            "bad-segment-alignment",
            edited(|spec| {
                edit_header(spec, TEXT, |header| header.p_align = 0x3000);
            }),
        ),
        entry(
            "filesz-exceeds-memsz",
            "filesz-exceeds-memsz",
            edited(|spec| {
                edit_header(spec, DATA, |header| header.p_memsz = 0x40);
            }),
        ),
        entry(
            "truncated-segment",
            "segment-outside-file",
            truncated(0x1f0),
        ),
        entry(
            "segment-outside-file",
            "segment-outside-file",
            edited(|spec| {
                edit_header(spec, DATA, |header| {
                    header.p_filesz = 0x10000;
                    header.p_memsz = 0x10000;
                });
            }),
        ),
        entry(
            "huge-memsz",
            "address-overflow",
            edited(|spec| {
                edit_header(spec, DATA, |header| header.p_memsz = u64::MAX - 0x1000);
            }),
        ),
        entry(
            "misaligned-segment",
            "misaligned-segment",
            edited(|spec| {
                edit_header(spec, DATA, |header| header.p_vaddr = DATA_ADDRESS + 0x100);
            }),
        ),
        entry(
            "write-and-execute",
            "write-and-execute",
            edited(|spec| {
                edit_header(spec, DATA, |header| header.p_flags = PF_R | PF_W | PF_X);
            }),
        ),
        entry(
            "outside-user-range",
            "outside-user-range",
            edited(|spec| {
                edit_header(spec, DATA, |header| header.p_vaddr = 0xffff_8000_0000_1200);
            }),
        ),
        entry(
            "non-canonical-segment",
            "outside-user-range",
            edited(|spec| {
                edit_header(spec, DATA, |header| header.p_vaddr = 0x8000_0000_0000_1200);
            }),
        ),
        entry(
            "too-many-segments",
            "too-many-segments",
            edited(|spec| {
                spec.program_headers_offset = 0x1000;
                for page in 0..15 {
                    let address = 0x10_0000 + page * PAGE_SIZE_BYTES;
                    spec.program_headers.push(program_header(
                        PT_LOAD,
                        PF_R,
                        0,
                        address,
                        0x10,
                        0x10,
                        PAGE_SIZE_BYTES,
                    ));
                }
            }),
        ),
        entry(
            "overlapping-segments",
            "overlapping-segments",
            edited(|spec| {
                edit_header(spec, SPARE, |header| {
                    *header =
                        program_header(PT_LOAD, PF_R, 0x100, 0x100, 0x10, 0x10, PAGE_SIZE_BYTES);
                });
            }),
        ),
        entry(
            "shared-page",
            "overlapping-segments",
            edited(|spec| {
                edit_header(spec, DATA, |header| header.p_vaddr = DATA_OFFSET);
            }),
        ),
        entry(
            "no-load-segment",
            "no-load-segment",
            edited(|spec| {
                edit_header(spec, TEXT, |header| header.p_type = PT_NULL);
                edit_header(spec, DATA, |header| header.p_type = PT_NULL);
            }),
        ),
        entry(
            "bad-entry",
            "bad-entry",
            edited(|spec| spec.entry = DATA_POINTER_ADDRESS),
        ),
        entry(
            "entry-outside-image",
            "bad-entry",
            edited(|spec| spec.entry = 0x10_0000),
        ),
        entry(
            "multiple-dynamic-segments",
            "multiple-dynamic-segments",
            edited(|spec| {
                let dynamic = spec.program_headers.get(DYNAMIC).copied();
                edit_header(spec, SPARE, |header| {
                    if let Some(dynamic) = dynamic {
                        *header = dynamic;
                    }
                });
            }),
        ),
        entry(
            "dynamic-outside-file",
            "dynamic-out-of-bounds",
            edited(|spec| {
                edit_header(spec, DYNAMIC, |header| header.p_filesz = 0x10000);
            }),
        ),
        entry(
            "dynamic-not-terminated",
            "dynamic-not-terminated",
            edited(|spec| {
                set_dynamic(spec, 4, (DT_DEBUG, 0));
            }),
        ),
        entry(
            "duplicate-dynamic-tag",
            "duplicate-dynamic-tag",
            edited(|spec| {
                set_dynamic(spec, SPARE_DYNAMIC, (DT_RELASZ, RELA_ENTRY_BYTES));
            }),
        ),
        entry(
            "needed-library",
            "needed-library",
            edited(|spec| {
                set_dynamic(spec, SPARE_DYNAMIC, (DT_NEEDED, 1));
            }),
        ),
        entry(
            "rel-table",
            "unsupported-relocation-format",
            edited(|spec| {
                set_dynamic(spec, SPARE_DYNAMIC, (DT_REL, RELA_OFFSET));
            }),
        ),
        entry(
            "relr-table",
            "unsupported-relocation-format",
            edited(|spec| {
                set_dynamic(spec, SPARE_DYNAMIC, (DT_RELR, RELA_OFFSET));
            }),
        ),
        entry(
            "plt-relocations",
            "unsupported-relocation-format",
            edited(|spec| {
                set_dynamic(spec, SPARE_DYNAMIC, (DT_JMPREL, RELA_OFFSET));
            }),
        ),
        entry(
            "missing-rela-size",
            "incomplete-relocation-table",
            edited(|spec| {
                set_dynamic(spec, 1, (DT_DEBUG, 0));
            }),
        ),
        entry(
            "missing-rela-entry-size",
            "incomplete-relocation-table",
            edited(|spec| {
                set_dynamic(spec, 2, (DT_DEBUG, 0));
            }),
        ),
        entry(
            "bad-rela-entry-size",
            "bad-relocation-entry-size",
            edited(|spec| {
                set_dynamic(spec, 2, (DT_RELAENT, 16));
            }),
        ),
        entry(
            "bad-rela-table-size",
            "bad-relocation-table-size",
            edited(|spec| {
                set_dynamic(spec, 1, (DT_RELASZ, 0x50));
            }),
        ),
        entry(
            "rela-table-outside-image",
            "relocation-table-out-of-bounds",
            edited(|spec| {
                set_dynamic(spec, 0, (DT_RELA, 0x10_0000));
            }),
        ),
        entry(
            "rela-table-in-zero-fill",
            "relocation-table-out-of-bounds",
            edited(|spec| {
                set_dynamic(spec, 0, (DT_RELA, DATA_ADDRESS + DATA_FILE_BYTES));
            }),
        ),
        entry(
            "unsupported-relocation",
            "unsupported-relocation",
            edited(|spec| {
                set_relocation(spec, 1, rela(DATA_POINTER_ADDRESS, R_X86_64_JUMP_SLOT, 0));
            }),
        ),
        entry(
            "symbolic-relocation",
            "unsupported-relocation",
            edited(|spec| {
                let mut relocation = rela(DATA_POINTER_ADDRESS, R_X86_64_64, 0);
                relocation.r_info |= 1 << 32;
                set_relocation(spec, 2, relocation);
            }),
        ),
        entry(
            "relocation-outside-image",
            "relocation-outside-image",
            edited(|spec| {
                set_relocation(spec, 0, rela(0x10_0000, R_X86_64_RELATIVE, 0));
            }),
        ),
        entry(
            "relocation-past-segment-end",
            "relocation-outside-image",
            edited(|spec| {
                let last_bytes = DATA_ADDRESS + DATA_MEMORY_BYTES - 4;
                set_relocation(spec, 0, rela(last_bytes, R_X86_64_RELATIVE, 0));
            }),
        ),
    ]
}

/// Returns a valid `ET_EXEC` variant of [`valid_minimal`] linked at `link_address` (page
/// aligned), to be planned with base 0.
pub fn valid_executable(link_address: u64) -> Vec<u8> {
    ImageSpec::minimal(ET_EXEC, link_address).to_bytes()
}
