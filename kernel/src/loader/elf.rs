//! Loads a static position-independent ELF executable into a fresh address space.
//!
//! `elf_check::plan` validates the whole file first (headers, segments in the user image range,
//! W^X, no overlap, only R_X86_64_RELATIVE relocations) and returns a plan that cannot fail
//! later. The loader then maps each segment's pages with the segment's permissions, copies the
//! file bytes (the rest stays zero: bss), and applies the relocations for the chosen base.
//! Every malformed file ends in a typed error; none can stop the kernel.

#![deny(unsafe_code)]

use core::fmt;

use elf_check::{ElfError, Placement};
use x86_64::VirtAddr;

use crate::mm::address_space::{Access, AddressSpace};
use crate::mm::layout::{USER_IMAGE_BASE, USER_IMAGE_END};
use crate::mm::paging::MapError;

/// Why a binary could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file is not a valid executable for shoal.
    Elf(ElfError),
    /// Memory ran out while mapping it.
    Map(MapError),
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Elf(error) => write!(f, "{error}"),
            LoadError::Map(error) => write!(f, "mapping the image: {error}"),
        }
    }
}

impl From<MapError> for LoadError {
    fn from(error: MapError) -> LoadError {
        LoadError::Map(error)
    }
}

/// A loaded image: its address space and entry point.
#[derive(Debug)]
pub struct LoadedImage {
    /// The address space holding the image (and nothing else yet).
    pub space: AddressSpace,
    /// The relocated entry point.
    pub entry: VirtAddr,
}

/// Returns where private images go.
pub fn private_placement() -> Placement {
    Placement { base: USER_IMAGE_BASE, allowed: USER_IMAGE_BASE..USER_IMAGE_END }
}

/// Validates `file`, then loads it at `USER_IMAGE_BASE` into a new address space.
///
/// # Errors
/// Returns [`LoadError::Elf`] for a malformed file (before any memory is touched) and
/// [`LoadError::Map`] when memory runs out.
pub fn load(file: &[u8]) -> Result<LoadedImage, LoadError> {
    let plan = elf_check::plan(file, &private_placement()).map_err(LoadError::Elf)?;
    let mut space = AddressSpace::new()?;
    for segment in plan.segments() {
        let access = Access { write: segment.writable, execute: segment.executable };
        space.map_zeroed(VirtAddr::new(segment.page_start), segment.page_end - segment.page_start, access)?;
        // `plan` checked that the file range is in bounds for this file.
        let data = segment.file_data(file).unwrap_or(&[]);
        space.write_bytes(VirtAddr::new(segment.virtual_address), data)?;
    }
    for relocation in plan.relocations(file) {
        // `plan` walked every relocation of this very file already, so none can fail here.
        let Ok(relocation) = relocation else { break };
        space.write_bytes(VirtAddr::new(relocation.target), &relocation.value.to_le_bytes())?;
    }
    Ok(LoadedImage { space, entry: VirtAddr::new(plan.entry()) })
}
