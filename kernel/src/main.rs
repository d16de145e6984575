//! shoal: a research microkernel for address-translation studies of FaaS density.
//!
//! Boot order (each step names the module that owns it):
//! 1. `drivers::serial` — the console, so every later step can report;
//! 2. `arch::x86_64::{gdt, idt}` — descriptor tables, IST stacks, exception reports;
//! 3. `config` — kernel arguments from fw_cfg (refused arguments stop the boot here);
//! 4. `arch::x86_64::cpu` — CPUID into `CpuFeatures`; NX, PGE, SMEP, SMAP, PCIDE on; `drivers::pmu`
//!    plans the performance counters (or says why there are none);
//! 5. `mm::frame` — the physical frame allocator over the firmware's memory map;
//! 6. `mm::paging` — the kernel's own page tables; switch CR3 and stack (`kernel_main` runs on
//!    them);
//! 7. `mm::heap` — the kernel heap;
//! 8. `drivers::apic` — local APIC, timer calibration, periodic ticks;
//! 9. the default demo, or the in-kernel test suite named by `test=`.
//!
//! `unsafe` is denied crate-wide and allowed only in `arch/x86_64`, `mm/paging` and `mm/heap`.

#![no_std]
#![no_main]
#![feature(abi_x86_interrupt)]
#![feature(allocator_api)]
#![deny(unsafe_code)]
// A binary crate exports nothing: `pub` marks a module's interface to its neighbours.
#![allow(unreachable_pub)]

extern crate alloc;

mod arch;
#[cfg(feature = "density-harness")]
mod bench;
mod config;
mod drivers;
mod faas;
mod introspection;
mod ktest;
mod loader;
mod log;
mod mm;
mod process;
mod ramdisk;
mod scenario;
mod shutdown;
mod syscall;
mod time;

use bootloader_api::config::BootloaderConfig;
use bootloader_api::{BootInfo, entry_point};
use kernel_args::{KernelArgs, MAX_ARGS_BYTES};
use shoal_boot::BootMemory;
use spin::Once;

use arch::x86_64::cpu::{self, CpuFeatures, EnabledFeatures};
use arch::x86_64::{context, cr, gdt, idt, interrupts, port, syscall_entry};
use drivers::apic::{self, ApicInfo, Calibration};
use mm::frame::{self, FrameSummary};
use mm::kernel_image::KernelImage;
use mm::layout::{self, PAGE_BYTES};
use mm::paging::{self, SpaceSummary};
use mm::global_segment::{self, GlobalError};
use mm::{heap, pcid};
use process::scheduler;

/// Bytes in a mebibyte, for reports.
const MIB: u64 = 1024 * 1024;

/// Where the bootloader puts the kernel, physical memory, and its own boot-time mappings.
const BOOTLOADER_CONFIG: BootloaderConfig = shoal_boot::bootloader_config(
    layout::KERNEL_IMAGE_BASE,
    layout::DIRECT_MAP_START,
    layout::BOOTLOADER_DYNAMIC_START,
    layout::BOOTLOADER_DYNAMIC_END,
    layout::BOOT_STACK_BYTES,
);

entry_point!(kernel_entry, config = &BOOTLOADER_CONFIG);

/// What the boot path learned, kept for reports and tests.
#[derive(Debug)]
pub struct BootFacts {
    /// The kernel arguments.
    pub args: KernelArgs,
    /// What the CPU offers.
    pub features: CpuFeatures,
    /// What the kernel turned on.
    pub enabled: EnabledFeatures,
    /// The frame allocator's view of memory at boot.
    pub frames: FrameSummary,
    /// What the kernel's own address space maps.
    pub space: SpaceSummary,
    /// Physical address of the kernel's ELF file.
    pub kernel_file_physical: u64,
    /// Physical address of the ACPI RSDP, when the firmware provided one.
    pub rsdp_physical: Option<u64>,
    /// Local APIC facts and timer calibration (recorded in `kernel_main`).
    pub apic: Once<(ApicInfo, Calibration)>,
}

static BOOT_FACTS: Once<BootFacts> = Once::new();

/// Returns what the boot path learned.
///
/// # Panics
/// Panics if called before the kernel switched to its own page tables (a boot-order bug).
pub fn boot_facts() -> &'static BootFacts {
    BOOT_FACTS.get().expect("boot facts are recorded before kernel_main")
}

/// Stops the boot with a failure status after printing `what` and `error`.
fn refuse(what: &str, error: impl core::fmt::Display) -> ! {
    println!("boot: {what}: {error}");
    shutdown::failure(what)
}

fn kernel_entry(boot_info: &'static mut BootInfo) -> ! {
    // Without a UART the kernel still runs; the run ends through the exit device regardless.
    drivers::serial::init();
    println!();
    println!("shoal {} — a research microkernel for FaaS address-translation studies", env!("CARGO_PKG_VERSION"));
    gdt::init();
    idt::init();
    port::pic_remap_and_mask(idt::PIC_VECTOR_BASE);

    let boot = match BootMemory::from_boot_info(boot_info, layout::DIRECT_MAP_START) {
        Ok(boot) => boot,
        Err(error) => refuse("boot information unusable", error),
    };
    // The ramdisk's physical pages are found through the bootloader's tables (so before the
    // switch), and early: it may carry the kernel arguments.
    let ramdisk_summary = boot.ramdisk.map(|(start, length)| match paging::boot_ramdisk(start, length).map(ramdisk::init) {
        Ok(Ok(files)) => (files, length),
        Ok(Err(error)) => refuse("ramdisk", error),
        Err(error) => refuse("ramdisk", error),
    });

    let mut argument_text = [0u8; MAX_ARGS_BYTES];
    let (args, source) = match config::load(&mut argument_text, &ktest::NAMES) {
        Ok(loaded) => loaded,
        Err(error) => refuse("kernel arguments refused", error),
    };
    log::set_level(args.log_level);
    match source {
        config::Source::FwCfg(bytes) => info!("arguments ({bytes} bytes from fw_cfg): {args}"),
        config::Source::Ramdisk(bytes) => info!("arguments ({bytes} bytes from the ramdisk's `args` file): {args}"),
        config::Source::Defaults => info!("no fw_cfg arguments; defaults: {args}"),
    }
    match ramdisk_summary {
        Some((files, length)) => info!("ramdisk: {files} files, {} KiB", length / 1024),
        None => warn!("no ramdisk: no user programs can be started"),
    }


    let mut features = CpuFeatures::detect();
    if let Some(rsdp) = boot.rsdp_physical {
        // RSDP: "RSD PTR " (8 bytes), checksum (1), then the 6-byte OEM ID (ACPI 6.5 §5.2.5.3).
        const RSDP_OEM_ID_OFFSET: u64 = 9;
        let mut oem_id = [0u8; 6];
        paging::read_physical(x86_64::PhysAddr::new(rsdp + RSDP_OEM_ID_OFFSET), &mut oem_id);
        features.note_acpi_oem(oem_id);
    }
    println!("{features}");
    let enabled = cpu::enable_features(&features);
    println!(
        "cpu: enabled nx={} pge={} smep={} smap={} pcide={} pke={} umip={} am={}",
        enabled.nx, enabled.pge, enabled.smep, enabled.smap, enabled.pcide, enabled.pke, enabled.umip, enabled.alignment_mask
    );
    drivers::pmu::init(features.engine);
    if !features.pcid {
        info!("PCID unavailable on this CPU: the `pcid` translation mode will be reported as unavailable");
    }

    let frames = match frame::init(boot.regions()) {
        Ok(summary) => summary,
        Err(error) => refuse("frame allocator", error),
    };
    let kernel_file = paging::kernel_file_bytes(boot.kernel_file_physical, boot.kernel_file_bytes);
    let image = match KernelImage::parse(kernel_file, boot.kernel_image_offset) {
        Ok(image) => image,
        Err(error) => refuse("kernel image", error),
    };
    for segment in image.segments() {
        debug!(
            "kernel {:<6} {:#x}..{:#x}",
            segment.kind(),
            segment.start,
            segment.start + segment.memory_bytes
        );
    }
    let space = match paging::build_kernel_space(&features, enabled.pge, frames.physical_end, &image) {
        Ok(space) => space,
        Err(error) => refuse("building the kernel page tables", error),
    };

    BOOT_FACTS.call_once(|| BootFacts {
        args,
        features,
        enabled,
        frames,
        space: space.summary,
        kernel_file_physical: boot.kernel_file_physical,
        rsdp_physical: boot.rsdp_physical,
        apic: Once::new(),
    });
    paging::enter_kernel_space(space, kernel_main)
}

/// Continues the boot on the kernel's own page tables and stack.
extern "C" fn kernel_main() -> ! {
    let facts = boot_facts();
    paging::finish_entry(&facts.features);
    info!(
        "running on the kernel's own page tables: CR3 {:#x} (the bootloader's was {:#x})",
        cr::read_raw(),
        paging::boot_root_address().as_u64()
    );
    if let Err(error) = heap::init(u64::from(facts.args.heap_bytes)) {
        refuse("kernel heap", error);
    }
    context::enable_fpu();
    syscall_entry::init();
    let pcid_mode = pcid::init(facts.enabled.pcide, facts.args.pcid, facts.args.tlbsim, facts.args.pcids as usize);
    println!("translation: pcid mode {} ({} PCIDs in the pool)", pcid_mode.describe(), facts.args.pcids);
    if facts.args.tlbsim {
        // The simulator counts page walks by region: tell it where the window is.
        arch::x86_64::marker::window(
            x86_64::VirtAddr::new(layout::GLOBAL_WINDOW_START),
            x86_64::VirtAddr::new(layout::GLOBAL_WINDOW_END),
        );
    }
    scheduler::init(facts.args.quantum_ticks, facts.space.process_slots);
    let mode = global_segment::Mode { global: facts.args.global, share_tables: facts.args.share_tables };
    match global_segment::init(mode, facts.args.large_pages, &facts.features, facts.enabled.pge, facts.enabled.pke) {
        Ok(()) => {
            println!(
                "translation: global segment {mode}; protection keys {}",
                if facts.enabled.pke { "on (one per binary slot, 15 keys)" } else { "unavailable (the CPU has no PKU)" }
            );
            println!(
                "translation: window leaves: {}",
                if facts.args.large_pages { "one 2 MiB page per read-only 2 MiB region (large_pages=on)" } else { "4 KiB pages (large_pages=off)" }
            );
        }
        Err(error @ GlobalError::GlobalUnavailable) => refuse("global=on", error),
        Err(error) => refuse("global segment", error),
    }
    load_binaries();
    if facts.args.max_frames > 0 {
        let held = frame::hold_back(facts.args.max_frames as usize);
        println!("memory: max_frames={}: {held} frames held back, {} free for processes", facts.args.max_frames, frame::free_count());
    }
    if facts.args.kstack_probe {
        paging::user::enable_kernel_stack_probe();
        println!("kstack_probe: process kernel stacks are painted at spawn and measured when freed");
    }
    idt::set_user_fault_handler(process::faults::kill_current);
    idt::set_demand_fault_handler(process::faults::serve_demand_fault);
    idt::set_timer_handler(|mode| scheduler::on_timer_tick(mode == idt::Mode::User));
    // Where the local and I/O APICs are: ACPI's MADT, else the IA32_APIC_BASE MSR.
    let madt = match facts.rsdp_physical.map(paging::acpi::read_madt) {
        Some(Ok(madt)) => {
            print!("acpi: MADT: {} processors, local APIC at {:#x}", madt.processors, madt.local_apic);
            for (id, address, base) in &madt.io_apics {
                print!(", I/O APIC {id} at {address:#x} (GSI base {base})");
            }
            println!();
            Some(madt)
        }
        Some(Err(error)) => {
            warn!("acpi: the MADT could not be read ({error:?}); the local APIC comes from IA32_APIC_BASE");
            None
        }
        None => {
            warn!("acpi: no RSDP from the firmware; the local APIC comes from IA32_APIC_BASE");
            None
        }
    };
    let apic_info = match apic::init(&facts.features, madt.as_ref().map(|madt| madt.local_apic)) {
        Ok(info) => info,
        Err(error) => refuse("local APIC", error),
    };
    let calibration = match apic::calibrate() {
        Ok(calibration) => calibration,
        Err(error) => refuse("timer calibration", error),
    };
    facts.apic.call_once(|| (apic_info, calibration));
    print_memory_summary(facts);
    println!(
        "apic: {} id {} version {:#x}; timer {} kHz (divide 16), TSC {} MHz, measured by {} against the PIT{}",
        apic_info.mode,
        apic_info.id,
        apic_info.version & 0xff,
        calibration.apic_timer_hz / 1000,
        calibration.tsc_hz / 1_000_000,
        facts.features.engine.name(),
        if facts.features.engine == cpu::Engine::Hardware { "" } else { " (emulated or virtualised rates, not hardware figures)" }
    );
    apic::start_periodic(&calibration, facts.args.timer_hz);
    interrupts::enable();

    match facts.args.test {
        Some(suite) => ktest::run(suite),
        None => demo(facts),
    }
}

/// Loads every program of the ramdisk into the global segment, except the broken-ELF corpus and
/// the large binaries (`big-*`, `synth-*`), which load on first use (a spawn loads them, also
/// while processes run: `process::registry`).
fn load_binaries() {
    let at_boot = |name: &&str| {
        !name.starts_with(ramdisk::CORPUS_PREFIX) && !ramdisk::LAZY_PREFIXES.iter().any(|prefix| name.starts_with(prefix))
    };
    for name in ramdisk::binaries().filter(at_boot) {
        if let Err(error) = global_segment::load(name) {
            warn!("binary {name} not loaded: {error}");
        }
    }
    for binary in global_segment::binaries() {
        debug!(
            "global segment: slot {} {}: {} read-only pages, {} writable pages, {} shared tables",
            binary.slot, binary.name, binary.read_only_pages, binary.writable_pages, binary.shared_tables
        );
    }
    let binaries = global_segment::binaries();
    if global_segment::large_pages() {
        let large: usize = binaries.iter().map(|binary| binary.large_regions).sum();
        let read_only: usize = binaries.iter().map(|binary| binary.regions.0).sum();
        let filler: usize = binaries.iter().map(|binary| binary.filler_pages).sum();
        println!(
            "global segment: {large} of {read_only} read-only regions mapped with 2 MiB pages, {filler} zeroed filler frames ({} MiB) beyond the binaries' own pages",
            filler as u64 * PAGE_BYTES / MIB
        );
    }
    println!("global segment: {} binaries loaded", binaries.len());
}

/// Prints the memory summary line(s) of the boot log.
fn print_memory_summary(facts: &BootFacts) {
    let frames = &facts.frames;
    let space = &facts.space;
    let (heap_used, heap_free) = heap::usage_bytes();
    println!(
        "memory: {} MiB usable in {} ranges, physical end {:#x}; {} of {} frames free after boot",
        frames.usable_bytes / MIB,
        frames.usable_ranges,
        frames.physical_end,
        frame::free_count(),
        frame::free_count() + frame::used_count()
    );
    println!(
        "memory: direct map {} MiB in {} pages; kernel image text {} KiB, rodata {} KiB, data {} KiB; \
         kernel page tables {} frames; heap {} KiB ({} used); frame bitmap {} KiB",
        space.direct_map_bytes / MIB,
        if space.direct_map_page_bytes == layout::HUGE_PAGE_BYTES { "1 GiB" } else { "2 MiB" },
        space.text_pages * PAGE_BYTES / 1024,
        space.rodata_pages * PAGE_BYTES / 1024,
        space.data_pages * PAGE_BYTES / 1024,
        paging::kernel_table_frames(),
        (heap_used + heap_free) / 1024,
        heap_used,
        frames.bitmap_bytes / 1024
    );
}

/// The default demo: show the timer ticking, then end the run with success.
fn demo(facts: &BootFacts) -> ! {
    let ticks = facts.args.ticks as u64;
    let hz = facts.args.timer_hz as u64;
    println!("demo: waiting for {ticks} timer ticks at {hz} Hz");
    const REPORTS: u64 = 4;
    let step = (ticks / REPORTS).max(1);
    let start = time::ticks();
    let mut waited = 0;
    while waited < ticks {
        let chunk = step.min(ticks - waited);
        time::wait_ticks(chunk);
        waited += chunk;
        println!("timer: tick {} ({} of {ticks} waited)", time::ticks(), waited);
    }
    println!("demo: {} ticks in total", time::ticks() - start);

    let Some(text) = ramdisk::scenario("default") else {
        refuse("demo", "the ramdisk has no scenarios/default");
    };
    let text = core::str::from_utf8(text).unwrap_or("");
    let commands = match scenario::parse(text) {
        Ok(commands) => commands,
        Err(error) => refuse("scenario default", error),
    };
    println!("demo: running scenario `default` ({} commands)", commands.len());
    let outcome = scenario::run(&commands, true);
    println!(
        "demo: {} processes ended after {} context switches; free frames {} before, {} after",
        outcome.finished.len(),
        outcome.switches,
        outcome.free_frames_before,
        outcome.free_frames_after
    );
    if outcome.all_clean() {
        println!("demo: done");
        shutdown::success()
    } else {
        shutdown::failure("a demo process failed or leaked frames")
    }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    interrupts::disable();
    drivers::serial::write_fatal(format_args!("PANIC: {info}\n"));
    shutdown::failure("kernel panic")
}
