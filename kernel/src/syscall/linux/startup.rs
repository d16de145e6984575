//! The initial stack of a Linux process, as Linux's ELF loader lays it out (System V AMD64 ABI
//! §3.4.1): at the stack pointer `argc`, then the `argv` pointers and a NULL, the `envp` pointers
//! (none) and a NULL, then the auxiliary vector of (type, value) pairs ending with `AT_NULL`;
//! above them the strings and the 16 bytes `AT_RANDOM` points at. The stack pointer is 16-byte
//! aligned, as `_start` expects.
//!
//! `argv` is the binary's name and, as `argv[1]`, the process argument in decimal (the argument
//! a native process gets in `rdi`: for a FaaS runtime, its handler number). The auxiliary vector
//! carries what musl's start-up code reads: `AT_PHDR`/`AT_PHENT`/`AT_PHNUM` (to find `PT_TLS`
//! and `PT_DYNAMIC`), `AT_PAGESZ`, `AT_BASE` (0: no interpreter), `AT_ENTRY`, the ids (all 0,
//! equal, so `AT_SECURE` is 0 and musl skips its secure-mode checks), `AT_HWCAP` (CPUID.1:EDX),
//! `AT_CLKTCK`, `AT_RANDOM` and `AT_EXECFN`.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use abi::ErrorCode;

use super::state::State;
use crate::mm::address_space::AddressSpace;
use crate::mm::global_segment::Attached;
use crate::mm::layout::PAGE_BYTES;
use crate::mm::user_copy;

/// Auxiliary-vector types (`elf.h`).
const AT_NULL: u64 = 0;
const AT_PHDR: u64 = 3;
const AT_PHENT: u64 = 4;
const AT_PHNUM: u64 = 5;
const AT_PAGESZ: u64 = 6;
const AT_BASE: u64 = 7;
const AT_FLAGS: u64 = 8;
const AT_ENTRY: u64 = 9;
const AT_UID: u64 = 11;
const AT_EUID: u64 = 12;
const AT_GID: u64 = 13;
const AT_EGID: u64 = 14;
const AT_HWCAP: u64 = 16;
const AT_CLKTCK: u64 = 17;
const AT_SECURE: u64 = 23;
const AT_RANDOM: u64 = 25;
const AT_EXECFN: u64 = 31;

/// Clock ticks per second reported in `AT_CLKTCK` (Linux's `USER_HZ`).
const USER_HZ: u64 = 100;

/// Writes the initial stack below `top` in `space` (its pages are demand memory, populated by
/// the copy) and returns the initial stack pointer.
///
/// # Errors
/// Returns [`ErrorCode::OutOfMemory`] when the stack's pages cannot be populated.
pub fn build(space: &mut AddressSpace, top: u64, name: &str, argument: u64, attached: &Attached, state: &mut State) -> Result<u64, ErrorCode> {
    let mut cursor = top;
    let mut push_bytes = |space: &mut AddressSpace, bytes: &[u8]| -> Result<u64, ErrorCode> {
        cursor -= bytes.len() as u64;
        user_copy::copy_to_user(space, cursor, bytes)?;
        Ok(cursor)
    };
    let mut execfn = Vec::with_capacity(name.len() + 6);
    execfn.extend_from_slice(b"/bin/");
    execfn.extend_from_slice(name.as_bytes());
    execfn.push(0);
    let execfn = push_bytes(space, &execfn)?;
    let mut argument_text = Vec::with_capacity(21);
    argument_text.extend_from_slice(alloc::format!("{argument}").as_bytes());
    argument_text.push(0);
    let argument_text = push_bytes(space, &argument_text)?;
    let mut name_text = Vec::with_capacity(name.len() + 1);
    name_text.extend_from_slice(name.as_bytes());
    name_text.push(0);
    let name_text = push_bytes(space, &name_text)?;
    let mut random = [0u8; 16];
    state.fill_random(&mut random);
    let random = push_bytes(space, &random)?;

    let (program_headers, count, entry_bytes) = attached
        .program_headers
        .map_or((0, 0, 0), |headers| (headers.address, u64::from(headers.count), u64::from(headers.entry_bytes)));
    let hwcap = u64::from(core::arch::x86_64::__cpuid(1).edx);
    let auxiliary: [(u64, u64); 17] = [
        (AT_PHDR, program_headers),
        (AT_PHENT, entry_bytes),
        (AT_PHNUM, count),
        (AT_PAGESZ, PAGE_BYTES),
        (AT_BASE, 0),
        (AT_FLAGS, 0),
        (AT_ENTRY, attached.entry.as_u64()),
        (AT_UID, 0),
        (AT_EUID, 0),
        (AT_GID, 0),
        (AT_EGID, 0),
        (AT_HWCAP, hwcap),
        (AT_CLKTCK, USER_HZ),
        (AT_SECURE, 0),
        (AT_RANDOM, random),
        (AT_EXECFN, execfn),
        (AT_NULL, 0),
    ];
    let mut words: Vec<u64> = Vec::with_capacity(8 + auxiliary.len() * 2);
    words.push(2); // argc
    words.push(name_text);
    words.push(argument_text);
    words.push(0); // end of argv
    words.push(0); // end of envp (empty)
    for (kind, value) in auxiliary {
        words.push(kind);
        words.push(value);
    }
    let bytes: Vec<u8> = words.iter().flat_map(|word| word.to_le_bytes()).collect();
    let stack_pointer = (cursor - bytes.len() as u64) & !15;
    user_copy::copy_to_user(space, stack_pointer, &bytes)?;
    Ok(stack_pointer)
}
