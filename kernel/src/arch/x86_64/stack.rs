//! Moving the running kernel onto a new stack (and, at boot, into a new address space).

use x86_64::VirtAddr;

use super::cr::Cr3Value;

/// Makes `cr3` the active address space and at once moves onto the stack at `stack_top`, then
/// calls `continuation`, never returning.
///
/// The two steps are one instruction sequence because the old stack may not be mapped in the new
/// address space: nothing may touch the stack between the CR3 write and the stack switch.
///
/// # Safety
/// 1. `cr3` names a valid PML4 that maps the running code, every kernel structure the CPU or the
///    kernel will touch (GDT, IDT, TSS, IST stacks, the direct map), and stays valid while active.
/// 2. `stack_top` is the 16-byte-aligned top of a stack that is mapped writable in the *new*
///    address space, used by nothing else, and stays mapped while `continuation` runs (forever).
pub unsafe fn switch_address_space_and_stack(
    cr3: Cr3Value,
    stack_top: VirtAddr,
    continuation: extern "C" fn() -> !,
) -> ! {
    let raw = cr3.raw_for_current_mode();
    // SAFETY: the caller guarantees that the new tables map this code, the new stack, and every
    // structure the CPU uses; the asm block uses no memory between the CR3 write and the RSP
    // write, and `continuation` never returns.
    unsafe {
        core::arch::asm!(
            "mov cr3, {raw}",
            "mov rsp, {stack_top}",
            "xor ebp, ebp",
            "call {continuation}",
            "ud2",
            raw = in(reg) raw,
            stack_top = in(reg) stack_top.as_u64(),
            continuation = in(reg) continuation,
            options(noreturn)
        )
    }
}
