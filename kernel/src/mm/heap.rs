//! The kernel heap: a linked-list allocator over a region mapped at boot.
//!
//! [`init`] maps the `heap_bytes` kernel argument's worth of fresh frames (16 MiB by default, at
//! most `layout::KERNEL_HEAP_MAX_BYTES`) at `layout::KERNEL_HEAP_START` and hands the range to
//! `linked_list_allocator`. The heap does not grow; an allocation failure is a kernel panic
//! from the `alloc` crate, so nothing a process can repeat without bound may allocate here:
//! per-process state lives in the process table (allocated once at boot) and in the process's
//! own frames (page tables, kernel stack), and system calls use stack buffers.

#![allow(unsafe_code)]

use linked_list_allocator::LockedHeap;
use x86_64::VirtAddr;

use super::layout::{KERNEL_HEAP_MAX_BYTES, KERNEL_HEAP_START, PAGE_BYTES};
use super::paging::{self, MapError};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Maps `bytes` of heap (rounded down to pages, at most `KERNEL_HEAP_MAX_BYTES`) and makes it
/// the global allocator's memory.
///
/// # Errors
/// Returns the mapping error when frames run out.
pub fn init(bytes: u64) -> Result<(), MapError> {
    let bytes = (bytes / PAGE_BYTES * PAGE_BYTES).min(KERNEL_HEAP_MAX_BYTES);
    let start = VirtAddr::new(KERNEL_HEAP_START);
    paging::map_kernel_data(start, bytes)?;
    // SAFETY: the range [KERNEL_HEAP_START, +bytes) was just mapped writable with fresh frames
    // that nothing else references, it lies in the region `layout.rs` reserves for the heap
    // (`bytes` is capped above), and `init` runs once (boot path), so the allocator gets
    // exclusive, 'static memory.
    unsafe { HEAP.lock().init(start.as_mut_ptr(), bytes as usize) };
    Ok(())
}

/// Returns (used, free) heap bytes.
pub fn usage_bytes() -> (usize, usize) {
    let heap = HEAP.lock();
    (heap.used(), heap.free())
}
