//! The kernel heap: a linked-list allocator over a region that grows from the frame allocator.
//!
//! [`init`] maps the `heap_bytes` kernel argument's worth of frames (16 MiB by default) at
//! `layout::KERNEL_HEAP_START`. When an allocation finds no hole big enough, the heap maps more
//! frames at its end (at least [`GROW_BYTES`] at a time, up to `layout::KERNEL_HEAP_MAX_BYTES`)
//! and retries, so per-process kernel state (the process table's entries) scales with the number
//! of processes instead of a fixed heap size. Grown memory is never given back to the frame
//! allocator (the freed holes are reused); [`grown_frames`] says how much there is, for reports
//! and for tests that compare free frames before and after. When no frame is left the allocation
//! fails: code that a process can repeat allocates with `try_reserve`/`Box::try_new` and turns
//! that into an error for the process, never a kernel panic.

#![allow(unsafe_code)]

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use core::sync::atomic::{AtomicU64, Ordering};

use linked_list_allocator::Heap;
use spin::Mutex;
use x86_64::VirtAddr;

use super::layout::{KERNEL_HEAP_MAX_BYTES, KERNEL_HEAP_START, PAGE_BYTES};
use super::paging::{self, MapError};

/// The least the heap grows by at once (64 pages), so growth is rare.
pub const GROW_BYTES: u64 = 256 * 1024;

/// The heap and the end of its mapped region.
struct GrowingHeap {
    heap: Mutex<Heap>,
}

#[global_allocator]
static HEAP: GrowingHeap = GrowingHeap { heap: Mutex::new(Heap::empty()) };
/// Frames mapped for the heap after boot, with the page tables that map them.
static GROWN_FRAMES: AtomicU64 = AtomicU64::new(0);

// SAFETY: `alloc` hands out blocks of the linked-list heap (disjoint, aligned as asked, inside
// mapped memory that only the heap uses); `dealloc` returns them. Growth maps fresh frames right
// after the heap's top before it extends the heap over them.
unsafe impl GlobalAlloc for GrowingHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let mut heap = self.heap.lock();
        if let Ok(block) = heap.allocate_first_fit(layout) {
            return block.as_ptr();
        }
        // Room for the block, its alignment and the allocator's hole header.
        let needed = (layout.size() + layout.align() + 64) as u64;
        let grow = needed.div_ceil(PAGE_BYTES) * PAGE_BYTES;
        let grow = grow.max(GROW_BYTES);
        let top = heap.top() as u64;
        let limit = KERNEL_HEAP_START + KERNEL_HEAP_MAX_BYTES;
        let grow = grow.min(limit.saturating_sub(top));
        let tables_before = paging::kernel_table_frames();
        let mapped = paging::grow_kernel_data(VirtAddr::new(top), grow);
        // The page tables the growth needed belong to the heap too.
        let tables = paging::kernel_table_frames() - tables_before;
        GROWN_FRAMES.fetch_add(mapped / PAGE_BYTES + tables, Ordering::Relaxed);
        if mapped == 0 {
            return ptr::null_mut();
        }
        // SAFETY: `mapped` bytes right after the heap's top were just mapped writable with
        // fresh frames that nothing else references; they stay mapped for the kernel's life.
        unsafe { heap.extend(mapped as usize) };
        heap.allocate_first_fit(layout).map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if let Some(block) = NonNull::new(block) {
            // SAFETY: the caller passes a block `alloc` returned with this layout (the
            // `GlobalAlloc` contract).
            unsafe { self.heap.lock().deallocate(block, layout) };
        }
    }
}

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
    unsafe { HEAP.heap.lock().init(start.as_mut_ptr(), bytes as usize) };
    Ok(())
}

/// Returns (used, free) heap bytes.
pub fn usage_bytes() -> (usize, usize) {
    let heap = HEAP.heap.lock();
    (heap.used(), heap.free())
}

/// Returns how many frames the heap took from the frame allocator after boot (kept for reuse).
pub fn grown_frames() -> u64 {
    GROWN_FRAMES.load(Ordering::Relaxed)
}
