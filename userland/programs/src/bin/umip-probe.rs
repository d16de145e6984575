//! Executes SGDT at CPL 3. Where the CPU has UMIP and the kernel enables it, the instruction
//! raises #GP and the kernel kills the process; otherwise it stores the GDT's limit and base
//! (the kernel's address: a leak UMIP exists to stop). Prints what it got and exits with 0 if
//! it ran.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

fn main(_argument: u64) -> u64 {
    shoal_rt::println!("umip-probe: executing sgdt");
    let mut descriptor = [0u8; 10];
    // SAFETY: SGDT stores 10 bytes (a 2-byte limit and an 8-byte base) at the given address,
    // which points to `descriptor`; it changes nothing else. Under UMIP it faults instead.
    unsafe {
        core::arch::asm!("sgdt [{0}]", in(reg) descriptor.as_mut_ptr(), options(nostack, preserves_flags));
    }
    let limit = u16::from_le_bytes([descriptor[0], descriptor[1]]);
    let mut base_bytes = [0u8; 8];
    base_bytes.copy_from_slice(&descriptor[2..10]);
    let base = u64::from_le_bytes(base_bytes);
    shoal_rt::println!("umip-probe: sgdt ran: GDT base {base:#x}, limit {limit:#x}");
    0
}
