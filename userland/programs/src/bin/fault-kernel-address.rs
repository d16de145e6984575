//! Reads a kernel address: the kernel must kill it with a page fault (user access to a
//! supervisor page).
#![no_std]
#![no_main]

shoal_rt::entry!(main);

/// The start of the kernel's direct map of physical memory.
const KERNEL_ADDRESS: u64 = 0xffff_8000_0000_0000;

fn main(_argument: u64) -> u64 {
    shoal_rt::println!("fault-kernel-address: reading {KERNEL_ADDRESS:#x}");
    // SAFETY: deliberately unsound: a user read of a supervisor page must fault.
    let value = unsafe { (KERNEL_ADDRESS as *const u64).read_volatile() };
    shoal_rt::println!("fault-kernel-address: read {value:#x} from the kernel");
    0
}
