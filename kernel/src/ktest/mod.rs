//! The in-kernel test registry: suites selected at boot with the `test=<suite>` argument.
//!
//! A suite is a function that runs checks against the live kernel and returns the first failure.
//! The runner prints one line per check (`ktest: <suite>: <check> ... ok`), then either
//! `ktest: <suite>: all N checks passed` and the success status, or `ktest: <suite>: FAILED: ...`
//! and the failure status. Suites whose point is a fatal event (a kernel page fault, a panic)
//! never return: the exception report and the failure status *are* their result, and the host
//! test asserts on both (`tests/kernel.rs`).
//!
//! Neighbours: `main.rs` calls [`run`]; `config.rs` validates suite names against [`NAMES`].

#![deny(unsafe_code)]

extern crate alloc;

#[cfg(feature = "density-harness")]
mod density;
mod faults;
mod global_segment;
mod hostile;
mod instructions;
mod linux_abi;
mod memory;
mod paging;
mod pcid;
mod processes;
mod runtimes;
mod scale;
mod timer;
mod tlb;

use core::fmt;

use crate::shutdown;

/// Records a failed check; `detail` says what was found.
macro_rules! fail {
    ($context:expr, $($argument:tt)*) => {{
        $context.failed(format_args!($($argument)*));
        return Err($crate::ktest::Failed);
    }};
}
pub(crate) use fail;

/// Marker returned by a suite after it reported a failure through [`Checks::failed`].
pub struct Failed;

/// The running suite's check counter and reporter.
pub struct Checks {
    suite: &'static str,
    current: &'static str,
    passed: u32,
}

impl Checks {
    /// Starts check `name`.
    pub fn check(&mut self, name: &'static str) {
        self.current = name;
    }

    /// Records that the current check passed.
    pub fn pass(&mut self) {
        crate::println!("ktest: {}: {} ... ok", self.suite, self.current);
        self.passed += 1;
    }

    /// Prints the failure of the current check.
    pub fn failed(&self, detail: fmt::Arguments<'_>) {
        crate::println!("ktest: {}: {} ... FAILED: {}", self.suite, self.current, detail);
    }
}

/// One suite in the registry.
struct Suite {
    name: &'static str,
    description: &'static str,
    run: fn(&mut Checks) -> Result<(), Failed>,
}

/// Every suite, in the order `all` runs the non-fatal ones.
const SUITES: &[Suite] = &[
    Suite { name: "paging", description: "the kernel runs on its own page tables with per-section permissions", run: paging::run },
    Suite { name: "memory", description: "frame allocator and heap hand out and take back memory exactly", run: memory::run },
    Suite { name: "timer", description: "the local APIC timer delivers periodic interrupts", run: timer::run },
    Suite { name: "breakpoint", description: "int3 is reported and execution continues", run: faults::breakpoint },
    Suite { name: "preemption", description: "CPU-bound processes that never yield are preempted and all finish", run: processes::preemption },
    Suite { name: "user-faults", description: "a faulting process is killed with a report while its sibling runs on", run: processes::user_faults },
    Suite { name: "bad-elf", description: "every broken ELF file is refused with its own error", run: processes::bad_elf },
    Suite { name: "bad-syscalls", description: "bad system-call arguments get error codes, never a kernel panic", run: processes::bad_syscalls },
    Suite { name: "processes", description: "5000 processes at once, exact exit codes, every frame back", run: processes::many },
    Suite { name: "costs", description: "spawn and context-switch costs (figures, not assertions)", run: processes::costs },
    Suite { name: "pcid", description: "address spaces run under PCIDs where the CPU has them; recycling flushes", run: pcid::run },
    Suite { name: "tlb-density", description: "marked phases of processes touching shared window pages (for tlbsim)", run: tlb::run },
    Suite { name: "scale", description: "as many live instances as memory allows (up to scale_target), one invocation each, memory per instance, every frame back", run: scale::run },
    Suite { name: "instructions", description: "marked phases of a known instruction count (for tlbsim)", run: instructions::run },
    #[cfg(feature = "density-harness")]
    Suite { name: "density", description: "the density sweep: FaaS instances in every mode (result lines)", run: density::run },
    Suite { name: "global-segment", description: "the window is mapped identically everywhere, in every mode and density", run: global_segment::invariants },
    Suite { name: "global-tables", description: "exact page-table counts per process; spawns copy no read-only page", run: global_segment::tables },
    Suite { name: "global-large", description: "large_pages=on: read-only regions are 2 MiB leaves in every mode; loads and unloads count frames exactly", run: global_segment::large },
    Suite { name: "keys", description: "protection keys keep processes from reading other binaries' data", run: global_segment::keys },
    Suite { name: "linux-abi", description: "a musl static-pie runs on the Linux personality; every call checked; bad binaries refused", run: linux_abi::run },
    Suite { name: "wasm", description: "a WebAssembly runtime hosts 8 realistic handlers; every self-check passes, and can fail", run: runtimes::wasm },
    Suite { name: "global-stale", description: "a slot reused after an unload shows the new binary in every mode, with and without live bystanders", run: global_segment::stale },
    Suite { name: "global-live", description: "a user process spawns a binary that is not loaded while others run, in every mode", run: global_segment::live },
    Suite { name: "hostile", description: "hostile processes (flags, fuzzing, boundary pointers, exhaustion) cannot crash, hang or fool the kernel", run: hostile::run },
    Suite { name: "hostile-exhaustion", description: "the hostile suite's memory and process-slot exhaustion checks alone (for small heaps: heap_bytes=)", run: hostile::exhaustion },
    Suite { name: "stuck", description: "a run where no process can ever run again ends with a report (fatal by design)", run: hostile::stuck },
    Suite { name: "write-kernel-text", description: "a write to kernel text page-faults (fatal by design)", run: faults::write_kernel_text },
    Suite { name: "page-fault", description: "a read of an unmapped address page-faults (fatal by design)", run: faults::unmapped_read },
    Suite { name: "invalid-opcode", description: "ud2 raises #UD (fatal by design)", run: faults::invalid_opcode },
    Suite { name: "panic", description: "a kernel panic prints its message and fails the run (fatal by design)", run: faults::panic },
];

/// The suites `test=hardware` runs: the CPU-feature paths, for emulators with PCID, INVPCID and
/// protection keys (Bochs) and for real machines.
const HARDWARE: &[&str] = &["paging", "timer", "pcid", "user-faults", "keys", "global-stale", "global-live"];

/// The suites `test=all` runs: the ones that end normally.
const ALL: &[&str] = &[
    "paging",
    "memory",
    "timer",
    "breakpoint",
    "preemption",
    "user-faults",
    "bad-elf",
    "bad-syscalls",
    "pcid",
    "keys",
    "wasm",
];

/// The composite names `test=` accepts besides the suites.
const COMPOSITES: [&str; 2] = ["all", "hardware"];

/// Every name `test=` accepts: the composites, then every suite.
pub const NAMES: [&str; COMPOSITES.len() + SUITES.len()] = {
    let mut names = [""; COMPOSITES.len() + SUITES.len()];
    let mut index = 0;
    while index < COMPOSITES.len() {
        names[index] = COMPOSITES[index];
        index += 1;
    }
    let mut suite = 0;
    while suite < SUITES.len() {
        names[COMPOSITES.len() + suite] = SUITES[suite].name;
        suite += 1;
    }
    names
};

/// Runs the suite `name` (or every non-fatal suite for `all`) and ends the run.
pub fn run(name: &str) -> ! {
    let selected: &[&str] = match name {
        "all" => ALL,
        "hardware" => HARDWARE,
        _ => core::slice::from_ref(&name),
    };
    let mut total = 0;
    for &suite_name in selected {
        let Some(suite) = SUITES.iter().find(|suite| suite.name == suite_name) else {
            shutdown::failure("unknown test suite");
        };
        crate::println!("ktest: {}: {}", suite.name, suite.description);
        let mut checks = Checks { suite: suite.name, current: "", passed: 0 };
        if (suite.run)(&mut checks).is_err() {
            crate::println!("ktest: {}: FAILED after {} passing checks", suite.name, checks.passed);
            shutdown::failure("test failed");
        }
        crate::println!("ktest: {}: all {} checks passed", suite.name, checks.passed);
        total += checks.passed;
    }
    crate::println!("ktest: {} suite(s), {total} checks passed", selected.len());
    if let Some((deepest, measured)) = crate::mm::paging::user::kernel_stack_deepest() {
        crate::println!(
            "kstack_probe: deepest process kernel-stack use {deepest} of {} bytes over {measured} stacks",
            crate::mm::layout::PROCESS_KERNEL_STACK_BYTES - crate::mm::paging::user::FPU_AREA_BYTES
        );
    }
    shutdown::success()
}


/// Runs `operation` as tlbsim phase `id` named `name` when `tlbsim` is on (the plugin counts its
/// instructions), plainly otherwise.
pub fn in_phase<R>(tlbsim: bool, id: u64, name: &str, operation: impl FnOnce() -> R) -> R {
    if tlbsim {
        crate::arch::x86_64::marker::begin_phase(id, name);
    }
    let result = operation();
    if tlbsim {
        crate::arch::x86_64::marker::end_phase(id);
    }
    result
}

/// Starts `name` with `argument` from the kernel (no parent), failing the check on error.
pub fn start(checks: &Checks, name: &str, argument: u64) -> Result<u64, Failed> {
    match crate::process::scheduler::spawn(name, argument, None) {
        Ok(pid) => Ok(pid),
        Err(error) => fail!(checks, "spawning {name}: {error}"),
    }
}

/// Runs every started process to its end and returns them by pid.
pub fn run_all() -> alloc::collections::BTreeMap<u64, crate::process::Finished> {
    crate::process::scheduler::run();
    crate::process::scheduler::take_finished().into_iter().map(|finished| (finished.pid, finished)).collect()
}

/// Returns a label for cycle counts: whether they are hardware figures.
pub fn cycles_note() -> &'static str {
    use crate::arch::x86_64::cpu::Engine;
    match crate::boot_facts().features.engine {
        Engine::Hardware => "hardware cycles",
        Engine::QemuTcg => "QEMU TCG emulated cycles, not a hardware figure",
        Engine::Kvm => "KVM guest cycles (under PVM not a hardware figure)",
        Engine::OtherHypervisor => "hypervisor guest cycles, not a hardware figure",
        Engine::Bochs => "Bochs emulated cycles, not a hardware figure",
    }
}
