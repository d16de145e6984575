//! The global segment: each binary loaded once into a slot of the window, its read-only pages
//! and their page tables shared by every address space.
//!
//! ```text
//!  PML4[128] ──► window PDPT (one per address space; a copy of the template)
//!                 ├─ slot i (1 GiB) ──► PD of binary i: the template, shared   (share_tables=on)
//!                 │                      ├─ 2 MiB read-only region ──► shared PT ──► RO frames
//!                 │                      └─ mixed region ──► template PT (RO entries only)
//!                 └─ slot of the process's own binary ──► private PD
//!                                        ├─ read-only region ──► the same shared PT
//!                                        ├─ mixed region ──► private PT: the RO entries copied,
//!                                        │                  plus private writable pages
//!                                        └─ writable region ──► private PT ──► private frames
//! ```
//!
//! Loading ([`load`]) validates the ELF once (`elf-check`), copies its bytes into frames once,
//! applies the relocations once, records a SHA-256 digest of the read-only image, keeps a
//! pristine copy of every writable page, and builds the shared tables. A page is read-only when
//! its segment is not writable, or when PT_GNU_RELRO covers all of it (relocated once, identical
//! for everyone). Userland built here is linked so that read-only and writable segments never
//! share a 2 MiB region (`userland/programs/build.rs`), so whole page tables are shared; a
//! foreign ELF with a mixed region still loads, with a private table for that region whose
//! read-only entries are identical across processes.
//!
//! With `large_pages=on` (fixed at boot) a read-only region whose pages share one permission is
//! mapped by a single 2 MiB leaf in the binary's directory instead of a page table: at load its
//! pages move into one 2 MiB-aligned block of frames, each at its offset in the region, and the
//! block's other frames are zeroed and mapped with it (read-only filler, the memory cost). Such a
//! region has no table to share or copy; the leaf carries G in global mode and the binary's
//! protection key like a 4 KiB leaf. A region that mixes text and read-only data, or finds no
//! free 2 MiB block, keeps 4 KiB pages, and the boot log says so.
//!
//! Spawning ([`attach`]) parses nothing and copies no read-only page: it builds the process's
//! window PDPT and its own binary's PD (copies of 4 KiB templates) and the (empty) private tables
//! of the writable regions; each writable page is copied from its pristine copy when the process
//! first touches it ([`populate_writable`], a demand fault). With `share_tables=off` it
//! also copies every shared PD and PT (what Linux does for a shared library): the same frames,
//! private tables. With `global=on` every read-only leaf carries G (only while CR4.PGE is on).
//!
//! The registry changes while processes run (`process::registry`, which holds the scheduler
//! lock throughout, so no process runs and no space is created or dropped meanwhile; the lock
//! order is always scheduler, then registry). Every live address space has its own window
//! PDPT, so a live change patches each of them:
//! - **Load** ([`load_unlinked`], then [`link_slot`] on every live space): with
//!   `share_tables=on` one entry write per live space (the new binary's shared directory), so
//!   O(live spaces) writes and no frame; with `share_tables=off` a private copy of the binary's
//!   directory and of each of its tables per live space, O(live spaces × tables of the binary)
//!   frames. Adding an entry needs no flush (the CPU caches no not-present entry). If frames
//!   run out part-way, the spaces already patched are unpatched and the binary unloaded: every
//!   space always maps the window identically.
//! - **Unload** ([`begin_unload`], [`unlink_slot`] on every live space, [`finish_unload`]):
//!   only once the binary has no users (no process of it, live or unreaped). The template
//!   entry and each space's entry are cleared (private copies freed), then every translation,
//!   global ones included, is invalidated, and only then are the frames freed and the slot
//!   reused.
//! - **Mode switches** ([`set_mode`]) still happen only while no address space is attached.
//!
//! The plain [`load`] and [`unload`] still refuse while spaces are attached: they cannot reach
//! the live spaces (that would take the scheduler lock inside the registry's).

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use elf_check::{ElfError, Personality, Placement, ProgramHeaders};
use sha2::{Digest, Sha256};
use spin::Mutex;
use x86_64::structures::paging::{PageTableFlags, PhysFrame};
use x86_64::{PhysAddr, VirtAddr};

use super::address_space::AddressSpace;
use super::frame::{self, OwnedFrame};
use super::layout::{GLOBAL_SLOT_BYTES, GLOBAL_WINDOW_END, GLOBAL_WINDOW_START, LARGE_PAGE_BYTES, PAGE_BYTES};
use super::paging::{self, MapError, window};
use crate::loader::elf::{self, LoadError};
use crate::arch::x86_64::cpu::CpuFeatures;
use crate::arch::x86_64::{pkru, tlb};

/// Slots in the window.
pub const SLOT_COUNT: usize = ((GLOBAL_WINDOW_END - GLOBAL_WINDOW_START) / GLOBAL_SLOT_BYTES) as usize;
/// The PML4 entry that maps the window.
pub const WINDOW_PML4_INDEX: usize = super::layout::pml4_slot(GLOBAL_WINDOW_START);
/// Bytes of a SHA-256 digest.
pub const DIGEST_BYTES: usize = 32;

/// Flags of intermediate entries in the window: the leaves decide the permissions.
const TABLE_FLAGS: PageTableFlags =
    PageTableFlags::PRESENT.union(PageTableFlags::WRITABLE).union(PageTableFlags::USER_ACCESSIBLE);


/// The translation modes of the window (the experiment's knobs, with `pcid`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mode {
    /// Read-only leaves carry the global bit.
    pub global: bool,
    /// The window's tables are shared between address spaces.
    pub share_tables: bool,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let on_off = |value: bool| if value { "on" } else { "off" };
        write!(f, "global={} share_tables={}", on_off(self.global), on_off(self.share_tables))
    }
}

/// Why a registry operation failed.
#[derive(Debug)]
pub enum GlobalError {
    /// The ramdisk has no binary of that name.
    NotFound,
    /// The binary is not loaded.
    NotLoaded,
    /// The file is not a valid executable.
    Elf(ElfError),
    /// Frames ran out.
    OutOfMemory,
    /// Every slot of the window is taken.
    WindowFull,
    /// Address spaces are attached: the modes change only between experiments, and the plain
    /// [`load`] and [`unload`] cannot reach live spaces (`process::registry` can).
    InUse {
        /// Attached address spaces.
        attached: usize,
    },
    /// The binary still has processes: it can be unloaded only once none uses it.
    HasUsers {
        /// Processes of the binary (live, or ended and not yet reaped).
        users: usize,
    },
    /// The process table does not hold every attached address space (a space is being built
    /// outside it), so a live load or unload could not reach every space: refused.
    Unreachable {
        /// Attached address spaces.
        attached: usize,
        /// Those the process table holds.
        reachable: usize,
    },
    /// The global mode needs CR4.PGE, which this CPU lacks.
    GlobalUnavailable,
}

impl fmt::Display for GlobalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlobalError::NotFound => write!(f, "no such binary in the ramdisk"),
            GlobalError::NotLoaded => write!(f, "the binary is not loaded"),
            GlobalError::Elf(error) => write!(f, "not a valid executable: {error}"),
            GlobalError::OutOfMemory => write!(f, "out of frames"),
            GlobalError::WindowFull => write!(f, "every slot of the global window is taken"),
            GlobalError::InUse { attached } => {
                write!(f, "{attached} address spaces use the window; modes change only between experiments, live loads go through the process registry")
            }
            GlobalError::HasUsers { users } => write!(f, "{users} processes still use the binary"),
            GlobalError::Unreachable { attached, reachable } => {
                write!(f, "{attached} address spaces are attached but only {reachable} are in the process table")
            }
            GlobalError::GlobalUnavailable => write!(f, "the CPU has no global pages (CR4.PGE)"),
        }
    }
}

/// What occupies a 2 MiB region of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RegionKind {
    /// Only read-only pages: one shared page table.
    ReadOnly,
    /// Both: a template table of the read-only entries; owners get a private copy.
    Mixed,
    /// Only writable pages: a private table per process.
    Writable,
}

struct Region {
    /// Index of the region in the slot's page directory.
    index: usize,
    kind: RegionKind,
    /// The shared table (ReadOnly) or the template table (Mixed); `None` for a region mapped
    /// with one 2 MiB page (`large`) and for a writable one.
    table: Option<OwnedFrame>,
    /// Writable pages of the region: address and pristine copy.
    writable: Vec<(u64, OwnedFrame)>,
    /// The region is mapped with one 2 MiB page (`large_pages=on`): the template directory's
    /// entry is the leaf, and its read-only pages lie at their offsets in one aligned block.
    large: bool,
    /// The frames of a large region's block that hold no page of the binary, zeroed: they are
    /// mapped (read-only) as part of the 2 MiB page, where 4 KiB pages leave holes unmapped.
    filler: Vec<OwnedFrame>,
}

struct ReadOnlyPage {
    address: u64,
    frame: OwnedFrame,
    executable: bool,
}

/// A binary loaded in a slot.
struct Binary {
    name: &'static str,
    slot: usize,
    entry: u64,
    /// Which system-call interface it expects.
    personality: Personality,
    /// Where its program header table lies (a Linux process's `AT_PHDR`).
    program_headers: Option<ProgramHeaders>,
    read_only: Vec<ReadOnlyPage>,
    regions: Vec<Region>,
    directory: OwnedFrame,
    digest: [u8; DIGEST_BYTES],
    users: usize,
    /// Protection key of the read-only leaves (0 when keys are off).
    key: u8,
}

struct Registry {
    mode: Mode,
    /// Read-only regions are mapped with 2 MiB pages (`large_pages=on`); fixed at boot.
    large_pages: bool,
    /// Protection keys are in use (the CPU has PKU and CR4.PKE is set).
    keys: bool,
    global_available: bool,
    /// The template PDPT of the window.
    window: OwnedFrame,
    binaries: Vec<Option<Binary>>,
    attached: usize,
    features: CpuFeatures,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);

/// Returns the base address of slot `slot`.
pub const fn slot_base(slot: usize) -> u64 {
    GLOBAL_WINDOW_START + slot as u64 * GLOBAL_SLOT_BYTES
}

/// Returns the index of `address`'s 2 MiB region within its slot.
const fn region_of(address: u64) -> usize {
    ((address % GLOBAL_SLOT_BYTES) / LARGE_PAGE_BYTES) as usize
}

/// Returns the index of `address`'s page within its 2 MiB region.
const fn page_of(address: u64) -> usize {
    ((address % LARGE_PAGE_BYTES) / PAGE_BYTES) as usize
}

/// Sets up an empty window in `mode`; with `large_pages`, binaries loaded from now on map each
/// read-only 2 MiB region with one 2 MiB page.
///
/// # Errors
/// Returns [`GlobalError::GlobalUnavailable`] for `global=on` without PGE.
pub fn init(mode: Mode, large_pages: bool, features: &CpuFeatures, pge_enabled: bool, keys: bool) -> Result<(), GlobalError> {
    if mode.global && !pge_enabled {
        return Err(GlobalError::GlobalUnavailable);
    }
    let window = frame::allocate_zeroed().ok_or(GlobalError::OutOfMemory)?;
    let mut binaries = Vec::with_capacity(SLOT_COUNT);
    binaries.resize_with(SLOT_COUNT, || None);
    *REGISTRY.lock() = Some(Registry { mode, large_pages, keys, global_available: pge_enabled, window, binaries, attached: 0, features: *features });
    Ok(())
}

fn with<R>(operation: impl FnOnce(&mut Registry) -> R) -> R {
    crate::arch::x86_64::interrupts::without_interrupts(|| {
        let mut guard = REGISTRY.lock();
        operation(guard.as_mut().expect("global_segment::init runs at boot"))
    })
}

/// Returns the current mode.
pub fn mode() -> Mode {
    with(|registry| registry.mode)
}

/// Returns whether read-only regions are mapped with 2 MiB pages (`large_pages=on`).
pub fn large_pages() -> bool {
    with(|registry| registry.large_pages)
}

/// Protection keys a binary's slot can have: 1..=15 (key 0 is every process's private memory).
const BINARY_KEYS: usize = 15;
/// Bit position of a leaf's protection key (bits 62:59, Intel SDM vol. 3A §4.5).
const KEY_SHIFT: u32 = 59;

/// Returns the protection key of slot `slot`: 1..=15, reused every 15 slots.
pub const fn key_of_slot(slot: usize) -> u8 {
    (1 + slot % BINARY_KEYS) as u8
}

/// Flags of a read-only leaf in `mode` with protection key `key` (0 when keys are off).
fn read_only_flags(executable: bool, global: bool, key: u8) -> PageTableFlags {
    let mut flags = PageTableFlags::PRESENT
        | PageTableFlags::USER_ACCESSIBLE
        | PageTableFlags::from_bits_retain(u64::from(key) << KEY_SHIFT);
    if global {
        flags |= PageTableFlags::GLOBAL;
    }
    if !executable && paging::no_execute_enabled() {
        flags |= PageTableFlags::NO_EXECUTE;
    }
    flags
}

/// Flags of a private writable leaf.
fn writable_flags(executable: bool) -> PageTableFlags {
    let mut flags = PageTableFlags::PRESENT | PageTableFlags::USER_ACCESSIBLE | PageTableFlags::WRITABLE;
    if !executable && paging::no_execute_enabled() {
        flags |= PageTableFlags::NO_EXECUTE;
    }
    flags
}

/// Loads the ramdisk binary `name` into the lowest free slot (or returns its slot if loaded),
/// while no address space is attached. With live address spaces, load through
/// `process::registry::load_live`, which also links the new slot into every live space.
///
/// # Errors
/// Returns a [`GlobalError`] ([`GlobalError::InUse`] while address spaces are attached and the
/// binary is not loaded); nothing stays allocated then.
pub fn load(name: &str) -> Result<usize, GlobalError> {
    load_inner(name, false).map(|loaded| loaded.slot)
}

/// What [`load_unlinked`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loaded {
    /// The binary's slot.
    pub slot: usize,
    /// It was loaded now (false: it was loaded already).
    pub new: bool,
}

/// Loads `name` like [`load`] even while address spaces are attached, WITHOUT linking the new
/// slot into them: the caller (`process::registry::load_live`, under the scheduler lock) must
/// then call [`link_slot`] on every live address space, or [`unlink_slot`] on those it reached
/// and [`unload_unlinked`] if one fails, so that every space maps the window identically again
/// before anything runs.
///
/// # Errors
/// As [`load`], never [`GlobalError::InUse`].
pub fn load_unlinked(name: &str) -> Result<Loaded, GlobalError> {
    load_inner(name, true)
}

/// Returns how many address spaces are attached to the window.
pub fn attached() -> usize {
    with(|registry| registry.attached)
}

/// Returns the slot of binary `name` when it is loaded.
pub fn slot_of(name: &str) -> Option<usize> {
    with(|registry| registry.find(name))
}

fn load_inner(name: &str, live: bool) -> Result<Loaded, GlobalError> {
    let (name, file) = crate::ramdisk::find(name).ok_or(GlobalError::NotFound)?;
    with(|registry| {
        if let Some(slot) = registry.find(name) {
            return Ok(Loaded { slot, new: false });
        }
        let free_slot = registry.binaries.iter().position(Option::is_none);
        // A broken file is refused as such even while the window cannot change: validate first
        // (placement only decides the base, not whether the file is valid).
        let probe_base = slot_base(free_slot.unwrap_or(0));
        elf_check::plan(file, &Placement { base: probe_base, allowed: probe_base..probe_base + GLOBAL_SLOT_BYTES })
            .map_err(GlobalError::Elf)?;
        if registry.attached > 0 && !live {
            return Err(GlobalError::InUse { attached: registry.attached });
        }
        let slot = free_slot.ok_or(GlobalError::WindowFull)?;
        let key = if registry.keys { key_of_slot(slot) } else { 0 };
        let binary = build_binary(name, file, slot, registry.mode.global, key, registry.large_pages)?;
        window::set_entry(&mut registry.window, slot, binary.directory.start_address(), TABLE_FLAGS);
        registry.binaries[slot] = Some(binary);
        Ok(Loaded { slot, new: true })
    })
}

/// Loads `file` (validated by `loader::elf`) and builds its shared tables for `slot`; with
/// `large_pages`, every read-only region whose pages share one permission becomes a 2 MiB leaf.
fn build_binary(name: &'static str, file: &[u8], slot: usize, global: bool, key: u8, large_pages: bool) -> Result<Binary, GlobalError> {
    let base = slot_base(slot);
    let image = elf::load(file, &Placement { base, allowed: base..base + GLOBAL_SLOT_BYTES }).map_err(|error| match error {
        LoadError::Elf(error) => GlobalError::Elf(error),
        LoadError::OutOfMemory => GlobalError::OutOfMemory,
    })?;
    let mut read_only = Vec::new();
    let mut writable_pages: Vec<(u64, OwnedFrame)> = Vec::new();
    for page in image.pages {
        if page.read_only {
            read_only.push(ReadOnlyPage { address: page.address, frame: page.frame, executable: page.executable });
        } else {
            // W^X was checked by elf-check: a writable page is never executable.
            writable_pages.push((page.address, page.frame));
        }
    }

    let mut directory = frame::allocate_zeroed().ok_or(GlobalError::OutOfMemory)?;
    let mut region_indices: Vec<usize> = read_only
        .iter()
        .map(|page| region_of(page.address))
        .chain(writable_pages.iter().map(|(address, _)| region_of(*address)))
        .collect();
    region_indices.sort_unstable();
    region_indices.dedup();
    let mut regions = Vec::new();
    for index in region_indices {
        let has_read_only = read_only.iter().any(|page| region_of(page.address) == index);
        let (writable, rest): (Vec<_>, Vec<_>) = writable_pages.into_iter().partition(|(address, _)| region_of(*address) == index);
        writable_pages = rest;
        let kind = match (has_read_only, !writable.is_empty()) {
            (true, false) => RegionKind::ReadOnly,
            (true, true) => RegionKind::Mixed,
            _ => RegionKind::Writable,
        };
        let large = if large_pages && kind == RegionKind::ReadOnly { move_into_large_block(name, &mut read_only, index) } else { None };
        if let Some(large) = &large {
            let flags = read_only_flags(large.executable, global, key) | PageTableFlags::HUGE_PAGE;
            window::set_entry(&mut directory, index, large.base, flags);
        }
        let table = if has_read_only && large.is_none() {
            let mut table = frame::allocate_zeroed().ok_or(GlobalError::OutOfMemory)?;
            for page in read_only.iter().filter(|page| region_of(page.address) == index) {
                window::set_entry(&mut table, page_of(page.address), page.frame.start_address(), read_only_flags(page.executable, global, key));
            }
            window::set_entry(&mut directory, index, table.start_address(), TABLE_FLAGS);
            Some(table)
        } else {
            None
        };
        let (large, filler) = large.map_or((false, Vec::new()), |large| (true, large.filler));
        regions.push(Region { index, kind, table, writable, large, filler });
    }
    // The digest reads the frames the leaves map (a large region's pages were moved).
    let digest = digest_of(&read_only);
    Ok(Binary {
        name,
        slot,
        entry: image.entry,
        personality: image.personality,
        program_headers: image.program_headers,
        read_only,
        regions,
        directory,
        digest,
        users: 0,
        key,
    })
}

/// A read-only region moved into one 2 MiB block.
struct LargeBlock {
    /// Physical address of the block (2 MiB-aligned).
    base: PhysAddr,
    /// Whether its pages are executable (all or none are).
    executable: bool,
    /// The block's frames that hold no page of the binary, zeroed.
    filler: Vec<OwnedFrame>,
}

/// Under `large_pages=on`: moves the read-only pages of region `index` into one 2 MiB-aligned
/// block of frames (each page at its offset in the region; the loader's frames return to the
/// pool) and zeroes the rest of the block. `None`, and the region keeps 4 KiB pages, when its
/// pages differ in permission (text and read-only data in one region: a leaf has one NX bit;
/// the userland built here never does that) or when no free 2 MiB block is left; the boot log
/// says which.
fn move_into_large_block(name: &str, read_only: &mut [ReadOnlyPage], index: usize) -> Option<LargeBlock> {
    let executable = read_only.iter().find(|page| region_of(page.address) == index)?.executable;
    if read_only.iter().any(|page| region_of(page.address) == index && page.executable != executable) {
        crate::println!("global segment: {name}: region {index} holds executable and non-executable pages: 4 KiB pages");
        return None;
    }
    let Some(block) = frame::allocate_large_block() else {
        crate::println!("global segment: {name}: region {index}: no free 2 MiB block of physical memory: 4 KiB pages");
        return None;
    };
    let base = block[0].start_address();
    let mut block: Vec<Option<OwnedFrame>> = block.into_iter().map(Some).collect();
    for page in read_only.iter_mut().filter(|page| region_of(page.address) == index) {
        // Each address appears once in the image, so each block frame is taken at most once.
        let Some(mut target) = block[page_of(page.address)].take() else { continue };
        window::copy_frame(&page.frame, &mut target);
        page.frame = target;
    }
    let filler = block.into_iter().flatten().inspect(paging::zero_frame).collect();
    Some(LargeBlock { base, executable, filler })
}

/// Returns whether every byte of `frame` is zero.
fn is_zero_frame(frame: &OwnedFrame) -> bool {
    let mut zero = true;
    for_each_chunk(frame, |chunk| zero &= chunk.iter().all(|&byte| byte == 0));
    zero
}

/// Calls `each` with the bytes of `frame` in order, a small piece at a time: a load may run on a
/// process's kernel stack (a user `spawn` of a binary not loaded yet), which has no room for a
/// page-sized array.
fn for_each_chunk(frame: &OwnedFrame, mut each: impl FnMut(&[u8])) {
    const CHUNK_BYTES: u64 = 256;
    let mut buffer = [0u8; CHUNK_BYTES as usize];
    for offset in (0..PAGE_BYTES).step_by(CHUNK_BYTES as usize) {
        paging::read_physical(frame.start_address() + offset, &mut buffer);
        each(&buffer);
    }
}

/// Returns the SHA-256 digest of a binary's read-only image (addresses and bytes, in order).
fn digest_of(pages: &[ReadOnlyPage]) -> [u8; DIGEST_BYTES] {
    let mut hasher = Sha256::new();
    for page in pages {
        hasher.update(page.address.to_le_bytes());
        for_each_chunk(&page.frame, |chunk| hasher.update(chunk));
    }
    hasher.finalize().into()
}

impl Registry {
    fn find(&self, name: &str) -> Option<usize> {
        self.binaries.iter().flatten().find(|binary| binary.name == name).map(|binary| binary.slot)
    }
}

/// What [`attach`] set up: where the process starts and which keys it may use.
#[derive(Clone, Copy, Debug)]
pub struct Attached {
    /// The relocated entry point.
    pub entry: VirtAddr,
    /// The PKRU value for the process: its binary's key and key 0 (private memory) allowed,
    /// every other binary's key access-disabled; 0 (everything allowed) when keys are off.
    pub pkru: u32,
    /// Which system-call interface the binary expects.
    pub personality: Personality,
    /// Where the binary's program header table lies.
    pub program_headers: Option<ProgramHeaders>,
}

/// Links the window into `space` for a process of binary `name` (loading it first if nothing
/// is attached yet), with private copies of the binary's writable pages.
///
/// # Errors
/// Returns a [`GlobalError`]; `space` then holds whatever frames were already attached, which
/// its drop frees.
pub fn attach(space: &mut AddressSpace, name: &str) -> Result<Attached, GlobalError> {
    let slot = match with(|registry| registry.find(name)) {
        Some(slot) => slot,
        None => load(name)?,
    };
    with(|registry| {
        let mode = registry.mode;
        // Tables are linked top-down as soon as they exist, so everything the space adopted is
        // reachable from its root (and freed with it) even if a later allocation fails. A table
        // that is a copy of a template is not zeroed first: the copy writes all 512 entries.
        let mut pdpt = frame::allocate().ok_or(GlobalError::OutOfMemory)?;
        let window_frame = PhysFrame::containing_address(registry.window.start_address());
        window::copy_table(window_frame, &mut pdpt);
        let pdpt = space.link_table(None, WINDOW_PML4_INDEX, pdpt);
        // Other binaries' slots: shared PDs, or private copies of every PD and PT.
        if !mode.share_tables {
            for binary in registry.binaries.iter().flatten().filter(|binary| binary.slot != slot) {
                copy_directory(binary, space, pdpt)?;
            }
        }
        let binary = registry.binaries[slot].as_mut().ok_or(GlobalError::NotLoaded)?;
        private_directory(binary, mode, space, pdpt)?;
        space.set_binary_slot(slot);
        binary.users += 1;
        registry.attached += 1;
        let pkru = if registry.keys { pkru::rights_allowing(1 | 1 << binary.key) } else { 0 };
        space.set_pkru(pkru);
        Ok(Attached {
            entry: VirtAddr::new(binary.entry),
            pkru,
            personality: binary.personality,
            program_headers: binary.program_headers,
        })
    })
}

/// Copies a binary's PD and every table below it into frames owned by `space`, linked into the
/// space's window PDPT `pdpt`.
fn copy_directory(binary: &Binary, space: &mut AddressSpace, pdpt: PhysAddr) -> Result<(), GlobalError> {
    let mut directory = frame::allocate().ok_or(GlobalError::OutOfMemory)?;
    window::copy_table(PhysFrame::containing_address(binary.directory.start_address()), &mut directory);
    let directory = space.link_table(Some(pdpt), binary.slot, directory);
    for region in &binary.regions {
        if let Some(table) = &region.table {
            let mut copy = frame::allocate().ok_or(GlobalError::OutOfMemory)?;
            window::copy_table(PhysFrame::containing_address(table.start_address()), &mut copy);
            space.link_table(Some(directory), region.index, copy);
        }
    }
    Ok(())
}

/// Builds the process's own PD for its binary, linked into the space's window PDPT `pdpt`:
/// shared read-only tables (or copies), private tables for mixed and writable regions, private
/// copies of the writable pages.
fn private_directory(binary: &Binary, mode: Mode, space: &mut AddressSpace, pdpt: PhysAddr) -> Result<(), GlobalError> {
    let mut directory = frame::allocate().ok_or(GlobalError::OutOfMemory)?;
    window::copy_table(PhysFrame::containing_address(binary.directory.start_address()), &mut directory);
    let directory = space.link_table(Some(pdpt), binary.slot, directory);
    for region in &binary.regions {
        if region.large {
            // The directory copy holds the 2 MiB leaf itself: no table below it.
            continue;
        }
        let private_table = match (region.kind, &region.table) {
            (RegionKind::ReadOnly, Some(_)) if mode.share_tables => None,
            (_, Some(table)) => {
                let mut copy = frame::allocate().ok_or(GlobalError::OutOfMemory)?;
                window::copy_table(PhysFrame::containing_address(table.start_address()), &mut copy);
                Some(copy)
            }
            (_, None) => Some(frame::allocate_zeroed().ok_or(GlobalError::OutOfMemory)?),
        };
        let Some(table) = private_table else { continue };
        // The writable pages themselves are copied on first touch (`populate_writable`).
        space.link_table(Some(directory), region.index, table);
    }
    Ok(())
}

/// Serves a demand fault at `page` in `space`: when `page` is a writable page of the space's own
/// binary, copies the pristine page into a fresh frame and maps it in the space's private table
/// of that region. Returns whether it did.
///
/// # Errors
/// Returns [`MapError::OutOfFrames`] when no frame is free (nothing changes).
pub fn populate_writable(space: &mut AddressSpace, page: VirtAddr) -> Result<bool, MapError> {
    let Some(slot) = space.binary_slot() else { return Ok(false) };
    let address = page.as_u64();
    if !(slot_base(slot)..slot_base(slot) + GLOBAL_SLOT_BYTES).contains(&address) {
        return Ok(false);
    }
    with(|registry| {
        let Some(binary) = registry.binaries[slot].as_ref() else { return Ok(false) };
        let index = region_of(address);
        let Some(region) = binary.regions.iter().find(|region| region.index == index) else { return Ok(false) };
        let Some((_, pristine)) = region.writable.iter().find(|(writable, _)| *writable == address) else { return Ok(false) };
        // The region's table is the space's own (attach made a private one for every region
        // with writable pages); a shared table here would be a kernel bug.
        let Some(table) = space.owned_leaf_table(page) else { return Ok(false) };
        let mut frame = frame::allocate().ok_or(MapError::OutOfFrames)?;
        window::copy_frame(pristine, &mut frame);
        space.link_page(table, page_of(address), frame, writable_flags(false));
        Ok(true)
    })
}

/// Records that an address space attached to `slot` is gone.
pub fn detach(slot: usize) {
    with(|registry| {
        if let Some(binary) = registry.binaries[slot].as_mut() {
            binary.users = binary.users.saturating_sub(1);
        }
        registry.attached = registry.attached.saturating_sub(1);
    });
}

/// Unloads binary `name`: only when no process uses the window. Every translation of the window,
/// global ones included, is invalidated before its frames are freed or its slot reused.
///
/// # Errors
/// Returns [`GlobalError::NotLoaded`] or [`GlobalError::InUse`].
pub fn unload(name: &str) -> Result<(), GlobalError> {
    let slot = with(|registry| {
        let slot = registry.find(name).ok_or(GlobalError::NotLoaded)?;
        if registry.attached > 0 {
            return Err(GlobalError::InUse { attached: registry.attached });
        }
        Ok(slot)
    })?;
    begin_unload(name)?;
    finish_unload(slot);
    Ok(())
}

/// First half of an unload with live address spaces (`process::registry::unload_live`, under
/// the scheduler lock): refuses while the binary has users, else clears the template window's
/// entry (no new space will map the slot) and returns the slot. The caller then clears entry
/// `slot` in every live space ([`unlink_slot`]) and calls [`finish_unload`], which invalidates
/// every translation before the frames are freed.
///
/// # Errors
/// Returns [`GlobalError::NotLoaded`] or [`GlobalError::HasUsers`].
pub fn begin_unload(name: &str) -> Result<usize, GlobalError> {
    with(|registry| {
        let slot = registry.find(name).ok_or(GlobalError::NotLoaded)?;
        let users = registry.binaries[slot].as_ref().map_or(0, |binary| binary.users);
        if users > 0 {
            return Err(GlobalError::HasUsers { users });
        }
        window::clear_entry(&mut registry.window, slot);
        Ok(slot)
    })
}

/// Second half of an unload: invalidates every translation, global ones included, on every
/// CPU, and only then frees the binary's frames and tables and frees its slot. Every address
/// space must have dropped its link to the slot before ([`unlink_slot`]).
pub fn finish_unload(slot: usize) {
    let binary = with(|registry| {
        // INVPCID type 2 where the CPU has it, else a CR4.PGE toggle: on every CPU (shoal runs
        // on one). It also empties the paging-structure caches, which may hold the slot's
        // directory and tables. Only after this may the frames be freed and the slot reused.
        tlb::flush_all_including_global(&registry.features);
        registry.binaries[slot].take()
    });
    drop(binary);
}

/// Makes slot `slot` (a binary [`load_unlinked`] just loaded) visible in the live address space
/// `space`: with `share_tables=on` one entry write in its window PDPT (the binary's shared
/// template directory); with `share_tables=off` private copies of the directory and of every
/// table below it, owned by the space. Returns the page-table frames it copied; `Ok(None)` for
/// a space without a window (not attached), which is left alone.
///
/// # Errors
/// Returns [`GlobalError::OutOfMemory`]; what was copied so far stays linked in `space`, and
/// [`unlink_slot`] frees it.
pub fn link_slot(space: &mut AddressSpace, slot: usize) -> Result<Option<usize>, GlobalError> {
    with(|registry| {
        let Some(pdpt) = space.window_table() else { return Ok(None) };
        let binary = registry.binaries[slot].as_ref().ok_or(GlobalError::NotLoaded)?;
        if registry.mode.share_tables {
            space.link_window_shared(slot, binary.directory.start_address(), TABLE_FLAGS);
            return Ok(Some(0));
        }
        let before = space.table_frames();
        copy_directory(binary, space, pdpt)?;
        Ok(Some(space.table_frames() - before))
    })
}

/// Clears entry `slot` of `space`'s window PDPT, freeing the private copies of the slot's
/// tables the space owns; returns how many page-table frames it freed, `None` for a space
/// without a window. The caller flushes (see [`finish_unload`]) before the slot is reused.
pub fn unlink_slot(space: &mut AddressSpace, slot: usize) -> Option<usize> {
    space.window_table()?;
    Some(space.clear_window_entry(slot))
}

/// Undoes a [`load_unlinked`] whose linking failed: the binary has no users and every space it
/// reached has been unlinked already.
pub fn unload_unlinked(slot: usize) {
    with(|registry| window::clear_entry(&mut registry.window, slot));
    finish_unload(slot);
}

/// Switches the translation mode between experiments: rewrites the G bit of every read-only
/// leaf and invalidates every translation, global ones included.
///
/// # Errors
/// Returns [`GlobalError::InUse`] while address spaces are attached, and
/// [`GlobalError::GlobalUnavailable`] for `global=on` without PGE.
pub fn set_mode(mode: Mode) -> Result<(), GlobalError> {
    with(|registry| {
        if registry.attached > 0 {
            return Err(GlobalError::InUse { attached: registry.attached });
        }
        if mode.global && !registry.global_available {
            return Err(GlobalError::GlobalUnavailable);
        }
        if mode.global != registry.mode.global {
            for binary in registry.binaries.iter_mut().flatten() {
                for region in binary.regions.iter_mut() {
                    if let Some(table) = region.table.as_mut() {
                        window::set_flag_on_present_entries(table, PageTableFlags::GLOBAL, mode.global);
                    }
                    if region.large {
                        window::set_flag_on_entry(&mut binary.directory, region.index, PageTableFlags::GLOBAL, mode.global);
                    }
                }
            }
        }
        registry.mode = mode;
        tlb::flush_all_including_global(&registry.features);
        Ok(())
    })
}

/// Recomputes binary `name`'s read-only digest and compares it with the one taken at load;
/// under `large_pages=on` also checks that the filler frames of its 2 MiB pages are still zero.
///
/// # Errors
/// Returns [`GlobalError::NotLoaded`].
pub fn verify(name: &str) -> Result<bool, GlobalError> {
    with(|registry| {
        let slot = registry.find(name).ok_or(GlobalError::NotLoaded)?;
        let binary = registry.binaries[slot].as_ref().ok_or(GlobalError::NotLoaded)?;
        let filler_zero = binary.regions.iter().flat_map(|region| &region.filler).all(is_zero_frame);
        Ok(digest_of(&binary.read_only) == binary.digest && filler_zero)
    })
}

/// Facts about a loaded binary, for reports.
#[derive(Clone, Debug)]
pub struct BinaryInfo {
    /// Its name.
    pub name: &'static str,
    /// Its slot.
    pub slot: usize,
    /// Read-only pages (shared).
    pub read_only_pages: usize,
    /// Writable pages (a private copy per process).
    pub writable_pages: usize,
    /// Shared page tables (read-only regions) and template tables (mixed regions).
    pub shared_tables: usize,
    /// Regions by kind: read-only, mixed, writable.
    pub regions: (usize, usize, usize),
    /// Processes using it.
    pub users: usize,
    /// The SHA-256 digest of the read-only image.
    pub digest: [u8; DIGEST_BYTES],
    /// The protection key of its read-only pages (0 when keys are off).
    pub key: u8,
    /// Read-only regions mapped with one 2 MiB page (`large_pages=on`).
    pub large_regions: usize,
    /// Zeroed frames those 2 MiB pages map beyond the binary's own pages: the memory cost of
    /// large pages.
    pub filler_pages: usize,
}

/// Returns facts about every loaded binary.
pub fn binaries() -> Vec<BinaryInfo> {
    with(|registry| {
        registry.binaries.iter().flatten().map(|binary| {
            let count = |kind| binary.regions.iter().filter(|region| region.kind == kind).count();
            BinaryInfo {
                name: binary.name,
                slot: binary.slot,
                read_only_pages: binary.read_only.len(),
                writable_pages: binary.regions.iter().map(|region| region.writable.len()).sum(),
                shared_tables: binary.regions.iter().filter(|region| region.table.is_some()).count() + 1,
                regions: (count(RegionKind::ReadOnly), count(RegionKind::Mixed), count(RegionKind::Writable)),
                users: binary.users,
                digest: binary.digest,
                key: binary.key,
                large_regions: binary.regions.iter().filter(|region| region.large).count(),
                filler_pages: binary.regions.iter().map(|region| region.filler.len()).sum(),
            }
        }).collect()
    })
}

/// One shared read-only page: where it is mapped and how it must look in every address space.
#[derive(Clone, Copy, Debug)]
pub struct ExpectedMapping {
    /// Virtual address.
    pub address: u64,
    /// The shared frame.
    pub physical: PhysAddr,
    /// The leaf flags every address space must show.
    pub flags: PageTableFlags,
}

/// Returns every shared read-only page with the mapping all address spaces must show.
pub fn expected_mappings() -> Vec<ExpectedMapping> {
    with(|registry| {
        let global = registry.mode.global;
        registry.binaries.iter().flatten().flat_map(|binary| {
            binary.read_only.iter().map(move |page| {
                let large = binary.regions.iter().any(|region| region.large && region.index == region_of(page.address));
                let size = if large { PageTableFlags::HUGE_PAGE } else { PageTableFlags::empty() };
                ExpectedMapping {
                    address: page.address,
                    physical: page.frame.start_address(),
                    flags: read_only_flags(page.executable, global, binary.key) | size,
                }
            })
        }).collect()
    })
}

/// The shared tables of one binary: its slot, its template directory, and the shared page table
/// of each read-only region (by region index).
pub type SharedTables = (usize, PhysAddr, Vec<(usize, PhysAddr)>);

/// Returns, for share-tables checks, the shared tables of every binary.
pub fn shared_table_frames() -> Vec<SharedTables> {
    with(|registry| {
        registry.binaries.iter().flatten().map(|binary| {
            let tables = binary.regions.iter()
                .filter(|region| region.kind == RegionKind::ReadOnly)
                .filter_map(|region| region.table.as_ref().map(|table| (region.index, table.start_address())))
                .collect();
            (binary.slot, binary.directory.start_address(), tables)
        }).collect()
    })
}

