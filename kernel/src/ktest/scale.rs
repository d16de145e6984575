//! Density at scale (`test=scale`): as many live synth-small instances as memory allows, up to
//! the `scale_target` kernel argument (50,000 by default), each answering one invocation; the
//! memory each instance costs, split by kind; what a spawn costs; and every frame back at the end.
//!
//! Instances start in batches: a batch is spawned, run until each waits for its first invocation,
//! and sent one invocation, so that every demand page an instance needs (its stack, its binary's
//! writable pages) is mapped before the next batch starts. Spawning stops at the target, when a
//! spawn is refused for lack of memory, or when fewer frames are free than the next batch would
//! need (so that no instance is killed for lack of memory on a demand fault). Under the tlbsim
//! plugin (`tlbsim=on`) every spawn is a marked phase named `spawn`, whose instruction count is
//! the spawn's cost from the request until the instance is runnable; the host reads it
//! (`tests/scale.rs`). The kernel cannot count instructions itself under TCG. At 10,000 live
//! instances (or all of them, when fewer fit) a binary is unloaded and loaded again beside them,
//! with the cost of each printed.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use super::{Checks, Failed, fail, in_phase};
use crate::faas;
use crate::mm::layout::{PAGE_BYTES, PROCESS_KERNEL_STACK_BYTES};
use crate::mm::{frame, global_segment, heap};
use crate::process::{registry, scheduler};
use crate::process::spawn::SpawnError;

/// The runtime the suite scales.
const RUNTIME: &str = "synth-small";
/// Instances per batch.
const BATCH: usize = 500;
/// Frames kept free beyond the next batch's estimated need.
const SPARE_FRAMES: usize = 256;
/// Phase ids of the spawn phases start here (one per spawn).
const FIRST_SPAWN_PHASE: u64 = 1_000_000;
/// Code and read-only data pages each invocation touches (as the density bench's).
const PAGES_PER_INVOCATION: u32 = 32;
/// Bytes of a MiB.
const MIB: u64 = 1024 * 1024;
/// Live instances at which a binary is unloaded and loaded again beside them (or all of them,
/// when fewer fit).
const LIVE_CHANGE_AT: usize = 10_000;
/// The binary unloaded and loaded again while the instances live (loaded at boot, unused).
const LIVE_CHANGE_BINARY: &str = "hello";
/// Phase ids of the live unload and load (under tlbsim).
const UNLOAD_PHASE: u64 = 999_998;
const LOAD_PHASE: u64 = 999_999;


/// Unloads [`LIVE_CHANGE_BINARY`] and loads it again while `live` instances live, and prints what
/// each cost: every live address space's window PDPT is patched (one entry each with shared
/// tables), and under tlbsim each step is a marked phase (`unload-live`, `load-live`).
fn change_registry_live(checks: &Checks, live: usize, tlbsim: bool) -> Result<(), Failed> {
    let (zeroed, copied) = frame::bytes_written();
    let unloaded = in_phase(tlbsim, UNLOAD_PHASE, "unload-live", || registry::unload_live(LIVE_CHANGE_BINARY));
    let unloaded = match unloaded {
        Ok(cost) => cost,
        Err(error) => fail!(checks, "unloading {LIVE_CHANGE_BINARY} beside {live} instances: {error}"),
    };
    let loaded = in_phase(tlbsim, LOAD_PHASE, "load-live", || registry::load_live(LIVE_CHANGE_BINARY));
    let loaded = match loaded {
        Ok(cost) => cost,
        Err(error) => fail!(checks, "loading {LIVE_CHANGE_BINARY} again beside {live} instances: {error}"),
    };
    let (zeroed_after, copied_after) = frame::bytes_written();
    crate::println!(
        "scale: unloaded {LIVE_CHANGE_BINARY} beside {live} live instances: {} window PDPTs patched, {} private tables freed, then one global invalidation",
        unloaded.spaces_patched,
        unloaded.tables_freed
    );
    crate::println!(
        "scale: loaded {LIVE_CHANGE_BINARY} again beside them: slot {} (was {}), {} window PDPTs patched, {} tables copied; {} bytes zeroed and {} copied in all{}",
        loaded.slot,
        unloaded.slot,
        loaded.spaces_patched,
        loaded.tables_copied,
        zeroed_after - zeroed,
        copied_after - copied,
        if tlbsim { "; instructions: the tlbsim `unload-live` and `load-live` phase lines" } else { "" }
    );
    if unloaded.spaces_patched != live || loaded.spaces_patched != live || !loaded.new {
        fail!(checks, "{live} live spaces, but the unload patched {} and the load {}", unloaded.spaces_patched, loaded.spaces_patched);
    }
    Ok(())
}

/// What the spawns wrote into fresh frames.
#[derive(Default)]
struct SpawnBytes {
    zeroed: u64,
    copied: u64,
    max_zeroed: u64,
    max_copied: u64,
}

/// Memory of the live instances, summed over all of them.
#[derive(Default)]
struct Split {
    tables: u64,
    stack: u64,
    data: u64,
    heap: u64,
}

/// Frames that count as free: the allocator's, and those the heap grew by (kept for reuse).
fn free_frames() -> u64 {
    frame::free_count() as u64 + heap::grown_frames()
}

/// Runs the suite.
pub fn run(checks: &mut Checks) -> Result<(), Failed> {
    let facts = crate::boot_facts();
    let target = facts.args.scale_target as usize;
    let tlbsim = facts.args.tlbsim;
    checks.check("as many live synth-small instances as memory allows, each answers one invocation, every frame back");
    if let Err(error) = global_segment::load(RUNTIME) {
        fail!(checks, "loading {RUNTIME}: {error}");
    }
    let memory_mib = facts.frames.usable_bytes / MIB;
    // The pid list is the suite's own; allocated first so it is not counted as bookkeeping.
    let mut instances: Vec<u64> = Vec::with_capacity(target.min(facts.space.process_slots as usize));
    let free_before = free_frames();
    let heap_before = heap::usage_bytes().0;
    let grown_before = heap::grown_frames();
    crate::println!(
        "scale: target {target} live instances of {RUNTIME}; {memory_mib} MiB of usable memory, {} frames free, {} process slots",
        free_before,
        facts.space.process_slots
    );

    let mut bytes = SpawnBytes::default();
    let mut stop_reason = "the target was reached";
    // Frames one instance takes once it has answered (measured after each batch; the first
    // guess is generous).
    let mut frames_per_instance = 32u64;
    let mut registry_changed = false;
    'batches: while instances.len() < target {
        let room = (frame::free_count() as u64).saturating_sub(SPARE_FRAMES as u64) / frames_per_instance;
        let batch = BATCH.min(target - instances.len()).min(room as usize);
        if batch == 0 {
            stop_reason = "too few frames were left for another instance";
            break;
        }
        let free_at_batch = frame::free_count() as u64;
        let first = instances.len();
        for _ in 0..batch {
            let phase = FIRST_SPAWN_PHASE + instances.len() as u64;
            let (zeroed, copied) = frame::bytes_written();
            let spawned = in_phase(tlbsim, phase, "spawn", || scheduler::spawn_instance(RUNTIME, 0));
            match spawned {
                Ok(pid) => instances.push(pid),
                Err(SpawnError::OutOfMemory(_)) => {
                    stop_reason = "a spawn was refused for lack of memory";
                    break;
                }
                Err(error) => fail!(checks, "spawning instance {}: {error}", instances.len()),
            }
            let (zeroed_after, copied_after) = frame::bytes_written();
            let (zeroed, copied) = (zeroed_after - zeroed, copied_after - copied);
            bytes.zeroed += zeroed;
            bytes.copied += copied;
            bytes.max_zeroed = bytes.max_zeroed.max(zeroed);
            bytes.max_copied = bytes.max_copied.max(copied);
        }
        let started = &instances[first..];
        if started.is_empty() {
            break 'batches;
        }
        // Each instance runs to its first `invoke_wait`, then answers one invocation.
        scheduler::run_until_quiet();
        let results = match faas::round(started, first as u64 + 1, |index| {
            faas::synthetic_payload((first + index) as u64, PAGES_PER_INVOCATION, PAGES_PER_INVOCATION)
        }) {
            Ok(results) => results,
            Err(error) => fail!(checks, "invoking instances {first}..{}: {error}", instances.len()),
        };
        if results.len() != started.len() {
            fail!(checks, "{} answers from {} instances", results.len(), started.len());
        }
        let used = free_at_batch.saturating_sub(frame::free_count() as u64);
        frames_per_instance = used.div_ceil(started.len() as u64).max(1);
        if instances.len() % 10_000 < BATCH {
            crate::println!("scale: {} live instances, each answered one invocation; {} frames free", instances.len(), frame::free_count());
        }
        if !registry_changed && instances.len() >= LIVE_CHANGE_AT {
            change_registry_live(checks, instances.len(), tlbsim)?;
            registry_changed = true;
        }
        if stop_reason != "the target was reached" {
            break;
        }
    }
    let live = instances.len() as u64;
    if live == 0 {
        fail!(checks, "no instance could be started");
    }
    if !registry_changed {
        change_registry_live(checks, instances.len(), tlbsim)?;
    }

    // Memory per instance, with every instance alive and warm.
    let mut split = Split::default();
    scheduler::for_each_space(|_, _, space| {
        let demand = space.demand_counts();
        split.tables += space.table_frames() as u64;
        split.stack += demand.zeroed;
        split.data += demand.copied;
        split.heap += (space.page_frames() as u64).saturating_sub(demand.zeroed + demand.copied);
    });
    let kernel_stack = live * (PROCESS_KERNEL_STACK_BYTES / PAGE_BYTES);
    let frames_used = free_before - free_frames();
    let bookkeeping_bytes = heap::usage_bytes().0.saturating_sub(heap_before) as u64;
    let per = |frames: u64| frames as f64 * PAGE_BYTES as f64 / 1024.0 / live as f64;
    crate::println!("scale: {live} live instances of {RUNTIME} ({stop_reason}); every one answered one invocation");
    crate::println!(
        "scale: memory per instance {:.1} KiB: page tables {:.1} KiB, stack {:.1} KiB, data {:.1} KiB, heap {:.1} KiB, kernel stack {:.1} KiB, bookkeeping {:.2} KiB (process-table entry on the kernel heap)",
        per(frames_used) + bookkeeping_bytes as f64 / 1024.0 / live as f64,
        per(split.tables),
        per(split.stack),
        per(split.data),
        per(split.heap),
        per(kernel_stack),
        bookkeeping_bytes as f64 / 1024.0 / live as f64,
    );
    crate::println!(
        "scale: kernel heap grew by {} KiB for them; the process table's fixed part (slots, run queue, contexts) was sized at boot for {} slots",
        (heap::grown_frames() - grown_before) * PAGE_BYTES / 1024,
        facts.space.process_slots
    );
    crate::println!(
        "scale: a spawn wrote {:.0} bytes zeroed and {:.0} bytes copied on average (max {} and {}); instructions per spawn: {}",
        bytes.zeroed as f64 / live as f64,
        bytes.copied as f64 / live as f64,
        bytes.max_zeroed,
        bytes.max_copied,
        if tlbsim { "see the tlbsim `spawn` phase lines" } else { "not counted (boot with tlbsim=on: the plugin counts them)" }
    );
    let accounted = split.tables + split.stack + split.data + split.heap + kernel_stack;
    crate::println!(
        "scale: {frames_used} frames in use for the instances, {accounted} of them in their address spaces and kernel stacks; the rest are kernel tables and heap"
    );
    crate::println!("scale: maximum live instances with {memory_mib} MiB: {live}");

    if let Err(error) = faas::shut_down(&instances) {
        fail!(checks, "shutting the instances down: {error}");
    }
    if free_frames() != free_before {
        fail!(checks, "{} frames free after (heap growth included), {free_before} before", free_frames());
    }
    if heap::usage_bytes().0 != heap_before {
        fail!(checks, "{} heap bytes in use after, {heap_before} before", heap::usage_bytes().0);
    }
    drop(instances);
    crate::println!("scale: every frame came back");
    checks.pass();
    Ok(())
}
