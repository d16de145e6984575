//! The kernel's own program headers: which parts of the image are text, rodata and data.
//!
//! The bootloader leaves the kernel's ELF file in memory (`BootMemory::kernel_file_physical`).
//! [`KernelImage::parse`] reads its PT_LOAD and PT_GNU_RELRO headers so that `paging` can map
//! each segment with the permissions it asks for (text RX, rodata R, data RW, everything but
//! text NX) instead of the bootloader's looser mapping. Pure code over a byte slice.

#![deny(unsafe_code)]

use core::fmt;

/// ELF program header type: loadable segment.
const PT_LOAD: u32 = 1;
/// ELF program header type: region that is read-only after relocation.
const PT_GNU_RELRO: u32 = 0x6474_e552;
/// Segment flag: executable.
pub const PF_X: u32 = 1;
/// Segment flag: writable.
pub const PF_W: u32 = 2;
/// The most loadable segments the kernel image may have.
const MAX_SEGMENTS: usize = 8;
/// Size of the ELF64 file header.
const ELF64_HEADER_BYTES: usize = 64;
/// Size of one ELF64 program header.
const ELF64_PROGRAM_HEADER_BYTES: usize = 56;

/// One loadable segment, at its run-time address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// First virtual address (the ELF address plus the load offset).
    pub start: u64,
    /// Bytes in memory.
    pub memory_bytes: u64,
    /// ELF segment flags (`PF_X`, `PF_W`, `PF_R`).
    pub flags: u32,
}

impl Segment {
    /// Returns whether the segment is executable.
    pub fn executable(&self) -> bool {
        self.flags & PF_X != 0
    }

    /// Returns whether the segment is writable.
    pub fn writable(&self) -> bool {
        self.flags & PF_W != 0
    }

    /// Returns a short name for reports: `text`, `rodata` or `data`.
    pub fn kind(&self) -> &'static str {
        match (self.executable(), self.writable()) {
            (true, _) => "text",
            (false, false) => "rodata",
            (false, true) => "data",
        }
    }
}

/// Why the kernel's own ELF file could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageError {
    /// The file is shorter than its headers say.
    Truncated,
    /// The file does not start with the ELF64 little-endian magic.
    NotElf64,
    /// More loadable segments than [`MAX_SEGMENTS`].
    TooManySegments,
    /// A segment's address range wraps around.
    AddressOverflow,
}

impl fmt::Display for ImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ImageError::Truncated => "the kernel ELF file is truncated",
            ImageError::NotElf64 => "the kernel file is not a little-endian ELF64 file",
            ImageError::TooManySegments => "the kernel ELF file has too many PT_LOAD segments",
            ImageError::AddressOverflow => "a kernel segment's address range overflows",
        })
    }
}

/// The kernel image's segments and its read-only-after-relocation range.
#[derive(Clone, Copy, Debug)]
pub struct KernelImage {
    segments: [Segment; MAX_SEGMENTS],
    segment_count: usize,
    /// The PT_GNU_RELRO range (start, bytes) at its run-time address, if any.
    pub relro: Option<(u64, u64)>,
}

fn read_u16(bytes: &[u8], offset: usize) -> Result<u16, ImageError> {
    let slice = bytes.get(offset..offset + 2).ok_or(ImageError::Truncated)?;
    Ok(u16::from_le_bytes([slice[0], slice[1]]))
}

fn read_u32(bytes: &[u8], offset: usize) -> Result<u32, ImageError> {
    let slice = bytes.get(offset..offset + 4).ok_or(ImageError::Truncated)?;
    let mut array = [0u8; 4];
    array.copy_from_slice(slice);
    Ok(u32::from_le_bytes(array))
}

fn read_u64(bytes: &[u8], offset: usize) -> Result<u64, ImageError> {
    let slice = bytes.get(offset..offset + 8).ok_or(ImageError::Truncated)?;
    let mut array = [0u8; 8];
    array.copy_from_slice(slice);
    Ok(u64::from_le_bytes(array))
}

impl KernelImage {
    /// Reads the program headers of the kernel ELF file `file`, loaded at `load_offset`.
    ///
    /// # Errors
    /// Returns an [`ImageError`] when the file is not a well-formed ELF64 file.
    pub fn parse(file: &[u8], load_offset: u64) -> Result<KernelImage, ImageError> {
        const MAGIC: &[u8; 4] = b"\x7fELF";
        const CLASS_64: u8 = 2;
        const LITTLE_ENDIAN: u8 = 1;
        if file.len() < ELF64_HEADER_BYTES
            || &file[0..4] != MAGIC
            || file[4] != CLASS_64
            || file[5] != LITTLE_ENDIAN
        {
            return Err(ImageError::NotElf64);
        }
        let header_offset = read_u64(file, 0x20)? as usize;
        let header_size = read_u16(file, 0x36)? as usize;
        let header_count = read_u16(file, 0x38)? as usize;
        if header_size < ELF64_PROGRAM_HEADER_BYTES {
            return Err(ImageError::NotElf64);
        }
        let mut image =
            KernelImage { segments: [Segment::default(); MAX_SEGMENTS], segment_count: 0, relro: None };
        for index in 0..header_count {
            let base = header_offset
                .checked_add(index.checked_mul(header_size).ok_or(ImageError::Truncated)?)
                .ok_or(ImageError::Truncated)?;
            let kind = read_u32(file, base)?;
            let flags = read_u32(file, base + 4)?;
            let virtual_address = read_u64(file, base + 0x10)?;
            let memory_bytes = read_u64(file, base + 0x28)?;
            let start = virtual_address.checked_add(load_offset).ok_or(ImageError::AddressOverflow)?;
            start.checked_add(memory_bytes).ok_or(ImageError::AddressOverflow)?;
            match kind {
                PT_LOAD if memory_bytes > 0 => {
                    let slot =
                        image.segments.get_mut(image.segment_count).ok_or(ImageError::TooManySegments)?;
                    *slot = Segment { start, memory_bytes, flags };
                    image.segment_count += 1;
                }
                PT_GNU_RELRO => image.relro = Some((start, memory_bytes)),
                _ => {}
            }
        }
        Ok(image)
    }

    /// Returns the loadable segments.
    pub fn segments(&self) -> &[Segment] {
        &self.segments[..self.segment_count]
    }
}
