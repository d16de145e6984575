//! Tries to change the protections of the global window and the kernel half (refused), uses
//! `protect` on its own heap, and checks its binary's digest. Prints one line per check and
//! exits with the number of checks that failed.
#![no_std]
#![no_main]

use shoal_rt::abi::{self, ErrorCode};
use shoal_rt::syscall;

shoal_rt::entry!(main);

const PAGE_BYTES: u64 = 4096;
const KERNEL_ADDRESS: u64 = 0xffff_8000_0000_0000;

fn check(failures: &mut u64, name: &str, ok: bool) {
    if ok {
        shoal_rt::println!("window-guard: {name} ok");
    } else {
        shoal_rt::println!("window-guard: {name} FAILED");
        *failures += 1;
    }
}

fn main(_argument: u64) -> u64 {
    let mut failures = 0;
    // Our own code lives in the global window.
    let own_code = (main as *const () as u64) & !(PAGE_BYTES - 1);
    check(&mut failures, "protect own code (window) writable -> forbidden", syscall::protect(own_code, PAGE_BYTES, abi::ACCESS_WRITE) == Err(ErrorCode::Forbidden));
    check(&mut failures, "protect own code (window) read-only -> forbidden", syscall::protect(own_code, PAGE_BYTES, 0) == Err(ErrorCode::Forbidden));
    check(&mut failures, "protect the kernel half -> forbidden", syscall::protect(KERNEL_ADDRESS, PAGE_BYTES, abi::ACCESS_WRITE) == Err(ErrorCode::Forbidden));
    check(&mut failures, "protect a range running into the window -> forbidden", syscall::protect(own_code - 16 * PAGE_BYTES, 32 * PAGE_BYTES, 0) == Err(ErrorCode::Forbidden));
    match syscall::heap_grow(2 * PAGE_BYTES) {
        Ok(heap) => {
            check(&mut failures, "protect heap write+execute -> invalid", syscall::protect(heap, PAGE_BYTES, abi::ACCESS_WRITE | abi::ACCESS_EXECUTE) == Err(ErrorCode::InvalidArgument));
            check(&mut failures, "protect unaligned -> invalid", syscall::protect(heap + 1, PAGE_BYTES, 0) == Err(ErrorCode::InvalidArgument));
            check(&mut failures, "protect heap read-only", syscall::protect(heap, PAGE_BYTES, 0).is_ok());
            // SAFETY: the page is mapped (read-only now); reading it is fine.
            let value = unsafe { (heap as *const u64).read_volatile() };
            check(&mut failures, "read the read-only heap page", value == 0);
            check(&mut failures, "protect heap writable again", syscall::protect(heap, PAGE_BYTES, abi::ACCESS_WRITE).is_ok());
            // SAFETY: writable again.
            unsafe { (heap as *mut u64).write_volatile(7) };
            check(&mut failures, "write the heap page again", true);
        }
        Err(error) => {
            shoal_rt::println!("window-guard: heap_grow failed: {error}");
            failures += 1;
        }
    }
    check(&mut failures, "protect unmapped user memory -> bad address", syscall::protect(0x0000_2000_0000_0000, PAGE_BYTES, 0) == Err(ErrorCode::BadAddress));
    check(&mut failures, "verify own binary digest", syscall::verify_binary("window-guard") == Ok(true));
    check(&mut failures, "verify unknown binary -> not found", syscall::verify_binary("no-such-binary") == Err(ErrorCode::NotFound));
    shoal_rt::println!("window-guard: {failures} failures");
    failures
}
