//! Language runtimes as FaaS workloads: eight realistic handlers, several warm instances each,
//! every self-check passing; and every self-check able to fail.
//!
//! The runtimes host the same eight handlers: `wasm-runtime` (native, the function modules of
//! `userland/wasm-functions`), `js-runtime` (QuickJS) and `lua-runtime` (Lua 5.4), the last two
//! Linux static-pie binaries (`userland/linux`) speaking the frame protocol of `abi::linux`. An
//! instance's process argument is its function's number (`abi::wasm::FUNCTIONS`). A run starts
//! [`Runtime::instances_per_function`] instances of every function, interleaved (instance `i` runs function
//! `i mod 8`), and runs [`Runtime::rounds`] rounds through the FaaS driver (`crate::faas`): every instance
//! must answer every invocation (a failed self-check ends the instance instead), and the instances
//! of one function must agree on the checksum of the seed they were given. Then the negative side:
//! an invocation with [`FLAG_CORRUPT`] makes each handler fail its self-check, which ends its
//! instance with [`EXIT_SELF_CHECK_FAILED`]; an unknown function number ends the instance with
//! [`EXIT_UNKNOWN_FUNCTION`]; the kernel reports both, keeps running, and gets every frame back.
//!
//! It prints one line per function: invocations, a checksum of its answers, and the private
//! pages of one of its instances (the module's linear memory and the interpreter's structures).

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use abi::EndReason;
use abi::wasm::{EXIT_SELF_CHECK_FAILED, EXIT_UNKNOWN_FUNCTION, FLAG_CORRUPT, FUNCTIONS, Payload};

use super::{Checks, Failed, fail};
use crate::arch::x86_64::cpu;
use crate::faas::{self, FaasError};
use crate::mm::{frame, global_segment};
use crate::process::scheduler::{self, Invocation};

/// A runtime and how the suite exercises it.
pub struct Runtime {
    /// The runtime binary.
    pub binary: &'static str,
    /// What its report lines say after `ktest: `.
    pub label: &'static str,
    /// Warm instances of each function.
    pub instances_per_function: usize,
    /// Rounds of invocations (each instance answers one per round).
    pub rounds: u64,
}

/// The WebAssembly runtime (the `wasm` suite).
pub const WASM: Runtime = Runtime { binary: "wasm-runtime", label: "wasm", instances_per_function: 3, rounds: 3 };
/// The QuickJS runtime (part of the `linux-abi` suite): fewer instances, as each takes longer.
pub const JS: Runtime = Runtime { binary: "js-runtime", label: "linux-abi: js-runtime", instances_per_function: 1, rounds: 2 };
/// The Lua runtime (part of the `linux-abi` suite).
pub const LUA: Runtime = Runtime { binary: "lua-runtime", label: "linux-abi: lua-runtime", instances_per_function: 1, rounds: 2 };

/// Returns the free frames, counting those the kernel heap took meanwhile as free (it grows and
/// never shrinks: not a leak of the suite's).
fn free_frames() -> u64 {
    frame::free_count() as u64 + crate::mm::heap::grown_frames()
}
/// Seed of the first round; round `r` of function `f` gets `SEED_BASE + r * 8 + f`.
const SEED_BASE: u64 = 0x5eed_0000;
/// Invocation id of the first invocation of the suite.
const FIRST_INVOCATION_ID: u64 = 1;

/// Returns the payload of an invocation of function `function` in round `round`.
fn invocation(round: u64, function: usize, flags: u64) -> Invocation {
    let mut payload = [0u8; abi::PAYLOAD_MAX_BYTES as usize];
    let seed = SEED_BASE + round * FUNCTIONS.len() as u64 + function as u64;
    payload[..Payload::BYTES].copy_from_slice(&Payload { seed, flags }.encode());
    Invocation { id: 0, payload, length: Payload::BYTES }
}

/// What the rounds found for one function.
#[derive(Clone, Copy, Default)]
struct Summary {
    invocations: u64,
    checksum: u64,
    /// The answer of the first round.
    first_answer: u64,
}

/// Runs the `wasm` suite.
pub fn wasm(checks: &mut Checks) -> Result<(), Failed> {
    run(checks, &WASM)
}

/// Runs every check on `runtime`.
pub fn run(checks: &mut Checks, runtime: &Runtime) -> Result<(), Failed> {
    let (label, binary_name) = (runtime.label, runtime.binary);
    checks.check("the runtime is loaded in the global segment");
    if let Err(error) = global_segment::load(binary_name) {
        fail!(checks, "loading {binary_name}: {error}");
    }
    let Some(binary) = global_segment::binaries().into_iter().find(|binary| binary.name == binary_name) else {
        fail!(checks, "{binary_name} is not in the global segment");
    };
    crate::println!(
        "ktest: {label}: {binary_name}: {} read-only pages shared, {} writable pages per process",
        binary.read_only_pages,
        binary.writable_pages
    );
    checks.pass();

    let free_before = free_frames();
    let count = runtime.instances_per_function * FUNCTIONS.len();
    let instances = start(checks, runtime, count)?;
    let summaries = rounds(checks, runtime, &instances)?;
    for (name, summary) in FUNCTIONS.iter().zip(&summaries) {
        crate::println!("ktest: {label}: {name}: {} invocations, checksum {:#018x}, all self-checks passed", summary.invocations, summary.checksum);
    }

    checks.check("the instances shut down and every frame comes back");
    if let Err(error) = faas::shut_down(&instances) {
        fail!(checks, "{error}");
    }
    if free_frames() != free_before {
        fail!(checks, "{} frames free after, {free_before} before", free_frames());
    }
    checks.pass();

    corrupted(checks, runtime)?;
    unknown_function(checks, runtime)?;

    checks.check("after the failures a fresh instance gives the same answer, and every frame is back");
    let instances = match faas::start_instances(binary_name, 1, |_| 0) {
        Ok(instances) => instances,
        Err(error) => fail!(checks, "{error}"),
    };
    match faas::round(&instances, FIRST_INVOCATION_ID, |_| invocation(0, 0, 0)) {
        Ok(results) if results.first().map(|result| result.result) == Some(summaries[0].first_answer) => {}
        Ok(results) => fail!(checks, "{}: {results:?}, expected {:#x} as in the first round", FUNCTIONS[0], summaries[0].first_answer),
        Err(error) => fail!(checks, "{error}"),
    }
    if let Err(error) = faas::shut_down(&instances) {
        fail!(checks, "{error}");
    }
    if free_frames() != free_before {
        fail!(checks, "{} frames free after, {free_before} before", free_frames());
    }
    checks.pass();
    Ok(())
}

/// Starts `count` instances, instance `i` hosting function `i mod 8`, and reports their memory.
fn start(checks: &mut Checks, runtime: &Runtime, count: usize) -> Result<Vec<u64>, Failed> {
    let label = runtime.label;
    checks.check("every instance compiles and instantiates its module");
    let free_before = frame::free_count();
    let start_cycles = cpu::read_tsc();
    let instances = match faas::start_instances(runtime.binary, count, |index| (index % FUNCTIONS.len()) as u64) {
        Ok(instances) => instances,
        Err(error) => fail!(checks, "{error}"),
    };
    let cycles = (cpu::read_tsc() - start_cycles) / count as u64;
    let frames = free_before - frame::free_count();
    crate::println!(
        "ktest: {label}: {count} instances ({} per function) started: {} frames per instance (private pages, page tables, kernel stack), {cycles} cycles per start ({})",
        runtime.instances_per_function,
        frames / count,
        crate::ktest::cycles_note()
    );
    for (function, name) in FUNCTIONS.iter().enumerate() {
        let mut pages = (0, 0);
        scheduler::for_each_space(|pid, _, space| {
            if pid == instances[function] {
                pages = (space.page_frames(), space.table_frames());
            }
        });
        crate::println!("ktest: {label}: {name}: instance {}: {} private pages, {} page-table pages", instances[function], pages.0, pages.1);
    }
    checks.pass();
    Ok(instances)
}

/// Runs the rounds; returns what each function answered.
fn rounds(checks: &mut Checks, runtime: &Runtime, instances: &[u64]) -> Result<[Summary; FUNCTIONS.len()], Failed> {
    let label = runtime.label;
    checks.check("every instance answers every invocation of every round");
    // answers[round][index]: the answer of instance `index` in `round`.
    let mut answers: Vec<Vec<u64>> = Vec::new();
    let mut first_id = FIRST_INVOCATION_ID;
    let start_cycles = cpu::read_tsc();
    for round in 0..runtime.rounds {
        let results = match faas::round(instances, first_id, |index| invocation(round, index % FUNCTIONS.len(), 0)) {
            Ok(results) => results,
            Err(error) => fail!(checks, "round {round}: {error}"),
        };
        let mut round_answers: Vec<Option<u64>> = alloc::vec![None; instances.len()];
        for result in results {
            let index = result.id.wrapping_sub(first_id) as usize;
            if index >= instances.len() || instances[index] != result.pid || round_answers[index].is_some() {
                fail!(checks, "round {round}: unexpected result {result:?}");
            }
            round_answers[index] = Some(result.result);
        }
        let Some(round_answers) = round_answers.into_iter().collect::<Option<Vec<u64>>>() else {
            fail!(checks, "round {round}: an instance did not answer");
        };
        answers.push(round_answers);
        first_id += instances.len() as u64;
    }
    let invocations = runtime.rounds * instances.len() as u64;
    crate::println!(
        "ktest: {label}: {invocations} invocations, {} cycles per invocation ({})",
        (cpu::read_tsc() - start_cycles) / invocations,
        crate::ktest::cycles_note()
    );
    checks.pass();

    checks.check("the instances of each function agree on the checksum of a seed");
    let mut summaries = [Summary::default(); FUNCTIONS.len()];
    for (round, round_answers) in answers.iter().enumerate() {
        for (function, summary) in summaries.iter_mut().enumerate() {
            let first = round_answers[function];
            for index in (function..instances.len()).step_by(FUNCTIONS.len()) {
                if round_answers[index] != first {
                    fail!(checks, "round {round}: {} instances answered {first:#x} and {:#x}", FUNCTIONS[function], round_answers[index]);
                }
                summary.invocations += 1;
            }
            summary.checksum = summary.checksum.rotate_left(17) ^ first;
            if round == 0 {
                summary.first_answer = first;
            }
        }
    }
    checks.pass();
    Ok(summaries)
}

/// Gives each function one corrupted invocation: each must fail its self-check and end.
fn corrupted(checks: &mut Checks, runtime: &Runtime) -> Result<(), Failed> {
    let label = runtime.label;
    checks.check("a corrupted invocation fails each handler's self-check and ends its instance");
    for (function, name) in FUNCTIONS.iter().enumerate() {
        let instances = match faas::start_instances(runtime.binary, 1, |_| function as u64) {
            Ok(instances) => instances,
            Err(error) => fail!(checks, "{name}: {error}"),
        };
        match faas::round(&instances, FIRST_INVOCATION_ID, |_| invocation(0, function, FLAG_CORRUPT)) {
            Err(FaasError::InstanceEnded { reason: Some(EndReason::Exited), code: EXIT_SELF_CHECK_FAILED, .. }) => {
                crate::println!("ktest: {label}: {name}: the corrupted invocation failed the self-check; instance {} ended with {EXIT_SELF_CHECK_FAILED}", instances[0]);
            }
            Err(error) => fail!(checks, "{name}: {error}, expected an exit with {EXIT_SELF_CHECK_FAILED}"),
            Ok(results) => fail!(checks, "{name}: the corrupted invocation was answered: {results:?}"),
        }
    }
    checks.pass();
    Ok(())
}

/// Starts an instance with a function number past the table: it must end with its own code.
fn unknown_function(checks: &mut Checks, runtime: &Runtime) -> Result<(), Failed> {
    checks.check("an unknown function number ends the instance with its own exit code");
    match faas::start_instances(runtime.binary, 1, |_| FUNCTIONS.len() as u64) {
        Err(FaasError::InstanceEnded { reason: Some(EndReason::Exited), code: EXIT_UNKNOWN_FUNCTION, .. }) => {}
        Err(error) => fail!(checks, "{error}, expected an exit with {EXIT_UNKNOWN_FUNCTION}"),
        Ok(instances) => fail!(checks, "instance {instances:?} started with function {}", FUNCTIONS.len()),
    }
    checks.pass();
    Ok(())
}
