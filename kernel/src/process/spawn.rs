//! Starting a process from a binary loaded in the global segment.

#![deny(unsafe_code)]

use core::fmt;

use abi::ErrorCode;
use x86_64::VirtAddr;

use crate::mm::address_space::{Access, AddressSpace};
use crate::mm::global_segment::{self, GlobalError};
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
    /// The binary is not loaded and the window cannot change now: an attached address space is
    /// outside the process table, so a live load could not patch it.
    Busy(GlobalError),
    /// Every slot of the global window is taken.
    Window(GlobalError),
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SpawnError::NotFound => write!(f, "no such binary in the ramdisk"),
            SpawnError::BadExecutable(error) => write!(f, "not a valid executable: {error}"),
            SpawnError::OutOfMemory(error) => write!(f, "out of memory: {error}"),
            SpawnError::TooManyProcesses => write!(f, "every process slot is in use"),
            SpawnError::Busy(error) | SpawnError::Window(error) => write!(f, "global segment: {error}"),
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
            SpawnError::Busy(_) => ErrorCode::Busy,
            SpawnError::TooManyProcesses | SpawnError::Window(_) => ErrorCode::LimitReached,
        }
    }
}

impl From<GlobalError> for SpawnError {
    fn from(error: GlobalError) -> SpawnError {
        match error {
            GlobalError::NotFound | GlobalError::NotLoaded => SpawnError::NotFound,
            GlobalError::Elf(error) => SpawnError::BadExecutable(error),
            GlobalError::OutOfMemory => SpawnError::OutOfMemory(MapError::OutOfFrames),
            error @ (GlobalError::InUse { .. } | GlobalError::Unreachable { .. }) => SpawnError::Busy(error),
            other => SpawnError::Window(other),
        }
    }
}

/// A process image ready to start: its address space (window attached, stack mapped) and where
/// it starts.
pub struct Prepared {
    /// The address space.
    pub space: AddressSpace,
    /// The entry point.
    pub entry: VirtAddr,
    /// The initial user stack pointer.
    pub stack_pointer: VirtAddr,
    /// The process's protection-key rights (PKRU).
    pub pkru: u32,
}

/// Builds the address space of a new process of binary `name`: attaches the global window (no
/// ELF parsing, no copy of a read-only page) and records a demand-zero user stack below a guard
/// page (nothing of it is mapped until the process touches it).
///
/// # Errors
/// Returns a [`SpawnError`] for an unknown or bad binary or when memory runs out.
pub fn prepare(name: &str) -> Result<Prepared, SpawnError> {
    let mut space = AddressSpace::new().map_err(SpawnError::OutOfMemory)?;
    let attached = global_segment::attach(&mut space, name)?;
    // The stack is demand-zero memory: its pages are mapped when first touched.
    let stack_bottom = VirtAddr::new(USER_STACK_TOP - USER_STACK_BYTES);
    space.add_demand_zero(stack_bottom, USER_STACK_BYTES, Access::DATA).map_err(SpawnError::OutOfMemory)?;
    // The System V ABI expects `rsp + 8` to be 16-byte aligned at a function's first
    // instruction, as if a call had pushed a return address.
    const RETURN_ADDRESS_BYTES: u64 = 8;
    let stack_pointer = VirtAddr::new(USER_STACK_TOP - RETURN_ADDRESS_BYTES);
    debug_assert!(USER_STACK_TOP.is_multiple_of(PAGE_BYTES));
    Ok(Prepared { space, entry: attached.entry, stack_pointer, pkru: attached.pkru })
}
