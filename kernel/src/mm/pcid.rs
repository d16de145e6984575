//! PCID leases for address spaces: the kernel's pool on top of `pcid-alloc`, and the decision of
//! how a CR3 write treats the TLB.
//!
//! The `pcid` translation mode is on when the CPU has PCID, CR4.PCIDE is set, and the `pcid`
//! kernel argument is `on`. Then each address space runs under its own PCID (1..=4095) and a
//! switch keeps that PCID's entries (CR3 bit 63), unless the PCID was just (re)assigned, when the
//! write flushes it (Intel SDM vol. 3A §4.10.4.1). Otherwise every address space uses PCID 0 and
//! every CR3 write flushes all non-global entries. QEMU TCG has no PCID: there the mode is
//! reported unavailable.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec;

use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use pcid_alloc::{Lease, OwnerId, PCID_COUNT, PcidPool, PoolStats, Slot};
use spin::Mutex;
use x86_64::structures::paging::PhysFrame;

use crate::arch::x86_64::cr::Cr3Value;

static POOL: Mutex<Option<PcidPool<'static>>> = Mutex::new(None);
static ENABLED: AtomicBool = AtomicBool::new(false);
static SIMULATED: AtomicBool = AtomicBool::new(false);
/// The mode, as one of the `MODE_*` values, for reports.
static MODE: AtomicU8 = AtomicU8::new(MODE_UNAVAILABLE);
const MODE_ON: u8 = 0;
const MODE_OFF: u8 = 1;
const MODE_UNAVAILABLE: u8 = 2;
const MODE_SIMULATED: u8 = 3;

/// Whether the `pcid` mode is in force, and why not when it is not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Address spaces run under their own PCIDs.
    On,
    /// The `pcid` kernel argument turned it off.
    OffByArgument,
    /// The CPU has no PCID (QEMU TCG, older CPUs): the mode is unavailable.
    Unavailable,
    /// The CPU has no PCID, but the tlbsim plugin models it: PCIDs go into CR3 bits 11:0 with
    /// CR4.PCIDE clear, and markers tell the plugin which writes keep entries.
    Simulated,
}

impl Mode {
    /// Returns the word used in reports.
    pub fn describe(self) -> &'static str {
        match self {
            Mode::On => "on",
            Mode::OffByArgument => "off (pcid=off)",
            Mode::Unavailable => "unavailable (the CPU has no PCID)",
            Mode::Simulated => "simulated for tlbsim (the CPU has no PCID)",
        }
    }
}

/// Sets up the pool of `pool_size` PCIDs (2..=4096, PCID 0 included); `pcide` says whether
/// CR4.PCIDE is on, `requested` is the `pcid` argument, `simulate` asks for the tlbsim plugin's
/// simulated PCID where the CPU has none.
pub fn init(pcide: bool, requested: bool, simulate: bool, pool_size: usize) -> Mode {
    let storage = Box::leak(vec![Slot::EMPTY; pool_size.clamp(pcid_alloc::MIN_POOL_SLOTS, PCID_COUNT)].into_boxed_slice());
    let pool = PcidPool::new(storage).expect("a full-size PCID pool");
    *POOL.lock() = Some(pool);
    let mode = match (pcide, requested) {
        (false, true) if simulate => Mode::Simulated,
        (false, _) => Mode::Unavailable,
        (true, false) => Mode::OffByArgument,
        (true, true) => Mode::On,
    };
    ENABLED.store(matches!(mode, Mode::On | Mode::Simulated), Ordering::Relaxed);
    SIMULATED.store(mode == Mode::Simulated, Ordering::Relaxed);
    MODE.store(
        match mode {
            Mode::On => MODE_ON,
            Mode::OffByArgument => MODE_OFF,
            Mode::Unavailable => MODE_UNAVAILABLE,
            Mode::Simulated => MODE_SIMULATED,
        },
        Ordering::Relaxed,
    );
    if mode == Mode::Simulated {
        // CR3 bits 11:0 are 0 here (the kernel's tables run under PCID 0), as setting PCIDE wants.
        crate::arch::x86_64::marker::simulate_pcid(true);
    }
    mode
}

/// Returns the CR3 value that activates `root` for `owner`, updating its lease.
pub fn activation(owner: OwnerId, lease: &mut Option<Lease>, root: PhysFrame) -> Cr3Value {
    if !ENABLED.load(Ordering::Relaxed) {
        return Cr3Value::kernel(root);
    }
    let mut pool = POOL.lock();
    let Some(pool) = pool.as_mut() else { return Cr3Value::kernel(root) };
    match pool.activate(owner, lease) {
        Ok(activation) if SIMULATED.load(Ordering::Relaxed) => {
            Cr3Value::simulated(root, activation.pcid.value(), !activation.flush)
        }
        Ok(activation) => Cr3Value::tagged(root, activation.pcid.value(), !activation.flush),
        // Owner 0 is never used for address spaces (ids start at 1); fall back to a flush.
        Err(_) => Cr3Value::kernel(root),
    }
}

/// Returns the PCID of a dead address space to the pool.
pub fn release(owner: OwnerId, lease: Option<Lease>) {
    if let Some(pool) = POOL.lock().as_mut() {
        pool.release(owner, lease);
    }
}

/// Returns a one-word description of the mode for result lines: on, off, simulated, unavailable.
#[cfg(feature = "density-harness")]
pub fn mode_word() -> &'static str {
    match MODE.load(Ordering::Relaxed) {
        MODE_ON => "on",
        MODE_SIMULATED => "simulated",
        MODE_OFF => "off",
        _ => "unavailable",
    }
}

/// Returns whether the `pcid` mode is on.
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// Returns the pool's counters.
pub fn stats() -> Option<PoolStats> {
    POOL.lock().as_ref().map(PcidPool::stats)
}
