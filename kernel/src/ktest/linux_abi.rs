//! The Linux personality: musl static-pie binaries run with Linux system calls, and what cannot
//! run is refused with a clear error.
//!
//! - `linux-abi` (a C program, `userland/linux/c/linux-abi.c`) calls every implemented system
//!   call with good and bad arguments and checks results and errno itself; it must exit with 0
//!   (its last line, `linux-abi: all N checks passed`, and the one report of its unimplemented
//!   call are checked by the host test, `tests/linux_abi.rs`);
//! - two instances run one after the other share one read-only image that no process wrote: the
//!   digest taken at load still matches, and the start-up code found nothing to relocate (musl's
//!   `_dlstart_c` would have written the shared RELRO pages, and faulted);
//! - a non-PIE static executable (`ET_EXEC`) and a dynamically linked one (`PT_INTERP`) are
//!   refused with their own errors;
//! - every frame comes back;
//! - `linux-std-test`, a Rust std program (`println!`, collections, `std::time`, a ramdisk file
//!   read with `std::fs`), exits with 0;
//! - the QuickJS and Lua runtimes (`js-runtime`, `lua-runtime`) run the eight handlers through
//!   the FaaS driver with their self-checks, and every corrupted invocation fails its check
//!   (`ktest::runtimes`, as for the WebAssembly runtime).

#![deny(unsafe_code)]

use abi::EndReason;

use super::{Checks, Failed, fail};
use crate::mm::{frame, global_segment};
use crate::process::scheduler;
use crate::process::spawn::SpawnError;

/// The test program.
const PROGRAM: &str = "linux-abi";

/// Runs the suite.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    // Frames the kernel heap took meanwhile (it grows and never shrinks) are not lost.
    let free_before = frame::free_count() as u64 + crate::mm::heap::grown_frames();
    checks.check("a musl static-pie runs every implemented call with good and bad arguments");
    for run in 1..=2u64 {
        let pid = super::start(checks, PROGRAM, run)?;
        let finished = super::run_all();
        let Some(ended) = finished.get(&pid) else { fail!(checks, "{PROGRAM} (run {run}) was not reported") };
        if ended.reason() != Some(EndReason::Exited) || ended.status.code != 0 {
            fail!(checks, "{PROGRAM} (run {run}) ended with {:?} code {} (its own lines say which check failed)", ended.reason(), ended.status.code);
        }
    }
    checks.pass();

    checks.check("its read-only image is shared and unwritten: the load-time digest still matches");
    let Some(binary) = global_segment::binaries().into_iter().find(|binary| binary.name == PROGRAM) else {
        fail!(checks, "{PROGRAM} is not in the global segment");
    };
    match global_segment::verify(PROGRAM) {
        Ok(true) => {}
        Ok(false) => fail!(checks, "the digest of {PROGRAM}'s read-only image changed"),
        Err(error) => fail!(checks, "verifying {PROGRAM}: {error}"),
    }
    crate::println!(
        "ktest: linux-abi: {PROGRAM}: {} read-only pages shared (RELRO included), {} writable pages copied per process on first touch",
        binary.read_only_pages,
        binary.writable_pages
    );
    checks.pass();

    checks.check("a non-PIE static executable and a dynamically linked one are refused");
    for (name, expected) in [("linux-static-exec", "fixed-image-with-base"), ("linux-dynamic", "interpreter")] {
        match scheduler::spawn(name, 0, None) {
            Err(SpawnError::BadExecutable(error)) if error.kind() == expected => {
                crate::println!("ktest: linux-abi: {name}: refused ({expected}): {error}");
            }
            Err(error) => fail!(checks, "{name}: refused, but with {error} instead of {expected}"),
            Ok(pid) => {
                super::run_all();
                fail!(checks, "{name} was started (pid {pid}) instead of refused");
            }
        }
    }
    checks.pass();

    checks.check("every frame is back");
    if global_segment::unload(PROGRAM).is_err() {
        fail!(checks, "{PROGRAM} could not be unloaded");
    }
    let free_after = frame::free_count() as u64 + crate::mm::heap::grown_frames();
    if free_after != free_before {
        fail!(checks, "{} frames free before, {free_after} after", free_before);
    }
    checks.pass();

    checks.check("a Rust std program (println!, collections, time, a ramdisk file) runs");
    let pid = super::start(checks, "linux-std-test", 0)?;
    let finished = super::run_all();
    match finished.get(&pid) {
        Some(ended) if ended.reason() == Some(EndReason::Exited) && ended.status.code == 0 => {}
        Some(ended) => fail!(checks, "linux-std-test ended with {:?} code {}", ended.reason(), ended.status.code),
        None => fail!(checks, "linux-std-test was not reported"),
    }
    checks.pass();

    super::runtimes::run(checks, &super::runtimes::JS)?;
    super::runtimes::run(checks, &super::runtimes::LUA)
}
