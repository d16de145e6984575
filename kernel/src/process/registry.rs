//! Live changes of the global segment: loading and unloading binaries while processes run.
//!
//! Every address space has its own window PDPT (`mm::global_segment`), so a binary loaded or
//! unloaded while processes live must be linked into, or cleared from, each of them. The
//! registry keeps no list of spaces; the process table is the list. Each operation here runs
//! entirely under the scheduler lock (`scheduler::with_live_spaces`): no process runs, starts or
//! ends meanwhile, and the registry lock is only ever taken inside it (the lock order is
//! scheduler, then registry, as in `AddressSpace::drop`).
//!
//! Cost of a load with `n` live address spaces: with `share_tables=on`, `n` entry writes and no
//! frame; with `share_tables=off`, `n` × (1 + tables of the binary) page-table frames copied.
//! An unload clears `n` entries (freeing the private copies with `share_tables=off`) and then
//! makes one global invalidation ([`LoadCost`], [`UnloadCost`] report the figures).

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use core::sync::atomic::{AtomicBool, Ordering};

use spin::Mutex;

use super::scheduler::{self, LiveSpaces};
use crate::arch::x86_64::interrupts;
use super::spawn::SpawnError;
use crate::mm::global_segment::{self, GlobalError};

/// What a live load did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadCost {
    /// The binary's slot.
    pub slot: usize,
    /// It was loaded now (false: it was loaded already and nothing changed).
    pub new: bool,
    /// Live address spaces whose window PDPT got the new slot's entry.
    pub spaces_patched: usize,
    /// Page-table frames copied into them (0 with `share_tables=on`).
    pub tables_copied: usize,
}

/// What a live unload did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnloadCost {
    /// The slot it freed.
    pub slot: usize,
    /// Live address spaces whose window PDPT entry for the slot was cleared.
    pub spaces_patched: usize,
    /// Their private page-table frames of the slot that were freed (0 with `share_tables=on`).
    pub tables_freed: usize,
}

/// Checks that the process table holds every attached address space: otherwise a live change
/// could not reach them all, and they would disagree about the window.
fn check_reachable(spaces: &mut LiveSpaces<'_>) -> Result<(), GlobalError> {
    let mut reachable = 0;
    spaces.for_each(&mut |space| {
        reachable += usize::from(space.window_table().is_some());
        true
    });
    let attached = global_segment::attached();
    if reachable != attached {
        return Err(GlobalError::Unreachable { attached, reachable });
    }
    Ok(())
}

/// Loads the ramdisk binary `name` while processes may be running, and links its slot into every
/// live address space; returns the cost. A binary loaded already costs nothing.
///
/// If frames run out while linking (`share_tables=off`), the spaces patched so far are
/// unpatched and the binary unloaded again: every space maps the window identically, always.
///
/// # Errors
/// Returns a [`SpawnError`]: not found, a bad executable, out of memory, a full window.
pub fn load_live(name: &str) -> Result<LoadCost, SpawnError> {
    scheduler::with_live_spaces(|spaces| {
        check_reachable(spaces)?;
        let loaded = global_segment::load_unlinked(name)?;
        if !loaded.new {
            return Ok(LoadCost { slot: loaded.slot, new: false, spaces_patched: 0, tables_copied: 0 });
        }
        let (mut spaces_patched, mut tables_copied, mut failure) = (0, 0, None);
        let visited = spaces.for_each(&mut |space| match global_segment::link_slot(space, loaded.slot) {
            Ok(Some(frames)) => {
                spaces_patched += 1;
                tables_copied += frames;
                true
            }
            Ok(None) => true,
            Err(error) => {
                failure = Some(error);
                false
            }
        });
        if let Some(error) = failure {
            // Unpatch the spaces visited (the failing one holds a partial copy), in the same
            // order, then drop the binary: it has no users and no space links it any more.
            let mut remaining = visited;
            spaces.for_each(&mut |space| {
                let _ = global_segment::unlink_slot(space, loaded.slot);
                remaining -= 1;
                remaining > 0
            });
            global_segment::unload_unlinked(loaded.slot);
            return Err(error.into());
        }
        Ok(LoadCost { slot: loaded.slot, new: true, spaces_patched, tables_copied })
    })
}

/// Loads requested by processes, served by the scheduler on the boot stack ([`serve_pending`]):
/// loading parses the ELF, copies and hashes the binary, deeper than a process's kernel stack
/// allows, so a process's `spawn` hands the load to the scheduler instead of running it itself.
struct Pending {
    /// (pid, binary) of each process waiting for a load.
    requests: Vec<(u64, &'static str)>,
    /// (pid, outcome) of each load served and not yet taken by its process.
    results: Vec<(u64, Result<LoadCost, SpawnError>)>,
}

static PENDING: Mutex<Pending> = Mutex::new(Pending { requests: Vec::new(), results: Vec::new() });
/// Set while a request waits: the scheduler's check after every switch is one load.
static REQUESTED: AtomicBool = AtomicBool::new(false);

fn with_pending<R>(operation: impl FnOnce(&mut Pending) -> R) -> R {
    interrupts::without_interrupts(|| operation(&mut PENDING.lock()))
}

/// Loads `name` through [`load_live`] unless it is loaded already (the spawn path); prints the
/// cost when live address spaces were patched. Called by a process (a `spawn` system call), it
/// yields to the scheduler, which makes the load on the boot stack ([`serve_pending`]) before
/// any other process runs; called by the kernel, it loads directly.
///
/// # Errors
/// As [`load_live`].
pub fn ensure_loaded(name: &'static str) -> Result<(), SpawnError> {
    if global_segment::slot_of(name).is_some() {
        return Ok(());
    }
    let cost = match scheduler::current_pid() {
        None => load_live(name)?,
        Some(pid) => {
            with_pending(|pending| pending.requests.push((pid, name)));
            REQUESTED.store(true, Ordering::Relaxed);
            scheduler::yield_current();
            let result = with_pending(|pending| {
                let index = pending.results.iter().position(|(waiting, _)| *waiting == pid)?;
                let result = pending.results.swap_remove(index).1;
                // Give the heap back once nothing waits, so a load leaves the kernel heap as
                // it was (the hostile suite checks every byte).
                if pending.results.is_empty() {
                    pending.results = Vec::new();
                }
                Some(result)
            });
            // The scheduler serves every request before it runs another process.
            debug_assert!(result.is_some(), "a load request was not served");
            result.unwrap_or(Err(SpawnError::from(GlobalError::NotLoaded)))?
        }
    };
    if cost.new && cost.spaces_patched > 0 {
        crate::println!(
            "registry: loaded {name} into slot {} while {} address spaces live: {} window entries written, {} page-table frames copied",
            cost.slot, cost.spaces_patched, cost.spaces_patched, cost.tables_copied
        );
    }
    Ok(())
}

/// Serves the loads processes requested ([`ensure_loaded`]); the scheduler calls it on the boot
/// stack, without its lock held, each time a process came back to it.
pub fn serve_pending() {
    if !REQUESTED.swap(false, Ordering::Relaxed) {
        return;
    }
    while let Some((pid, name)) = with_pending(|pending| pending.requests.pop()) {
        let result = load_live(name);
        with_pending(|pending| {
            pending.results.push((pid, result));
            if pending.requests.is_empty() {
                pending.requests = Vec::new();
            }
        });
    }
}

/// Unloads binary `name` while other processes run, once it has no users: clears its slot in the
/// template window and in every live address space (freeing their private copies), invalidates
/// every translation, global ones included, and only then frees its frames and the slot.
///
/// The spaces' private copies go back to the frame allocator just before the invalidation, but
/// nothing can take them in between: the scheduler lock is held, the CPU is the only one, and
/// the steps between only free frames. The binary's own frames and tables are freed after it.
///
/// # Errors
/// Returns [`GlobalError::NotLoaded`], [`GlobalError::HasUsers`] (processes of it are live or
/// unreaped), or [`GlobalError::Unreachable`].
pub fn unload_live(name: &str) -> Result<UnloadCost, GlobalError> {
    scheduler::with_live_spaces(|spaces| {
        check_reachable(spaces)?;
        let slot = global_segment::begin_unload(name)?;
        let (mut spaces_patched, mut tables_freed) = (0, 0);
        spaces.for_each(&mut |space| {
            if let Some(frames) = global_segment::unlink_slot(space, slot) {
                spaces_patched += 1;
                tables_freed += frames;
            }
            true
        });
        global_segment::finish_unload(slot);
        Ok(UnloadCost { slot, spaces_patched, tables_freed })
    })
}
