//! The physical frame allocator: a lock around `frame-bitmap`, handing out [`OwnedFrame`]s.
//!
//! At boot [`init`] turns the firmware's memory map into usable ranges (`memmap`), keeps the
//! first MiB out (legacy BIOS areas, and frame 0 is never a valid allocation), carves the bitmap's
//! own storage out of usable memory, and marks the rest free. An [`OwnedFrame`] is exclusively
//! owned and returns to the pool when dropped; frames that become permanent kernel structures
//! (page tables of the kernel half) are [`OwnedFrame::leak`]ed on purpose.

#![deny(unsafe_code)]

extern crate alloc;

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use frame_bitmap::{BitmapError, FrameBitmap};
use memmap::{PhysRange, Region};
use spin::Mutex;
use x86_64::PhysAddr;
use x86_64::structures::paging::{PhysFrame, Size4KiB};

use super::layout::PAGE_BYTES;
use super::paging;

/// Physical memory below this address is never handed out.
pub const LOW_MEMORY_RESERVED_BYTES: u64 = 1024 * 1024;
/// The most usable ranges the allocator accepts from the memory map.
const MAX_USABLE_RANGES: usize = 256;

static FRAMES: Mutex<Option<FrameBitmap<'static>>> = Mutex::new(None);
/// Bytes of frames the kernel zeroed since boot (fresh tables, zeroed pages).
static BYTES_ZEROED: AtomicU64 = AtomicU64::new(0);
/// Bytes the kernel copied frame to frame since boot (page-table templates, pristine pages).
static BYTES_COPIED: AtomicU64 = AtomicU64::new(0);

/// Counts `bytes` of frame memory zeroed (for the per-spawn cost report).
pub fn count_zeroed(bytes: u64) {
    BYTES_ZEROED.fetch_add(bytes, Ordering::Relaxed);
}

/// Counts `bytes` of frame memory copied (for the per-spawn cost report).
pub fn count_copied(bytes: u64) {
    BYTES_COPIED.fetch_add(bytes, Ordering::Relaxed);
}

/// Returns (bytes zeroed, bytes copied) since boot: the difference across an operation is what
/// it wrote into fresh frames.
pub fn bytes_written() -> (u64, u64) {
    (BYTES_ZEROED.load(Ordering::Relaxed), BYTES_COPIED.load(Ordering::Relaxed))
}

/// Errors while setting up the frame allocator.
#[derive(Clone, Copy, Debug)]
pub enum FrameError {
    /// The memory map could not be turned into usable ranges.
    MemoryMap(memmap::MemmapError),
    /// No usable range is large enough to hold the allocator's bitmap.
    NoRoomForBitmap {
        /// Bytes the bitmap needs.
        needed_bytes: u64,
    },
    /// The bitmap refused a range (a bug in the range computation).
    Bitmap(BitmapError),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::MemoryMap(error) => write!(f, "memory map: {error}"),
            FrameError::NoRoomForBitmap { needed_bytes } => {
                write!(f, "no usable memory range can hold the {needed_bytes}-byte frame bitmap")
            }
            FrameError::Bitmap(error) => write!(f, "frame bitmap: {error}"),
        }
    }
}

/// What [`init`] found, for the boot log.
#[derive(Clone, Copy, Debug)]
pub struct FrameSummary {
    /// End of the highest physical region of any kind.
    pub physical_end: u64,
    /// Usable bytes the firmware reported, after rounding to pages.
    pub usable_bytes: u64,
    /// Number of usable ranges.
    pub usable_ranges: usize,
    /// Bytes taken by the bitmap itself.
    pub bitmap_bytes: u64,
    /// Frames free once the allocator is up.
    pub free_frames: usize,
}

/// A physical frame owned by exactly one holder; it returns to the allocator on drop.
#[derive(Debug)]
pub struct OwnedFrame(PhysFrame<Size4KiB>);

impl OwnedFrame {
    /// Returns the frame's physical address.
    pub fn start_address(&self) -> PhysAddr {
        self.0.start_address()
    }

    /// Gives up ownership without freeing: the frame stays allocated forever (kernel page
    /// tables, kernel stacks of the boot path).
    pub fn leak(self) -> PhysFrame<Size4KiB> {
        let frame = self.0;
        core::mem::forget(self);
        frame
    }
}

impl OwnedFrame {
    /// Takes back ownership of a frame that was [`leak`](OwnedFrame::leak)ed into a user page
    /// table, whose entry recorded the ownership (`paging::user::OWNED`).
    ///
    /// Memory-safe by itself (the allocator only marks the frame free when the result drops),
    /// but the caller must be the frame's one owner: a second reclaim of the same frame is a
    /// double free, which the allocator detects and reports as a kernel bug.
    pub(in crate::mm) fn reclaim(frame: PhysFrame<Size4KiB>) -> OwnedFrame {
        OwnedFrame(frame)
    }
}

impl Drop for OwnedFrame {
    fn drop(&mut self) {
        let index = frame_index(self.0);
        if let Some(bitmap) = FRAMES.lock().as_mut() {
            // A failure here means two owners of one frame: a kernel bug, not user input.
            if let Err(error) = bitmap.free(index) {
                panic!("freeing frame {:#x}: {error}", self.0.start_address().as_u64());
            }
        }
    }
}

/// Returns the bitmap index of `frame`.
fn frame_index(frame: PhysFrame<Size4KiB>) -> usize {
    (frame.start_address().as_u64() / PAGE_BYTES) as usize
}

/// Sets up the allocator from the firmware's memory map.
///
/// # Errors
/// Returns a [`FrameError`] when the map is unusable or no range can hold the bitmap.
pub fn init(regions: &[Region]) -> Result<FrameSummary, FrameError> {
    let physical_end = memmap::physical_end(regions);
    let reservations = [PhysRange { start: 0, end: LOW_MEMORY_RESERVED_BYTES }];
    let mut usable = [PhysRange { start: 0, end: 0 }; MAX_USABLE_RANGES];
    let count =
        memmap::usable_ranges(regions, &reservations, &mut usable).map_err(FrameError::MemoryMap)?;
    let usable = &usable[..count];

    let frame_count = (physical_end / PAGE_BYTES) as usize;
    let words = FrameBitmap::words_needed(frame_count);
    let bitmap_bytes = (words * core::mem::size_of::<u64>()) as u64;
    let bitmap_bytes_rounded = bitmap_bytes.div_ceil(PAGE_BYTES) * PAGE_BYTES;
    let home = usable
        .iter()
        .find(|range| range.len_bytes() >= bitmap_bytes_rounded)
        .ok_or(FrameError::NoRoomForBitmap { needed_bytes: bitmap_bytes_rounded })?;
    let storage_range = PhysRange { start: home.start, end: home.start + bitmap_bytes_rounded };
    let storage = paging::claim_boot_storage(storage_range, words);

    let mut bitmap = FrameBitmap::new(storage, frame_count).map_err(FrameError::Bitmap)?;
    for range in usable {
        let first = (range.start / PAGE_BYTES) as usize;
        let end = (range.end / PAGE_BYTES) as usize;
        bitmap.mark_free(first..end).map_err(FrameError::Bitmap)?;
    }
    let storage_first = (storage_range.start / PAGE_BYTES) as usize;
    let storage_end = (storage_range.end / PAGE_BYTES) as usize;
    bitmap.mark_used(storage_first..storage_end).map_err(FrameError::Bitmap)?;

    let summary = FrameSummary {
        physical_end,
        usable_bytes: memmap::total_bytes(usable),
        usable_ranges: usable.len(),
        bitmap_bytes,
        free_frames: bitmap.free_count(),
    };
    *FRAMES.lock() = Some(bitmap);
    Ok(summary)
}

/// Allocates one frame, or returns `None` when memory is exhausted.
pub fn allocate() -> Option<OwnedFrame> {
    let index = FRAMES.lock().as_mut()?.allocate()?;
    let address = PhysAddr::new(index as u64 * PAGE_BYTES);
    Some(OwnedFrame(PhysFrame::containing_address(address)))
}

/// Allocates one frame and fills it with zeros.
pub fn allocate_zeroed() -> Option<OwnedFrame> {
    let frame = allocate()?;
    paging::zero_frame(&frame);
    Some(frame)
}

/// Frames in a 2 MiB page.
pub const FRAMES_PER_LARGE_PAGE: usize = (super::layout::LARGE_PAGE_BYTES / PAGE_BYTES) as usize;

/// Allocates the 512 frames of one 2 MiB-aligned block of physical memory, in address order,
/// each owned (and freed) on its own; `None` when no free aligned block is left (memory may
/// still have free frames: fragmentation).
pub fn allocate_large_block() -> Option<alloc::vec::Vec<OwnedFrame>> {
    let first = FRAMES.lock().as_mut()?.allocate_contiguous(FRAMES_PER_LARGE_PAGE, FRAMES_PER_LARGE_PAGE).ok()?;
    Some(
        (first..first + FRAMES_PER_LARGE_PAGE)
            .map(|index| OwnedFrame(PhysFrame::containing_address(PhysAddr::new(index as u64 * PAGE_BYTES))))
            .collect(),
    )
}

/// Holds back free frames (allocated for good) until at most `keep_free` remain free: the
/// `max_frames` argument, which makes memory run out quickly in exhaustion tests. Returns how
/// many frames it held back.
pub fn hold_back(keep_free: usize) -> usize {
    let mut held = 0;
    while free_count() > keep_free {
        match allocate() {
            Some(frame) => {
                let _ = frame.leak();
                held += 1;
            }
            None => break,
        }
    }
    held
}

/// Returns the number of free frames.
pub fn free_count() -> usize {
    FRAMES.lock().as_ref().map_or(0, FrameBitmap::free_count)
}

/// Returns the number of frames in use (allocated, reserved, or not RAM).
pub fn used_count() -> usize {
    FRAMES.lock().as_ref().map_or(0, FrameBitmap::used_count)
}
