//! What happens when a process faults: one report line, and only that process ends.

#![deny(unsafe_code)]

use abi::EndReason;

use super::scheduler;
use crate::arch::x86_64::idt::Exception;

/// Vector numbers (Intel SDM vol. 3A table 6-1).
const DIVIDE_ERROR: u8 = 0;
const INVALID_OPCODE: u8 = 6;
const GENERAL_PROTECTION: u8 = 13;
const PAGE_FAULT: u8 = 14;

/// Kills the running process for `exception` (which hit user mode) and runs the next one.
pub fn kill_current(exception: &Exception) -> ! {
    let (reason, code) = match exception.vector {
        DIVIDE_ERROR => (EndReason::DivideError, 0),
        INVALID_OPCODE => (EndReason::InvalidOpcode, 0),
        GENERAL_PROTECTION => (EndReason::GeneralProtection, exception.error_code.unwrap_or(0)),
        PAGE_FAULT => (EndReason::PageFault, exception.fault_address.unwrap_or(0)),
        _ => (EndReason::OtherException, u64::from(exception.vector)),
    };
    let (pid, name) = scheduler::current_identity().unwrap_or((0, "?"));
    let detail = exception.one_line_detail();
    crate::println!(
        "process {pid} ({name}): killed by {} {} at RIP {:#x}{detail}",
        exception.mnemonic,
        exception.name,
        exception.rip
    );
    scheduler::exit_current(reason, code)
}
