//! Exceptions are reported clearly. All but the breakpoint are fatal in the kernel by design:
//! these suites end with the exception report and the failure status, which the host test
//! expects, or — if the fault does not happen — with a failed check.

#![deny(unsafe_code)]

use x86_64::VirtAddr;

use super::{Checks, Failed, fail};
use crate::arch::x86_64::interrupts;
use crate::mm::layout::{self, PAGE_BYTES};
use crate::mm::paging::probe;

/// A breakpoint is reported and execution continues after it.
pub fn breakpoint(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("int3 is reported and the kernel continues");
    interrupts::breakpoint();
    checks.pass();
    Ok(())
}

/// Writing to kernel text must page-fault.
pub fn write_kernel_text(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("a write to kernel text page-faults");
    let text = VirtAddr::from_ptr(write_kernel_text as *const ());
    crate::println!("ktest: write-kernel-text: writing to kernel text at {:#x}", text.as_u64());
    let original = probe::read_byte(text);
    probe::write_byte_expecting_fault(text, original);
    fail!(checks, "the write to {:#x} did not fault: kernel text is writable", text.as_u64())
}

/// Reading the guard page below the boot stack must page-fault.
pub fn unmapped_read(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("a read of the unmapped guard page below kernel stack 0 page-faults");
    let guard = layout::kernel_stack_bottom(0) - PAGE_BYTES;
    crate::println!("ktest: page-fault: reading unmapped address {:#x}", guard.as_u64());
    let value = probe::read_byte(guard);
    fail!(checks, "the read of {:#x} returned {value:#x} instead of faulting", guard.as_u64())
}

/// `ud2` must raise #UD.
pub fn invalid_opcode(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("ud2 raises an invalid-opcode exception");
    crate::println!("ktest: invalid-opcode: executing ud2");
    interrupts::raise_invalid_opcode();
    fail!(checks, "ud2 did not fault")
}

/// A kernel panic prints its message and ends the run with failure.
pub fn panic(checks: &mut Checks) -> Result<(), Failed> {
    checks.check("a kernel panic is reported");
    panic!("deliberate panic from the `panic` test suite");
}
