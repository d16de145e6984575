//! The density sweep: how address-translation work grows with the number of warm function
//! instances, per translation mode.
//!
//! For each mode (global x share_tables) and each instance count N it starts N instances of the
//! workload, warms them with one round, then runs the measured rounds as one tlbsim phase (reset,
//! begin, rounds, end). Outside the measured region it reads the TSC and the memory figures and
//! prints one line:
//!
//! ```text
//! result: density id=<phase> workload=<binary> global=<0|1> share_tables=<0|1> pcid=<on|off|simulated|unavailable>
//!         instances=<N> rounds=<R> invocations=<N*R> cycles_per_invocation=<c> engine=<tcg|kvm|hardware>
//!         pmu=<unavailable|intel-v4|amd-...> [pmu.<event>=<count> ...]
//!         page_table_pages=<all instances> page_table_pages_per_instance=<p>
//!         frames=<all instances> spawn_cycles=<per instance>
//! ```
//!
//! Nothing inside the measured region prints; the only allocation is the scheduler's per-round
//! result vector, the same in every mode. The timer is masked in the measured region (the
//! instances answer and block, so nothing needs preempting), so no tick handler runs there at a
//! host-speed-dependent moment and a phase's simulated counts repeat exactly. Cycle counts are
//! TSC cycles of whatever engine ran the kernel; only `engine=hardware` gives hardware figures.
//! Where the CPU has a usable PMU (`drivers/pmu.rs`), its counters run from just before the
//! measured region to just after it and the line carries one `pmu.<event>=<count>` per event;
//! otherwise (QEMU TCG, PVM, Bochs) it says `pmu=unavailable`.

#![deny(unsafe_code)]

extern crate alloc;

use core::fmt;

use crate::arch::x86_64::{cpu, marker};
use crate::drivers::{apic, pmu};
use crate::faas::{self, FaasError};
use crate::mm::frame;
use crate::mm::global_segment::{self, GlobalError, Mode};
use crate::mm::pcid;
use crate::process::scheduler::{self, Invocation};
use kernel_args::Workload;

/// One sweep's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Sweep<'a> {
    /// The workload (its binary serves invocations).
    pub workload: Workload,
    /// Instance counts.
    pub instances: &'a [usize],
    /// Measured rounds per configuration (after one warm-up round).
    pub rounds: u64,
    /// Code pages each invocation of a synthetic runtime visits.
    pub code_pages: u32,
    /// Data pages each invocation of a synthetic runtime reads.
    pub data_pages: u32,
}

impl Sweep<'_> {
    /// Returns the process argument of instance `index`: for the WebAssembly runtime the number
    /// of the function it hosts (instances cycle through the functions, so N instances
    /// interleave N / 8 instances of each of the 8 functions); 0 for the synthetic runtimes.
    fn argument(&self, index: usize) -> u64 {
        match self.workload {
            Workload::Wasm => (index % abi::wasm::FUNCTIONS.len()) as u64,
            Workload::SyntheticSmall | Workload::SyntheticMedium | Workload::SyntheticLarge => 0,
        }
    }

    /// Returns the payload of the invocation seeded with `seed`: for the synthetic runtimes the
    /// seed, the code pages and the data pages; for the WebAssembly runtime the seed and no
    /// flags ([`abi::wasm::Payload`]).
    fn payload(&self, seed: u64) -> Invocation {
        let mut payload = [0u8; abi::PAYLOAD_MAX_BYTES as usize];
        let length = match self.workload {
            Workload::Wasm => {
                let bytes = abi::wasm::Payload { seed, flags: 0 }.encode();
                payload[..bytes.len()].copy_from_slice(&bytes);
                bytes.len()
            }
            Workload::SyntheticSmall | Workload::SyntheticMedium | Workload::SyntheticLarge => {
                payload[0..8].copy_from_slice(&seed.to_le_bytes());
                payload[8..12].copy_from_slice(&self.code_pages.to_le_bytes());
                payload[12..16].copy_from_slice(&self.data_pages.to_le_bytes());
                16
            }
        };
        Invocation { id: 0, payload, length }
    }
}

/// Code pages each invocation visits.
pub const CODE_PAGES_PER_INVOCATION: u32 = 32;
/// Data pages each invocation reads.
pub const DATA_PAGES_PER_INVOCATION: u32 = 32;

/// The four window modes.
pub const MODES: [Mode; 4] = [
    Mode { global: true, share_tables: true },
    Mode { global: false, share_tables: true },
    Mode { global: true, share_tables: false },
    Mode { global: false, share_tables: false },
];

/// Why the sweep stopped.
#[derive(Debug)]
pub enum DensityError {
    /// The driver failed.
    Faas(FaasError),
    /// The mode could not be set.
    Mode(GlobalError),
}

impl fmt::Display for DensityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DensityError::Faas(error) => write!(f, "{error}"),
            DensityError::Mode(error) => write!(f, "mode: {error}"),
        }
    }
}

/// Runs `sweep` in every mode; returns the number of configurations measured.
///
/// # Errors
/// Returns a [`DensityError`] when a configuration cannot be run (its instances are left to the
/// caller's failure path: the run ends).
pub fn run(sweep: &Sweep<'_>, first_phase_id: u64) -> Result<u64, DensityError> {
    let facts = crate::boot_facts();
    let pcid_word = pcid::mode_word();
    let binary = sweep.workload.binary();
    // Load the workload before anything is counted (large workloads load on first use).
    global_segment::load(binary).map_err(DensityError::Mode)?;
    let mut phase_id = first_phase_id;
    for mode in MODES {
        global_segment::set_mode(mode).map_err(DensityError::Mode)?;
        for &count in sweep.instances {
            let frames_before = frame::free_count();
            let spawn_start = cpu::read_tsc();
            let instances = faas::start_instances(binary, count, |index| sweep.argument(index)).map_err(DensityError::Faas)?;
            let spawn_cycles = (cpu::read_tsc() - spawn_start) / count as u64;
            let frames = frames_before - frame::free_count();
            let mut tables = 0;
            scheduler::for_each_space(|_, _, space| tables += space.table_frames());
            // Warm-up round, not measured.
            faas::round(&instances, 0, |index| sweep.payload(index as u64)).map_err(DensityError::Faas)?;

            let name = alloc::format!(
                "density-{binary}-g{}-s{}-n{count}",
                u8::from(mode.global),
                u8::from(mode.share_tables)
            );
            // No timer ticks in the measured region: the instances answer and block, so they need
            // no preemption, and the counts of a phase repeat exactly.
            let quiet = apic::mask_timer();
            pmu::start();
            marker::reset();
            marker::begin_phase(phase_id, &name);
            let start = cpu::read_tsc();
            for round in 0..sweep.rounds {
                // Invocation ids and seeds continue after the warm-up round's.
                let first = (round + 1) * count as u64;
                faas::round(&instances, first, |index| sweep.payload(first + index as u64)).map_err(DensityError::Faas)?;
            }
            let cycles = cpu::read_tsc() - start;
            marker::end_phase(phase_id);
            let counts = pmu::stop();
            drop(quiet);

            faas::shut_down(&instances).map_err(DensityError::Faas)?;
            let invocations = sweep.rounds * count as u64;
            crate::println!(
                "result: density id={phase_id} workload={} global={} share_tables={} pcid={pcid_word} instances={count} rounds={} invocations={invocations} cycles_per_invocation={} engine={} {counts} page_table_pages={tables} page_table_pages_per_instance={} frames={frames} spawn_cycles={spawn_cycles}",
                binary,
                u8::from(mode.global),
                u8::from(mode.share_tables),
                sweep.rounds,
                cycles / invocations.max(1),
                facts.features.engine.name(),
                tables / count.max(1),
            );
            phase_id += 1;
        }
    }
    global_segment::set_mode(MODES[0]).map_err(DensityError::Mode)?;
    Ok(phase_id - first_phase_id)
}
