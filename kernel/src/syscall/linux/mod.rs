//! The Linux personality: Linux x86-64 system calls for static-pie executables (musl).
//!
//! A binary without shoal's personality note is a Linux one (`abi::linux`). Its process starts
//! with a Linux initial stack ([`startup`]) and its `syscall` instructions come here: the number
//! in `rax`, arguments in `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`, the result in `rax` (a negative
//! errno on failure); every other register is preserved. Each handler decodes and checks all of
//! its arguments (user pointers through `mm::user_copy`: a bad one is `EFAULT`, never a kernel
//! fault) before it performs anything, like the native ones.
//!
//! - [`files`]: descriptors: fd 0 and fd 1 of a FaaS instance carry the frame protocol of
//!   `abi::linux`; fd 2 (and fd 1 of any other process) is the console; ramdisk files open
//!   read-only;
//! - [`memory`]: `mmap`, `munmap`, `mprotect`, `brk`, `madvise`: private memory mapped on first
//!   touch, never inside the global window or the kernel half;
//! - [`process`]: identity, time, randomness, signals (recorded, never delivered), limits, exit.
//!
//! A number without a handler answers `-ENOSYS` and is reported once per number and process:
//! `linux: unimplemented system call N (name) by pid P` (numbers from 511 on, which Linux does
//! not assign, are reported once together, so no process can flood the console).

#![deny(unsafe_code)]

pub mod files;
pub mod memory;
mod names;
pub mod process;
pub mod startup;
pub mod state;

use crate::arch::x86_64::trap::SyscallFrame;
use crate::process::scheduler;

pub use state::State;

/// Linux error numbers (`asm-generic/errno-base.h`, `errno.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
#[allow(missing_docs, clippy::upper_case_acronyms, reason = "the names are Linux's")]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    EBADF = 9,
    ECHILD = 10,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EEXIST = 17,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    EMFILE = 24,
    ENOTTY = 25,
    ESPIPE = 29,
    EROFS = 30,
    ERANGE = 34,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ETIMEDOUT = 110,
}

impl From<abi::ErrorCode> for Errno {
    /// The errno for a failure of a kernel service shared with the native personality.
    fn from(code: abi::ErrorCode) -> Errno {
        use abi::ErrorCode;
        match code {
            ErrorCode::BadAddress => Errno::EFAULT,
            ErrorCode::OutOfMemory | ErrorCode::LimitReached => Errno::ENOMEM,
            ErrorCode::NotFound => Errno::ENOENT,
            ErrorCode::NoSuchChild => Errno::ECHILD,
            ErrorCode::TooLarge => Errno::ERANGE,
            ErrorCode::Forbidden => Errno::EACCES,
            ErrorCode::Busy => Errno::EAGAIN,
            _ => Errno::EINVAL,
        }
    }
}

/// A handler's answer: the value for `rax`, or an errno (returned as its negation).
pub type Answer = Result<u64, Errno>;

/// System-call numbers of the handlers (`asm/unistd_64.h`).
#[allow(missing_docs, reason = "the names are Linux's")]
pub mod number {
    pub const READ: u64 = 0;
    pub const WRITE: u64 = 1;
    pub const OPEN: u64 = 2;
    pub const CLOSE: u64 = 3;
    pub const STAT: u64 = 4;
    pub const FSTAT: u64 = 5;
    pub const LSTAT: u64 = 6;
    pub const POLL: u64 = 7;
    pub const LSEEK: u64 = 8;
    pub const MMAP: u64 = 9;
    pub const MPROTECT: u64 = 10;
    pub const MUNMAP: u64 = 11;
    pub const BRK: u64 = 12;
    pub const RT_SIGACTION: u64 = 13;
    pub const RT_SIGPROCMASK: u64 = 14;
    pub const IOCTL: u64 = 16;
    pub const PREAD64: u64 = 17;
    pub const READV: u64 = 19;
    pub const WRITEV: u64 = 20;
    pub const ACCESS: u64 = 21;
    pub const SCHED_YIELD: u64 = 24;
    pub const MADVISE: u64 = 28;
    pub const DUP: u64 = 32;
    pub const DUP2: u64 = 33;
    pub const NANOSLEEP: u64 = 35;
    pub const GETPID: u64 = 39;
    pub const EXIT: u64 = 60;
    pub const UNAME: u64 = 63;
    pub const FCNTL: u64 = 72;
    pub const GETCWD: u64 = 79;
    pub const GETTIMEOFDAY: u64 = 96;
    pub const GETRLIMIT: u64 = 97;
    pub const GETUID: u64 = 102;
    pub const GETGID: u64 = 104;
    pub const GETEUID: u64 = 107;
    pub const GETEGID: u64 = 108;
    pub const GETPPID: u64 = 110;
    pub const SIGALTSTACK: u64 = 131;
    pub const ARCH_PRCTL: u64 = 158;
    pub const GETTID: u64 = 186;
    pub const FUTEX: u64 = 202;
    pub const SET_TID_ADDRESS: u64 = 218;
    pub const CLOCK_GETTIME: u64 = 228;
    pub const CLOCK_GETRES: u64 = 229;
    pub const CLOCK_NANOSLEEP: u64 = 230;
    pub const EXIT_GROUP: u64 = 231;
    pub const OPENAT: u64 = 257;
    pub const NEWFSTATAT: u64 = 262;
    pub const FACCESSAT: u64 = 269;
    pub const PPOLL: u64 = 271;
    pub const SET_ROBUST_LIST: u64 = 273;
    pub const DUP3: u64 = 292;
    pub const PRLIMIT64: u64 = 302;
    pub const GETRANDOM: u64 = 318;
    pub const STATX: u64 = 332;
}

/// Handles one Linux system call of the running process.
pub fn dispatch(frame: &mut SyscallFrame) {
    let [a, b, c, d, e, f] = frame.arguments();
    let call = frame.rax;
    use number as n;
    let answer: Answer = match call {
        n::READ => files::read(a, b, c),
        n::WRITE => files::write(a, b, c),
        n::OPEN => files::open_at(files::AT_FDCWD, a, b),
        n::CLOSE => files::close(a),
        n::STAT | n::LSTAT => files::stat_at(files::AT_FDCWD, a, b, 0),
        n::FSTAT => files::fstat(a, b),
        n::POLL => files::poll(a, b),
        n::LSEEK => files::lseek(a, b, c),
        n::MMAP => memory::mmap(a, b, c, d, e, f),
        n::MPROTECT => memory::mprotect(a, b, c),
        n::MUNMAP => memory::munmap(a, b),
        n::BRK => memory::brk(a),
        n::RT_SIGACTION => process::rt_sigaction(a, b, c, d),
        n::RT_SIGPROCMASK => process::rt_sigprocmask(a, b, c, d),
        n::IOCTL => files::ioctl(a, b),
        n::PREAD64 => files::pread(a, b, c, d),
        n::READV => files::readv(a, b, c),
        n::WRITEV => files::writev(a, b, c),
        n::ACCESS => files::access_at(files::AT_FDCWD, a, b),
        n::SCHED_YIELD => {
            scheduler::yield_current();
            Ok(0)
        }
        n::MADVISE => memory::madvise(a, b, c),
        n::DUP => files::dup(a),
        n::DUP2 => files::dup3(a, b, 0, true),
        n::NANOSLEEP => process::nanosleep(a, b),
        n::GETPID | n::GETTID => process::getpid(),
        n::GETPPID => Ok(0),
        n::EXIT | n::EXIT_GROUP => process::exit(a),
        n::UNAME => process::uname(a),
        n::FCNTL => files::fcntl(a, b, c),
        n::GETCWD => files::getcwd(a, b),
        n::GETTIMEOFDAY => process::gettimeofday(a, b),
        n::GETRLIMIT => process::prlimit(0, a, 0, b),
        n::GETUID | n::GETGID | n::GETEUID | n::GETEGID => Ok(process::ID),
        n::SIGALTSTACK => process::sigaltstack(a, b),
        n::ARCH_PRCTL => process::arch_prctl(a, b),
        n::FUTEX => process::futex(a, b, c, d),
        n::SET_TID_ADDRESS => process::set_tid_address(a),
        n::CLOCK_GETTIME => process::clock_gettime(a, b),
        n::CLOCK_GETRES => process::clock_getres(a, b),
        n::CLOCK_NANOSLEEP => process::clock_nanosleep(a, b, c, d),
        n::OPENAT => files::open_at(a, b, c),
        n::NEWFSTATAT => files::stat_at(a, b, c, d),
        n::FACCESSAT => files::access_at(a, b, c),
        n::PPOLL => files::poll(a, b),
        n::SET_ROBUST_LIST => process::set_robust_list(a, b),
        n::DUP3 => files::dup3(a, b, c, false),
        n::PRLIMIT64 => process::prlimit(a, b, c, d),
        n::GETRANDOM => process::getrandom(a, b, c),
        n::STATX => files::statx(a, b, c, d, e),
        _ => unimplemented(call),
    };
    frame.rax = match answer {
        Ok(value) => value,
        Err(errno) => (errno as u64).wrapping_neg(),
    };
}

/// Answers `ENOSYS` for a call without a handler, reporting it once per number and process.
fn unimplemented(call: u64) -> Answer {
    let first = scheduler::with_current_linux(|process| process.state.first_report(call)).unwrap_or(false);
    if first {
        let pid = scheduler::current_pid().unwrap_or(0);
        crate::println!("linux: unimplemented system call {call} ({}) by pid {pid}", names::name(call));
    }
    Err(Errno::ENOSYS)
}
