//! Scenarios: small text files in the ramdisk that say which processes to start.
//!
//! One command per line; `#` starts a comment:
//!
//! ```text
//! run <binary> [count] [argument]    # start `count` (default 1) processes of <binary>
//! report                             # print the global-segment report (processes started so
//!                                    # far are alive and not yet run)
//! ```
//!
//! [`run`] starts the processes in order, then runs the scheduler until all have ended, prints
//! one line per process (how it ended), and checks that every frame the processes used came back.

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
            Some("report") if words.next().is_none() => {
                commands.push(Command::Report);
                continue;
            }
            Some("report") => return Err(error("`report` takes no arguments")),
            _ => return Err(error("unknown command (expected `run` or `report`)")),
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
    /// Processes that could not be started.
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
    let free_frames_before = frame::free_count();
    let mut refused = 0;
    for command in commands {
        let command = match command {
            Command::Report => {
                crate::introspection::print_report();
                continue;
            }
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
    Outcome { finished, refused, free_frames_before, free_frames_after: frame::free_count(), switches }
}
