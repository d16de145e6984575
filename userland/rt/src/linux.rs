//! The Linux backend of `shoal_rt::syscall` (built for x86_64-unknown-linux-musl only): the
//! calls the shared runtime code (`faas`, `print_fmt`, the heap, the panic handler) makes, done
//! with raw Linux system calls, so that a program written against `shoal_rt` (the synthetic
//! runtimes, `wasm-runtime`) builds unchanged as a static-pie Linux executable that speaks the
//! Linux FaaS protocol of [`abi::linux`] (`userland/linux`, `*-musl` programs).
//!
//! Why raw system calls and not musl's functions: the programs stay `no_std` (the very sources of
//! the native programs), and each call below maps to one call of shoal's Linux personality with
//! nothing in between (no stdio buffers, no malloc). musl is linked only for its start-up code
//! (`rcrt1.o`'s `_start_c`, which applies the static-pie's relocations on Linux, then
//! `__libc_start_main`, which sets up the thread pointer and calls `main`, see [`crate::entry!`])
//! and for `memcpy`/`memset`/`memmove`/`memcmp`, which `compiler_builtins` leaves to libc on
//! Linux targets.
//!
//! | native call (`shoal_rt::syscall`) | Linux backend |
//! |---|---|
//! | `exit(code)` | `exit_group(code)` |
//! | `write(bytes)` (the console) | `write(2, ...)`: fd 1 carries result frames only |
//! | `heap_grow(bytes)` | `brk`: grows contiguously, as `heap_grow` does |
//! | `invoke_wait(buffer)` | reads one invocation frame from fd 0 |
//! | `invoke_done(result)` | writes one result frame to fd 1 |

use core::sync::atomic::{AtomicU64, Ordering};

use abi::ErrorCode;
use abi::linux::{FRAME_HEADER_BYTES, result_frame};

// musl's libc.a: `__libc_start_main` for rcrt1.o, and the memory functions. rustc links no libc
// by itself into a crate graph without std; this is how the `libc` crate asks for it on musl with
// crt-static (static archive, not bundled into this rlib).
#[link(name = "c", kind = "static", modifiers = "-bundle")]
unsafe extern "C" {}

/// Linux system-call numbers (x86_64, `asm/unistd_64.h`).
mod number {
    pub(super) const READ: u64 = 0;
    pub(super) const WRITE: u64 = 1;
    pub(super) const BRK: u64 = 12;
    pub(super) const EXIT_GROUP: u64 = 231;
}

/// `-EINTR`: a call interrupted by a signal, to be repeated.
const INTERRUPTED: i64 = -4;
/// `-EFAULT`: a bad buffer.
const FAULT: i64 = -14;

/// Issues a raw Linux system call; returns its result (`-errno` on failure).
///
/// Public so that a program can make a call the backend does not wrap.
pub fn raw(number: u64, arguments: [u64; 6]) -> i64 {
    let result: i64;
    // SAFETY: SYSCALL enters the Linux kernel (or shoal's Linux personality), which preserves
    // every register but rax (the result), rcx and r11 (clobbered by the instruction). The calls
    // this module makes only read or write the buffers their arguments describe.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => result,
            in("rdi") arguments[0],
            in("rsi") arguments[1],
            in("rdx") arguments[2],
            in("r10") arguments[3],
            in("r8") arguments[4],
            in("r9") arguments[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    result
}

/// The native error code closest to the Linux error `-result`.
fn error_code(result: i64) -> ErrorCode {
    if result == FAULT { ErrorCode::BadAddress } else { ErrorCode::InvalidArgument }
}

/// Ends the process (every thread: there is one) with `code` (Linux keeps its low 8 bits).
pub fn exit(code: u64) -> ! {
    raw(number::EXIT_GROUP, [code, 0, 0, 0, 0, 0]);
    // exit_group never returns; if it did, spin rather than run on.
    loop {
        core::hint::spin_loop();
    }
}

/// Writes all of `bytes` to `fd`, repeating after partial writes and `EINTR`.
fn write_all(fd: u64, bytes: &[u8]) -> Result<u64, ErrorCode> {
    let mut done = 0;
    while done < bytes.len() {
        let rest = &bytes[done..];
        match raw(number::WRITE, [fd, rest.as_ptr() as u64, rest.len() as u64, 0, 0, 0]) {
            INTERRUPTED => {}
            result if result <= 0 => return Err(error_code(result)),
            result => done += result as usize,
        }
    }
    Ok(done as u64)
}

/// Writes `bytes` to the log, fd 2 (fd 1 carries result frames only, see [`abi::linux`]);
/// returns the number written.
///
/// # Errors
/// `BadAddress` for a bad buffer, `InvalidArgument` for any other failure.
pub fn write(bytes: &[u8]) -> Result<u64, ErrorCode> {
    write_all(2, bytes)
}

/// The end of the heap so far (0: not asked yet). One thread, and the allocator calls
/// [`heap_grow`] under its lock.
static HEAP_END: AtomicU64 = AtomicU64::new(0);

/// Grows the heap by `bytes` with `brk`; returns the address of the new memory, which follows the
/// previous growth directly (the allocator extends its region in place, as with `heap_grow`).
/// Nothing else in these programs moves the break: they are `no_std` and never call musl's
/// `malloc`.
///
/// # Errors
/// `OutOfMemory` when the break cannot move (a limit, no memory), `InvalidArgument` on overflow.
pub fn heap_grow(bytes: u64) -> Result<u64, ErrorCode> {
    let mut start = HEAP_END.load(Ordering::Relaxed);
    if start == 0 {
        start = raw(number::BRK, [0; 6]) as u64;
    }
    let end = start.checked_add(bytes).ok_or(ErrorCode::InvalidArgument)?;
    // brk returns the new break, or the old one when it cannot move.
    if (raw(number::BRK, [end, 0, 0, 0, 0, 0]) as u64) < end {
        return Err(ErrorCode::OutOfMemory);
    }
    HEAP_END.store(end, Ordering::Relaxed);
    Ok(start)
}

/// How reading fd 0 ended early.
enum ReadEnd {
    /// End of file before the first byte.
    Eof,
    /// End of file inside, or an error.
    Broken(ErrorCode),
}

/// Reads exactly `buffer.len()` bytes from fd 0, a stream that may deliver part of a frame per
/// read (a pipe on Linux, the kernel's driver on shoal). A read that finds nothing blocks: that is
/// the instance waiting for work.
fn read_exact(buffer: &mut [u8]) -> Result<(), ReadEnd> {
    let mut done = 0;
    while done < buffer.len() {
        let rest = &mut buffer[done..];
        match raw(number::READ, [0, rest.as_mut_ptr() as u64, rest.len() as u64, 0, 0, 0]) {
            INTERRUPTED => {}
            0 if done == 0 => return Err(ReadEnd::Eof),
            0 => return Err(ReadEnd::Broken(ErrorCode::InvalidArgument)),
            result if result < 0 => return Err(ReadEnd::Broken(error_code(result))),
            result => done += result as usize,
        }
    }
    Ok(())
}

/// Waits for the next invocation frame on fd 0 and copies its payload into `buffer`; returns the
/// payload length, 0 for the shut-down frame.
///
/// # Errors
/// As the native call where one applies: `TooLarge` for a frame longer than `buffer`,
/// `NotAnInstance` for end of file before a frame (on shoal a process that is no instance has fd
/// 0 at end of file; on Linux the driver closed the pipe without shutting the instance down),
/// `BadAddress` for a bad buffer, `InvalidArgument` for end of file inside a frame or a failed
/// read.
pub fn invoke_wait(buffer: &mut [u8]) -> Result<usize, ErrorCode> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    read_exact(&mut header).map_err(|end| match end {
        ReadEnd::Eof => ErrorCode::NotAnInstance,
        ReadEnd::Broken(code) => code,
    })?;
    let length = u32::from_le_bytes(header) as usize;
    let payload = buffer.get_mut(..length).ok_or(ErrorCode::TooLarge)?;
    read_exact(payload).map_err(|end| match end {
        ReadEnd::Eof => ErrorCode::InvalidArgument,
        ReadEnd::Broken(code) => code,
    })?;
    Ok(length)
}

/// Ends the current invocation with `result`: one result frame on fd 1, in one `write` (12
/// bytes, less than `PIPE_BUF`, go whole to a pipe).
///
/// # Errors
/// `InvalidArgument` (or `BadAddress`) when fd 1 refuses the frame.
pub fn invoke_done(result_value: u64) -> Result<(), ErrorCode> {
    write_all(1, &result_frame(result_value)).map(|_| ())
}

/// Returns the process argument: `argv[1]` in decimal (shoal passes a process's argument there,
/// a FaaS runtime's handler number), 0 without one. Ends the process with exit code 2 after a line
/// on fd 2 when `argv[1]` is not a decimal `u64`.
///
/// # Safety
/// `argv` must hold `argc` pointers to NUL-terminated strings, as `main` receives them.
pub unsafe fn process_argument(argc: i32, argv: *const *const u8) -> u64 {
    if argc < 2 || argv.is_null() {
        return 0;
    }
    // SAFETY: argc > 1, so argv[1] is a valid pointer to a NUL-terminated string (the caller's
    // contract).
    let text = unsafe { core::ffi::CStr::from_ptr((*argv.add(1)).cast()) }.to_bytes();
    let parsed = core::str::from_utf8(text).ok().and_then(|text| text.parse::<u64>().ok());
    match parsed {
        Some(argument) => argument,
        None => {
            crate::println!("shoal-rt: argv[1] ({:?}) is not a decimal process argument", core::str::from_utf8(text).unwrap_or("?"));
            exit(2)
        }
    }
}
