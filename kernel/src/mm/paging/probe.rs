//! Raw single-byte accesses for the in-kernel tests that must provoke a fault.
//!
//! These are the only functions that touch an arbitrary kernel virtual address. A test uses them
//! to show that the protections hold: writing to kernel text, or reading an unmapped address,
//! must raise a page fault (which is fatal in the kernel and ends the run with a report).

use x86_64::VirtAddr;

/// Reads one byte at `address` with a volatile load; faults if the address is not readable.
pub fn read_byte(address: VirtAddr) -> u8 {
    let pointer: *const u8 = address.as_ptr();
    // SAFETY: a volatile byte load creates no reference and cannot break Rust's aliasing rules
    // for mapped memory; if `address` is not mapped the CPU raises #PF, whose handler reports it
    // and stops the kernel, so execution never continues with a bogus value.
    unsafe { pointer.read_volatile() }
}

/// Writes `value` at `address` with a volatile store; faults if the address is not writable.
///
/// Used only on addresses that must be read-only (kernel text), so the write never lands.
pub fn write_byte_expecting_fault(address: VirtAddr, value: u8) {
    let pointer: *mut u8 = address.as_mut_ptr();
    // SAFETY: callers pass addresses mapped read-only; the store raises #PF and the handler
    // stops the kernel before any code could observe a modified byte. If the mapping were
    // wrongly writable the byte would change — which is exactly the bug the test reports.
    unsafe { pointer.write_volatile(value) };
}
