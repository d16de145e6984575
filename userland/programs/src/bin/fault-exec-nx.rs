//! Jumps into its (non-executable) stack: the kernel must kill it with a page fault.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

/// `ret`: harmless if it ever ran.
const RETURN_INSTRUCTION: u8 = 0xc3;

fn main(_argument: u64) -> u64 {
    let code = [RETURN_INSTRUCTION; 16];
    let target = core::hint::black_box(code.as_ptr());
    shoal_rt::println!("fault-exec-nx: calling into the stack at {target:p}");
    // SAFETY: deliberately unsound: the stack is mapped non-executable, so the call must fault.
    let function: extern "C" fn() = unsafe { core::mem::transmute(target) };
    function();
    shoal_rt::println!("fault-exec-nx: the stack was executable");
    0
}
