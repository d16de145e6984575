//! A process asks for binaries the kernel cannot start for it, and checks that each refusal says
//! what happened: a broken ELF file is `bad-executable`, an unknown name is `not-found`. (A valid
//! binary that is not loaded is no refusal: the spawn loads it while this process runs; the
//! `global-live` suite checks that.) Prints one line per check and exits with the number of
//! failed checks.
#![no_std]
#![no_main]

use shoal_rt::abi::ErrorCode;
use shoal_rt::syscall;

shoal_rt::entry!(main);

/// Each name and the refusal it must get.
const CASES: [(&str, ErrorCode); 3] = [
    ("corpus-bad-magic", ErrorCode::BadExecutable),
    ("corpus-truncated", ErrorCode::BadExecutable),
    ("no-such-binary", ErrorCode::NotFound),
];

fn main(_argument: u64) -> u64 {
    let mut failures = 0;
    for (name, expected) in CASES {
        match syscall::spawn(name, 0) {
            Err(code) if code == expected => shoal_rt::println!("spawn-refusals: {name} -> {code} ok"),
            Err(code) => {
                shoal_rt::println!("spawn-refusals: {name} -> {code}, expected {expected} FAILED");
                failures += 1;
            }
            Ok(pid) => {
                shoal_rt::println!("spawn-refusals: {name} started as process {pid}, expected {expected} FAILED");
                failures += 1;
            }
        }
    }
    failures
}
