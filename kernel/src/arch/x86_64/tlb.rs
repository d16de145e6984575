//! TLB invalidation, one function per hardware effect, each saying what it does to global
//! entries (Intel SDM vol. 3A §4.10.4).
//!
//! - [`flush_page`]: INVLPG; drops the entries for one page, global ones included.
//! - [`flush_all_excluding_global`]: a CR3 reload; drops non-global entries of the current PCID
//!   (of all PCIDs when CR4.PCIDE=0).
//! - [`flush_all_including_global`]: INVPCID type 2 where the CPU has it, else a CR4.PGE toggle;
//!   drops every entry of every PCID, global ones included.

use x86_64::VirtAddr;
use x86_64::registers::control::{Cr3, Cr4, Cr4Flags};

use super::cpu::CpuFeatures;

/// Invalidates the TLB entries for the page containing `address` (global ones too), for the
/// current PCID.
pub fn flush_page(address: VirtAddr) {
    x86_64::instructions::tlb::flush(address);
}

/// Invalidates all non-global TLB entries of the current address space by reloading CR3.
pub fn flush_all_excluding_global() {
    let (frame, flags) = Cr3::read_raw();
    // SAFETY: writes back the value CR3 already holds (bit 63 is never part of a read value, so
    // with PCIDE=1 this flushes the current PCID's non-global entries; with PCIDE=0 all of them).
    unsafe { Cr3::write_raw(frame, flags) };
}

/// Invalidates every TLB entry, global ones included, for every PCID.
pub fn flush_all_including_global(features: &CpuFeatures) {
    if features.invpcid {
        const INVPCID_ALL_INCLUDING_GLOBAL: u64 = 2;
        let descriptor = [0u64; 2];
        // SAFETY: CPUID promised INVPCID; type 2 ignores the descriptor (which is valid memory
        // anyway) and only invalidates TLB and paging-structure-cache entries.
        unsafe {
            core::arch::asm!(
                "invpcid {kind}, [{descriptor}]",
                kind = in(reg) INVPCID_ALL_INCLUDING_GLOBAL,
                descriptor = in(reg) descriptor.as_ptr(),
                options(nostack, preserves_flags)
            );
        }
    } else {
        let cr4 = Cr4::read();
        if cr4.contains(Cr4Flags::PAGE_GLOBAL) {
            // SAFETY: clearing and restoring CR4.PGE changes nothing but the TLB: the SDM
            // defines any change of PGE to flush all entries, global ones included. Every other
            // CR4 bit is written back unchanged.
            unsafe {
                Cr4::write(cr4 - Cr4Flags::PAGE_GLOBAL);
                Cr4::write(cr4);
            }
        } else {
            // Without PGE no entry is global, so a CR3 reload drops them all.
            flush_all_excluding_global();
        }
    }
}
