//! Starting a process from a binary in the ramdisk.

#![deny(unsafe_code)]

use core::fmt;

use abi::ErrorCode;
use x86_64::VirtAddr;

use crate::loader::elf::{self, LoadError};
use crate::mm::address_space::Access;
use crate::mm::layout::{PAGE_BYTES, USER_STACK_BYTES, USER_STACK_TOP};
use crate::mm::paging::MapError;

/// Why a process could not be started.
#[derive(Debug)]
pub enum SpawnError {
    /// No binary of that name is in the ramdisk.
    NotFound,
    /// The binary is not a valid executable.
    BadExecutable(elf_check::ElfError),
    /// Memory ran out.
    OutOfMemory(MapError),
    /// Every process slot is in use.
    TooManyProcesses,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NotFound => write!(f, "no such binary in the ramdisk"),
            SpawnError::BadExecutable(error) => write!(f, "not a valid executable: {error}"),
            SpawnError::OutOfMemory(error) => write!(f, "out of memory: {error}"),
            SpawnError::TooManyProcesses => write!(f, "every process slot is in use"),
        }
    }
}

impl SpawnError {
    /// Returns the system-call error code for this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            SpawnError::NotFound => ErrorCode::NotFound,
            SpawnError::BadExecutable(_) => ErrorCode::BadExecutable,
            SpawnError::OutOfMemory(_) => ErrorCode::OutOfMemory,
            SpawnError::TooManyProcesses => ErrorCode::LimitReached,
        }
    }
}

impl From<LoadError> for SpawnError {
    fn from(error: LoadError) -> SpawnError {
        match error {
            LoadError::Elf(error) => SpawnError::BadExecutable(error),
            LoadError::Map(error) => SpawnError::OutOfMemory(error),
        }
    }
}

/// A loaded, not yet started process image: address space with image and stack, and entry.
pub struct Prepared {
    /// The image and its address space.
    pub image: elf::LoadedImage,
    /// The initial user stack pointer.
    pub stack_pointer: VirtAddr,
}

/// Loads `file` and maps a user stack below a guard page.
///
/// # Errors
/// Returns a [`SpawnError`] for a bad executable or when memory runs out.
pub fn prepare(file: &[u8]) -> Result<Prepared, SpawnError> {
    let mut image = elf::load(file)?;
    let stack_bottom = VirtAddr::new(USER_STACK_TOP - USER_STACK_BYTES);
    image.space.map_zeroed(stack_bottom, USER_STACK_BYTES, Access::DATA).map_err(SpawnError::OutOfMemory)?;
    // The System V ABI expects `rsp + 8` to be 16-byte aligned at a function's first
    // instruction, as if a call had pushed a return address.
    const RETURN_ADDRESS_BYTES: u64 = 8;
    let stack_pointer = VirtAddr::new(USER_STACK_TOP - RETURN_ADDRESS_BYTES);
    debug_assert!(USER_STACK_TOP.is_multiple_of(PAGE_BYTES));
    Ok(Prepared { image, stack_pointer })
}
