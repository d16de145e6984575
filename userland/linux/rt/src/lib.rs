//! Support crate of shoal's Linux programs (static-pie executables for
//! x86_64-unknown-linux-musl, see `userland/linux/.cargo/config.toml`).
//!
//! - [`serve`]: the FaaS protocol of a Linux function instance (`abi::linux`): invocation frames
//!   on fd 0, result frames on fd 1, one line on fd 2 and an `abi::wasm::EXIT_*` code when the
//!   instance cannot go on. A language runtime supplies only "run the handler on (seed, flags)".
//! - [`function_argument`]: argv[1], the function's number.
//! - link glue: the `_dl_find_object` stub below, and (in `build.rs`) `libunwind.a`.
//!
//! The loop uses plain `read(0)` / `write(1)` / `write(2)` system calls and, on exit,
//! `exit_group`; no threads, signals or other descriptors.

use std::fs::File;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;

pub use abi;
use abi::linux::{FRAME_HEADER_BYTES, result_frame};
use abi::wasm::{self, Outcome, Payload};

/// Exit code of an instance whose fd 0 broke the protocol (end of file before a shut-down frame,
/// a read error, a frame longer than `abi::PAYLOAD_MAX_BYTES`), or whose fd 1 refused a result:
/// what shoal's native `faas::serve_with` exits with when `invoke_wait`/`invoke_done` fail.
pub const EXIT_PROTOCOL: i32 = 1;

/// What one handler invocation came to, as the runtime reports it.
#[derive(Debug)]
pub enum Invocation {
    /// The handler returned; its raw `abi::wasm::Outcome` (a checksum, or `-n` for failed check n).
    Returned(i64),
    /// The handler threw or raised an error (a trap): the message.
    Trapped(String),
}

/// Stub of glibc's `_dl_find_object` (glibc 2.35+), which gcc 12's unwinder (`libgcc_eh.a`,
/// linked as `libunwind.a`, see `build.rs`) calls to find a PC's unwind tables. musl has no such
/// function. The programs are built with panic = "abort" and never unwind; -1 means "not found".
#[unsafe(no_mangle)]
pub extern "C" fn _dl_find_object(_pc: *mut core::ffi::c_void, _result: *mut core::ffi::c_void) -> i32 {
    -1
}

/// Returns the function number in argv[1] (decimal), or ends the process with
/// `EXIT_UNKNOWN_FUNCTION` after a line on stderr when it names no function of
/// `abi::wasm::FUNCTIONS`.
pub fn function_argument(program: &str) -> usize {
    let argument = std::env::args().nth(1).unwrap_or_default();
    match argument.trim().parse::<usize>() {
        Ok(number) if number < wasm::FUNCTIONS.len() => number,
        _ => {
            eprintln!("{program}: no function {argument:?}: the functions are 0..{}", wasm::FUNCTIONS.len());
            exit(wasm::EXIT_UNKNOWN_FUNCTION as i32)
        }
    }
}

/// Ends the process with `code` (no destructors run; stderr is unbuffered).
pub fn exit(code: i32) -> ! {
    std::process::exit(code)
}

/// Reads exactly `buffer.len()` bytes from `input`, a stream that may return part of a frame per
/// read. Returns `false` on end of file before the first byte when `eof_ok`; any other end of
/// file or error ends the process with [`EXIT_PROTOCOL`].
fn read_frame_part(input: &mut File, buffer: &mut [u8], program: &str, eof_ok: bool) -> bool {
    let mut done = 0;
    while done < buffer.len() {
        match input.read(&mut buffer[done..]) {
            Ok(0) if done == 0 && eof_ok => return false,
            Ok(0) => {
                eprintln!("{program}: end of fd 0 inside a frame ({done} of {} bytes)", buffer.len());
                exit(EXIT_PROTOCOL)
            }
            Ok(count) => done += count,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(error) => {
                eprintln!("{program}: reading fd 0 failed: {error}");
                exit(EXIT_PROTOCOL)
            }
        }
    }
    true
}

/// Serves invocations of handler `name` until the shut-down frame, then exits with 0.
///
/// For each invocation frame on fd 0 the payload is decoded (`abi::wasm::Payload`; a short one
/// exits with `EXIT_BAD_PAYLOAD`) and `handler(seed, flags)` runs. A checksum goes to fd 1 as one
/// result frame in one `write`; a failed self-check exits with `EXIT_SELF_CHECK_FAILED`, a trap
/// with `EXIT_TRAPPED`, each after one line on fd 2 naming the handler, seed and flags.
/// End of file before a frame, or inside one, exits with [`EXIT_PROTOCOL`] after a line.
pub fn serve(program: &str, name: &str, mut handler: impl FnMut(u64, u64) -> Invocation) -> ! {
    // fd 0 and fd 1 unbuffered: std's stdout is line-buffered (a result frame may contain a
    // newline byte and would be split), and every read may return part of a frame anyway.
    // SAFETY: fds 0 and 1 are open for the whole process; ManuallyDrop never closes them.
    let mut input = ManuallyDrop::new(unsafe { File::from_raw_fd(0) });
    // SAFETY: as above.
    let mut output = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    let mut payload = [0u8; abi::PAYLOAD_MAX_BYTES as usize];
    loop {
        let mut header = [0u8; FRAME_HEADER_BYTES];
        if !read_frame_part(&mut input, &mut header, program, true) {
            eprintln!("{program}: handler {name}: end of fd 0 before the shut-down frame");
            exit(EXIT_PROTOCOL);
        }
        let length = u32::from_le_bytes(header) as usize;
        if length == 0 {
            exit(0);
        }
        if length > payload.len() {
            eprintln!("{program}: handler {name}: frame of {length} bytes, at most {} allowed", payload.len());
            exit(EXIT_PROTOCOL);
        }
        read_frame_part(&mut input, &mut payload[..length], program, false);
        let Some(Payload { seed, flags }) = Payload::decode(&payload[..length]) else {
            eprintln!("{program}: handler {name}: payload of {length} bytes, {} needed", Payload::BYTES);
            exit(wasm::EXIT_BAD_PAYLOAD as i32);
        };
        match handler(seed, flags) {
            Invocation::Returned(raw) => match Outcome::from_raw(raw) {
                Outcome::Checksum(checksum) => {
                    // 12 bytes to a pipe are written whole by one write(2) (less than PIPE_BUF).
                    if let Err(error) = output.write_all(&result_frame(checksum)) {
                        eprintln!("{program}: handler {name}: writing the result to fd 1 failed: {error}");
                        exit(EXIT_PROTOCOL);
                    }
                }
                Outcome::Failed(check) => {
                    eprintln!("{program}: handler {name} failed its self-check {check} (seed {seed:#x}, flags {flags:#x})");
                    exit(wasm::EXIT_SELF_CHECK_FAILED as i32);
                }
            },
            Invocation::Trapped(message) => {
                eprintln!("{program}: handler {name} trapped: {message} (seed {seed:#x}, flags {flags:#x})");
                exit(wasm::EXIT_TRAPPED as i32);
            }
        }
    }
}
