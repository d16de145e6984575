//! shoal's own system calls (the `abi` crate): decode every argument, then perform (the seL4
//! decode/perform split).
//!
//! [`dispatch`] is called for a process of the native personality with the saved user registers.
//! It looks the number up, and each handler checks all of its arguments (numbers, lengths, user pointers
//! through `mm::user_copy`) before it acts; bad input returns an `abi::ErrorCode`, never a
//! kernel panic. Results go back in `rax` (error code, 0 = success) and `rdx` (value), as the
//! `abi` crate documents.

#![deny(unsafe_code)]

extern crate alloc;

use abi::{EXIT_STATUS_BYTES, EndReason, ErrorCode, ExitStatus, Syscall};

use crate::arch::x86_64::cpu;
use crate::arch::x86_64::trap::SyscallFrame;
use x86_64::VirtAddr;
use x86_64::structures::paging::PageTableFlags;

use crate::mm::address_space::Access;
use crate::mm::global_segment;
use crate::mm::layout::{GLOBAL_WINDOW_END, GLOBAL_WINDOW_START, PAGE_BYTES, USER_END};
use crate::mm::user_copy;
use crate::process::scheduler;

/// Nanoseconds per second.
const NANOSECONDS_PER_SECOND: u128 = 1_000_000_000;

/// Handles one native system call: reads the number and arguments from `frame`, writes the
/// results.
pub fn dispatch(frame: &mut SyscallFrame) {
    let arguments = frame.arguments();
    let result = match Syscall::from_number(frame.rax) {
        None => Err(ErrorCode::UnknownSyscall),
        Some(Syscall::Exit) => scheduler::exit_current(EndReason::Exited, arguments[0]),
        Some(Syscall::Yield) => {
            scheduler::yield_current();
            Ok(0)
        }
        Some(Syscall::Write) => write(arguments[0], arguments[1]),
        Some(Syscall::GetPid) => scheduler::current_pid().ok_or(ErrorCode::InvalidArgument),
        Some(Syscall::Clock) => Ok(clock_nanoseconds()),
        Some(Syscall::HeapGrow) => heap_grow(arguments[0]),
        Some(Syscall::Spawn) => spawn(arguments[0], arguments[1], arguments[2]),
        Some(Syscall::Wait) => wait(arguments[0], arguments[1]),
        Some(Syscall::VerifyBinary) => verify_binary(arguments[0], arguments[1]),
        Some(Syscall::Protect) => protect(arguments[0], arguments[1], arguments[2]),
        Some(Syscall::InvokeWait) => invoke_wait(arguments[0], arguments[1]),
        Some(Syscall::InvokeDone) => scheduler::finish_invocation(arguments[0]).map(|()| 0),
    };
    match result {
        Ok(value) => frame.set_result(ErrorCode::Success.value(), value),
        Err(code) => frame.set_result(code.value(), 0),
    }
}

/// Bytes `write` copies in and prints at a time (a kernel-stack buffer: no heap allocation).
const WRITE_CHUNK_BYTES: usize = 256;

/// `write(pointer, length)`: checks the whole range, then copies it in and prints it chunk by
/// chunk through the console's process channel (`[pid] ` at each line start, control characters
/// escaped), so no process output can pass for a kernel line.
pub(super) fn write(pointer: u64, length: u64) -> Result<u64, ErrorCode> {
    if length > abi::WRITE_MAX_BYTES {
        return Err(ErrorCode::TooLarge);
    }
    // Decode: the whole range must be readable before a byte is printed.
    scheduler::with_current_space(|space| user_copy::check_readable(space, pointer, length))??;
    let pid = scheduler::current_pid().ok_or(ErrorCode::InvalidArgument)?;
    // Perform: a UTF-8 sequence cut by a chunk boundary is carried into the next chunk.
    let mut buffer = [0u8; WRITE_CHUNK_BYTES + 3];
    let mut carried = 0;
    let mut done = 0;
    while done < length {
        let take = (length - done).min(WRITE_CHUNK_BYTES as u64) as usize;
        let chunk = &mut buffer[carried..carried + take];
        scheduler::with_current_space(|space| user_copy::copy_from_user(space, pointer + done, chunk))??;
        done += take as u64;
        let filled = carried + take;
        let (complete, rest) = split_complete_utf8(&buffer[..filled], done == length);
        print_user_text(pid, &buffer[..complete]);
        buffer.copy_within(complete..complete + rest, 0);
        carried = rest;
    }
    Ok(length)
}

/// Splits `bytes` into a prefix to print now and the length of an unfinished UTF-8 sequence at
/// its end (at most 3 bytes) to carry into the next chunk; at the `last` chunk nothing is kept.
fn split_complete_utf8(bytes: &[u8], last: bool) -> (usize, usize) {
    if last {
        return (bytes.len(), 0);
    }
    match core::str::from_utf8(bytes) {
        Ok(_) => (bytes.len(), 0),
        Err(error) if error.error_len().is_none() => (error.valid_up_to(), bytes.len() - error.valid_up_to()),
        // Invalid bytes in the middle: they print as replacement characters, nothing to keep.
        Err(_) => (bytes.len(), 0),
    }
}

/// Prints user bytes as text (invalid UTF-8 as replacement characters).
pub(super) fn print_user_text(pid: u64, bytes: &[u8]) {
    for piece in bytes.utf8_chunks() {
        crate::drivers::serial::write_user(pid, piece.valid());
        if !piece.invalid().is_empty() {
            crate::drivers::serial::write_user(pid, "\u{fffd}");
        }
    }
}

/// `clock()`: nanoseconds since boot from the TSC and its calibrated rate.
pub(super) fn clock_nanoseconds() -> u64 {
    let tsc_hz = crate::boot_facts().apic.get().map_or(0, |(_, calibration)| calibration.tsc_hz);
    if tsc_hz == 0 {
        return 0;
    }
    let nanoseconds = u128::from(cpu::read_tsc()) * NANOSECONDS_PER_SECOND / u128::from(tsc_hz);
    u64::try_from(nanoseconds).unwrap_or(u64::MAX)
}

/// `heap_grow(bytes)`: decode the size, then map.
fn heap_grow(bytes: u64) -> Result<u64, ErrorCode> {
    if bytes == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    if bytes > abi::HEAP_GROW_MAX_BYTES {
        return Err(ErrorCode::TooLarge);
    }
    scheduler::grow_heap(bytes.div_ceil(PAGE_BYTES) * PAGE_BYTES)
}

/// `spawn(name_pointer, name_length, argument)`.
fn spawn(name_pointer: u64, name_length: u64, argument: u64) -> Result<u64, ErrorCode> {
    let mut buffer = [0u8; abi::NAME_MAX_BYTES as usize];
    let name = copy_name(name_pointer, name_length, &mut buffer)?;
    let parent = scheduler::current_pid();
    scheduler::spawn(name, argument, parent).map_err(|error| {
        crate::debug!("spawn {name:?} refused: {error}");
        error.code()
    })
}

/// `wait(pid, status_pointer)`: checks the status pointer first, then waits.
fn wait(pid: u64, status_pointer: u64) -> Result<u64, ErrorCode> {
    scheduler::with_current_space(|space| user_copy::check_writable(space, status_pointer, EXIT_STATUS_BYTES))??;
    let status: ExitStatus = scheduler::wait_for_child(pid)?;
    let mut bytes = [0u8; EXIT_STATUS_BYTES as usize];
    bytes[0..8].copy_from_slice(&status.reason.to_le_bytes());
    bytes[8..16].copy_from_slice(&status.code.to_le_bytes());
    scheduler::with_current_space(|space| user_copy::copy_to_user(space, status_pointer, &bytes))??;
    Ok(0)
}

/// Copies a binary name in from user memory (1..=NAME_MAX_BYTES bytes of UTF-8).
fn copy_name(pointer: u64, length: u64, buffer: &mut [u8; abi::NAME_MAX_BYTES as usize]) -> Result<&str, ErrorCode> {
    if length == 0 {
        return Err(ErrorCode::InvalidArgument);
    }
    if length > abi::NAME_MAX_BYTES {
        return Err(ErrorCode::TooLarge);
    }
    let name = &mut buffer[..length as usize];
    scheduler::with_current_space(|space| user_copy::copy_from_user(space, pointer, name))??;
    core::str::from_utf8(name).map_err(|_| ErrorCode::InvalidArgument)
}

/// `verify_binary(name_pointer, name_length)`.
fn verify_binary(pointer: u64, length: u64) -> Result<u64, ErrorCode> {
    let mut buffer = [0u8; abi::NAME_MAX_BYTES as usize];
    let name = copy_name(pointer, length, &mut buffer)?;
    match global_segment::verify(name) {
        Ok(intact) => Ok(u64::from(intact)),
        Err(_) => Err(ErrorCode::NotFound),
    }
}

/// `protect(address, length, access)`: decode everything, then change the private pages.
fn protect(address: u64, length: u64, access: u64) -> Result<u64, ErrorCode> {
    let end = address.checked_add(length).ok_or(ErrorCode::BadAddress)?;
    // The window and the kernel half are never the caller's to change: forbidden. User space
    // above the window is merely unmapped: a bad address (below, like any unmapped page).
    let overlaps = |start: u64, limit: u64| address < limit && end > start;
    if overlaps(GLOBAL_WINDOW_START, GLOBAL_WINDOW_END) || end > USER_END {
        return Err(ErrorCode::Forbidden);
    }
    if length == 0 || !address.is_multiple_of(PAGE_BYTES) || !length.is_multiple_of(PAGE_BYTES) {
        return Err(ErrorCode::InvalidArgument);
    }
    if access & !(abi::ACCESS_WRITE | abi::ACCESS_EXECUTE) != 0
        || access == abi::ACCESS_WRITE | abi::ACCESS_EXECUTE
    {
        return Err(ErrorCode::InvalidArgument);
    }
    let wanted = Access { write: access & abi::ACCESS_WRITE != 0, execute: access & abi::ACCESS_EXECUTE != 0 };
    scheduler::with_current_space(|space| {
        // Decode: every page must be a mapped user page, or demand memory not touched yet.
        let mut page = address;
        while page < end {
            match space.translate(VirtAddr::new(page)) {
                Some(translation) if translation.flags.contains(PageTableFlags::USER_ACCESSIBLE) => {}
                None if space.demand_region(VirtAddr::new(page)).is_some() => {}
                _ => return Err(ErrorCode::BadAddress),
            }
            page += PAGE_BYTES;
        }
        // Populate demand pages not touched yet, before any permission changes: running out of
        // memory here refuses the call with nothing changed but pages the process may use anyway.
        let mut page = address;
        while page < end {
            space.populate(VirtAddr::new(page)).map_err(|_| ErrorCode::OutOfMemory)?;
            page += PAGE_BYTES;
        }
        // Perform.
        let mut page = address;
        while page < end {
            space.protect_page(VirtAddr::new(page), wanted).map_err(|_| ErrorCode::BadAddress)?;
            page += PAGE_BYTES;
        }
        Ok(0)
    })?
}

/// `invoke_wait(buffer, capacity)`: check the buffer, then block for the next invocation.
fn invoke_wait(buffer: u64, capacity: u64) -> Result<u64, ErrorCode> {
    // Only the driver's instances are ever sent an invocation: anyone else would wait forever.
    scheduler::require_instance()?;
    let capacity = capacity.min(abi::PAYLOAD_MAX_BYTES);
    scheduler::with_current_space(|space| user_copy::check_writable(space, buffer, capacity))??;
    let invocation = scheduler::take_invocation(capacity as usize)?;
    let payload = &invocation.payload[..invocation.length];
    scheduler::with_current_space(|space| user_copy::copy_to_user(space, buffer, payload))??;
    Ok(invocation.length as u64)
}
