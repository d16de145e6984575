//! Control registers: the typed CR3 value.
//!
//! A CR3 write is an address-space switch and a TLB event at once (Intel SDM vol. 3A §4.10.4.1):
//! with CR4.PCIDE=0 it flushes every non-global entry; with CR4.PCIDE=1 it flushes the new
//! PCID's non-global entries unless bit 63 is set. [`Cr3Value`] carries the root table, the PCID
//! and that keep-or-flush choice, so no caller ever assembles the raw bits. Bit 63 is written
//! only when CR4.PCIDE is really on: QEMU TCG has no PCID and hangs on such a write. [`write`]
//! is the one function that switches address spaces; the boot switch writes CR3 in
//! `stack::switch_address_space_and_stack`, together with the stack.

use x86_64::registers::control::{Cr3, Cr4, Cr4Flags};
use x86_64::structures::paging::PhysFrame;

/// CR3 bit 63: with CR4.PCIDE=1, keep the new PCID's TLB entries.
const CR3_KEEP_ENTRIES: u64 = 1 << 63;
/// CR3 bits 11:0: the PCID when CR4.PCIDE=1.
const CR3_PCID_MASK: u64 = 0xfff;

/// A value for CR3: which page tables, which PCID, and whether to keep that PCID's entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cr3Value {
    root: PhysFrame,
    pcid: u16,
    keep_entries: bool,
    /// Simulated PCID (tlbsim under QEMU TCG): the PCID goes into bits 11:0 although
    /// CR4.PCIDE is clear, bit 63 is never written, and a marker announces a keeping write.
    simulated: bool,
}

impl Cr3Value {
    /// Returns the value for a root table with PCID 0 that flushes (the kernel's own tables).
    pub const fn kernel(root: PhysFrame) -> Cr3Value {
        Cr3Value { root, pcid: 0, keep_entries: false, simulated: false }
    }

    /// Returns a simulated-PCID value: `root | pcid` with bit 63 clear, for the tlbsim plugin on
    /// a CPU without PCID (with CR4.PCIDE clear, bits 3 and 4 of CR3 select the root table's
    /// cache type, which QEMU TCG ignores; never use this on hardware).
    pub const fn simulated(root: PhysFrame, pcid: u16, keep_entries: bool) -> Cr3Value {
        Cr3Value { root, pcid, keep_entries, simulated: true }
    }

    /// Returns the value for a process's root table tagged with `pcid` (1..=4095), keeping that
    /// PCID's TLB entries when `keep_entries` is set. Without CR4.PCIDE both are ignored when
    /// written, and the write flushes all non-global entries.
    pub const fn tagged(root: PhysFrame, pcid: u16, keep_entries: bool) -> Cr3Value {
        Cr3Value { root, pcid, keep_entries, simulated: false }
    }

    /// Returns the raw value to write, honouring whether CR4.PCIDE is on right now.
    pub(super) fn raw_for_current_mode(&self) -> u64 {
        self.raw(Cr4::read().contains(Cr4Flags::PCID))
    }

    /// Returns the raw value to write when CR4.PCIDE is `pcid_enabled`.
    fn raw(&self, pcid_enabled: bool) -> u64 {
        let mut raw = self.root.start_address().as_u64();
        if self.simulated {
            return raw | (self.pcid as u64 & CR3_PCID_MASK);
        }
        if pcid_enabled {
            raw |= self.pcid as u64 & CR3_PCID_MASK;
            if self.keep_entries {
                raw |= CR3_KEEP_ENTRIES;
            }
        }
        raw
    }
}

/// Returns the frame of the active root page table.
pub fn active_root() -> PhysFrame {
    Cr3::read().0
}

/// Returns the raw CR3 value (root address, PCID or flag bits).
pub fn read_raw() -> u64 {
    let (frame, low_bits) = Cr3::read_raw();
    frame.start_address().as_u64() | low_bits as u64
}

/// Makes `value` the active address space.
///
/// # Safety
/// `value`'s root must be a valid PML4 whose kernel half is the kernel's (so this code, its
/// stack and every kernel structure stay mapped at the same addresses), and it must stay valid
/// while it is active.
pub unsafe fn write(value: Cr3Value) {
    let raw = value.raw_for_current_mode();
    if value.simulated && value.keep_entries {
        super::marker::keep_next_cr3();
    }
    // SAFETY: the caller guarantees the root is a complete address space with the kernel half;
    // the raw value sets bit 63 and PCID bits only when CR4.PCIDE=1, as the SDM requires.
    unsafe { core::arch::asm!("mov cr3, {}", in(reg) raw, options(nostack, preserves_flags)) };
}
