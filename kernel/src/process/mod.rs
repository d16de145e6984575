//! Processes: what a process is, and the scheduler that runs them.
//!
//! A process has an address space (its own PML4 with the kernel half linked in, and a PCID lease),
//! a kernel stack, its saved FPU/SSE state, a user stack below a guard page and a private heap,
//! and a personality: shoal's own ABI, or Linux's (`syscall::linux`, with its FS base and its
//! descriptors, break and mappings).
//! `scheduler` keeps the process table and the round-robin run queue (`sched-queue`), runs
//! processes from the boot stack (`run`), preempts them on timer ticks, blocks them in `wait`,
//! and reaps them when they end. `spawn` loads a binary from the ramdisk and starts it.
//! `registry` loads and unloads global-segment binaries while processes run, patching every
//! live address space.

#![deny(unsafe_code)]

pub mod faults;
pub mod registry;
pub mod scheduler;
pub mod spawn;

use abi::{EndReason, ExitStatus};

/// Which system-call interface a process runs against: shoal's own, or Linux's (decided by the
/// binary's personality note, `abi::linux`).
pub use elf_check::Personality;

/// Bits of a process id that hold its slot in the process table.
pub const SLOT_BITS: u32 = 20;
const _: () = assert!(1u64 << SLOT_BITS == crate::mm::layout::MAX_PROCESSES);

/// Returns the process-table slot encoded in `pid`.
pub const fn slot_of(pid: u64) -> usize {
    (pid & ((1 << SLOT_BITS) - 1)) as usize
}

/// Per-process counters, kept after the process ends.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessStats {
    /// Timer tick at which the process first ran.
    pub first_run_tick: Option<u64>,
    /// Timer tick at which it ended.
    pub end_tick: u64,
    /// Times it was preempted by the timer.
    pub preemptions: u64,
    /// Times it was switched to.
    pub runs: u64,
}

/// A process that ended, as the kernel reports it to whoever started it.
#[derive(Clone, Copy, Debug)]
pub struct Finished {
    /// Its process id.
    pub pid: u64,
    /// The binary it ran.
    pub name: &'static str,
    /// How it ended.
    pub status: ExitStatus,
    /// Its counters.
    pub stats: ProcessStats,
}

impl Finished {
    /// Returns why it ended.
    pub fn reason(&self) -> Option<EndReason> {
        EndReason::from_value(self.status.reason)
    }
}
