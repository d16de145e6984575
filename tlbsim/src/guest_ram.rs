//! The guest's RAM as the plugin sees it: a file that QEMU backs guest memory with.
//!
//! The plugin's page walks read the guest's paging structures. QEMU runs the guest with its
//! RAM in a shared file (`-object memory-backend-file,...,mem-path=FILE,share=on` and
//! `-machine q35,memory-backend=...`), and the plugin maps the same file read-only: every guest
//! write is visible to it at once, and a walk costs a few loads instead of a call into QEMU.
//!
//! [`RamLayout`] turns a guest physical address into an offset in that file. The q35 machine
//! places RAM in two pieces (QEMU `hw/i386/pc_q35.c`, `pc_q35_init`): the first
//! `below_4g_bytes` of the file at guest physical 0, the rest at 4 GiB. With the default
//! `max-ram-below-4g`, `below_4g_bytes` is the whole RAM when it is smaller than 2.75 GiB
//! (`0xb0000000`) and 2 GiB otherwise; [`RamLayout::q35`] applies that rule. Addresses in the
//! hole between `below_4g_bytes` and 4 GiB, and past the end of RAM, are not RAM (MMIO, the
//! PCI window): reading them gives `None`, and a walk through them faults as `Unreadable`.
//! Inside the low piece QEMU overlays legacy regions (VGA window, option ROMs, BIOS) on
//! `0xa0000..0x100000`; the file still holds RAM there and the plugin reads the file, which is
//! right for any paging structure a kernel puts there (none does).
//!
//! [`RamWords`] is the [`GuestMemory`] the walker reads: 64-bit words of the mapping, read
//! with relaxed atomic loads because QEMU writes the same memory concurrently. The mapping
//! itself (`mmap`) is made by the plugin's FFI module, which holds all the crate's unsafe code.

use core::sync::atomic::{AtomicU64, Ordering};

use crate::address::PhysicalAddress;
use crate::walk::GuestMemory;

/// 4 GiB: where q35 puts the RAM above the low piece.
pub const FOUR_GIB: u64 = 1 << 32;

/// RAM sizes at or above this (2.75 GiB) get a 2 GiB low piece on q35; smaller RAM lies
/// entirely below 4 GiB (QEMU `pc_q35_init`: "leaving 1/2 GByte for IO memory and 256 Mbytes
/// for PCI Express Enhanced Configuration Access Mapping").
pub const Q35_SPLIT_THRESHOLD_BYTES: u64 = 0xb000_0000;

/// The low piece's size when the RAM is split on q35.
pub const Q35_LOW_PIECE_BYTES: u64 = 0x8000_0000;

/// Where each byte of the RAM file appears in guest physical memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RamLayout {
    /// Size of the RAM (the file) in bytes.
    pub total_bytes: u64,
    /// Bytes of the file mapped at guest physical 0; the rest is mapped at 4 GiB.
    pub below_4g_bytes: u64,
}

/// Why a RAM layout is impossible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LayoutError {
    /// The low piece would reach past 4 GiB.
    LowPieceTooLarge(u64),
}

impl core::fmt::Display for LayoutError {
    fn fmt(&self, formatter: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            LayoutError::LowPieceTooLarge(bytes) => {
                write!(formatter, "ram_below_4g={bytes} reaches past 4 GiB")
            }
        }
    }
}

impl std::error::Error for LayoutError {}

impl RamLayout {
    /// Returns the layout q35 gives `total_bytes` of RAM with the default
    /// `max-ram-below-4g`: all of it below 4 GiB if it is smaller than 2.75 GiB, else 2 GiB
    /// below and the rest at 4 GiB.
    pub const fn q35(total_bytes: u64) -> RamLayout {
        let below_4g_bytes = if total_bytes >= Q35_SPLIT_THRESHOLD_BYTES {
            Q35_LOW_PIECE_BYTES
        } else {
            total_bytes
        };
        RamLayout {
            total_bytes,
            below_4g_bytes,
        }
    }

    /// Returns the layout with an explicit low-piece size (the plugin's `ram_below_4g`, for a
    /// machine run with `max-ram-below-4g`); a low piece larger than the RAM means all of it.
    ///
    /// # Errors
    ///
    /// Returns [`LayoutError::LowPieceTooLarge`] if the low piece would end above 4 GiB.
    pub fn with_low_piece(total_bytes: u64, below_4g_bytes: u64) -> Result<RamLayout, LayoutError> {
        let below_4g_bytes = below_4g_bytes.min(total_bytes);
        if below_4g_bytes > FOUR_GIB {
            return Err(LayoutError::LowPieceTooLarge(below_4g_bytes));
        }
        Ok(RamLayout {
            total_bytes,
            below_4g_bytes,
        })
    }

    /// Returns the file offset of guest physical address `address`, or `None` if no RAM is
    /// there.
    pub const fn file_offset(&self, address: PhysicalAddress) -> Option<u64> {
        let address = address.as_u64();
        if address < self.below_4g_bytes {
            Some(address)
        } else if address >= FOUR_GIB
            && address - FOUR_GIB < self.total_bytes.saturating_sub(self.below_4g_bytes)
        {
            Some(address - FOUR_GIB + self.below_4g_bytes)
        } else {
            None
        }
    }
}

/// Guest RAM as 64-bit words, read with relaxed atomic loads: the walker's [`GuestMemory`].
#[derive(Clone, Copy, Debug)]
pub struct RamWords<'a> {
    /// The RAM file's contents, word by word.
    words: &'a [AtomicU64],
    /// Where the words appear in guest physical memory.
    layout: RamLayout,
}

impl<'a> RamWords<'a> {
    /// Wraps `words`, the RAM file's contents, laid out by `layout`. Words past the end of
    /// `words` read as `None` even where `layout` says RAM.
    pub fn new(words: &'a [AtomicU64], layout: RamLayout) -> RamWords<'a> {
        RamWords { words, layout }
    }

    /// Returns the layout.
    pub fn layout(&self) -> RamLayout {
        self.layout
    }
}

impl GuestMemory for RamWords<'_> {
    fn read_u64(&self, address: PhysicalAddress) -> Option<u64> {
        let offset = self.layout.file_offset(address)?;
        let word = self.words.get(usize::try_from(offset / 8).ok()?)?;
        // The guest's RAM is little-endian, as the host here (x86-64).
        Some(u64::from_le(word.load(Ordering::Relaxed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    #[test]
    fn q35_split_rule() {
        // Below 2.75 GiB everything is low.
        for total in [128 * MIB, GIB, 2 * GIB, Q35_SPLIT_THRESHOLD_BYTES - MIB] {
            assert_eq!(RamLayout::q35(total).below_4g_bytes, total);
        }
        // From 2.75 GiB on, 2 GiB are low.
        for total in [Q35_SPLIT_THRESHOLD_BYTES, 3 * GIB, 8 * GIB] {
            assert_eq!(RamLayout::q35(total).below_4g_bytes, 2 * GIB);
        }
    }

    #[test]
    fn file_offsets_of_a_split_layout() {
        let layout = RamLayout::q35(3 * GIB);
        let offset = |address: u64| layout.file_offset(PhysicalAddress::new(address));
        assert_eq!(offset(0), Some(0));
        assert_eq!(offset(2 * GIB - 8), Some(2 * GIB - 8));
        assert_eq!(offset(2 * GIB), None);
        assert_eq!(offset(FOUR_GIB - 8), None);
        assert_eq!(offset(FOUR_GIB), Some(2 * GIB));
        assert_eq!(offset(FOUR_GIB + GIB - 8), Some(3 * GIB - 8));
        assert_eq!(offset(FOUR_GIB + GIB), None);
    }

    #[test]
    fn file_offsets_of_a_small_layout() {
        let layout = RamLayout::q35(GIB);
        assert_eq!(
            layout.file_offset(PhysicalAddress::new(GIB - 8)),
            Some(GIB - 8)
        );
        assert_eq!(layout.file_offset(PhysicalAddress::new(GIB)), None);
        assert_eq!(layout.file_offset(PhysicalAddress::new(FOUR_GIB)), None);
    }

    #[test]
    fn explicit_low_piece() {
        let layout = RamLayout::with_low_piece(4 * GIB, GIB).expect("valid");
        assert_eq!(layout.file_offset(PhysicalAddress::new(GIB)), None);
        assert_eq!(
            layout.file_offset(PhysicalAddress::new(FOUR_GIB)),
            Some(GIB)
        );
        assert_eq!(
            RamLayout::with_low_piece(GIB, 2 * GIB)
                .expect("valid")
                .below_4g_bytes,
            GIB
        );
        assert_eq!(
            RamLayout::with_low_piece(8 * GIB, 5 * GIB),
            Err(LayoutError::LowPieceTooLarge(5 * GIB))
        );
    }

    #[test]
    fn words_read_through_the_layout() {
        // 16 words: 8 below 4 GiB (64 bytes), 8 above.
        let words: Vec<AtomicU64> = (0..16)
            .map(|index| AtomicU64::new(index * 0x0101))
            .collect();
        let layout = RamLayout::with_low_piece(128, 64).expect("valid");
        let ram = RamWords::new(&words, layout);
        assert_eq!(ram.read_u64(PhysicalAddress::new(8)), Some(0x0101));
        assert_eq!(ram.read_u64(PhysicalAddress::new(64)), None);
        assert_eq!(
            ram.read_u64(PhysicalAddress::new(FOUR_GIB)),
            Some(8 * 0x0101)
        );
        assert_eq!(
            ram.read_u64(PhysicalAddress::new(FOUR_GIB + 56)),
            Some(15 * 0x0101)
        );
        assert_eq!(ram.read_u64(PhysicalAddress::new(FOUR_GIB + 64)), None);
        // A layout larger than the words: the missing words are unreadable.
        let ram = RamWords::new(&words[..4], layout);
        assert_eq!(ram.read_u64(PhysicalAddress::new(32)), None);
    }
}
