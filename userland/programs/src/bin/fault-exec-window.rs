//! Jumps into its own read-only data, which lives in the global window and is not executable:
//! the kernel must kill it with a page fault.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

/// `ret` bytes in read-only data.
static NOT_CODE: [u8; 16] = [0xc3; 16];

fn main(_argument: u64) -> u64 {
    let target = core::hint::black_box(NOT_CODE.as_ptr());
    shoal_rt::println!("fault-exec-window: calling into read-only data at {target:p}");
    // SAFETY: deliberately unsound: the page is mapped non-executable, so the call must fault.
    let function: extern "C" fn() = unsafe { core::mem::transmute(target) };
    function();
    shoal_rt::println!("fault-exec-window: the data was executable");
    0
}
