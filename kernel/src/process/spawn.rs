//! Starting a process from a binary loaded in the global segment.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use abi::ErrorCode;
use x86_64::VirtAddr;

use crate::mm::address_space::{Access, AddressSpace};
use crate::mm::global_segment::{self, GlobalError};
use crate::mm::layout::{PAGE_BYTES, USER_STACK_BYTES, USER_STACK_TOP};
use crate::mm::paging::MapError;
use crate::syscall::linux;

use super::Personality;

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
    /// Which system-call interface the binary expects.
    pub personality: Personality,
    /// The value in `rdi` at entry: the argument for a native process, 0 for a Linux one (its
    /// argument is `argv[1]`).
    pub entry_argument: u64,
    /// A Linux process's state (descriptors, break, signals, ...).
    pub linux: Option<Box<linux::State>>,
}

/// Linux processes started so far: each one's random generator is seeded from this count, so a
/// run that starts the same processes in the same order sees the same numbers.
static LINUX_STARTS: AtomicU64 = AtomicU64::new(0);

/// Builds the address space of a new process of binary `name` with `argument`: attaches the
/// global window (no ELF parsing, no copy of a read-only page) and records a demand-zero user
/// stack below a guard page (nothing of it is mapped until the process touches it): 64 KiB for a
/// native process, `RLIMIT_STACK` (8 MiB) for a Linux one, whose initial stack (argument
/// strings and auxiliary vector) is written now.
///
/// # Errors
/// Returns a [`SpawnError`] for an unknown or bad binary or when memory runs out.
pub fn prepare(name: &str, argument: u64) -> Result<Prepared, SpawnError> {
    let mut space = AddressSpace::new().map_err(SpawnError::OutOfMemory)?;
    let attached = global_segment::attach(&mut space, name)?;
    let stack_bytes = match attached.personality {
        Personality::Native => USER_STACK_BYTES,
        Personality::Linux => linux::process::STACK_LIMIT_BYTES,
    };
    // The stack is demand-zero memory: its pages are mapped when first touched.
    let stack_bottom = VirtAddr::new(USER_STACK_TOP - stack_bytes);
    space.add_demand_zero(stack_bottom, stack_bytes, Access::DATA).map_err(SpawnError::OutOfMemory)?;
    debug_assert!(USER_STACK_TOP.is_multiple_of(PAGE_BYTES));
    match attached.personality {
        Personality::Native => {
            // The System V ABI expects `rsp + 8` to be 16-byte aligned at a function's first
            // instruction, as if a call had pushed a return address.
            const RETURN_ADDRESS_BYTES: u64 = 8;
            let stack_pointer = VirtAddr::new(USER_STACK_TOP - RETURN_ADDRESS_BYTES);
            Ok(Prepared { space, entry: attached.entry, stack_pointer, pkru: attached.pkru, personality: Personality::Native, entry_argument: argument, linux: None })
        }
        Personality::Linux => {
            let start = LINUX_STARTS.fetch_add(1, Ordering::Relaxed) + 1;
            let out_of_memory = || SpawnError::OutOfMemory(MapError::OutOfFrames);
            let mut state = Box::try_new(linux::State::new(linux::process::seed_for(start))).map_err(|_| out_of_memory())?;
            let stack_pointer = linux::startup::build(&mut space, USER_STACK_TOP, name, argument, &attached, &mut state).map_err(|_| out_of_memory())?;
            Ok(Prepared {
                space,
                entry: attached.entry,
                stack_pointer: VirtAddr::new(stack_pointer),
                pkru: attached.pkru,
                personality: Personality::Linux,
                entry_argument: 0,
                linux: Some(state),
            })
        }
    }
}
