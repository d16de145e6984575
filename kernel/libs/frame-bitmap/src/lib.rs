//! A bitmap allocator for 4 KiB physical frames over caller-supplied storage.
//!
//! [`FrameBitmap`] tracks frames `0..frame_count` with one bit each in a `&mut [u64]` the caller
//! owns: a set bit means the frame is in use, a clear bit means it is free. It starts with every
//! frame in use; the kernel then marks the usable ranges of the memory map free with
//! [`FrameBitmap::mark_free`] and hands frames out with [`FrameBitmap::allocate`] and
//! [`FrameBitmap::allocate_contiguous`]. Every operation reports misuse (a double free, a frame
//! out of range) as a [`BitmapError`] instead of corrupting the counts.
//!
//! Frame indices are plain `usize`s here: this crate is pure bookkeeping. The kernel's
//! `kernel/src/mm/frame.rs` wraps it in a lock, turns indices into physical frames, and hands out
//! owning frame types.
//!
//! Invariants kept by every method:
//! - `free_count` equals the number of clear bits among frames `0..frame_count`;
//! - bits for the padding frames `frame_count..` in the last word stay set, so scans never hand
//!   them out.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;
use core::ops::Range;

/// Size of one physical frame in bytes.
pub const FRAME_SIZE_BYTES: u64 = 4096;

/// Number of frames one storage word tracks.
const FRAMES_PER_WORD: usize = u64::BITS as usize;

/// A storage word whose frames are all in use.
const WORD_ALL_USED: u64 = u64::MAX;

/// Errors reported by [`FrameBitmap`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BitmapError {
    /// The storage slice is too short for the number of frames.
    StorageTooSmall {
        /// Words the caller supplied.
        words_provided: usize,
        /// Words needed for the requested frame count.
        words_needed: usize,
    },
    /// A range's start lies after its end.
    RangeReversed {
        /// First frame of the range.
        start: usize,
        /// One past the last frame of the range.
        end: usize,
    },
    /// A range reaches past the last tracked frame.
    RangeOutOfBounds {
        /// First frame of the range.
        start: usize,
        /// One past the last frame of the range.
        end: usize,
        /// Number of frames the bitmap tracks.
        frame_count: usize,
    },
    /// `first + count` does not fit in a `usize`.
    CountOverflow {
        /// First frame of the run.
        first: usize,
        /// Number of frames in the run.
        count: usize,
    },
    /// A single frame index is not tracked by the bitmap.
    FrameOutOfRange {
        /// The frame index.
        frame: usize,
        /// Number of frames the bitmap tracks.
        frame_count: usize,
    },
    /// A frame that is already free was freed again.
    DoubleFree {
        /// The frame that was already free.
        frame: usize,
    },
    /// A contiguous operation asked for zero frames.
    ZeroCount,
    /// A contiguous allocation asked for an alignment that is not a power of two.
    BadAlignment {
        /// The requested alignment in frames.
        align_frames: usize,
    },
    /// No free run of the requested length and alignment exists.
    NoContiguousRun {
        /// The requested number of frames.
        count: usize,
        /// The requested alignment in frames.
        align_frames: usize,
        /// Frames free at the time of the request (possibly fragmented).
        free_frames: usize,
    },
}

impl fmt::Display for BitmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            BitmapError::StorageTooSmall {
                words_provided,
                words_needed,
            } => write!(
                f,
                "frame bitmap storage has {words_provided} words, {words_needed} are needed"
            ),
            BitmapError::RangeReversed { start, end } => {
                write!(f, "frame range {start}..{end} starts after it ends")
            }
            BitmapError::RangeOutOfBounds {
                start,
                end,
                frame_count,
            } => write!(
                f,
                "frame range {start}..{end} reaches past the {frame_count} tracked frames"
            ),
            BitmapError::CountOverflow { first, count } => {
                write!(
                    f,
                    "frame run of {count} frames at frame {first} overflows the index type"
                )
            }
            BitmapError::FrameOutOfRange { frame, frame_count } => {
                write!(
                    f,
                    "frame {frame} is out of range: only {frame_count} frames are tracked"
                )
            }
            BitmapError::DoubleFree { frame } => {
                write!(
                    f,
                    "frame {frame} is freed but is already free (double free)"
                )
            }
            BitmapError::ZeroCount => write!(f, "a contiguous frame run of 0 frames was requested"),
            BitmapError::BadAlignment { align_frames } => write!(
                f,
                "frame alignment {align_frames} is not a power of two (1, 2, 4, ...)"
            ),
            BitmapError::NoContiguousRun {
                count,
                align_frames,
                free_frames,
            } => write!(
                f,
                "no free run of {count} frames aligned to {align_frames} frames \
                 ({free_frames} frames are free)"
            ),
        }
    }
}

/// A physical frame allocator with one bit per frame (set = in use).
pub struct FrameBitmap<'a> {
    /// Exactly `words_needed(frame_count)` words; padding bits past `frame_count` stay set.
    words: &'a mut [u64],
    /// Number of frames tracked.
    frame_count: usize,
    /// Number of clear bits among frames `0..frame_count`.
    free_count: usize,
    /// Word index at which [`FrameBitmap::allocate`] starts its search.
    search_hint_word: usize,
}

impl fmt::Debug for FrameBitmap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameBitmap")
            .field("frame_count", &self.frame_count)
            .field("free_count", &self.free_count)
            .field("search_hint_word", &self.search_hint_word)
            .finish_non_exhaustive()
    }
}

impl<'a> FrameBitmap<'a> {
    /// Returns the number of `u64` words needed to track `frame_count` frames.
    pub const fn words_needed(frame_count: usize) -> usize {
        frame_count.div_ceil(FRAMES_PER_WORD)
    }

    /// Creates a bitmap over `words` tracking frames `0..frame_count`, all initially in use.
    ///
    /// Only the first [`FrameBitmap::words_needed`] words are used (and overwritten); extra
    /// words are left untouched.
    ///
    /// # Errors
    /// Returns [`BitmapError::StorageTooSmall`] when `words` is shorter than
    /// `words_needed(frame_count)`.
    pub fn new(words: &'a mut [u64], frame_count: usize) -> Result<Self, BitmapError> {
        let words_provided = words.len();
        let words_needed = Self::words_needed(frame_count);
        let words = words
            .get_mut(..words_needed)
            .ok_or(BitmapError::StorageTooSmall {
                words_provided,
                words_needed,
            })?;
        words.fill(WORD_ALL_USED);
        Ok(FrameBitmap {
            words,
            frame_count,
            free_count: 0,
            search_hint_word: 0,
        })
    }

    /// Marks frames `frames.start..frames.end` free; frames already free stay free.
    ///
    /// This is for building the initial state from the memory map, so it does not report
    /// double frees; use [`FrameBitmap::free`] or [`FrameBitmap::free_contiguous`] to return
    /// allocated frames. An empty range does nothing.
    ///
    /// # Errors
    /// Returns [`BitmapError::RangeReversed`] when `start > end` and
    /// [`BitmapError::RangeOutOfBounds`] when `end > frame_count`; the bitmap is unchanged then.
    pub fn mark_free(&mut self, frames: Range<usize>) -> Result<(), BitmapError> {
        self.check_range(&frames)?;
        self.for_each_word_mask(frames, |word, mask, free_count| {
            *free_count += (*word & mask).count_ones() as usize;
            *word &= !mask;
        });
        Ok(())
    }

    /// Marks frames `frames.start..frames.end` in use (reservations); frames already in use stay
    /// in use.
    ///
    /// An empty range does nothing.
    ///
    /// # Errors
    /// Returns [`BitmapError::RangeReversed`] when `start > end` and
    /// [`BitmapError::RangeOutOfBounds`] when `end > frame_count`; the bitmap is unchanged then.
    pub fn mark_used(&mut self, frames: Range<usize>) -> Result<(), BitmapError> {
        self.check_range(&frames)?;
        self.for_each_word_mask(frames, |word, mask, free_count| {
            *free_count -= (!*word & mask).count_ones() as usize;
            *word |= mask;
        });
        Ok(())
    }

    /// Allocates one frame and returns its index, or `None` when every frame is in use.
    ///
    /// The search starts at a hint word (the word of the last allocation, moved down whenever a
    /// lower frame is freed) and takes the lowest free frame from there, wrapping around once.
    /// Full words are skipped with one comparison each, so the worst case is O(words).
    #[must_use = "dropping the index leaks the allocated frame"]
    pub fn allocate(&mut self) -> Option<usize> {
        if self.free_count == 0 {
            return None;
        }
        let word_count = self.words.len();
        for step in 0..word_count {
            let word_index = (self.search_hint_word + step) % word_count;
            let word = self.words[word_index];
            if word != WORD_ALL_USED {
                let bit = (!word).trailing_zeros() as usize;
                self.words[word_index] = word | (1 << bit);
                self.free_count -= 1;
                self.search_hint_word = word_index;
                let frame = word_index * FRAMES_PER_WORD + bit;
                debug_assert!(frame < self.frame_count, "padding bit {frame} was clear");
                return Some(frame);
            }
        }
        debug_assert!(false, "free_count {} but no clear bit", self.free_count);
        None
    }

    /// Allocates `count` contiguous frames whose first index is a multiple of `align_frames`,
    /// and returns the first index.
    ///
    /// Runs may cross word boundaries. The lowest-addressed fitting run is taken.
    ///
    /// # Errors
    /// - [`BitmapError::ZeroCount`] when `count` is 0;
    /// - [`BitmapError::BadAlignment`] when `align_frames` is not a power of two;
    /// - [`BitmapError::NoContiguousRun`] when no free, aligned run of `count` frames exists.
    pub fn allocate_contiguous(
        &mut self,
        count: usize,
        align_frames: usize,
    ) -> Result<usize, BitmapError> {
        if count == 0 {
            return Err(BitmapError::ZeroCount);
        }
        if !align_frames.is_power_of_two() {
            return Err(BitmapError::BadAlignment { align_frames });
        }
        let first = self
            .find_run(count, align_frames)
            .ok_or(BitmapError::NoContiguousRun {
                count,
                align_frames,
                free_frames: self.free_count,
            })?;
        // `find_run` checked `first + count <= frame_count`.
        self.for_each_word_mask(first..first + count, |word, mask, free_count| {
            debug_assert_eq!(*word & mask, 0, "run handed out a used frame");
            *free_count -= mask.count_ones() as usize;
            *word |= mask;
        });
        Ok(first)
    }

    /// Frees one allocated frame.
    ///
    /// # Errors
    /// Returns [`BitmapError::FrameOutOfRange`] when `frame >= frame_count` and
    /// [`BitmapError::DoubleFree`] when the frame is already free.
    pub fn free(&mut self, frame: usize) -> Result<(), BitmapError> {
        if frame >= self.frame_count {
            return Err(BitmapError::FrameOutOfRange {
                frame,
                frame_count: self.frame_count,
            });
        }
        let word_index = frame / FRAMES_PER_WORD;
        let mask = 1 << (frame % FRAMES_PER_WORD);
        if self.words[word_index] & mask == 0 {
            return Err(BitmapError::DoubleFree { frame });
        }
        self.words[word_index] &= !mask;
        self.free_count += 1;
        self.search_hint_word = self.search_hint_word.min(word_index);
        Ok(())
    }

    /// Frees `count` allocated frames starting at `first`, all or nothing.
    ///
    /// # Errors
    /// - [`BitmapError::ZeroCount`] when `count` is 0;
    /// - [`BitmapError::CountOverflow`] when `first + count` overflows;
    /// - [`BitmapError::RangeOutOfBounds`] when the run reaches past `frame_count`;
    /// - [`BitmapError::DoubleFree`] naming the lowest frame of the run that is already free.
    ///
    /// On any error no frame is freed.
    pub fn free_contiguous(&mut self, first: usize, count: usize) -> Result<(), BitmapError> {
        if count == 0 {
            return Err(BitmapError::ZeroCount);
        }
        let end = first
            .checked_add(count)
            .ok_or(BitmapError::CountOverflow { first, count })?;
        self.check_range(&(first..end))?;
        if let Some(frame) = self
            .next_free_at_or_after(first)
            .filter(|&frame| frame < end)
        {
            return Err(BitmapError::DoubleFree { frame });
        }
        self.for_each_word_mask(first..end, |word, mask, free_count| {
            *free_count += mask.count_ones() as usize;
            *word &= !mask;
        });
        self.search_hint_word = self.search_hint_word.min(first / FRAMES_PER_WORD);
        Ok(())
    }

    /// Returns whether `frame` is free; `false` when it is out of range.
    pub fn is_free(&self, frame: usize) -> bool {
        frame < self.frame_count
            && self.words[frame / FRAMES_PER_WORD] & (1 << (frame % FRAMES_PER_WORD)) == 0
    }

    /// Returns the number of free frames.
    pub fn free_count(&self) -> usize {
        self.free_count
    }

    /// Returns the number of frames the bitmap tracks.
    pub fn frame_count(&self) -> usize {
        self.frame_count
    }

    /// Returns the number of frames in use.
    pub fn used_count(&self) -> usize {
        self.frame_count - self.free_count
    }

    /// Checks that `frames` is a forward range inside `0..frame_count`.
    fn check_range(&self, frames: &Range<usize>) -> Result<(), BitmapError> {
        if frames.start > frames.end {
            return Err(BitmapError::RangeReversed {
                start: frames.start,
                end: frames.end,
            });
        }
        if frames.end > self.frame_count {
            return Err(BitmapError::RangeOutOfBounds {
                start: frames.start,
                end: frames.end,
                frame_count: self.frame_count,
            });
        }
        Ok(())
    }

    /// Calls `update(word, mask, free_count)` for every word that holds frames of `frames`,
    /// with `mask` selecting exactly those frames. `frames` must be checked already.
    fn for_each_word_mask(
        &mut self,
        frames: Range<usize>,
        mut update: impl FnMut(&mut u64, u64, &mut usize),
    ) {
        let mut frame = frames.start;
        while frame < frames.end {
            let bit = frame % FRAMES_PER_WORD;
            let chunk_frames = (frames.end - frame).min(FRAMES_PER_WORD - bit);
            let mask = if chunk_frames == FRAMES_PER_WORD {
                WORD_ALL_USED
            } else {
                ((1 << chunk_frames) - 1) << bit
            };
            update(
                &mut self.words[frame / FRAMES_PER_WORD],
                mask,
                &mut self.free_count,
            );
            frame += chunk_frames;
        }
    }

    /// Returns the lowest free frame at or after `start`, skipping full words.
    fn next_free_at_or_after(&self, start: usize) -> Option<usize> {
        if start >= self.frame_count {
            return None;
        }
        let first_word = start / FRAMES_PER_WORD;
        // Treat the bits below `start` in its word as used.
        let below_start = !(WORD_ALL_USED << (start % FRAMES_PER_WORD));
        let mut word = self.words[first_word] | below_start;
        for word_index in first_word..self.words.len() {
            if word_index != first_word {
                word = self.words[word_index];
            }
            if word != WORD_ALL_USED {
                // Padding bits are set, so a clear bit is always a tracked frame.
                return Some(word_index * FRAMES_PER_WORD + (!word).trailing_zeros() as usize);
            }
        }
        None
    }

    /// Returns the lowest used frame in `start..end`, skipping empty words; `end` must be at
    /// most `frame_count`.
    fn next_used_in(&self, start: usize, end: usize) -> Option<usize> {
        let mut frame = start;
        while frame < end {
            let word_index = frame / FRAMES_PER_WORD;
            let word = self.words[word_index] & (WORD_ALL_USED << (frame % FRAMES_PER_WORD));
            if word != 0 {
                let used = word_index * FRAMES_PER_WORD + word.trailing_zeros() as usize;
                return (used < end).then_some(used);
            }
            // Saturates only when the last word is the last `usize` index range.
            frame = (word_index + 1).saturating_mul(FRAMES_PER_WORD);
        }
        None
    }

    /// Returns the first frame of the lowest free run of `count` frames aligned to
    /// `align_frames` (a power of two).
    fn find_run(&self, count: usize, align_frames: usize) -> Option<usize> {
        let mut candidate = 0;
        loop {
            let free = self.next_free_at_or_after(candidate)?;
            candidate = free.checked_next_multiple_of(align_frames)?;
            let end = candidate.checked_add(count)?;
            if end > self.frame_count {
                return None;
            }
            match self.next_used_in(candidate, end) {
                None => return Some(candidate),
                Some(used) => candidate = used + 1,
            }
        }
    }
}

#[cfg(test)]
mod tests;
