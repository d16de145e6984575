//! The kernel heap: a linked-list allocator over a region mapped at boot.
//!
//! [`init`] maps `layout::KERNEL_HEAP_BYTES` of fresh frames at `layout::KERNEL_HEAP_START` and
//! hands the range to `linked_list_allocator`. The heap does not grow; an allocation failure is
//! reported by `alloc_error_handler`-style panic from the `alloc` crate.

#![allow(unsafe_code)]

use linked_list_allocator::LockedHeap;
use x86_64::VirtAddr;

use super::layout::{KERNEL_HEAP_BYTES, KERNEL_HEAP_START};
use super::paging::{self, MapError};

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

/// Maps the heap region and makes it the global allocator's memory.
///
/// # Errors
/// Returns the mapping error when frames run out.
pub fn init() -> Result<(), MapError> {
    let start = VirtAddr::new(KERNEL_HEAP_START);
    paging::map_kernel_data(start, KERNEL_HEAP_BYTES)?;
    // SAFETY: the range [KERNEL_HEAP_START, +KERNEL_HEAP_BYTES) was just mapped writable with
    // fresh frames that nothing else references, it is reserved for the heap in `layout.rs`,
    // and `init` runs once (boot path), so the allocator gets exclusive, 'static memory.
    unsafe { HEAP.lock().init(start.as_mut_ptr(), KERNEL_HEAP_BYTES as usize) };
    Ok(())
}

/// Returns (used, free) heap bytes.
pub fn usage_bytes() -> (usize, usize) {
    let heap = HEAP.lock();
    (heap.used(), heap.free())
}
