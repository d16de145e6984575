//! Identity, time, randomness, signals, limits and exit for Linux processes.
//!
//! - Identity: one process, one thread: `getpid` and `gettid` answer the same number (shoal's pid
//!   folded into a positive `pid_t`); every user and group id is 0.
//! - Time: `CLOCK_MONOTONIC` (and its variants) is the calibrated TSC since boot;
//!   `CLOCK_REALTIME` adds a fixed epoch (shoal reads no real-time clock). In deterministic mode
//!   (the density study turns it on: its counts must repeat) every clock read instead advances a
//!   virtual clock by one microsecond, so two runs see the same times.
//! - Randomness: `getrandom` and `AT_RANDOM` come from a per-process generator seeded from the
//!   pid (and the TSC, outside deterministic mode). It is not cryptographic.
//! - Signals: dispositions, the mask and the alternate stack are recorded and read back; no
//!   signal is ever delivered (a fault ends the process, as for native ones).
//! - Sleeping never waits for time (no process waits for time in shoal): `nanosleep` yields once.

#![deny(unsafe_code)]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::files::{check_writable, copy_in, copy_out};
use super::state::{SIGACTION_BYTES, SIGNALS, SS_DISABLE};
use super::{Answer, Errno};
use crate::mm::layout::USER_END;
use crate::process::scheduler;

/// Every user and group id.
pub const ID: u64 = 0;
/// Exit code of an instance ended for breaking the FaaS frame protocol.
pub const PROTOCOL_EXIT_CODE: u64 = 45;
/// What `CLOCK_REALTIME` adds to the monotonic clock: 2026-01-01T00:00:00Z.
const EPOCH_SECONDS: u64 = 1_767_225_600;
/// Nanoseconds per second.
const NANOSECONDS: u64 = 1_000_000_000;
/// The stack size limit a Linux process gets (`RLIMIT_STACK`), mapped on demand.
pub const STACK_LIMIT_BYTES: u64 = 8 * 1024 * 1024;

static DETERMINISTIC: AtomicBool = AtomicBool::new(false);
static VIRTUAL_CLOCK: AtomicU64 = AtomicU64::new(0);
/// Microseconds the virtual clock advances per read.
const VIRTUAL_TICK_NANOSECONDS: u64 = 1_000;

/// Turns deterministic time and randomness on or off (the density study turns it on), and
/// restarts the virtual clock.
pub fn set_deterministic(on: bool) {
    DETERMINISTIC.store(on, Ordering::Relaxed);
    VIRTUAL_CLOCK.store(0, Ordering::Relaxed);
}

/// Returns whether time and randomness are deterministic.
pub fn deterministic() -> bool {
    DETERMINISTIC.load(Ordering::Relaxed)
}

/// Returns the seed of a new process's generator.
pub fn seed_for(pid: u64) -> u64 {
    let mix = pid.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5348_4f41_4c4c_4e58;
    if deterministic() { mix } else { mix ^ crate::arch::x86_64::cpu::read_tsc() }
}

/// Returns the monotonic clock in nanoseconds.
fn monotonic() -> u64 {
    if deterministic() {
        VIRTUAL_CLOCK.fetch_add(VIRTUAL_TICK_NANOSECONDS, Ordering::Relaxed) + VIRTUAL_TICK_NANOSECONDS
    } else {
        super::super::native::clock_nanoseconds()
    }
}

/// `getpid()` / `gettid()`: the pid folded into a positive 31-bit `pid_t`.
pub fn getpid() -> Answer {
    let pid = scheduler::current_pid().ok_or(Errno::EINVAL)?;
    Ok(linux_pid(pid))
}

/// Returns the `pid_t` a Linux process sees for shoal pid `pid`.
pub fn linux_pid(pid: u64) -> u64 {
    (pid - 1) % 0x7fff_ffff + 1
}

/// `exit(code)` / `exit_group(code)`.
pub fn exit(code: u64) -> Answer {
    scheduler::exit_current(abi::EndReason::Exited, code & 0xff)
}

/// Reads a `struct timespec` and returns it in nanoseconds.
fn timespec_in(address: u64) -> Result<u64, Errno> {
    let mut bytes = [0u8; 16];
    copy_in(address, &mut bytes)?;
    let seconds = i64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
    let nanoseconds = i64::from_le_bytes(bytes[8..].try_into().unwrap_or_default());
    if seconds < 0 || !(0..NANOSECONDS as i64).contains(&nanoseconds) {
        return Err(Errno::EINVAL);
    }
    Ok((seconds as u64).saturating_mul(NANOSECONDS).saturating_add(nanoseconds as u64))
}

/// Writes `nanoseconds` as a `struct timespec` (or, with `micro`, a `struct timeval`).
fn time_out(address: u64, nanoseconds: u64, micro: bool) -> Answer {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(nanoseconds / NANOSECONDS).to_le_bytes());
    let fraction = nanoseconds % NANOSECONDS;
    bytes[8..].copy_from_slice(&(if micro { fraction / 1000 } else { fraction }).to_le_bytes());
    copy_out(address, &bytes)?;
    Ok(0)
}

/// `clock_gettime(clock, timespec)`.
pub fn clock_gettime(clock: u64, timespec: u64) -> Answer {
    check_writable(timespec, 16)?;
    let now = monotonic();
    match clock {
        // REALTIME, REALTIME_COARSE, TAI
        0 | 5 | 11 => time_out(timespec, now + EPOCH_SECONDS * NANOSECONDS, false),
        // MONOTONIC, PROCESS_CPUTIME, THREAD_CPUTIME, MONOTONIC_RAW, MONOTONIC_COARSE, BOOTTIME
        1..=4 | 6 | 7 => time_out(timespec, now, false),
        _ => Err(Errno::EINVAL),
    }
}

/// `clock_getres(clock, timespec)`.
pub fn clock_getres(clock: u64, timespec: u64) -> Answer {
    if !matches!(clock, 0..=7 | 11) {
        return Err(Errno::EINVAL);
    }
    if timespec != 0 {
        time_out(timespec, if deterministic() { VIRTUAL_TICK_NANOSECONDS } else { 1 }, false)?;
    }
    Ok(0)
}

/// `gettimeofday(timeval, timezone)`.
pub fn gettimeofday(timeval: u64, timezone: u64) -> Answer {
    if timeval != 0 {
        check_writable(timeval, 16)?;
        time_out(timeval, monotonic() + EPOCH_SECONDS * NANOSECONDS, true)?;
    }
    if timezone != 0 {
        copy_out(timezone, &[0u8; 8])?;
    }
    Ok(0)
}

/// `nanosleep(request, remaining)`: checks the request, yields once, reports no time left.
pub fn nanosleep(request: u64, remaining: u64) -> Answer {
    let nanoseconds = timespec_in(request)?;
    if deterministic() {
        VIRTUAL_CLOCK.fetch_add(nanoseconds, Ordering::Relaxed);
    }
    scheduler::yield_current();
    if remaining != 0 {
        time_out(remaining, 0, false)?;
    }
    Ok(0)
}

/// `clock_nanosleep(clock, flags, request, remaining)`.
pub fn clock_nanosleep(clock: u64, flags: u64, request: u64, remaining: u64) -> Answer {
    const TIMER_ABSTIME: u64 = 1;
    if !matches!(clock, 0 | 1 | 7 | 11) || flags & !TIMER_ABSTIME != 0 {
        return Err(Errno::EINVAL);
    }
    if flags & TIMER_ABSTIME != 0 {
        timespec_in(request)?;
        scheduler::yield_current();
        return Ok(0);
    }
    nanosleep(request, remaining)
}

/// `getrandom(buffer, length, flags)`: honours its flags (an unknown one is `EINVAL`).
pub fn getrandom(buffer: u64, length: u64, flags: u64) -> Answer {
    const GRND_NONBLOCK: u64 = 1;
    const GRND_RANDOM: u64 = 2;
    const GRND_INSECURE: u64 = 4;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 || flags & (GRND_RANDOM | GRND_INSECURE) == GRND_RANDOM | GRND_INSECURE {
        return Err(Errno::EINVAL);
    }
    let length = length.min(33_554_431);
    check_writable(buffer, length)?;
    let mut done = 0;
    while done < length {
        let mut chunk = [0u8; 256];
        let take = (length - done).min(chunk.len() as u64) as usize;
        scheduler::with_current_linux(|process| process.state.fill_random(&mut chunk[..take])).ok_or(Errno::EINVAL)?;
        copy_out(buffer + done, &chunk[..take])?;
        done += take as u64;
    }
    Ok(length)
}

/// `uname(buffer)`: a Linux-compatible identity that says it is shoal.
pub fn uname(buffer: u64) -> Answer {
    const FIELD: usize = 65;
    let fields: [&[u8]; 6] = [b"Linux", b"shoal", b"6.1.0-shoal", b"#1 shoal Linux personality", b"x86_64", b"(none)"];
    let mut bytes = [0u8; FIELD * 6];
    for (index, field) in fields.iter().enumerate() {
        bytes[index * FIELD..index * FIELD + field.len()].copy_from_slice(field);
    }
    copy_out(buffer, &bytes)?;
    Ok(0)
}

/// `rt_sigaction(signal, action, old, set_bytes)`: records the disposition (never delivered).
pub fn rt_sigaction(signal: u64, action: u64, old: u64, set_bytes: u64) -> Answer {
    const SIGKILL: u64 = 9;
    const SIGSTOP: u64 = 19;
    if set_bytes != 8 || signal == 0 || signal >= SIGNALS as u64 || (action != 0 && (signal == SIGKILL || signal == SIGSTOP)) {
        return Err(Errno::EINVAL);
    }
    let mut new = [0u8; SIGACTION_BYTES];
    if action != 0 {
        copy_in(action, &mut new)?;
    }
    if old != 0 {
        check_writable(old, SIGACTION_BYTES as u64)?;
    }
    let previous = scheduler::with_current_linux(|process| {
        let previous = process.state.signal_actions[signal as usize];
        if action != 0 {
            process.state.signal_actions[signal as usize] = new;
        }
        previous
    })
    .ok_or(Errno::EINVAL)?;
    if old != 0 {
        copy_out(old, &previous)?;
    }
    Ok(0)
}

/// `rt_sigprocmask(how, set, old, set_bytes)`.
pub fn rt_sigprocmask(how: u64, set: u64, old: u64, set_bytes: u64) -> Answer {
    if set_bytes != 8 {
        return Err(Errno::EINVAL);
    }
    let mut new = None;
    if set != 0 {
        if how > 2 {
            return Err(Errno::EINVAL);
        }
        let mut bytes = [0u8; 8];
        copy_in(set, &mut bytes)?;
        new = Some(u64::from_le_bytes(bytes));
    }
    if old != 0 {
        check_writable(old, 8)?;
    }
    let previous = scheduler::with_current_linux(|process| {
        let previous = process.state.signal_mask;
        // SIGKILL and SIGSTOP cannot be blocked.
        const UNBLOCKABLE: u64 = 1 << 8 | 1 << 18;
        if let Some(set) = new {
            process.state.signal_mask = match how {
                0 => previous | set,
                1 => previous & !set,
                _ => set,
            } & !UNBLOCKABLE;
        }
        previous
    })
    .ok_or(Errno::EINVAL)?;
    if old != 0 {
        copy_out(old, &previous.to_le_bytes())?;
    }
    Ok(0)
}

/// `sigaltstack(new, old)`.
pub fn sigaltstack(new: u64, old: u64) -> Answer {
    const SS_AUTODISARM: u64 = 1 << 31;
    const MINSIGSTKSZ: u64 = 2048;
    let mut wanted = None;
    if new != 0 {
        let mut bytes = [0u8; 24];
        copy_in(new, &mut bytes)?;
        let base = u64::from_le_bytes(bytes[..8].try_into().unwrap_or_default());
        let flags = u64::from(u32::from_le_bytes(bytes[8..12].try_into().unwrap_or_default()));
        let size = u64::from_le_bytes(bytes[16..].try_into().unwrap_or_default());
        if flags & !(SS_DISABLE | SS_AUTODISARM) != 0 {
            return Err(Errno::EINVAL);
        }
        if flags & SS_DISABLE == 0 && size < MINSIGSTKSZ {
            return Err(Errno::ENOMEM);
        }
        wanted = Some(if flags & SS_DISABLE != 0 { [0, SS_DISABLE, 0] } else { [base, flags, size] });
    }
    if old != 0 {
        check_writable(old, 24)?;
    }
    let previous = scheduler::with_current_linux(|process| {
        let previous = process.state.alternate_stack;
        if let Some(wanted) = wanted {
            process.state.alternate_stack = wanted;
        }
        previous
    })
    .ok_or(Errno::EINVAL)?;
    if old != 0 {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&previous[0].to_le_bytes());
        bytes[8..12].copy_from_slice(&(previous[1] as u32).to_le_bytes());
        bytes[16..].copy_from_slice(&previous[2].to_le_bytes());
        copy_out(old, &bytes)?;
    }
    Ok(0)
}

/// `arch_prctl(code, address)`: the FS base (thread pointer), set and read.
pub fn arch_prctl(code: u64, address: u64) -> Answer {
    const ARCH_SET_FS: u64 = 0x1002;
    const ARCH_GET_FS: u64 = 0x1003;
    match code {
        ARCH_SET_FS => {
            if address >= USER_END {
                return Err(Errno::EPERM);
            }
            scheduler::set_fs_base(address);
            Ok(0)
        }
        ARCH_GET_FS => {
            let base = scheduler::with_current_linux(|process| *process.fs_base).ok_or(Errno::EINVAL)?;
            copy_out(address, &base.to_le_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `set_tid_address(address)`: recorded; returns the thread id.
pub fn set_tid_address(address: u64) -> Answer {
    scheduler::with_current_linux(|process| process.state.clear_child_tid = address).ok_or(Errno::EINVAL)?;
    getpid()
}

/// `set_robust_list(head, length)`: recorded (the kernel's `struct robust_list_head` is 24 bytes).
pub fn set_robust_list(head: u64, length: u64) -> Answer {
    if length != 24 {
        return Err(Errno::EINVAL);
    }
    scheduler::with_current_linux(|process| process.state.robust_list = (head, length)).ok_or(Errno::EINVAL)?;
    Ok(0)
}

/// `futex(address, operation, value, timeout)` with one thread: a wake wakes nobody; a wait whose
/// word differs is `EAGAIN`; a wait that would sleep can never be woken, so a timed one times
/// out at once and an untimed one ends the process with a report rather than hang the run.
pub fn futex(address: u64, operation: u64, value: u64, timeout: u64) -> Answer {
    const FUTEX_WAIT: u64 = 0;
    const FUTEX_WAKE: u64 = 1;
    const FUTEX_WAIT_BITSET: u64 = 9;
    const FUTEX_WAKE_BITSET: u64 = 10;
    const FUTEX_PRIVATE_FLAG: u64 = 128;
    const FUTEX_CLOCK_REALTIME: u64 = 256;
    if !address.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    match operation & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => Ok(0),
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let mut word = [0u8; 4];
            copy_in(address, &mut word)?;
            if u32::from_le_bytes(word) != value as u32 {
                return Err(Errno::EAGAIN);
            }
            if timeout != 0 {
                timespec_in(timeout)?;
                return Err(Errno::ETIMEDOUT);
            }
            let (pid, name) = scheduler::current_identity().unwrap_or((0, "?"));
            crate::println!("process {pid} ({name}): killed: futex wait at {address:#x} that no other thread can ever wake");
            scheduler::exit_current(abi::EndReason::Exited, PROTOCOL_EXIT_CODE)
        }
        _ => Err(Errno::ENOSYS),
    }
}

/// `prlimit64(pid, resource, new, old)` (and `getrlimit`): reports shoal's limits; changing one
/// is refused with `EPERM`.
pub fn prlimit(pid: u64, resource: u64, new: u64, old: u64) -> Answer {
    const RLIMIT_DATA: u64 = 2;
    const RLIMIT_STACK: u64 = 3;
    const RLIMIT_NOFILE: u64 = 7;
    const RLIMIT_AS: u64 = 9;
    const RLIM_INFINITY: u64 = u64::MAX;
    if pid != 0 && Some(pid) != scheduler::current_pid().map(linux_pid) {
        return Err(Errno::EPERM);
    }
    if resource >= 16 {
        return Err(Errno::EINVAL);
    }
    if new != 0 {
        let mut bytes = [0u8; 16];
        copy_in(new, &mut bytes)?;
        return Err(Errno::EPERM);
    }
    if old != 0 {
        let (current, maximum) = match resource {
            RLIMIT_DATA => (crate::mm::layout::USER_HEAP_MAX_BYTES, crate::mm::layout::USER_HEAP_MAX_BYTES),
            RLIMIT_STACK => (STACK_LIMIT_BYTES, STACK_LIMIT_BYTES),
            RLIMIT_NOFILE => (super::state::MAX_DESCRIPTORS as u64, super::state::MAX_DESCRIPTORS as u64),
            RLIMIT_AS => (super::memory::MAX_MAPPED_BYTES, super::memory::MAX_MAPPED_BYTES),
            _ => (RLIM_INFINITY, RLIM_INFINITY),
        };
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&current.to_le_bytes());
        bytes[8..].copy_from_slice(&maximum.to_le_bytes());
        copy_out(old, &bytes)?;
    }
    Ok(0)
}
