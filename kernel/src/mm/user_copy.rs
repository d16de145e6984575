//! Copying between kernel buffers and user memory, with every address checked first.
//!
//! System calls never hold a reference to user memory: they copy in or out through these
//! functions. Each checks that the whole range lies in the user half (no wrap-around; even an
//! empty range must start inside it), and that every page is mapped with user access (and write
//! access for copy-out) in the caller's address space **and allowed by the caller's protection
//! keys** (PKRU: a page whose key the process may not read, or write, is as unreachable through
//! a system call as by a direct access), before it copies a byte; the copy itself goes through
//! the kernel's direct map of the translated frames, so SMAP never has to be lifted and a bad
//! pointer can never fault the kernel. A page that is demand memory not touched yet (the stack, a
//! writable page of the binary) is populated first, as the process's own access would.

#![deny(unsafe_code)]

use abi::ErrorCode;
use x86_64::VirtAddr;
use x86_64::structures::paging::PageTableFlags;

use super::address_space::{AddressSpace, Populated};
use super::layout::{PAGE_BYTES, USER_END, USER_PRIVATE_START};
use super::paging;

/// Checks that `[address, address + length)` is inside the user range.
fn check_range(address: u64, length: u64) -> Result<(), ErrorCode> {
    let end = address.checked_add(length).ok_or(ErrorCode::BadAddress)?;
    if !(USER_PRIVATE_START..USER_END).contains(&address) || end > USER_END {
        return Err(ErrorCode::BadAddress);
    }
    Ok(())
}

/// Walks the range page by page, calling `each(physical, offset_in_buffer, length)` for every
/// piece, after checking all pages first.
fn for_each_piece(
    space: &mut AddressSpace,
    address: u64,
    length: u64,
    write: bool,
    mut each: impl FnMut(x86_64::PhysAddr, usize, usize),
) -> Result<(), ErrorCode> {
    check_range(address, length)?;
    let needed = if write {
        PageTableFlags::USER_ACCESSIBLE | PageTableFlags::WRITABLE
    } else {
        PageTableFlags::USER_ACCESSIBLE
    };
    // Check every page before touching any, so a bad range changes nothing.
    let mut page = address & !(PAGE_BYTES - 1);
    while page < address + length {
        let translation = match space.translate(VirtAddr::new(page)) {
            Some(translation) => translation,
            // Not mapped: demand memory not touched yet is mapped now, anything else is bad.
            None => match space.populate(VirtAddr::new(page)) {
                Ok(Populated::Zeroed | Populated::Copied) => space.translate(VirtAddr::new(page)).ok_or(ErrorCode::BadAddress)?,
                Ok(Populated::Present | Populated::NotDemand) => return Err(ErrorCode::BadAddress),
                Err(_) => return Err(ErrorCode::OutOfMemory),
            },
        };
        if !translation.flags.contains(needed) || !keys_allow(space.pkru(), translation.flags, write) {
            return Err(ErrorCode::BadAddress);
        }
        page += PAGE_BYTES;
    }
    let mut done = 0u64;
    while done < length {
        let current = address + done;
        let in_page = (PAGE_BYTES - current % PAGE_BYTES).min(length - done);
        let translation = space.translate(VirtAddr::new(current)).ok_or(ErrorCode::BadAddress)?;
        each(translation.physical, done as usize, in_page as usize);
        done += in_page;
    }
    Ok(())
}

/// Bit position of a leaf's protection key (bits 62:59, Intel SDM vol. 3A §4.6.2).
const KEY_SHIFT: u32 = 59;
/// Mask of a protection key (4 bits).
const KEY_MASK: u64 = 0xf;

/// Returns whether PKRU value `pkru` lets user code read (or, with `write`, write) a page whose
/// leaf has `flags`: the access-disable bit 2k and the write-disable bit 2k+1 of key k (Intel
/// SDM vol. 3A §4.6.2). With keys off, every process's PKRU is 0 and every leaf has key 0.
pub fn keys_allow(pkru: u32, flags: PageTableFlags, write: bool) -> bool {
    let key = ((flags.bits() >> KEY_SHIFT) & KEY_MASK) as u32;
    let access_disabled = pkru >> (2 * key) & 1 != 0;
    let write_disabled = pkru >> (2 * key + 1) & 1 != 0;
    !access_disabled && !(write && write_disabled)
}

/// Copies `buffer.len()` bytes from user address `address` in `space` into `buffer`.
///
/// # Errors
/// Returns [`ErrorCode::BadAddress`] when any byte is outside the user range or not readable.
pub fn copy_from_user(space: &mut AddressSpace, address: u64, buffer: &mut [u8]) -> Result<(), ErrorCode> {
    for_each_piece(space, address, buffer.len() as u64, false, |physical, offset, length| {
        paging::read_physical(physical, &mut buffer[offset..offset + length]);
    })
}

/// Copies `bytes` to user address `address` in `space`.
///
/// # Errors
/// Returns [`ErrorCode::BadAddress`] when any byte is outside the user range or not writable.
pub fn copy_to_user(space: &mut AddressSpace, address: u64, bytes: &[u8]) -> Result<(), ErrorCode> {
    check_writable(space, address, bytes.len() as u64)?;
    for_each_piece(space, address, bytes.len() as u64, true, |physical, offset, length| {
        paging::user::write_physical(physical, &bytes[offset..offset + length]);
    })
}

/// Checks, without copying, that `length` bytes at `address` are readable user memory.
///
/// # Errors
/// Returns [`ErrorCode::BadAddress`] otherwise.
pub fn check_readable(space: &mut AddressSpace, address: u64, length: u64) -> Result<(), ErrorCode> {
    for_each_piece(space, address, length, false, |_, _, _| {})
}

/// Checks, without copying, that `length` bytes at `address` are writable user memory.
///
/// # Errors
/// Returns [`ErrorCode::BadAddress`] otherwise.
pub fn check_writable(space: &mut AddressSpace, address: u64, length: u64) -> Result<(), ErrorCode> {
    for_each_piece(space, address, length, true, |_, _, _| {})
}
