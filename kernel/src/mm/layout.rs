//! The virtual-address map of shoal: the one file that owns every address boundary.
//!
//! ```text
//!  0x0000_0000_0000_0000 ┌──────────────────────────────┐
//!                        │ null guard (never mapped)    │ 4 MiB
//!  0x0000_0000_0040_0000 ├──────────────────────────────┤ USER_PRIVATE_START = USER_IMAGE_BASE
//!                        │ per-process private region:  │
//!                        │ the process's own image      │ (up to USER_IMAGE_END, 4 GiB)
//!  0x0000_1000_0000_0000 │ heap (grows up)              │ USER_HEAP_START
//!  0x0000_3fff_0000_0000 │ user stack (below its top)   │ USER_STACK_TOP
//!  0x0000_4000_0000_0000 ├──────────────────────────────┤ GLOBAL_WINDOW_START (PML4 slot 128)
//!                        │ GLOBAL SEGMENT window:       │ one PML4 slot = 512 GiB,
//!                        │ identical in every process,  │ GLOBAL_SLOT_BYTES per binary
//!                        │ read-only, G=1 in global mode│
//!  0x0000_4080_0000_0000 ├──────────────────────────────┤ GLOBAL_WINDOW_END
//!                        │ unmapped                     │
//!  0x0000_8000_0000_0000 ╞══════════════════════════════╡ non-canonical hole
//!  0xffff_8000_0000_0000 ├──────────────────────────────┤ DIRECT_MAP_START (PML4 slot 256)
//!                        │ direct map of physical memory│ up to 64 TiB, 1 GiB or 2 MiB pages
//!  0xffff_c000_0000_0000 ├──────────────────────────────┤ KERNEL_HEAP_START (slot 384)
//!                        │ kernel heap                  │
//!  0xffff_c080_0000_0000 ├──────────────────────────────┤ KERNEL_STACKS_START (slot 385)
//!                        │ kernel stacks, each below a  │ KERNEL_STACK_SLOT_BYTES apart
//!                        │ guard page                   │
//!  0xffff_c100_0000_0000 ├──────────────────────────────┤ MMIO_START (slot 386)
//!                        │ device registers (uncached)  │
//!  0xffff_f000_0000_0000 ├──────────────────────────────┤ BOOTLOADER_DYNAMIC_START
//!                        │ bootloader's boot stack and  │ only in the bootloader's tables;
//!                        │ boot info (dropped at switch)│ the kernel's own tables leave it out
//!  0xffff_ff00_0000_0000 ├──────────────────────────────┤ BOOTLOADER_DYNAMIC_END
//!  0xffff_ffff_8000_0000 ├──────────────────────────────┤ KERNEL_IMAGE_BASE (slot 511)
//!                        │ kernel image (text RX,       │
//!                        │ rodata R, data RW)           │
//!  0xffff_ffff_ffff_ffff └──────────────────────────────┘
//! ```
//!
//! The upper half (PML4 slots 256..512) is the kernel's and is the same in every address
//! space; all its leaf entries carry the global bit. No other file hard-codes an address: they
//! use the constants here. The compile-time checks at the bottom keep the map consistent.

use x86_64::VirtAddr;

/// Bytes in a 4 KiB page.
pub const PAGE_BYTES: u64 = 4096;
/// Bytes in a 2 MiB page.
pub const LARGE_PAGE_BYTES: u64 = 2 * 1024 * 1024;
/// Bytes in a 1 GiB page.
pub const HUGE_PAGE_BYTES: u64 = 1024 * 1024 * 1024;
/// Bytes covered by one PML4 entry (512 GiB).
pub const PML4_SLOT_BYTES: u64 = 512 * HUGE_PAGE_BYTES;
/// First address of the kernel half (PML4 slot 256).
pub const KERNEL_HALF_START: u64 = 0xffff_8000_0000_0000;
/// First PML4 slot of the kernel half.
pub const KERNEL_HALF_FIRST_SLOT: usize = 256;
/// End of the lower (user) canonical half.
pub const USER_END: u64 = 0x0000_8000_0000_0000;

/// First address a user process may use; everything below is the null guard.
pub const USER_PRIVATE_START: u64 = 0x0000_0000_0040_0000;
/// End of the per-process private region.
pub const USER_PRIVATE_END: u64 = GLOBAL_WINDOW_START;
/// First address of the global-segment window (one PML4 slot).
pub const GLOBAL_WINDOW_START: u64 = 0x0000_4000_0000_0000;
/// End of the global-segment window.
pub const GLOBAL_WINDOW_END: u64 = GLOBAL_WINDOW_START + PML4_SLOT_BYTES;
/// Size of one binary's slot in the global window.
pub const GLOBAL_SLOT_BYTES: u64 = HUGE_PAGE_BYTES;

/// Where a process's own (private) binary image is loaded: a static PIE's address 0 goes here.
pub const USER_IMAGE_BASE: u64 = USER_PRIVATE_START;
/// End of the range a private binary image must fit in.
pub const USER_IMAGE_END: u64 = 0x0000_0001_0000_0000;
/// First address of a process's heap (grown by the `heap_grow` system call).
pub const USER_HEAP_START: u64 = 0x0000_1000_0000_0000;
/// Largest heap a process may grow.
pub const USER_HEAP_MAX_BYTES: u64 = HUGE_PAGE_BYTES;
/// Top of a process's user stack (the first address above it).
pub const USER_STACK_TOP: u64 = 0x0000_3fff_0000_0000;
/// Size of a process's user stack; the page below it is an unmapped guard page.
pub const USER_STACK_BYTES: u64 = 64 * 1024;

/// Where the direct map of physical memory starts: physical address `p` is at `DIRECT_MAP_START + p`.
pub const DIRECT_MAP_START: u64 = KERNEL_HALF_START;
/// Largest physical address range the direct map can cover (128 PML4 slots, 64 TiB).
pub const DIRECT_MAP_MAX_BYTES: u64 = 128 * PML4_SLOT_BYTES;
/// First address of the kernel heap.
pub const KERNEL_HEAP_START: u64 = 0xffff_c000_0000_0000;
/// Largest kernel heap (the `heap_bytes` argument, 16 MiB by default, is mapped at boot).
pub const KERNEL_HEAP_MAX_BYTES: u64 = 256 * 1024 * 1024;
/// First address of the kernel-stack region.
pub const KERNEL_STACKS_START: u64 = 0xffff_c080_0000_0000;
/// End of the kernel-stack region.
pub const KERNEL_STACKS_END: u64 = KERNEL_STACKS_START + PML4_SLOT_BYTES;
/// Distance between two kernel stacks: a guard page plus the stack itself, and an odd number of
/// pages (17). With a power-of-two distance (it was 64 KiB, 16 pages) every process's stack top
/// falls into the same set of a TLB indexed by the low bits of the page number (one of the 16
/// sets of a 64-entry 4-way L1 dTLB, 8 of the 128 sets of a 1536-entry 12-way STLB) and of the
/// L1 data cache, so the kernel's own stacks evicted each other: measured under tlbsim
/// (skylake-client, synth-small, N=64, no PCID, global segment on), 236 kernel-half and 19 window
/// walks per 1024 warm invocations with 16 pages, none with 17.
pub const KERNEL_STACK_SLOT_BYTES: u64 = 68 * 1024;
/// Usable bytes of the boot stack (kernel stack 0; the rest of its slot is the guard page).
pub const KERNEL_STACK_BYTES: u64 = KERNEL_STACK_SLOT_BYTES - PAGE_BYTES;
/// Usable bytes of a process's kernel stack (kernel stack `1 + process slot`), above a guard
/// page; the rest of the slot stays unmapped.
pub const PROCESS_KERNEL_STACK_BYTES: u64 = 16 * 1024;
/// Process slots the layout has room for (a kernel stack each): 2^20. Not the limit in
/// practice: the process table is sized at boot from memory (a process cannot exist without
/// `process::MIN_FRAMES_PER_PROCESS` frames), far below this for any guest under 28 GiB.
pub const MAX_PROCESSES: u64 = 1 << 20;
/// Frames no process can exist without: its PML4, its window PDPT, its own binary's page
/// directory, and its kernel stack (4 pages). Everything else (stack, data, other tables) comes
/// on demand.
pub const MIN_FRAMES_PER_PROCESS: u64 = 3 + PROCESS_KERNEL_STACK_BYTES / PAGE_BYTES;

/// Returns how many process slots to provide when `free_frames` frames are free at boot: as many
/// as could ever exist at once (each needs [`MIN_FRAMES_PER_PROCESS`]), at most
/// [`MAX_PROCESSES`] and at least 64. Memory, not the table, is what limits live processes.
pub const fn process_slots(free_frames: u64) -> u64 {
    let by_memory = free_frames / MIN_FRAMES_PER_PROCESS;
    let slots = if by_memory < MAX_PROCESSES { by_memory } else { MAX_PROCESSES };
    if slots < 64 { 64 } else { slots }
}

/// First address of the device-register (MMIO) region.
pub const MMIO_START: u64 = 0xffff_c100_0000_0000;
/// End of the MMIO region.
pub const MMIO_END: u64 = MMIO_START + PML4_SLOT_BYTES;
/// Lowest address the bootloader may use for its own mappings (boot stack, boot info).
pub const BOOTLOADER_DYNAMIC_START: u64 = 0xffff_f000_0000_0000;
/// Highest address the bootloader may use for its own mappings.
pub const BOOTLOADER_DYNAMIC_END: u64 = 0xffff_ff00_0000_0000;
/// Where the bootloader loads the (position-independent) kernel image.
pub const KERNEL_IMAGE_BASE: u64 = 0xffff_ffff_8000_0000;
/// Size of the stack the bootloader gives the kernel; the kernel moves off it early.
pub const BOOT_STACK_BYTES: u64 = 128 * 1024;

/// Returns the direct-map address of physical address `physical`.
pub const fn direct_map(physical: u64) -> VirtAddr {
    VirtAddr::new_truncate(DIRECT_MAP_START + physical)
}

/// Returns the address of the lowest usable byte of kernel stack number `index`.
///
/// Stack `index` occupies `[bottom, bottom + KERNEL_STACK_BYTES)`; the page below is a guard.
pub const fn kernel_stack_bottom(index: u64) -> VirtAddr {
    VirtAddr::new_truncate(KERNEL_STACKS_START + index * KERNEL_STACK_SLOT_BYTES + PAGE_BYTES)
}

/// Returns the PML4 slot that translates `address`.
pub const fn pml4_slot(address: u64) -> usize {
    ((address >> 39) & 0x1ff) as usize
}

// ---- compile-time checks ------------------------------------------------------------------------

/// Returns whether `address` is canonical for 48-bit virtual addresses.
const fn is_canonical(address: u64) -> bool {
    let upper = address >> 47;
    upper == 0 || upper == 0x1_ffff
}

const _: () = {
    // Every boundary is canonical and page aligned.
    let boundaries = [
        USER_PRIVATE_START,
        GLOBAL_WINDOW_START,
        GLOBAL_WINDOW_END,
        DIRECT_MAP_START,
        KERNEL_HEAP_START,
        KERNEL_STACKS_START,
        KERNEL_STACKS_END,
        MMIO_START,
        MMIO_END,
        BOOTLOADER_DYNAMIC_START,
        BOOTLOADER_DYNAMIC_END,
        KERNEL_IMAGE_BASE,
    ];
    let mut index = 0;
    while index < boundaries.len() {
        assert!(is_canonical(boundaries[index]));
        assert!(boundaries[index].is_multiple_of(PAGE_BYTES));
        index += 1;
    }
    // The user regions are in order and inside the lower half.
    assert!(USER_PRIVATE_START < USER_PRIVATE_END);
    assert!(USER_PRIVATE_END <= GLOBAL_WINDOW_START);
    assert!(GLOBAL_WINDOW_END <= USER_END);
    // The global window is exactly one whole PML4 slot, so one PML4 entry attaches it.
    assert!(GLOBAL_WINDOW_START.is_multiple_of(PML4_SLOT_BYTES));
    assert!(GLOBAL_WINDOW_END - GLOBAL_WINDOW_START == PML4_SLOT_BYTES);
    assert!(GLOBAL_SLOT_BYTES.is_multiple_of(HUGE_PAGE_BYTES));
    // The kernel regions are in order and do not overlap.
    assert!(DIRECT_MAP_START == KERNEL_HALF_START);
    assert!(DIRECT_MAP_START + DIRECT_MAP_MAX_BYTES <= KERNEL_HEAP_START);
    assert!(KERNEL_HEAP_START + KERNEL_HEAP_MAX_BYTES <= KERNEL_STACKS_START);
    assert!(KERNEL_STACKS_END <= MMIO_START);
    assert!(MMIO_END <= BOOTLOADER_DYNAMIC_START);
    assert!(BOOTLOADER_DYNAMIC_END <= KERNEL_IMAGE_BASE);
    // Regions that get their own tables start on PML4 slots, so they never share a PDPT.
    assert!(KERNEL_HEAP_START.is_multiple_of(PML4_SLOT_BYTES));
    assert!(KERNEL_STACKS_START.is_multiple_of(PML4_SLOT_BYTES));
    assert!(MMIO_START.is_multiple_of(PML4_SLOT_BYTES));
    // The direct map can use 1 GiB pages, and kernel stacks are page-granular.
    assert!(DIRECT_MAP_START.is_multiple_of(HUGE_PAGE_BYTES));
    assert!(KERNEL_STACK_SLOT_BYTES.is_multiple_of(PAGE_BYTES));
    assert!(KERNEL_STACK_BYTES >= 4 * PAGE_BYTES);
    assert!(PROCESS_KERNEL_STACK_BYTES + PAGE_BYTES <= KERNEL_STACK_SLOT_BYTES);
    assert!(PROCESS_KERNEL_STACK_BYTES.is_multiple_of(PAGE_BYTES));
    // Every process has its kernel-stack slot (slot 0 is the boot stack).
    assert!(KERNEL_STACKS_START + (MAX_PROCESSES + 1) * KERNEL_STACK_SLOT_BYTES <= KERNEL_STACKS_END);
    // The private user regions are in order and stay below the window.
    assert!(USER_IMAGE_BASE >= USER_PRIVATE_START);
    assert!(USER_IMAGE_END <= USER_HEAP_START);
    assert!(USER_HEAP_START + USER_HEAP_MAX_BYTES <= USER_STACK_TOP - USER_STACK_BYTES - PAGE_BYTES);
    assert!(USER_STACK_TOP <= USER_PRIVATE_END);
    assert!(USER_STACK_TOP.is_multiple_of(PAGE_BYTES) && USER_HEAP_START.is_multiple_of(PAGE_BYTES));
    assert!(KERNEL_HEAP_MAX_BYTES.is_multiple_of(PAGE_BYTES));
    // The kernel image sits in the top 2 GiB, in PML4 slot 511.
    assert!(pml4_slot(KERNEL_IMAGE_BASE) == 511);
    assert!(pml4_slot(DIRECT_MAP_START) == KERNEL_HALF_FIRST_SLOT);
};
