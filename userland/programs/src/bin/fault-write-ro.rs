//! Writes to its own read-only data: the kernel must kill it with a page fault.
#![no_std]
#![no_main]

shoal_rt::entry!(main);

static READ_ONLY: [u8; 8] = *b"readonly";

fn main(_argument: u64) -> u64 {
    let target = READ_ONLY.as_ptr().cast_mut();
    shoal_rt::println!("fault-write-ro: writing to read-only data at {target:p}");
    // SAFETY: deliberately unsound: this write must fault; reaching the next line is the bug.
    unsafe { target.write_volatile(b'X') };
    shoal_rt::println!("fault-write-ro: the write did not fault");
    0
}
