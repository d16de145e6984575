//! Turns the boot memory map into sorted, merged, page-aligned usable physical ranges.
//!
//! The boot crate (`boot/`) converts the bootloader's memory regions into [`Region`]s. The
//! kernel's memory setup (`kernel/src/mm/`) then calls [`usable_ranges`] with its own carve-outs
//! (kernel image, boot structures, global segment) as reservations and feeds the resulting
//! [`PhysRange`]s to the frame allocator; [`physical_end`] sizes the physical-memory direct map.
//!
//! Firmware maps are untidy: regions arrive unsorted, overlapping, adjacent, zero-length or not
//! page-aligned, and a usable region may overlap a reserved one. The rules here are:
//! - a byte is usable when some [`RegionKind::Usable`] region covers it and no region of another
//!   kind and no reservation does (anything non-usable wins);
//! - a page is handed out only when every byte of it is usable.
//!
//! Everything works in the caller's output slice; nothing is allocated.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

/// Size of a page in bytes: the granularity of the ranges [`usable_ranges`] returns.
pub const PAGE_SIZE_BYTES: u64 = 4096;

/// What the firmware or bootloader says a region of physical memory holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionKind {
    /// Free RAM the kernel may use.
    Usable,
    /// Memory the bootloader used (page tables, boot information, the kernel image).
    Bootloader,
    /// A BIOS (E820) region type the bootloader did not classify, with its raw type.
    UnknownBios(u32),
    /// A UEFI memory type the bootloader did not classify, with its raw type.
    UnknownUefi(u32),
    /// Memory that must not be used for any other reason.
    Reserved,
}

/// One entry of the boot memory map: physical bytes `start..end` of one kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First physical byte of the region.
    pub start: u64,
    /// One past the last physical byte of the region.
    pub end: u64,
    /// What the region holds.
    pub kind: RegionKind,
}

/// A half-open range `start..end` of physical addresses in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    /// First physical byte of the range.
    pub start: u64,
    /// One past the last physical byte of the range.
    pub end: u64,
}

impl PhysRange {
    /// Returns the length of the range in bytes; 0 when `end <= start`.
    pub const fn len_bytes(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// Returns whether the range holds no byte (`end <= start`).
    pub const fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// Returns whether `address` lies in `start..end`.
    pub const fn contains(&self, address: u64) -> bool {
        self.start <= address && address < self.end
    }

    /// Returns whether the two ranges share at least one byte; empty ranges overlap nothing.
    pub const fn overlaps(&self, other: &PhysRange) -> bool {
        !self.is_empty() && !other.is_empty() && self.start < other.end && other.start < self.end
    }
}

/// Errors reported by [`usable_ranges`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemmapError {
    /// The output slice cannot hold every usable range.
    OutTooSmall {
        /// Length of the output slice.
        capacity: usize,
        /// Number of ranges the memory map yields.
        needed: usize,
    },
    /// A memory-map region ends before it starts.
    InvertedRegion {
        /// Index of the region in the `regions` slice.
        index: usize,
        /// The region's start.
        start: u64,
        /// The region's end.
        end: u64,
    },
    /// A reservation ends before it starts.
    InvertedReservation {
        /// Index of the range in the `reservations` slice.
        index: usize,
        /// The reservation's start.
        start: u64,
        /// The reservation's end.
        end: u64,
    },
    /// A usable region ends inside the last page of the 64-bit address space, so page rounding
    /// would overflow (no x86-64 machine has physical memory there).
    AddressOverflow {
        /// Index of the region in the `regions` slice.
        index: usize,
        /// The region's start.
        start: u64,
        /// The region's end.
        end: u64,
    },
}

impl fmt::Display for MemmapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MemmapError::OutTooSmall { capacity, needed } => write!(
                f,
                "the memory map yields {needed} usable ranges but the output holds only {capacity}"
            ),
            MemmapError::InvertedRegion { index, start, end } => write!(
                f,
                "memory-map region {index} ends before it starts ({start:#x}..{end:#x})"
            ),
            MemmapError::InvertedReservation { index, start, end } => write!(
                f,
                "reservation {index} ends before it starts ({start:#x}..{end:#x})"
            ),
            MemmapError::AddressOverflow { index, start, end } => write!(
                f,
                "usable memory-map region {index} ({start:#x}..{end:#x}) ends in the last page \
                 of the 64-bit address space; page rounding overflows"
            ),
        }
    }
}

/// Computes the page-aligned usable physical ranges and writes them, sorted, into `out`.
///
/// Usable regions may be unsorted, overlapping, adjacent, zero-length or unaligned. Every region
/// of another kind and every `reservations` range is subtracted (non-usable wins over usable).
/// What remains is merged into maximal ranges, each is rounded inward to [`PAGE_SIZE_BYTES`]
/// (start up, end down), and empty ones are dropped. Merging happens before rounding, so a page
/// covered by two adjacent unaligned usable regions is kept. The results are sorted by start,
/// page-aligned, non-empty, and neither overlap nor touch each other.
///
/// Returns the number of ranges written to the front of `out`.
///
/// Runs in O((regions + reservations)²) time without allocating.
///
/// # Errors
/// - [`MemmapError::InvertedRegion`] / [`MemmapError::InvertedReservation`] for an entry with
///   `end < start`;
/// - [`MemmapError::AddressOverflow`] for a usable region ending in the last page of the 64-bit
///   address space;
/// - [`MemmapError::OutTooSmall`] naming how many ranges were needed; `out` then holds the first
///   `out.len()` of them.
pub fn usable_ranges(
    regions: &[Region],
    reservations: &[PhysRange],
    out: &mut [PhysRange],
) -> Result<usize, MemmapError> {
    validate(regions, reservations)?;
    let map = Map {
        regions,
        reservations,
    };
    let mut written = 0;
    let mut needed = 0;
    let mut emit = |start: u64, end: u64| {
        // `validate` guarantees the round-up fits: `start` lies below a usable region's end.
        let Some(page_start) = start.checked_next_multiple_of(PAGE_SIZE_BYTES) else {
            return;
        };
        let page_end = end - end % PAGE_SIZE_BYTES;
        if page_start < page_end {
            if let Some(slot) = out.get_mut(written) {
                *slot = PhysRange {
                    start: page_start,
                    end: page_end,
                };
                written += 1;
            }
            needed += 1;
        }
    };

    // Sweep over every boundary in ascending order. Between two consecutive boundaries no
    // interval starts or ends, so a segment is usable exactly when its first byte is.
    let mut piece_start = None;
    let mut cursor = map.next_boundary_after(None);
    while let Some(position) = cursor {
        let usable = map.usable_at(position);
        match (usable, piece_start) {
            (true, None) => piece_start = Some(position),
            (false, Some(start)) => {
                emit(start, position);
                piece_start = None;
            }
            _ => {}
        }
        cursor = map.next_boundary_after(Some(position));
    }
    // The last boundary is the highest end of any interval, where nothing is usable, so every
    // piece has been closed.
    debug_assert!(
        piece_start.is_none(),
        "usable piece left open at the end of the sweep"
    );

    if needed > written {
        return Err(MemmapError::OutTooSmall {
            capacity: out.len(),
            needed,
        });
    }
    Ok(written)
}

/// Returns the end of the highest non-empty region of any kind, rounded up to
/// [`PAGE_SIZE_BYTES`]: the size the physical-memory direct map must cover.
///
/// Returns 0 when there is no non-empty region. A region ending in the last page of the 64-bit
/// address space cannot be rounded up; the result then saturates to `u64::MAX`.
pub fn physical_end(regions: &[Region]) -> u64 {
    let highest_end = regions
        .iter()
        .filter(|region| region.start < region.end)
        .map(|region| region.end)
        .max()
        .unwrap_or(0);
    highest_end
        .checked_next_multiple_of(PAGE_SIZE_BYTES)
        .unwrap_or(u64::MAX)
}

/// Returns the sum of the lengths of `ranges` in bytes (saturating; empty ranges count 0).
pub fn total_bytes(ranges: &[PhysRange]) -> u64 {
    ranges
        .iter()
        .fold(0, |total, range| total.saturating_add(range.len_bytes()))
}

/// Checks every region and reservation for the errors [`usable_ranges`] reports.
fn validate(regions: &[Region], reservations: &[PhysRange]) -> Result<(), MemmapError> {
    for (index, region) in regions.iter().enumerate() {
        let Region { start, end, kind } = *region;
        if end < start {
            return Err(MemmapError::InvertedRegion { index, start, end });
        }
        if kind == RegionKind::Usable && end.checked_next_multiple_of(PAGE_SIZE_BYTES).is_none() {
            return Err(MemmapError::AddressOverflow { index, start, end });
        }
    }
    for (index, reservation) in reservations.iter().enumerate() {
        let PhysRange { start, end } = *reservation;
        if end < start {
            return Err(MemmapError::InvertedReservation { index, start, end });
        }
    }
    Ok(())
}

/// The validated inputs of [`usable_ranges`], with the queries the sweep needs.
struct Map<'a> {
    regions: &'a [Region],
    reservations: &'a [PhysRange],
}

impl Map<'_> {
    /// Returns every non-empty interval with whether it is usable (`true`) or blocking.
    fn intervals(&self) -> impl Iterator<Item = (PhysRange, bool)> + '_ {
        let regions = self.regions.iter().map(|region| {
            (
                PhysRange {
                    start: region.start,
                    end: region.end,
                },
                region.kind == RegionKind::Usable,
            )
        });
        let reservations = self.reservations.iter().map(|&range| (range, false));
        regions
            .chain(reservations)
            .filter(|(range, _)| !range.is_empty())
    }

    /// Returns the lowest interval boundary above `position` (any boundary for `None`).
    fn next_boundary_after(&self, position: Option<u64>) -> Option<u64> {
        self.intervals()
            .flat_map(|(range, _)| [range.start, range.end])
            .filter(|&boundary| position.is_none_or(|position| boundary > position))
            .min()
    }

    /// Returns whether the byte at `address` is covered by a usable region and by nothing else.
    fn usable_at(&self, address: u64) -> bool {
        let mut covered = false;
        for (range, usable) in self.intervals() {
            if range.contains(address) {
                if !usable {
                    return false;
                }
                covered = true;
            }
        }
        covered
    }
}

#[cfg(test)]
mod tests;
