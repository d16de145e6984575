//! System-call wrappers: one function per call of [`abi::Syscall`], following the register
//! convention documented in the `abi` crate.

use abi::{ErrorCode, ExitStatus, Syscall};

/// Issues a raw system call; returns (error code value, result value).
///
/// Public so that tests of the kernel's argument checking can pass arbitrary values.
pub fn raw(number: u64, arguments: [u64; 6]) -> (u64, u64) {
    let error: u64;
    let value: u64;
    // SAFETY: SYSCALL transfers to the kernel, which preserves every register but rax, rdx
    // (results), rcx and r11 (clobbered by the instruction), and reads memory only through its
    // own validated copies; the kernel never writes user memory it was not asked to.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") number => error,
            in("rdi") arguments[0],
            in("rsi") arguments[1],
            inlateout("rdx") arguments[2] => value,
            in("r10") arguments[3],
            in("r8") arguments[4],
            in("r9") arguments[5],
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack)
        );
    }
    (error, value)
}

/// Converts a raw result into a `Result`.
fn result(raw_result: (u64, u64)) -> Result<u64, ErrorCode> {
    match raw_result.0 {
        0 => Ok(raw_result.1),
        code => Err(ErrorCode::from_value(code).unwrap_or(ErrorCode::InvalidArgument)),
    }
}

/// Ends the process with `code`.
pub fn exit(code: u64) -> ! {
    raw(Syscall::Exit.number(), [code, 0, 0, 0, 0, 0]);
    // The kernel never returns from exit; if it did, spin rather than run on.
    loop {
        core::hint::spin_loop();
    }
}

/// Gives the CPU to the next runnable process.
pub fn yield_now() {
    let _ = raw(Syscall::Yield.number(), [0; 6]);
}

/// Writes `bytes` to the console; returns the number written.
///
/// # Errors
/// Returns the kernel's error code (`TooLarge` over `abi::WRITE_MAX_BYTES`, `BadAddress`).
pub fn write(bytes: &[u8]) -> Result<u64, ErrorCode> {
    result(raw(Syscall::Write.number(), [bytes.as_ptr() as u64, bytes.len() as u64, 0, 0, 0, 0]))
}

/// Returns the caller's process id.
pub fn getpid() -> u64 {
    raw(Syscall::GetPid.number(), [0; 6]).1
}

/// Returns nanoseconds since boot.
pub fn clock_nanoseconds() -> u64 {
    raw(Syscall::Clock.number(), [0; 6]).1
}

/// Grows the heap by at least `bytes`; returns the address of the new memory.
///
/// # Errors
/// Returns `LimitReached`, `OutOfMemory` or `InvalidArgument`.
pub fn heap_grow(bytes: u64) -> Result<u64, ErrorCode> {
    result(raw(Syscall::HeapGrow.number(), [bytes, 0, 0, 0, 0, 0]))
}

/// Starts a process of the binary `name` with `argument`; returns its process id.
///
/// # Errors
/// Returns `NotFound`, `BadExecutable`, `LimitReached`, `OutOfMemory`, ...
pub fn spawn(name: &str, argument: u64) -> Result<u64, ErrorCode> {
    result(raw(Syscall::Spawn.number(), [name.as_ptr() as u64, name.len() as u64, argument, 0, 0, 0]))
}

/// Waits until child `pid` has ended; returns how it ended.
///
/// # Errors
/// Returns `NoSuchChild` when `pid` is not a child of the caller.
pub fn wait(pid: u64) -> Result<ExitStatus, ErrorCode> {
    let mut status = ExitStatus::default();
    result(raw(Syscall::Wait.number(), [pid, &mut status as *mut ExitStatus as u64, 0, 0, 0, 0]))?;
    Ok(status)
}

/// Checks the read-only image of the loaded binary `name` against its load-time digest.
///
/// # Errors
/// Returns `NotFound` when no such binary is loaded.
pub fn verify_binary(name: &str) -> Result<bool, ErrorCode> {
    result(raw(Syscall::VerifyBinary.number(), [name.as_ptr() as u64, name.len() as u64, 0, 0, 0, 0])).map(|value| value == 1)
}

/// Changes the permissions of `length` bytes of the caller's private pages at `address`
/// (`abi::ACCESS_WRITE`, `abi::ACCESS_EXECUTE`).
///
/// # Errors
/// Returns `Forbidden` for the global window and the kernel half, `InvalidArgument` for
/// unaligned ranges or write+execute, `BadAddress` for unmapped pages.
pub fn protect(address: u64, length: u64, access: u64) -> Result<(), ErrorCode> {
    result(raw(Syscall::Protect.number(), [address, length, access, 0, 0, 0])).map(|_| ())
}

/// Waits for the next invocation and copies its payload into `buffer`; returns the payload
/// length, 0 when the instance is told to shut down.
///
/// # Errors
/// Returns `BadAddress` for a bad buffer or `TooLarge` when the payload does not fit.
pub fn invoke_wait(buffer: &mut [u8]) -> Result<usize, ErrorCode> {
    result(raw(Syscall::InvokeWait.number(), [buffer.as_mut_ptr() as u64, buffer.len() as u64, 0, 0, 0, 0])).map(|length| length as usize)
}

/// Ends the current invocation with `result`.
///
/// # Errors
/// Returns `InvalidArgument` when no invocation is in progress.
pub fn invoke_done(result_value: u64) -> Result<(), ErrorCode> {
    result(raw(Syscall::InvokeDone.number(), [result_value, 0, 0, 0, 0, 0])).map(|_| ())
}
