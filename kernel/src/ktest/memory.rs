//! The frame allocator and the heap hand out memory and take all of it back.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{Checks, Failed, fail};
use crate::mm::frame::{self, LOW_MEMORY_RESERVED_BYTES};
use crate::mm::heap;
use crate::mm::layout::PAGE_BYTES;
use crate::mm::paging;

/// Frames taken in the round-trip check.
const ROUND_TRIP_FRAMES: usize = 1000;
/// Bytes allocated in the heap check.
const HEAP_BLOCK_BYTES: usize = 1024 * 1024;

/// Runs the memory checks.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    let facts = crate::boot_facts();

    checks.check("1000 frames are distinct, in usable memory, and all come back");
    let before = frame::free_count();
    let mut frames = Vec::with_capacity(ROUND_TRIP_FRAMES);
    for _ in 0..ROUND_TRIP_FRAMES {
        let Some(owned) = frame::allocate() else { fail!(checks, "ran out after {} frames", frames.len()) };
        frames.push(owned);
    }
    let mut addresses: Vec<u64> = frames.iter().map(|owned| owned.start_address().as_u64()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    if addresses.len() != ROUND_TRIP_FRAMES {
        fail!(checks, "only {} distinct frames", addresses.len());
    }
    if addresses[0] < LOW_MEMORY_RESERVED_BYTES || addresses[addresses.len() - 1] >= facts.frames.physical_end {
        fail!(checks, "frames span {:#x}..{:#x}", addresses[0], addresses[addresses.len() - 1]);
    }
    if frame::free_count() != before - ROUND_TRIP_FRAMES {
        fail!(checks, "free count {} after taking {ROUND_TRIP_FRAMES} of {before}", frame::free_count());
    }
    drop(frames);
    if frame::free_count() != before {
        fail!(checks, "free count {} after returning, was {before}", frame::free_count());
    }
    checks.pass();

    checks.check("a zeroed frame reads back as zeros through the direct map");
    let Some(zeroed) = frame::allocate_zeroed() else { fail!(checks, "no frame") };
    let mut contents = [0xffu8; PAGE_BYTES as usize];
    paging::read_physical(zeroed.start_address(), &mut contents);
    if let Some(position) = contents.iter().position(|&byte| byte != 0) {
        fail!(checks, "byte {position} is {:#x}", contents[position]);
    }
    drop(zeroed);
    checks.pass();

    checks.check("every free frame can be taken exactly once, then allocation fails, then all return");
    let free = frame::free_count();
    let mut all = Vec::with_capacity(free);
    while let Some(owned) = frame::allocate() {
        if all.len() == free {
            fail!(checks, "allocated more than the {free} free frames");
        }
        all.push(owned);
    }
    if all.len() != free || frame::free_count() != 0 {
        fail!(checks, "took {} of {free} free frames; {} still free", all.len(), frame::free_count());
    }
    crate::println!("ktest: memory: took all {free} free frames ({} MiB)", free as u64 * PAGE_BYTES / (1024 * 1024));
    drop(all);
    if frame::free_count() != free {
        fail!(checks, "{} free after returning all, expected {free}", frame::free_count());
    }
    checks.pass();

    checks.check("the heap serves a 1 MiB block and a box, and frees them");
    let (used_before, _) = heap::usage_bytes();
    let mut block: Vec<u8> = Vec::with_capacity(HEAP_BLOCK_BYTES);
    block.extend((0..HEAP_BLOCK_BYTES).map(|index| (index % 251) as u8));
    let boxed = Box::new(0x0053_484f_414c_u64);
    let (used_during, _) = heap::usage_bytes();
    if used_during < used_before + HEAP_BLOCK_BYTES {
        fail!(checks, "heap use {used_during} bytes, expected at least {}", used_before + HEAP_BLOCK_BYTES);
    }
    if block.iter().enumerate().any(|(index, &byte)| byte != (index % 251) as u8) || *boxed != 0x0053_484f_414c {
        fail!(checks, "heap contents changed");
    }
    drop(block);
    drop(boxed);
    let (used_after, _) = heap::usage_bytes();
    if used_after != used_before {
        fail!(checks, "heap use {used_after} bytes after freeing, was {used_before}");
    }
    checks.pass();
    Ok(())
}
