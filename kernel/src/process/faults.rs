//! What happens when a process faults: a first touch of demand memory is served; anything else
//! gets one report line, and only that process ends.

#![deny(unsafe_code)]

use abi::EndReason;

use x86_64::VirtAddr;

use super::scheduler;
use crate::mm::address_space::Populated;
use crate::mm::layout::{PAGE_BYTES, USER_STACK_TOP};
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
    // The page below the stack (a demand region that ends at the stack top) is its guard.
    let stack_below = |address: u64| {
        let above = VirtAddr::try_new(address.checked_add(PAGE_BYTES)?).ok()?;
        let region = scheduler::with_current_space(|space| space.demand_region(above)).ok()??;
        (region.end == USER_STACK_TOP && address < region.start).then_some(region.end - region.start)
    };
    if exception.vector == PAGE_FAULT
        && let Some(stack_bytes) = exception.fault_address.and_then(stack_below)
    {
        crate::println!("process {pid} ({name}): stack overflow: touched the guard page below its {} KiB user stack", stack_bytes / 1024);
    }
    crate::println!(
        "process {pid} ({name}): killed by {} {} at RIP {:#x}{detail}",
        exception.mnemonic,
        exception.name,
        exception.rip
    );
    scheduler::exit_current(reason, code)
}

/// Serves a user-mode not-present page fault at `address` on the running process's demand memory
/// (its stack, a writable page of its binary); returns whether the page is now mapped. When no
/// frame is free the process is killed with an out-of-memory report (never the kernel).
pub fn serve_demand_fault(address: u64, _error_code: u64) -> bool {
    let Ok(address) = VirtAddr::try_new(address) else { return false };
    match scheduler::with_current_space(|space| space.populate(address)) {
        Ok(Ok(Populated::Zeroed | Populated::Copied)) => true,
        // Mapped already (a fault raced nothing on one CPU: a protection fault reported as not
        // present would be a CPU bug) or not demand memory: a real fault.
        Ok(Ok(Populated::Present | Populated::NotDemand)) | Err(_) => false,
        Ok(Err(_)) => {
            let (pid, name) = scheduler::current_identity().unwrap_or((0, "?"));
            crate::println!("process {pid} ({name}): killed: out of memory serving a page fault at {:#x} (no free frame)", address.as_u64());
            scheduler::exit_current(EndReason::OutOfMemory, address.as_u64())
        }
    }
}
