//! The density sweep: how address-translation work grows with the number of warm function
//! instances, per translation mode.
//!
//! For each mode (global x share_tables) the `modes` argument names (all four by default, so
//! one boot can also measure a single configuration) and each instance count N it starts N instances of the
//! workload and measures three tlbsim phases:
//!
//! - **warm** (id): the `warmup` invocations (whole rounds of all N instances, at least one)
//!   run unmeasured and fill the TLBs; `ZeroCounters` then starts the counts *without* emptying
//!   the modelled TLBs, and the `invocations` measured invocations (whole rounds) run as the
//!   phase. Its walks per invocation are the steady state.
//! - **cold, shared-warm** (id + 1): right after, a fresh instance (spawned outside the phase)
//!   serves its first invocation while the other instances' translations are still cached: with
//!   the global segment, the runtime's global entries serve it too. The FaaS cold start.
//! - **cold, flushed** (id + 2): another fresh instance's first invocation after every TLB
//!   entry, global ones included, is invalidated (INVPCID type 2 or a CR4.PGE toggle, which
//!   tlbsim models as the same flush, just before the phase begins).
//! - **spawn** (id + 3): the start of the cold, shared-warm instance, from the request until it
//!   waits for its first invocation: its instructions are the spawn cost the Linux baseline's
//!   fork + execve is set beside.
//!
//! Outside the measured regions it reads the TSC and the memory figures and prints one line:
//!
//! ```text
//! result: density id=<warm phase> workload=<workload> binary=<native|linux-musl> global=<0|1> share_tables=<0|1> pcid=<on|off|simulated|unavailable>
//!         instances=<N> warmup_invocations=<W> rounds=<R> invocations=<N*R> cycles_per_invocation=<c>
//!         cold_shared_id=<id+1> cold_flushed_id=<id+2> spawn_id=<id+3> engine=<tcg|kvm|hardware>
//!         pmu=<unavailable|intel-v4|amd-...> [pmu.<event>=<count> ...]
//!         page_table_pages=<all instances> page_table_pages_per_instance=<p>
//!         frames=<all instances> spawn_cycles=<per instance> code_pages=<c> data_pages=<d>
//! ```
//!
//! Nothing inside the measured region prints; the only allocation is the scheduler's per-round
//! result vector, the same in every mode. Each configuration starts from invalidated TLBs and a
//! `Reset` simulator, and the timer is masked from its first spawn to its shutdown (the
//! instances answer and block, so nothing needs preempting): no tick handler runs at a
//! host-speed-dependent moment, so a configuration's simulated counts repeat exactly, whatever
//! ran before it in the boot. Cycle counts are
//! TSC cycles of whatever engine ran the kernel; only `engine=hardware` gives hardware figures.
//! Where the CPU has a usable PMU (`drivers/pmu.rs`), its counters run from just before the
//! measured region to just after it and the line carries one `pmu.<event>=<count>` per event;
//! otherwise (QEMU TCG, PVM, Bochs) it says `pmu=unavailable`.

#![deny(unsafe_code)]

extern crate alloc;

use core::fmt;

use crate::arch::x86_64::{cpu, marker, tlb};
use crate::drivers::{apic, pmu};
use crate::faas::{self, FaasError};
use crate::mm::frame;
use crate::mm::global_segment::{self, GlobalError, Mode};
use crate::mm::pcid;
use crate::process::scheduler::{self, Invocation};
use kernel_args::{Build, Workload};

/// One sweep's parameters.
#[derive(Clone, Copy, Debug)]
pub struct Sweep<'a> {
    /// The workload (its binary serves invocations).
    pub workload: Workload,
    /// Which of the workload's builds runs (the `binary` argument).
    pub build: Build,
    /// Instance counts.
    pub instances: &'a [usize],
    /// Window modes, in the order they run (the `modes` argument; [`MODES`] by default).
    pub modes: &'a [Mode],
    /// Warm-up invocations per configuration (rounded up to whole rounds, at least one).
    pub warmup: u64,
    /// Measured invocations per configuration (rounded up to whole rounds, at least one).
    pub invocations: u64,
    /// Code pages each invocation of a synthetic runtime visits.
    pub code_pages: u32,
    /// Data pages each invocation of a synthetic runtime reads.
    pub data_pages: u32,
}

impl Sweep<'_> {
    /// Returns the ramdisk name of the binary the sweep runs (`synth-small-musl` for the musl
    /// build of `synth-small`).
    pub fn binary(&self) -> &'static str {
        self.workload.file_name(self.build)
    }

    /// Returns the process argument of instance `index`: for a language runtime (WebAssembly,
    /// JavaScript, Lua) the number of the function it hosts (instances cycle through the functions, so N instances
    /// interleave N / 8 instances of each of the 8 functions); 0 for the synthetic runtimes.
    fn argument(&self, index: usize) -> u64 {
        if self.workload.hosts_handlers() { (index % abi::wasm::FUNCTIONS.len()) as u64 } else { 0 }
    }

    /// Returns the payload of the invocation seeded with `seed`: for the synthetic runtimes the
    /// seed, the code pages and the data pages; for a language runtime the seed and no flags
    /// ([`abi::wasm::Payload`]).
    fn payload(&self, seed: u64) -> Invocation {
        let mut payload = [0u8; abi::PAYLOAD_MAX_BYTES as usize];
        if !self.workload.hosts_handlers() {
            return crate::faas::synthetic_payload(seed, self.code_pages, self.data_pages);
        }
        let bytes = abi::wasm::Payload { seed, flags: 0 }.encode();
        payload[..bytes.len()].copy_from_slice(&bytes);
        let length = bytes.len();
        Invocation { id: 0, payload, length }
    }
}

/// Phase ids one configuration uses: warm, cold shared-warm, cold flushed, spawn.
pub const PHASES_PER_CONFIGURATION: u64 = 4;


/// The four window modes, in the default order of the `modes` argument.
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

/// Runs `sweep` in each of its modes; returns the number of phase ids used (three per configuration).
///
/// # Errors
/// Returns a [`DensityError`] when a configuration cannot be run (its instances are left to the
/// caller's failure path: the run ends).
pub fn run(sweep: &Sweep<'_>, first_phase_id: u64) -> Result<u64, DensityError> {
    let facts = crate::boot_facts();
    let pcid_word = pcid::mode_word();
    let binary = sweep.binary();
    // The study's counts must repeat: Linux workloads see a virtual clock and seeded randomness.
    crate::syscall::linux::process::set_deterministic(true);
    // Load the workload before anything is counted (large workloads load on first use).
    global_segment::load(binary).map_err(DensityError::Mode)?;
    let mut phase_id = first_phase_id;
    for &mode in sweep.modes {
        global_segment::set_mode(mode).map_err(DensityError::Mode)?;
        for &count in sweep.instances {
            // From here to the shutdown no tick arrives, every TLB entry is invalidated (and
            // every modelled one, with the simulator's caches: `Reset`), so everything the
            // configuration does is a function of its own instruction stream: the same
            // configuration gives the same counts in any boot (`tests/repeatability.rs` checks it).
            // The instances answer and block, so nothing needs preempting.
            let quiet = apic::mask_timer();
            tlb::flush_all_including_global(&facts.features);
            marker::reset();
            let frames_before = frame::free_count();
            let spawn_start = cpu::read_tsc();
            let instances = faas::start_instances(binary, count, |index| sweep.argument(index)).map_err(DensityError::Faas)?;
            let spawn_cycles = (cpu::read_tsc() - spawn_start) / count as u64;
            let frames = frames_before - frame::free_count();
            let mut tables = 0;
            scheduler::for_each_space(|_, _, space| tables += space.table_frames());
            let rounds_of = |invocations: u64| invocations.div_ceil(count as u64).max(1);
            let (warmup_rounds, rounds) = (rounds_of(sweep.warmup), rounds_of(sweep.invocations));
            // Invocation ids and seeds run on across the warm-up, measured and cold invocations.
            let mut next_id = 0;
            let mut run_round = |instances: &[u64]| -> Result<(), DensityError> {
                let first = next_id;
                next_id += instances.len() as u64;
                faas::round(instances, first, |index| sweep.payload(first + index as u64)).map_err(DensityError::Faas)?;
                Ok(())
            };
            for _ in 0..warmup_rounds {
                run_round(&instances)?;
            }

            let name = alloc::format!(
                "density-{binary}-g{}-s{}-n{count}",
                u8::from(mode.global),
                u8::from(mode.share_tables)
            );
            pmu::start();
            // Warm: start the counts, keep what the warm-up cached.
            marker::zero_counters();
            marker::begin_phase(phase_id, &name);
            let start = cpu::read_tsc();
            for _ in 0..rounds {
                run_round(&instances)?;
            }
            let cycles = cpu::read_tsc() - start;
            marker::end_phase(phase_id);
            let counts = pmu::stop();

            // Spawn: one more instance, from the request until it waits for its first invocation
            // (its own phase, so that the cold phase below counts only the invocation).
            marker::begin_phase(phase_id + 3, &alloc::format!("{name}-spawn"));
            let shared = faas::start_instances(binary, 1, |_| sweep.argument(count)).map_err(DensityError::Faas)?;
            marker::end_phase(phase_id + 3);

            // Cold, shared-warm: that fresh instance's first invocation, the others' entries warm.
            marker::begin_phase(phase_id + 1, &alloc::format!("{name}-cold-shared"));
            run_round(&shared)?;
            marker::end_phase(phase_id + 1);

            // Cold, flushed: another fresh instance's first invocation after a full flush.
            let flushed = faas::start_instances(binary, 1, |_| sweep.argument(count + 1)).map_err(DensityError::Faas)?;
            tlb::flush_all_including_global(&facts.features);
            marker::begin_phase(phase_id + 2, &alloc::format!("{name}-cold-flushed"));
            run_round(&flushed)?;
            marker::end_phase(phase_id + 2);

            // All together: the scheduler runs until every process ended, and an instance left
            // waiting for an invocation would stop the run as stuck.
            let all: alloc::vec::Vec<u64> = instances.iter().chain(&shared).chain(&flushed).copied().collect();
            faas::shut_down(&all).map_err(DensityError::Faas)?;
            drop(quiet);
            let invocations = rounds * count as u64;
            crate::println!(
                "result: density id={phase_id} workload={} binary={} global={} share_tables={} large_pages={} pcid={pcid_word} instances={count} warmup_invocations={} rounds={rounds} invocations={invocations} cycles_per_invocation={} cold_shared_id={} cold_flushed_id={} spawn_id={} engine={} {counts} page_table_pages={tables} page_table_pages_per_instance={} frames={frames} spawn_cycles={spawn_cycles} code_pages={} data_pages={}",
                sweep.workload.binary(),
                sweep.build.name(),
                u8::from(mode.global),
                u8::from(mode.share_tables),
                u8::from(global_segment::large_pages()),
                warmup_rounds * count as u64,
                cycles / invocations.max(1),
                phase_id + 1,
                phase_id + 2,
                phase_id + 3,
                facts.features.engine.name(),
                tables / count.max(1),
                sweep.code_pages,
                sweep.data_pages,
            );
            phase_id += PHASES_PER_CONFIGURATION;
        }
    }
    global_segment::set_mode(MODES[0]).map_err(DensityError::Mode)?;
    Ok(phase_id - first_phase_id)
}
