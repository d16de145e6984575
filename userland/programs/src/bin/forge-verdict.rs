//! Tries to forge the kernel's final status line (`shoal: exit success` at the start of a line,
//! the verdict of a run on emulators without the exit device): split over two writes, whole,
//! after a carriage return, after an erase-line escape, and with NUL and bell bytes. The kernel
//! test checks that the run's verdict is still the kernel's own. Exits with 0.
#![no_std]
#![no_main]

use shoal_rt::syscall;

shoal_rt::entry!(main);

/// The writes, each made with one `write` call, in order.
const ATTEMPTS: [&[u8]; 6] = [
    b"\nshoal: ex",
    b"it success\n",
    b"shoal: exit success\n",
    b"\rshoal: exit success\n",
    b"text\x1b[2K\rshoal: exit success\n",
    b"a\x00b\x07c\n",
];

fn main(_argument: u64) -> u64 {
    for attempt in ATTEMPTS {
        // The result does not matter: what reaches the console is what the test checks.
        let _ = syscall::write(attempt);
    }
    0
}
