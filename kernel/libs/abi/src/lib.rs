//! The shoal system-call ABI, shared by the kernel (`kernel/src/syscall/`) and userland
//! (`userland/rt`): fixed call numbers, the register convention, one error-code enum, and the
//! `repr(C)` structures that cross the boundary. Numbers and codes never change meaning; a new
//! call or code takes a new number.
//!
//! # Register convention (SYSCALL/SYSRET)
//! - call number in `rax`; arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`
//!   (`rcx` and `r11` are clobbered by the SYSCALL instruction itself);
//! - on return `rax` holds an [`ErrorCode`] (0 = success) and `rdx` the result value;
//! - every other register is preserved.
//!
//! Every handler validates all arguments before it acts: a pointer must lie in the user range and
//! be mapped with the needed access, lengths are bounded, numbers are checked. Bad input returns
//! an error code; it never stops the kernel.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

pub mod linux;
pub mod synthetic;
pub mod wasm;

/// Longest byte string one `write` call accepts.
pub const WRITE_MAX_BYTES: u64 = 4096;
/// Longest binary name `spawn` accepts.
pub const NAME_MAX_BYTES: u64 = 64;
/// Largest heap growth one `heap_grow` call accepts.
pub const HEAP_GROW_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// The system calls, by number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Syscall {
    /// `exit(code)`: ends the calling process with `code`. Does not return.
    Exit = 0,
    /// `yield()`: gives the CPU to the next runnable process. Returns 0.
    Yield = 1,
    /// `write(pointer, length)`: writes bytes to the console. Returns the number written.
    Write = 2,
    /// `getpid()`: returns the caller's process id.
    GetPid = 3,
    /// `clock()`: returns nanoseconds since boot from the calibrated TSC (emulated under TCG).
    Clock = 4,
    /// `heap_grow(bytes)`: maps `bytes` (rounded up to pages) of zeroed, writable, non-executable
    /// memory at the end of the caller's heap. Returns the address of the new memory.
    HeapGrow = 5,
    /// `spawn(name_pointer, name_length, argument)`: starts a process of the named binary with
    /// `argument` in its first argument register. Returns the child's process id.
    Spawn = 6,
    /// `wait(pid, status_pointer)`: blocks until child `pid` has ended and writes an
    /// [`ExitStatus`] at `status_pointer`. Returns 0.
    Wait = 7,
    /// `verify_binary(name_pointer, name_length)`: recomputes the SHA-256 digest of a loaded
    /// binary's read-only image. Returns 1 when it matches the digest taken at load, else 0.
    VerifyBinary = 8,
    /// `protect(address, length, access)`: changes the permissions of the caller's private pages
    /// ([`ACCESS_WRITE`], [`ACCESS_EXECUTE`]; never both). The global window and the kernel half
    /// are refused with [`ErrorCode::Forbidden`]. Returns 0.
    Protect = 9,
    /// `invoke_wait(buffer_pointer, capacity)`: a function instance blocks until the kernel's
    /// driver hands it an invocation, whose payload is copied to the buffer. Returns the payload
    /// length; 0 means "shut down" (the instance should exit).
    InvokeWait = 10,
    /// `invoke_done(result)`: ends the current invocation with `result`. Returns 0.
    InvokeDone = 11,
}

/// The largest invocation payload.
pub const PAYLOAD_MAX_BYTES: u64 = 64;

/// `protect` access bit: writable.
pub const ACCESS_WRITE: u64 = 1;
/// `protect` access bit: executable.
pub const ACCESS_EXECUTE: u64 = 2;

impl Syscall {
    /// Every call, in number order.
    pub const ALL: [Syscall; 12] = [
        Syscall::Exit,
        Syscall::Yield,
        Syscall::Write,
        Syscall::GetPid,
        Syscall::Clock,
        Syscall::HeapGrow,
        Syscall::Spawn,
        Syscall::Wait,
        Syscall::VerifyBinary,
        Syscall::Protect,
        Syscall::InvokeWait,
        Syscall::InvokeDone,
    ];

    /// Returns the call with number `number`, if there is one.
    pub const fn from_number(number: u64) -> Option<Syscall> {
        if number < Syscall::ALL.len() as u64 { Some(Syscall::ALL[number as usize]) } else { None }
    }

    /// Returns the call's number.
    pub const fn number(self) -> u64 {
        self as u64
    }

    /// Returns the call's name, for reports.
    pub const fn name(self) -> &'static str {
        match self {
            Syscall::Exit => "exit",
            Syscall::Yield => "yield",
            Syscall::Write => "write",
            Syscall::GetPid => "getpid",
            Syscall::Clock => "clock",
            Syscall::HeapGrow => "heap_grow",
            Syscall::Spawn => "spawn",
            Syscall::Wait => "wait",
            Syscall::VerifyBinary => "verify_binary",
            Syscall::Protect => "protect",
            Syscall::InvokeWait => "invoke_wait",
            Syscall::InvokeDone => "invoke_done",
        }
    }
}

/// The one error-code enum of the system-call boundary. 0 means success.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ErrorCode {
    /// The call succeeded.
    Success = 0,
    /// No system call has this number.
    UnknownSyscall = 1,
    /// A pointer argument is outside the user range, or not mapped with the needed access.
    BadAddress = 2,
    /// An argument is out of range or malformed.
    InvalidArgument = 3,
    /// The kernel ran out of memory for the request.
    OutOfMemory = 4,
    /// No binary or object has the given name.
    NotFound = 5,
    /// The process id does not name a child of the caller.
    NoSuchChild = 6,
    /// A length is larger than the call accepts.
    TooLarge = 7,
    /// The request touches memory user code may never change (the global window, the kernel).
    Forbidden = 8,
    /// A kernel limit (processes, heap size) is reached.
    LimitReached = 9,
    /// The binary is not a valid executable for shoal.
    BadExecutable = 10,
    /// The binary is valid but not loaded, and the global window cannot change right now (the
    /// kernel is building an address space outside its process table): try again. A spawn of a
    /// binary that is not loaded normally loads it, while other processes run.
    Busy = 11,
    /// The call is only for function instances started by the kernel's driver (`invoke_wait`,
    /// `invoke_done`), and the caller is not one.
    NotAnInstance = 12,
}

impl ErrorCode {
    /// Every code, in number order.
    pub const ALL: [ErrorCode; 13] = [
        ErrorCode::Success,
        ErrorCode::UnknownSyscall,
        ErrorCode::BadAddress,
        ErrorCode::InvalidArgument,
        ErrorCode::OutOfMemory,
        ErrorCode::NotFound,
        ErrorCode::NoSuchChild,
        ErrorCode::TooLarge,
        ErrorCode::Forbidden,
        ErrorCode::LimitReached,
        ErrorCode::BadExecutable,
        ErrorCode::Busy,
        ErrorCode::NotAnInstance,
    ];

    /// Returns the code with value `value`, if there is one.
    pub const fn from_value(value: u64) -> Option<ErrorCode> {
        if value < ErrorCode::ALL.len() as u64 { Some(ErrorCode::ALL[value as usize]) } else { None }
    }

    /// Returns the code's value as it travels in `rax`.
    pub const fn value(self) -> u64 {
        self as u64
    }

    /// Returns a short name, for reports.
    pub const fn name(self) -> &'static str {
        match self {
            ErrorCode::Success => "success",
            ErrorCode::UnknownSyscall => "unknown-syscall",
            ErrorCode::BadAddress => "bad-address",
            ErrorCode::InvalidArgument => "invalid-argument",
            ErrorCode::OutOfMemory => "out-of-memory",
            ErrorCode::NotFound => "not-found",
            ErrorCode::NoSuchChild => "no-such-child",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::LimitReached => "limit-reached",
            ErrorCode::BadExecutable => "bad-executable",
            ErrorCode::Busy => "busy",
            ErrorCode::NotAnInstance => "not-an-instance",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a process ended, in [`ExitStatus::reason`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum EndReason {
    /// The process called `exit`; [`ExitStatus::code`] is its code.
    Exited = 0,
    /// Killed by a page fault (a forbidden or unmapped access).
    PageFault = 1,
    /// Killed by a general-protection fault (for example a non-canonical address).
    GeneralProtection = 2,
    /// Killed by a divide error.
    DivideError = 3,
    /// Killed by an invalid-opcode exception.
    InvalidOpcode = 4,
    /// Killed by another CPU exception.
    OtherException = 5,
    /// Killed because a page fault on demand memory (its stack, a writable page of its binary)
    /// could not be served: no free frame.
    OutOfMemory = 6,
}

impl EndReason {
    /// Every reason, in number order.
    pub const ALL: [EndReason; 7] = [
        EndReason::Exited,
        EndReason::PageFault,
        EndReason::GeneralProtection,
        EndReason::DivideError,
        EndReason::InvalidOpcode,
        EndReason::OtherException,
        EndReason::OutOfMemory,
    ];

    /// Returns the reason with value `value`, if there is one.
    pub const fn from_value(value: u64) -> Option<EndReason> {
        if value < EndReason::ALL.len() as u64 { Some(EndReason::ALL[value as usize]) } else { None }
    }

    /// Returns a short name, for reports.
    pub const fn name(self) -> &'static str {
        match self {
            EndReason::Exited => "exited",
            EndReason::PageFault => "page-fault",
            EndReason::GeneralProtection => "general-protection",
            EndReason::DivideError => "divide-error",
            EndReason::InvalidOpcode => "invalid-opcode",
            EndReason::OtherException => "exception",
            EndReason::OutOfMemory => "out-of-memory",
        }
    }
}

/// What `wait` writes: how a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(C)]
pub struct ExitStatus {
    /// An [`EndReason`] value.
    pub reason: u64,
    /// The exit code for [`EndReason::Exited`]; the faulting address for a page fault; else 0.
    pub code: u64,
}

/// Size of [`ExitStatus`] in bytes, pinned: it crosses the boundary.
pub const EXIT_STATUS_BYTES: u64 = 16;

const _: () = assert!(core::mem::size_of::<ExitStatus>() as u64 == EXIT_STATUS_BYTES);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscall_numbers_round_trip_and_are_pinned() {
        for (index, call) in Syscall::ALL.iter().enumerate() {
            assert_eq!(call.number(), index as u64);
            assert_eq!(Syscall::from_number(index as u64), Some(*call));
        }
        assert_eq!(Syscall::Exit.number(), 0);
        assert_eq!(Syscall::Write.number(), 2);
        assert_eq!(Syscall::Wait.number(), 7);
        assert_eq!(Syscall::VerifyBinary.number(), 8);
        assert_eq!(Syscall::Protect.number(), 9);
        assert_eq!(Syscall::InvokeDone.number(), 11);
        assert_eq!(Syscall::from_number(Syscall::ALL.len() as u64), None);
        assert_eq!(Syscall::from_number(u64::MAX), None);
    }

    #[test]
    fn error_codes_round_trip_zero_is_success_and_no_value_is_reused() {
        assert_eq!(ErrorCode::Success.value(), 0);
        for (index, code) in ErrorCode::ALL.iter().enumerate() {
            assert_eq!(code.value(), index as u64);
            assert_eq!(ErrorCode::from_value(index as u64), Some(*code));
        }
        let mut names: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ErrorCode::ALL.len());
        assert_eq!(ErrorCode::from_value(ErrorCode::ALL.len() as u64), None);
        assert_eq!(ErrorCode::BadAddress.value(), 2);
        assert_eq!(ErrorCode::BadExecutable.value(), 10);
        assert_eq!(ErrorCode::Busy.value(), 11);
        assert_eq!(ErrorCode::NotAnInstance.value(), 12);
    }

    #[test]
    fn end_reasons_round_trip() {
        for (index, reason) in EndReason::ALL.iter().enumerate() {
            assert_eq!(*reason as u64, index as u64);
            assert_eq!(EndReason::from_value(index as u64), Some(*reason));
        }
        assert_eq!(EndReason::from_value(99), None);
    }

    #[test]
    fn exit_status_layout_is_pinned() {
        assert_eq!(core::mem::size_of::<ExitStatus>(), 16);
        assert_eq!(core::mem::align_of::<ExitStatus>(), 8);
        assert_eq!(core::mem::offset_of!(ExitStatus, reason), 0);
        assert_eq!(core::mem::offset_of!(ExitStatus, code), 8);
    }
}
