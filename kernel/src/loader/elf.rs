//! Turns a validated ELF file into relocated page frames, once per binary.
//!
//! `elf_check::plan` validates the whole file first (headers, segments inside the slot, W^X, no
//! overlap, only R_X86_64_RELATIVE relocations) and returns a plan that cannot fail later. The
//! loader then copies each segment's bytes into fresh frames (the rest stays zero: bss), applies
//! the relocations for the chosen base, and says which pages stay read-only: those of
//! non-writable segments, and those PT_GNU_RELRO covers entirely (written only by the
//! relocations, identical for every process). `mm::global_segment` maps the result.
//!
//! A Linux static-pie (no shoal personality note) would apply its relocations again at start-up
//! (musl's `_dlstart_c`), writing the read-only RELRO pages every process shares. So for those the
//! loader, having relocated the image once, also writes 0 into the values of `DT_RELASZ` and
//! `DT_RELACOUNT` in its copy of `.dynamic`: the start-up code finds nothing to relocate and never
//! writes a shared page. That costs no private page, and the digest (taken after loading) covers
//! the edited table.
//! Every malformed file ends in a typed error before any frame is taken; none can stop the kernel.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use elf_check::{ElfError, Personality, Placement, ProgramHeaders};

use crate::mm::frame::{self, OwnedFrame};
use crate::mm::layout::PAGE_BYTES;
use crate::mm::paging::window;

/// Why a binary could not be loaded.
#[derive(Debug)]
pub enum LoadError {
    /// The file is not a valid executable for shoal.
    Elf(ElfError),
    /// Frames ran out.
    OutOfMemory,
}

/// One page of a loaded image.
#[derive(Debug)]
pub struct LoadedPage {
    /// Its virtual address.
    pub address: u64,
    /// Its contents, relocated.
    pub frame: OwnedFrame,
    /// Whether it stays read-only (shared) or is writable (copied per process).
    pub read_only: bool,
    /// Whether it is executable.
    pub executable: bool,
}

/// A loaded image: its pages in address order and its entry point.
#[derive(Debug)]
pub struct LoadedImage {
    /// Every page, in address order.
    pub pages: Vec<LoadedPage>,
    /// The relocated entry point.
    pub entry: u64,
    /// Which system-call interface the binary expects.
    pub personality: Personality,
    /// Where its program header table lies in the image (for a Linux process's `AT_PHDR`).
    pub program_headers: Option<ProgramHeaders>,
}

/// Validates `file` for `placement`, then copies and relocates it into fresh frames.
///
/// # Errors
/// Returns [`LoadError::Elf`] for a malformed file (before any frame is taken) and
/// [`LoadError::OutOfMemory`] when frames run out.
pub fn load(file: &[u8], placement: &Placement) -> Result<LoadedImage, LoadError> {
    let plan = elf_check::plan(file, placement).map_err(LoadError::Elf)?;
    let relro = plan.read_only_after_relocation();
    let mut pages: BTreeMap<u64, LoadedPage> = BTreeMap::new();
    for segment in plan.segments() {
        // `plan` checked that the file range is in bounds for this file.
        let data = segment.file_data(file).unwrap_or(&[]);
        let segment_end = segment.virtual_address + segment.memory_bytes;
        let mut address = segment.page_start;
        while address < segment.page_end {
            let mut frame = frame::allocate_zeroed().ok_or(LoadError::OutOfMemory)?;
            let copy_start = address.max(segment.virtual_address);
            let copy_end = (address + PAGE_BYTES).min(segment.virtual_address + data.len() as u64);
            if copy_start < copy_end {
                let from = (copy_start - segment.virtual_address) as usize;
                let to = (copy_end - segment.virtual_address) as usize;
                window::write_into(&mut frame, (copy_start - address) as usize, &data[from..to]);
            }
            // The part of this page that belongs to the segment is read-only after relocation
            // when PT_GNU_RELRO covers all of it (its ends need not be page aligned).
            let used_start = address.max(segment.virtual_address);
            let used_end = (address + PAGE_BYTES).min(segment_end);
            let in_relro = relro.as_ref().is_some_and(|range| used_start >= range.start && used_end <= range.end);
            let read_only = !segment.writable || in_relro;
            pages.insert(address, LoadedPage { address, frame, read_only, executable: segment.executable });
            address += PAGE_BYTES;
        }
    }
    for relocation in plan.relocations(file) {
        // `plan` walked every relocation of this very file already, so none can fail here.
        let Ok(relocation) = relocation else { break };
        write_image(&mut pages, relocation.target, relocation.value);
    }
    if plan.personality() == Personality::Linux {
        // Relocated once, here: the start-up code must find nothing left to apply.
        for field in plan.relocation_size_fields() {
            write_image(&mut pages, field, 0);
        }
    }
    Ok(LoadedImage {
        pages: pages.into_values().collect(),
        entry: plan.entry(),
        personality: plan.personality(),
        program_headers: plan.program_headers(),
    })
}

/// Writes `value` (little-endian, 8 bytes, possibly across a page boundary) at `address` of the
/// image being loaded. `plan` checked that every such address lies inside a loaded segment.
fn write_image(pages: &mut BTreeMap<u64, LoadedPage>, address: u64, value: u64) {
    let bytes = value.to_le_bytes();
    let mut written = 0usize;
    while written < bytes.len() {
        let address = address + written as u64;
        let page_address = address & !(PAGE_BYTES - 1);
        let in_page = ((page_address + PAGE_BYTES - address) as usize).min(bytes.len() - written);
        if let Some(page) = pages.get_mut(&page_address) {
            window::write_into(&mut page.frame, (address - page_address) as usize, &bytes[written..written + in_page]);
        }
        written += in_page;
    }
}
