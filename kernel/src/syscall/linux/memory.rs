//! Memory of a Linux process: `mmap`, `munmap`, `mprotect`, `brk`, `madvise`.
//!
//! Anonymous private memory is mapped on first touch (zeroed), like the stack: a mapping is only
//! a record in the address space until then. A process's mappings (the break included) cover at
//! most [`MAX_MAPPED_BYTES`] (`RLIMIT_AS` for them): the kernel walks a mapping page by page
//! when it unmaps or protects it, so their size bounds that work. A private mapping of a ramdisk file is copied in
//! when it is made. Shared file mappings are refused (`EINVAL`: the ramdisk is read-only and
//! nothing else could see the writes), as are writable and executable pages at once (`EACCES`:
//! shoal keeps W^X for private memory too). Nothing here may touch the global window (the shared
//! runtime images) or the kernel half: addresses there are refused (`EACCES` for `mprotect`,
//! `EINVAL` or `ENOMEM` as Linux answers for ranges it cannot use).

#![deny(unsafe_code)]

extern crate alloc;

use x86_64::VirtAddr;

use super::state::Descriptor;
use super::{Answer, Errno};
use crate::mm::address_space::Access;
use crate::mm::layout::{GLOBAL_WINDOW_END, GLOBAL_WINDOW_START, PAGE_BYTES, USER_END, USER_HEAP_MAX_BYTES, USER_PRIVATE_END, USER_PRIVATE_START};
use crate::mm::user_copy;
use crate::process::scheduler;

/// Where `mmap` places mappings that name no address: 16 TiB below the stack's region, far from
/// the break (which starts at `USER_HEAP_START`).
pub const MMAP_BASE: u64 = 0x0000_2000_0000_0000;
/// End of that area.
pub const MMAP_END: u64 = 0x0000_3000_0000_0000;
/// The most address space a process's mappings (`mmap` and the break) may cover: 4 GiB.
pub const MAX_MAPPED_BYTES: u64 = 4 << 30;

const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;
const MAP_SHARED: u64 = 0x01;
const MAP_PRIVATE: u64 = 0x02;
const MAP_FIXED: u64 = 0x10;
const MAP_ANONYMOUS: u64 = 0x20;
const MAP_FIXED_NOREPLACE: u64 = 0x10_0000;

/// Returns the access `prot` asks for: `None` for `PROT_NONE`.
fn access(prot: u64) -> Result<Option<Access>, Errno> {
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if prot & PROT_WRITE != 0 && prot & PROT_EXEC != 0 {
        return Err(Errno::EACCES);
    }
    if prot == 0 {
        return Ok(None);
    }
    Ok(Some(Access { write: prot & PROT_WRITE != 0, execute: prot & PROT_EXEC != 0 }))
}

/// Returns the page-aligned end of `[address, address + length)`, checked to lie in the private
/// user region (not the window, not the kernel half).
fn private_range(address: u64, length: u64) -> Result<u64, Errno> {
    let end = address.checked_add(length).and_then(|end| end.checked_next_multiple_of(PAGE_BYTES)).ok_or(Errno::ENOMEM)?;
    if address < USER_PRIVATE_START || end > USER_PRIVATE_END {
        return Err(Errno::ENOMEM);
    }
    Ok(end)
}

/// Runs `operation` on the running process's Linux state and address space.
fn with_process<R>(operation: impl FnOnce(&mut scheduler::LinuxProcess<'_>) -> R) -> Result<R, Errno> {
    scheduler::with_current_linux(operation).ok_or(Errno::EINVAL)
}

/// `mmap(address, length, prot, flags, fd, offset)`.
pub fn mmap(address: u64, length: u64, prot: u64, flags: u64, fd: u64, offset: u64) -> Answer {
    if length == 0 || !offset.is_multiple_of(PAGE_BYTES) || !address.is_multiple_of(PAGE_BYTES) {
        return Err(Errno::EINVAL);
    }
    let sharing = flags & (MAP_SHARED | MAP_PRIVATE);
    if sharing != MAP_SHARED && sharing != MAP_PRIVATE {
        return Err(Errno::EINVAL);
    }
    let anonymous = flags & MAP_ANONYMOUS != 0;
    if sharing == MAP_SHARED && !anonymous {
        return Err(Errno::EINVAL);
    }
    let wanted = access(prot)?;
    let bytes = length.checked_next_multiple_of(PAGE_BYTES).ok_or(Errno::ENOMEM)?;
    let file = if anonymous {
        None
    } else {
        match with_process(|process| process.state.slot(fd).map(|slot| slot.descriptor.clone()))? {
            Some(Descriptor::File(file)) if !file.folder => Some(file),
            Some(Descriptor::File(_)) => return Err(Errno::ENODEV),
            Some(_) => return Err(Errno::EACCES),
            None => return Err(Errno::EBADF),
        }
    };
    let fixed = flags & (MAP_FIXED | MAP_FIXED_NOREPLACE) != 0;
    let start = with_process(|process| -> Result<u64, Errno> {
        let start = if fixed {
            let end = private_range(address, bytes)?;
            let overlaps = process.space.mappings().iter().any(|mapping| mapping.start < end && address < mapping.end);
            if flags & MAP_FIXED_NOREPLACE != 0 && overlaps {
                return Err(Errno::EEXIST);
            }
            // MAP_FIXED replaces what was there; the stack and the window are never mapping
            // records, so `add_mapping` below refuses them.
            process.space.remove_mappings(address, end).map_err(|_| Errno::ENOMEM)?;
            address
        } else {
            free_range(process.space.mappings(), bytes).ok_or(Errno::ENOMEM)?
        };
        if process.space.mapped_bytes() + bytes > MAX_MAPPED_BYTES {
            return Err(Errno::ENOMEM);
        }
        // A file's bytes are copied in before the final permissions are set.
        let initial = if file.is_some() { Some(Access::DATA) } else { wanted };
        process.space.add_mapping(start, start + bytes, initial).map_err(|_| Errno::ENOMEM)?;
        Ok(start)
    })??;
    if let Some(file) = file {
        let from = usize::try_from(offset).unwrap_or(usize::MAX).min(file.data.len());
        let take = (file.data.len() - from).min(bytes as usize);
        let copied = with_process(|process| -> Result<(), Errno> {
            user_copy::copy_to_user(process.space, start, &file.data[from..from + take]).map_err(Errno::from)?;
            process.space.protect_mappings(start, start + bytes, wanted).map_err(|_| Errno::ENOMEM)
        })?;
        if let Err(error) = copied {
            let _ = with_process(|process| process.space.remove_mappings(start, start + bytes));
            return Err(error);
        }
    }
    Ok(start)
}

/// Returns the lowest free page-aligned range of `bytes` in the mmap area, first fit.
fn free_range(mappings: &[crate::mm::address_space::Mapping], bytes: u64) -> Option<u64> {
    let mut candidate = MMAP_BASE;
    for mapping in mappings.iter().filter(|mapping| mapping.end > MMAP_BASE && mapping.start < MMAP_END) {
        if mapping.start >= candidate && mapping.start - candidate >= bytes {
            return Some(candidate);
        }
        candidate = candidate.max(mapping.end);
    }
    (candidate.checked_add(bytes)? <= MMAP_END).then_some(candidate)
}

/// `munmap(address, length)`: removes the mappings of the range; unmapped parts are fine.
pub fn munmap(address: u64, length: u64) -> Answer {
    if length == 0 || !address.is_multiple_of(PAGE_BYTES) {
        return Err(Errno::EINVAL);
    }
    let end = address.checked_add(length).and_then(|end| end.checked_next_multiple_of(PAGE_BYTES)).ok_or(Errno::EINVAL)?;
    if end > USER_END {
        return Err(Errno::EINVAL);
    }
    // Only mapping records are removed: the stack, the binary's image (the window) and the
    // kernel half are not mappings, and stay.
    let start = address.max(USER_PRIVATE_START);
    let end = end.min(USER_PRIVATE_END);
    if start < end {
        with_process(|process| remove_mapped_only(process, start, end))??;
    }
    Ok(0)
}

/// Removes the parts of `[start, end)` that are mapping records (and their pages).
fn remove_mapped_only(process: &mut scheduler::LinuxProcess<'_>, start: u64, end: u64) -> Result<(), Errno> {
    let pieces: alloc::vec::Vec<(u64, u64)> = process
        .space
        .mappings()
        .iter()
        .filter(|mapping| mapping.start < end && start < mapping.end)
        .map(|mapping| (mapping.start.max(start), mapping.end.min(end)))
        .collect();
    for (from, to) in pieces {
        process.space.remove_mappings(from, to).map_err(|_| Errno::ENOMEM)?;
    }
    Ok(())
}

/// `mprotect(address, length, prot)`: only the process's own mappings; the window (shared
/// images) and the kernel half are refused with `EACCES`, unmapped parts with `ENOMEM`.
pub fn mprotect(address: u64, length: u64, prot: u64) -> Answer {
    if !address.is_multiple_of(PAGE_BYTES) {
        return Err(Errno::EINVAL);
    }
    let wanted = access(prot)?;
    if length == 0 {
        return Ok(0);
    }
    let end = address.checked_add(length).and_then(|end| end.checked_next_multiple_of(PAGE_BYTES)).ok_or(Errno::ENOMEM)?;
    if (address < GLOBAL_WINDOW_END && end > GLOBAL_WINDOW_START) || end > USER_END {
        return Err(Errno::EACCES);
    }
    with_process(|process| process.space.protect_mappings(address, end, wanted))?.map_err(|error| match error {
        crate::mm::paging::MapError::OutOfFrames => Errno::ENOMEM,
        _ => Errno::ENOMEM,
    })?;
    Ok(0)
}

/// `brk(address)`: moves the break (rounded up to a page) within `USER_HEAP_MAX_BYTES` of its
/// start and returns the new break; a request it cannot honour (or 0) returns the current one.
pub fn brk(address: u64) -> Answer {
    with_process(|process| {
        let state = &mut *process.state;
        let limit = state.break_start + USER_HEAP_MAX_BYTES;
        let Some(wanted) = address.checked_next_multiple_of(PAGE_BYTES).filter(|wanted| (state.break_start..=limit).contains(wanted)) else {
            return state.break_end;
        };
        let growth = wanted.saturating_sub(state.break_end);
        if process.space.mapped_bytes() + growth > MAX_MAPPED_BYTES {
            return state.break_end;
        }
        let moved = if state.break_end == state.break_start {
            if wanted == state.break_start { Ok(()) } else { process.space.add_mapping(state.break_start, wanted, Some(Access::DATA)) }
        } else if wanted == state.break_start {
            process.space.remove_mappings(state.break_start, state.break_end)
        } else {
            process.space.resize_mapping(state.break_start, wanted)
        };
        if moved.is_ok() {
            state.break_end = wanted;
        }
        state.break_end
    })
}

/// `madvise(address, length, advice)`: `MADV_DONTNEED` (4) frees the touched pages of the
/// process's mappings in the range (they read as zero afterwards, as on Linux for private
/// anonymous memory); other advice is accepted and changes nothing.
pub fn madvise(address: u64, length: u64, advice: u64) -> Answer {
    const MADV_DONTNEED: u64 = 4;
    const MADV_FREE: u64 = 8;
    if !address.is_multiple_of(PAGE_BYTES) {
        return Err(Errno::EINVAL);
    }
    let end = address.checked_add(length).and_then(|end| end.checked_next_multiple_of(PAGE_BYTES)).ok_or(Errno::EINVAL)?;
    if end > USER_END {
        return Err(Errno::EINVAL);
    }
    if advice == MADV_DONTNEED || advice == MADV_FREE {
        with_process(|process| {
            // Only the process's accessible mappings: its stack and image are left alone.
            let pieces: alloc::vec::Vec<(u64, u64)> = process
                .space
                .mappings()
                .iter()
                .filter(|mapping| mapping.access.is_some() && mapping.start < end && address < mapping.end)
                .map(|mapping| (mapping.start.max(address), mapping.end.min(end)))
                .collect();
            for (from, to) in pieces {
                let mut page = from;
                while page < to {
                    if process.space.translate(VirtAddr::new(page)).is_some() {
                        process.space.unmap_page(VirtAddr::new(page));
                    }
                    page += PAGE_BYTES;
                }
            }
        })?;
    }
    Ok(0)
}
