//! System calls: one entry, two personalities.
//!
//! The SYSCALL entry stub calls [`dispatch`] with the saved user registers. A process runs either
//! shoal's own ABI ([`native`], the `abi` crate: programs built with `userland/rt`, which carry
//! shoal's personality note) or the Linux x86-64 ABI ([`linux`]: every other static-pie
//! executable). The scheduler records the running process's personality when it switches to it,
//! so choosing the handler costs one load. Each personality decodes every argument before it
//! performs anything (the seL4 decode/perform split); bad input returns an error, never a kernel
//! panic.

#![deny(unsafe_code)]

pub mod linux;
pub mod native;

use abi::EndReason;

use crate::arch::x86_64::trap::SyscallFrame;
use crate::mm::layout::USER_END;
use crate::process::{Personality, scheduler};

/// Handles one system call of the running process.
pub fn dispatch(frame: &mut SyscallFrame) {
    match scheduler::running_personality() {
        Personality::Native => native::dispatch(frame),
        Personality::Linux => linux::dispatch(frame),
    }
    // SYSRET to a non-canonical RCX faults in ring 0 on Intel CPUs (on the user's stack). The
    // RIP SYSCALL saved is the address after the instruction, which is only outside the user
    // half when the instruction ends the last user page; the kernel never maps that page, but a
    // process that got there ends here, as the #GP its return would raise on AMD.
    if frame.user_rip >= USER_END {
        let (pid, name) = scheduler::current_identity().unwrap_or((0, "?"));
        crate::println!("process {pid} ({name}): killed: system call returns to {:#x}, outside the user half", frame.user_rip);
        scheduler::exit_current(EndReason::GeneralProtection, frame.user_rip);
    }
}
