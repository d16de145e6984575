//! The kernel runs on its own page tables: CR3, permissions per section, the direct map.

#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

use x86_64::VirtAddr;
use x86_64::structures::paging::PageTableFlags;

use super::{Checks, Failed, fail};
use crate::arch::x86_64::cr;
use crate::mm::layout::{self, HUGE_PAGE_BYTES, LARGE_PAGE_BYTES, PAGE_BYTES};
use crate::mm::paging::{self, probe};

/// Read-only data with a known pattern (lands in .rodata).
static RODATA_PATTERN: [u8; 16] = *b"shoal-rodata-ok!";
/// Writable data (lands in .data or .bss).
static DATA_WORD: AtomicU64 = AtomicU64::new(0x5348_4f41_4c21);
/// Bytes compared between the virtual and direct-map views.
const COMPARE_BYTES: usize = 64;

/// Runs the paging checks.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    let facts = crate::boot_facts();
    let global = if facts.enabled.pge { PageTableFlags::GLOBAL } else { PageTableFlags::empty() };
    let no_execute = if facts.enabled.nx { PageTableFlags::NO_EXECUTE } else { PageTableFlags::empty() };

    checks.check("CR3 holds the kernel's own root, not the bootloader's");
    let active = cr::active_root().start_address();
    let boot = paging::boot_root_address();
    crate::println!("ktest: paging: CR3 root {:#x}, bootloader root {:#x}", active.as_u64(), boot.as_u64());
    if paging::kernel_root_address() != Some(active) || active == boot {
        fail!(checks, "active root {:#x}, kernel root {:?}, boot root {:#x}", active.as_u64(), paging::kernel_root_address(), boot.as_u64());
    }
    checks.pass();

    checks.check("the direct map reads the kernel's ELF file where the bootloader put it");
    let mut magic = [0u8; 4];
    paging::read_physical(x86_64::PhysAddr::new(facts.kernel_file_physical), &mut magic);
    if &magic != b"\x7fELF" {
        fail!(checks, "found {magic:02x?} at physical {:#x}", facts.kernel_file_physical);
    }
    checks.pass();

    checks.check("the direct map and the image mapping show the same kernel text bytes");
    let text = VirtAddr::from_ptr(run as *const ());
    let Some(text_translation) = paging::translate(text) else { fail!(checks, "text {:#x} unmapped", text.as_u64()) };
    let mut through_direct_map = [0u8; COMPARE_BYTES];
    paging::read_physical(text_translation.physical, &mut through_direct_map);
    for (index, &byte) in through_direct_map.iter().enumerate() {
        let through_image = probe::read_byte(text + index as u64);
        if through_image != byte {
            fail!(checks, "byte {index}: image {through_image:#x}, direct map {byte:#x}");
        }
    }
    checks.pass();

    checks.check("kernel text is present, read-only, executable and global");
    let flags = text_translation.flags;
    if flags.contains(PageTableFlags::WRITABLE) || flags.contains(PageTableFlags::NO_EXECUTE) || !flags.contains(global) || text_translation.page_bytes != PAGE_BYTES {
        fail!(checks, "text {:#x} has flags {flags:?}, page {} bytes", text.as_u64(), text_translation.page_bytes);
    }
    checks.pass();

    checks.check("kernel rodata is read-only, non-executable and global");
    let rodata = VirtAddr::from_ptr(RODATA_PATTERN.as_ptr());
    let Some(translation) = paging::translate(rodata) else { fail!(checks, "rodata {:#x} unmapped", rodata.as_u64()) };
    let flags = translation.flags;
    if flags.contains(PageTableFlags::WRITABLE) || !flags.contains(no_execute | global) {
        fail!(checks, "rodata {:#x} has flags {flags:?}", rodata.as_u64());
    }
    checks.pass();

    checks.check("kernel data is writable, non-executable and global");
    DATA_WORD.fetch_add(1, Ordering::Relaxed);
    let data = VirtAddr::from_ptr(DATA_WORD.as_ptr());
    let Some(translation) = paging::translate(data) else { fail!(checks, "data {:#x} unmapped", data.as_u64()) };
    let flags = translation.flags;
    if !flags.contains(PageTableFlags::WRITABLE | no_execute | global) {
        fail!(checks, "data {:#x} has flags {flags:?}", data.as_u64());
    }
    checks.pass();

    checks.check("the direct map uses the largest page size the CPU offers, global and NX");
    let expected_page = if facts.features.huge_pages_1g { HUGE_PAGE_BYTES } else { LARGE_PAGE_BYTES };
    let Some(translation) = paging::translate(layout::direct_map(0x20_0000)) else { fail!(checks, "direct map unmapped") };
    if translation.page_bytes != expected_page
        || translation.physical.as_u64() != 0x20_0000
        || !translation.flags.contains(PageTableFlags::WRITABLE | no_execute | global)
    {
        fail!(checks, "{translation:?}, expected {expected_page}-byte pages");
    }
    checks.pass();

    checks.check("the boot stack is kernel stack 0 and its guard page is unmapped");
    let local = 0u64;
    let stack_pointer = VirtAddr::from_ptr(&local);
    let bottom = layout::kernel_stack_bottom(0);
    let top = bottom + layout::KERNEL_STACK_BYTES;
    if stack_pointer < bottom || stack_pointer >= top {
        fail!(checks, "stack pointer {:#x} is outside [{:#x}, {:#x})", stack_pointer.as_u64(), bottom.as_u64(), top.as_u64());
    }
    if let Some(translation) = paging::translate(bottom - PAGE_BYTES) {
        fail!(checks, "guard page {:#x} is mapped: {translation:?}", (bottom - PAGE_BYTES).as_u64());
    }
    checks.pass();

    checks.check("the null guard and the user half are unmapped");
    for address in [0, PAGE_BYTES, layout::USER_PRIVATE_START, layout::GLOBAL_WINDOW_START] {
        if let Some(translation) = paging::translate(VirtAddr::new(address)) {
            fail!(checks, "{address:#x} is mapped: {translation:?}");
        }
    }
    checks.pass();
    Ok(())
}
