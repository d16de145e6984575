//! The modules' allocator: a bump arena in static memory, emptied after every invocation.
//!
//! A function module allocates only while one invocation runs, and nothing it allocates outlives
//! the invocation. So the arena hands out memory from a fixed static array by bumping an offset,
//! frees only the most recent block (which makes a growing `Vec` or `String` grow in place), and is
//! emptied as a whole by [`Arena::reset`] when the handler returns ([`function_module!`] does
//! that). The array is part of the module's linear memory from the start, so the module never
//! calls `memory.grow`: an instance's memory is fixed at instantiation and the same for every
//! invocation, which keeps the density measurements steady. A request the arena cannot satisfy
//! returns null, which Rust turns into a trap.
//!
//! The modules are single-threaded (wasm32-unknown-unknown without the threads proposal), which
//! is what makes the interior mutability below sound.
//!
//! [`function_module!`]: crate::function_module

use core::alloc::{GlobalAlloc, Layout};
use core::cell::UnsafeCell;
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

/// A bump allocator over `BYTES` bytes of static memory.
pub struct Arena<const BYTES: usize> {
    /// The memory handed out.
    memory: UnsafeCell<[u8; BYTES]>,
    /// Offset of the first free byte.
    used: AtomicUsize,
    /// Offset where the most recent block starts (the only one that can be freed or grown).
    last: AtomicUsize,
    /// The most bytes ever in use (across resets): what the arena's size must cover.
    peak: AtomicUsize,
}

// SAFETY: the arena is only used by one thread: function modules run in a single-threaded
// WebAssembly instance (wasm32-unknown-unknown has no threads here), and host unit tests never
// install it as the global allocator. The offsets are atomics anyway, and each byte of `memory` is
// reachable only through the block `alloc` handed out for it.
unsafe impl<const BYTES: usize> Sync for Arena<BYTES> {}

impl<const BYTES: usize> Default for Arena<BYTES> {
    fn default() -> Arena<BYTES> {
        Arena::new()
    }
}

impl<const BYTES: usize> Arena<BYTES> {
    /// Returns an empty arena.
    pub const fn new() -> Arena<BYTES> {
        Arena { memory: UnsafeCell::new([0; BYTES]), used: AtomicUsize::new(0), last: AtomicUsize::new(0), peak: AtomicUsize::new(0) }
    }

    /// Returns the bytes in use.
    pub fn used_bytes(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Returns the most bytes ever in use, across resets.
    pub fn peak_bytes(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// Empties the arena.
    ///
    /// # Safety
    /// No block handed out by this arena may be used after the call (every one has been freed or
    /// is never touched again).
    pub unsafe fn reset(&self) {
        self.used.store(0, Ordering::Relaxed);
        self.last.store(0, Ordering::Relaxed);
    }

    /// Returns the address of the arena's first byte.
    fn base(&self) -> *mut u8 {
        self.memory.get().cast::<u8>()
    }

    /// Returns the offset of a new block of `layout`, or `None` when it does not fit.
    fn reserve(&self, layout: Layout) -> Option<usize> {
        let base = self.base().addr();
        let used = self.used.load(Ordering::Relaxed);
        let start = base.checked_add(used)?.checked_next_multiple_of(layout.align())? - base;
        let end = start.checked_add(layout.size())?;
        if end > BYTES {
            return None;
        }
        self.set_used(end);
        self.last.store(start, Ordering::Relaxed);
        Some(start)
    }

    /// Moves the free offset to `end`, keeping the peak.
    fn set_used(&self, end: usize) {
        self.used.store(end, Ordering::Relaxed);
        self.peak.fetch_max(end, Ordering::Relaxed);
    }

    /// Returns the offset of `pointer` inside the arena.
    fn offset_of(&self, pointer: *mut u8) -> usize {
        pointer.addr().wrapping_sub(self.base().addr())
    }
}

// SAFETY: `alloc` hands out disjoint blocks inside `memory` (each starts at or after the end of
// the previous one, aligned as asked, and ends inside the array), so no two live blocks overlap;
// `dealloc` and `realloc` only move the free offset back for the most recent block, whose memory no
// other live block shares; `reset` is unsafe and its caller promises no block is still in use.
unsafe impl<const BYTES: usize> GlobalAlloc for Arena<BYTES> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.reserve(layout) {
            Some(start) => self.base().wrapping_add(start),
            None => ptr::null_mut(),
        }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        let start = self.offset_of(pointer);
        if start == self.last.load(Ordering::Relaxed) && start + layout.size() == self.used.load(Ordering::Relaxed) {
            self.used.store(start, Ordering::Relaxed);
        }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = self.offset_of(pointer);
        let is_last = start == self.last.load(Ordering::Relaxed) && start + layout.size() == self.used.load(Ordering::Relaxed);
        if is_last && let Some(end) = start.checked_add(new_size).filter(|&end| end <= BYTES) {
            self.set_used(end);
            return pointer;
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else { return ptr::null_mut() };
        // SAFETY: `new_layout` has a non-zero size (the caller's duty for `realloc`).
        let new_pointer = unsafe { self.alloc(new_layout) };
        if !new_pointer.is_null() {
            // SAFETY: the old block is live and `layout.size()` long; the new one is at least
            // `min(old, new)` long and lies after the old one (blocks never overlap).
            unsafe { ptr::copy_nonoverlapping(pointer, new_pointer, layout.size().min(new_size)) };
        }
        new_pointer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_disjoint_and_bounded() {
        let arena: Box<Arena<256>> = Box::default();
        let layout = Layout::from_size_align(10, 8).unwrap();
        // SAFETY: the blocks are only compared, never dereferenced after the reset.
        unsafe {
            let a = arena.alloc(layout);
            let b = arena.alloc(layout);
            assert_eq!(a.addr() % 8, 0);
            assert_eq!(b.addr() % 8, 0);
            assert!(b.addr() >= a.addr() + 10);
            assert!(arena.alloc(Layout::from_size_align(1024, 1).unwrap()).is_null());
            let peak = arena.used_bytes();
            arena.reset();
            assert_eq!(arena.used_bytes(), 0);
            assert_eq!(arena.peak_bytes(), peak);
            assert_eq!(arena.alloc(layout), a);
        }
    }

    #[test]
    fn the_last_block_frees_and_grows_in_place() {
        let arena: Box<Arena<256>> = Box::default();
        let layout = Layout::from_size_align(16, 1).unwrap();
        // SAFETY: the blocks are written within their sizes and freed with their layouts.
        unsafe {
            let a = arena.alloc(layout);
            a.write_bytes(7, 16);
            let grown = arena.realloc(a, layout, 64);
            assert_eq!(grown, a);
            assert_eq!(arena.used_bytes(), 64);
            let b = arena.alloc(layout);
            let moved = arena.realloc(grown, Layout::from_size_align(64, 1).unwrap(), 100);
            assert_ne!(moved, grown);
            assert_eq!(*moved.add(15), 7);
            arena.dealloc(moved, Layout::from_size_align(100, 1).unwrap());
            assert_eq!(arena.used_bytes(), 80);
            arena.dealloc(b, layout);
            assert_eq!(arena.used_bytes(), 80, "only the most recent block is freed");
        }
    }
}
