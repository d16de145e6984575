//! An O(1) round-robin run queue over caller-supplied link arrays.
//!
//! [`RunQueue`] orders process slots (indices `0..capacity` into the kernel's process table)
//! in a circular doubly linked list threaded through two `&mut [u32]` arrays the caller owns:
//! `next[slot]` and `prev[slot]`. A slot that is not queued has both links set to [`NONE`], so
//! membership needs no extra storage, and a slot can be queued at most once, which is also why
//! the queue can never overflow. The head is stored; the tail is `prev[head]`.
//!
//! Round robin is "pop the front, run it, push it back": [`RunQueue::pop_front`] and
//! [`RunQueue::push_back`]. [`RunQueue::push_front`] lets a woken or preempted-early process run
//! next, and [`RunQueue::remove`] takes out a process that blocks or dies wherever it sits.
//!
//! Every operation except [`RunQueue::new`] (which clears the arrays) and iteration is O(1) by
//! construction: those methods contain no loops, only a fixed number of link updates.
//!
//! The kernel's `kernel/src/process/scheduler.rs` owns the arrays (sized to the process table)
//! and drives this queue from the timer interrupt and the yield system call; this crate holds
//! only the policy, no context switching.
//!
//! Invariants kept by every method:
//! - a slot is queued exactly when `next[slot] != NONE`, and then `prev[slot] != NONE` too;
//! - following `next` from the head visits each queued slot once and returns to the head, and
//!   `prev` is its exact inverse;
//! - `len` equals the number of queued slots.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

/// The link value of a slot that is not queued, and the head of an empty queue.
pub const NONE: u32 = u32::MAX;

/// The largest capacity: every slot index in `0..MAX_CAPACITY` is below [`NONE`].
pub const MAX_CAPACITY: usize = NONE as usize;

/// Errors reported by [`RunQueue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueError {
    /// The `next` and `prev` arrays have different lengths.
    LengthMismatch {
        /// Length of the `next` array.
        next_len: usize,
        /// Length of the `prev` array.
        prev_len: usize,
    },
    /// The arrays are longer than [`MAX_CAPACITY`], so a slot index could equal [`NONE`].
    CapacityTooLarge {
        /// The requested capacity.
        capacity: usize,
    },
    /// The slot index is not below the queue's capacity.
    OutOfRange {
        /// The slot index.
        slot: u32,
        /// The queue's capacity.
        capacity: usize,
    },
    /// The slot is already in the queue.
    AlreadyQueued {
        /// The slot index.
        slot: u32,
    },
    /// The slot is not in the queue.
    NotQueued {
        /// The slot index.
        slot: u32,
    },
}

impl fmt::Display for QueueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            QueueError::LengthMismatch { next_len, prev_len } => write!(
                f,
                "run queue link arrays differ in length: next has {next_len}, prev has {prev_len}"
            ),
            QueueError::CapacityTooLarge { capacity } => write!(
                f,
                "run queue capacity {capacity} exceeds the maximum of {MAX_CAPACITY} slots"
            ),
            QueueError::OutOfRange { slot, capacity } => write!(
                f,
                "slot {slot} is out of range: the run queue has {capacity} slots"
            ),
            QueueError::AlreadyQueued { slot } => {
                write!(f, "slot {slot} is already in the run queue")
            }
            QueueError::NotQueued { slot } => write!(f, "slot {slot} is not in the run queue"),
        }
    }
}

/// A FIFO of process slots, linked through caller-supplied `next`/`prev` arrays.
pub struct RunQueue<'a> {
    /// `next[slot]`: the slot after `slot` (the head after the tail), or [`NONE`] if not queued.
    next: &'a mut [u32],
    /// `prev[slot]`: the slot before `slot` (the tail before the head), or [`NONE`] if not
    /// queued.
    prev: &'a mut [u32],
    /// The front of the queue, or [`NONE`] when empty.
    head: u32,
    /// Number of queued slots.
    len: usize,
}

impl fmt::Debug for RunQueue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunQueue")
            .field("capacity", &self.capacity())
            .field("len", &self.len)
            .field("head", &self.head)
            .finish_non_exhaustive()
    }
}

impl<'a> RunQueue<'a> {
    /// Creates an empty queue for slots `0..next.len()`, setting every link to [`NONE`].
    ///
    /// # Errors
    /// Returns [`QueueError::LengthMismatch`] when the arrays differ in length and
    /// [`QueueError::CapacityTooLarge`] when they are longer than [`MAX_CAPACITY`].
    pub fn new(next: &'a mut [u32], prev: &'a mut [u32]) -> Result<Self, QueueError> {
        check_lengths(next.len(), prev.len())?;
        next.fill(NONE);
        prev.fill(NONE);
        Ok(RunQueue {
            next,
            prev,
            head: NONE,
            len: 0,
        })
    }

    /// Appends `slot` at the back of the queue.
    ///
    /// # Errors
    /// Returns [`QueueError::OutOfRange`] when `slot >= capacity` and
    /// [`QueueError::AlreadyQueued`] when it is already queued; the queue is unchanged then.
    pub fn push_back(&mut self, slot: u32) -> Result<(), QueueError> {
        let index = self.index(slot)?;
        if self.next[index] != NONE {
            return Err(QueueError::AlreadyQueued { slot });
        }
        if self.head == NONE {
            self.next[index] = slot;
            self.prev[index] = slot;
            self.head = slot;
        } else {
            let head = self.head as usize;
            let tail = self.prev[head];
            self.next[tail as usize] = slot;
            self.prev[index] = tail;
            self.next[index] = self.head;
            self.prev[head] = slot;
        }
        self.len += 1;
        Ok(())
    }

    /// Inserts `slot` at the front of the queue, so it is popped next.
    ///
    /// # Errors
    /// Returns [`QueueError::OutOfRange`] when `slot >= capacity` and
    /// [`QueueError::AlreadyQueued`] when it is already queued; the queue is unchanged then.
    pub fn push_front(&mut self, slot: u32) -> Result<(), QueueError> {
        // In a ring, the front is the slot right after the tail.
        self.push_back(slot)?;
        self.head = slot;
        Ok(())
    }

    /// Removes and returns the slot at the front, or `None` when the queue is empty.
    pub fn pop_front(&mut self) -> Option<u32> {
        let head = self.front()?;
        self.unlink(head);
        Some(head)
    }

    /// Removes `slot` from wherever it sits in the queue.
    ///
    /// # Errors
    /// Returns [`QueueError::OutOfRange`] when `slot >= capacity` and
    /// [`QueueError::NotQueued`] when it is not queued; the queue is unchanged then.
    pub fn remove(&mut self, slot: u32) -> Result<(), QueueError> {
        let index = self.index(slot)?;
        if self.next[index] == NONE {
            return Err(QueueError::NotQueued { slot });
        }
        self.unlink(slot);
        Ok(())
    }

    /// Returns the slot at the front without removing it, or `None` when the queue is empty.
    pub fn front(&self) -> Option<u32> {
        (self.head != NONE).then_some(self.head)
    }

    /// Returns whether `slot` is queued; `false` when it is out of range.
    pub fn contains(&self, slot: u32) -> bool {
        self.next
            .get(slot as usize)
            .is_some_and(|&next| next != NONE)
    }

    /// Returns the number of queued slots.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Returns whether no slot is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Returns the number of slots the queue can hold (the length of the link arrays).
    pub fn capacity(&self) -> usize {
        self.next.len()
    }

    /// Returns an iterator over the queued slots from front to back.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            next: self.next,
            current: self.head,
            remaining: self.len,
        }
    }

    /// Returns `slot` as an array index after checking it is below the capacity.
    fn index(&self, slot: u32) -> Result<usize, QueueError> {
        let index = slot as usize;
        if index >= self.capacity() {
            return Err(QueueError::OutOfRange {
                slot,
                capacity: self.capacity(),
            });
        }
        Ok(index)
    }

    /// Unlinks a queued `slot` and marks it not queued.
    fn unlink(&mut self, slot: u32) {
        let index = slot as usize;
        let next = self.next[index];
        let prev = self.prev[index];
        debug_assert!(next != NONE && prev != NONE, "slot {slot} is not queued");
        if next == slot {
            // The only queued slot.
            self.head = NONE;
        } else {
            self.next[prev as usize] = next;
            self.prev[next as usize] = prev;
            if self.head == slot {
                self.head = next;
            }
        }
        self.next[index] = NONE;
        self.prev[index] = NONE;
        self.len -= 1;
    }
}

/// Iterates over a [`RunQueue`]'s slots from front to back; created by [`RunQueue::iter`].
#[derive(Clone, Debug)]
pub struct Iter<'q> {
    /// The queue's `next` links.
    next: &'q [u32],
    /// The slot to yield next.
    current: u32,
    /// Slots not yet yielded; the ring has no end marker, so this stops the walk.
    remaining: usize,
}

impl Iterator for Iter<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.remaining == 0 {
            return None;
        }
        let slot = self.current;
        self.current = self.next[slot as usize];
        self.remaining -= 1;
        Some(slot)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl core::iter::FusedIterator for Iter<'_> {}

impl<'q> IntoIterator for &'q RunQueue<'_> {
    type Item = u32;
    type IntoIter = Iter<'q>;

    fn into_iter(self) -> Iter<'q> {
        self.iter()
    }
}

/// Checks that link arrays of these lengths can back a queue.
fn check_lengths(next_len: usize, prev_len: usize) -> Result<(), QueueError> {
    if next_len != prev_len {
        return Err(QueueError::LengthMismatch { next_len, prev_len });
    }
    if next_len > MAX_CAPACITY {
        return Err(QueueError::CapacityTooLarge { capacity: next_len });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
