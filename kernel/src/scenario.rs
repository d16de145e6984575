//! Scenarios: small text files in the ramdisk that say which processes to start.
//!
//! One command per line; `#` starts a comment:
//!
//! ```text
//! run <binary> [count] [argument]    # start `count` (default 1) processes of <binary>
//! report                             # print the global-segment report (processes started so
//!                                    # far are alive and not yet run)
//! invoke <runtime> <handler> <seed>  # after the processes: start one FaaS instance of a
//!                                    # language runtime serving handler number <handler>
//!                                    # (`abi::wasm::FUNCTIONS`), send it one invocation with
//!                                    # <seed>, print its answer, shut it down
//! ```
//!
//! [`run`] starts the processes in order, then runs the scheduler until all have ended, prints
//! one line per process (how it ended), then serves the `invoke` lines, and checks that every
//! frame the processes and instances used came back (the runtimes of `invoke` lines are loaded
//! before counting: a loaded binary stays loaded).

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use core::fmt;

use abi::EndReason;

use crate::mm::frame;
use crate::process::{Finished, scheduler};

/// The most processes one `run` line may start.
const MAX_COUNT: u64 = crate::mm::layout::MAX_PROCESSES;

/// One scenario line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command<'a> {
    /// Start processes.
    Run(RunCommand<'a>),
    /// Print the introspection report.
    Report,
    /// Invoke a language runtime's handler once.
    Invoke(InvokeCommand<'a>),
}

/// One `invoke` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvokeCommand<'a> {
    /// The runtime binary (`wasm-runtime`, `js-runtime`, `lua-runtime`).
    pub runtime: &'a str,
    /// The handler's number in `abi::wasm::FUNCTIONS`.
    pub handler: u64,
    /// The invocation's seed.
    pub seed: u64,
}

/// One `run` command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunCommand<'a> {
    /// The binary.
    pub binary: &'a str,
    /// How many processes.
    pub count: u64,
    /// The argument each gets.
    pub argument: u64,
}

/// A problem in a scenario file.
#[derive(Debug, PartialEq, Eq)]
pub struct ScenarioError<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The offending line.
    pub text: &'a str,
    /// What is wrong.
    pub problem: &'static str,
}

impl fmt::Display for ScenarioError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {} in {:?}", self.line, self.problem, self.text)
    }
}

/// Parses a scenario file.
///
/// # Errors
/// Returns the first bad line.
pub fn parse(text: &str) -> Result<Vec<Command<'_>>, ScenarioError<'_>> {
    let mut commands = Vec::new();
    for (index, raw_line) in text.lines().enumerate() {
        let line = raw_line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let error = |problem| ScenarioError { line: index + 1, text: raw_line, problem };
        let mut words = line.split_whitespace();
        match words.next() {
            Some("run") => {}
            Some("invoke") => {
                let runtime = words.next().ok_or_else(|| error("`invoke` needs a runtime, a handler number and a seed"))?;
                let handler = words.next().and_then(|word| word.parse::<u64>().ok()).ok_or_else(|| error("the handler is not a number"))?;
                if handler >= abi::wasm::FUNCTIONS.len() as u64 {
                    return Err(error("the handler number must be below 8 (abi::wasm::FUNCTIONS)"));
                }
                let seed = words.next().and_then(|word| word.parse::<u64>().ok()).ok_or_else(|| error("the seed is not a number"))?;
                if words.next().is_some() {
                    return Err(error("too many words"));
                }
                commands.push(Command::Invoke(InvokeCommand { runtime, handler, seed }));
                continue;
            }
            Some("report") if words.next().is_none() => {
                commands.push(Command::Report);
                continue;
            }
            Some("report") => return Err(error("`report` takes no arguments")),
            _ => return Err(error("unknown command (expected `run`, `report` or `invoke`)")),
        }
        let binary = words.next().ok_or_else(|| error("`run` needs a binary name"))?;
        let count = match words.next() {
            Some(word) => word.parse::<u64>().map_err(|_| error("the count is not a number"))?,
            None => 1,
        };
        if count == 0 || count > MAX_COUNT {
            return Err(error("the count must be 1..=1048576 (the process slots the layout has room for)"));
        }
        let argument = match words.next() {
            Some(word) => word.parse::<u64>().map_err(|_| error("the argument is not a number"))?,
            None => 0,
        };
        if words.next().is_some() {
            return Err(error("too many words"));
        }
        commands.push(Command::Run(RunCommand { binary, count, argument }));
    }
    Ok(commands)
}

/// What running a scenario showed.
#[derive(Debug)]
pub struct Outcome {
    /// Every process that ended, in the order they ended.
    pub finished: Vec<Finished>,
    /// Processes that could not be started, and `invoke` lines that failed.
    pub refused: usize,
    /// Free frames before the processes started.
    pub free_frames_before: usize,
    /// Free frames after every process ended.
    pub free_frames_after: usize,
    /// Context switches the scheduler made.
    pub switches: u64,
}

impl Outcome {
    /// Returns whether every process exited normally with code 0 and every frame came back.
    pub fn all_clean(&self) -> bool {
        self.refused == 0
            && self.free_frames_before == self.free_frames_after
            && self.finished.iter().all(|process| process.reason() == Some(EndReason::Exited) && process.status.code == 0)
    }
}

/// Prints how a process ended, one line.
pub fn report(process: &Finished) {
    match process.reason() {
        Some(EndReason::Exited) => crate::println!("process {} ({}) exited with {}", process.pid, process.name, process.status.code),
        Some(EndReason::PageFault) => crate::println!("process {} ({}) ended: killed by a page fault at {:#x}", process.pid, process.name, process.status.code),
        Some(reason) => crate::println!("process {} ({}) ended: killed ({})", process.pid, process.name, reason.name()),
        None => crate::println!("process {} ({}) ended with unknown reason {}", process.pid, process.name, process.status.reason),
    }
}

/// Starts every process the commands ask for, runs them all to the end, and reports.
pub fn run(commands: &[Command<'_>], verbose: bool) -> Outcome {
    let mut refused = 0;
    for command in commands {
        if let Command::Invoke(invoke) = command
            && let Err(error) = crate::mm::global_segment::load(invoke.runtime)
        {
            crate::println!("invoke {}: loading it failed: {error}", invoke.runtime);
            refused += 1;
        }
    }
    let free_frames_before = frame::free_count();
    for command in commands {
        let command = match command {
            Command::Report => {
                crate::introspection::print_report();
                continue;
            }
            Command::Invoke(_) => continue,
            Command::Run(command) => command,
        };
        for _ in 0..command.count {
            match scheduler::spawn(command.binary, command.argument, None) {
                Ok(pid) => {
                    if verbose {
                        crate::println!("spawned process {pid} ({} {})", command.binary, command.argument);
                    }
                }
                Err(error) => {
                    crate::println!("spawn {} refused: {error}", command.binary);
                    refused += 1;
                }
            }
        }
    }
    let switches = scheduler::run();
    let finished = scheduler::take_finished();
    if verbose {
        finished.iter().for_each(report);
    }
    for command in commands {
        if let Command::Invoke(invoke) = command
            && let Err(error) = invoke_once(invoke)
        {
            crate::println!("invoke {} handler {}: {error}", invoke.runtime, invoke.handler);
            refused += 1;
        }
    }
    Outcome { finished, refused, free_frames_before, free_frames_after: frame::free_count(), switches }
}

/// Starts one instance for `invoke`, sends it one invocation, prints the answer, shuts it down.
fn invoke_once(invoke: &InvokeCommand<'_>) -> Result<(), crate::faas::FaasError> {
    use crate::faas;
    let instances = faas::start_instances(invoke.runtime, 1, |_| invoke.handler)?;
    let mut payload = [0u8; abi::PAYLOAD_MAX_BYTES as usize];
    let bytes = abi::wasm::Payload { seed: invoke.seed, flags: 0 }.encode();
    payload[..bytes.len()].copy_from_slice(&bytes);
    let invocation = scheduler::Invocation { id: 0, payload, length: bytes.len() };
    let results = faas::round(&instances, 1, |_| invocation)?;
    let name = abi::wasm::FUNCTIONS.get(invoke.handler as usize).copied().unwrap_or("?");
    for result in &results {
        crate::println!(
            "invoke {} handler {} ({name}) seed {}: instance {} answered {:#x} (its self-checks passed)",
            invoke.runtime,
            invoke.handler,
            invoke.seed,
            result.pid,
            result.result
        );
    }
    faas::shut_down(&instances)
}
