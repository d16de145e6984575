//! The FaaS driver: functions as warm instances, invocations fed round-robin.
//!
//! A function is a loaded binary plus its handler; its instances are processes kept warm between
//! invocations, blocked in `invoke_wait`. The driver starts the instances and lets them reach
//! `invoke_wait`, then runs rounds: it hands one invocation to every instance, runs the scheduler
//! until every instance waits again (the instances' executions interleave on the one core: the
//! "lukewarm" pattern), and collects the results. Closed loop: one invocation per instance per
//! round. [`shut_down`] sends the empty payload that ends the instances.

#![deny(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;

use abi::{EndReason, ErrorCode};

use crate::process::scheduler::{self, Invocation, InvocationResult};
use crate::process::spawn::SpawnError;

/// Why a driver step failed.
#[derive(Debug)]
pub enum FaasError {
    /// An instance could not be started.
    Spawn(SpawnError),
    /// An invocation could not be delivered.
    Deliver(ErrorCode),
    /// An instance ended instead of answering (a failed self-check, a fault).
    InstanceEnded {
        /// The instance.
        pid: u64,
        /// How it ended.
        reason: Option<EndReason>,
        /// Its exit code or fault address.
        code: u64,
    },
    /// A round ended with fewer results than invocations.
    MissingResults {
        /// Invocations delivered.
        delivered: usize,
        /// Results reported.
        reported: usize,
    },
}

impl core::fmt::Display for FaasError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FaasError::Spawn(error) => write!(f, "starting an instance: {error}"),
            FaasError::Deliver(error) => write!(f, "delivering an invocation: {error}"),
            FaasError::InstanceEnded { pid, reason, code } => {
                write!(f, "instance {pid} ended ({:?}, {code}) instead of answering", reason.map(EndReason::name))
            }
            FaasError::MissingResults { delivered, reported } => {
                write!(f, "{reported} results for {delivered} invocations")
            }
        }
    }
}

/// Starts `count` instances of `binary`, instance `index` with the process argument
/// `argument(index)` (a runtime that hosts several functions takes the function's number there),
/// and runs them until each waits for its first invocation.
///
/// # Errors
/// Returns [`FaasError::Spawn`] when an instance cannot be started.
pub fn start_instances(binary: &str, count: usize, argument: impl Fn(usize) -> u64) -> Result<Vec<u64>, FaasError> {
    let mut instances = Vec::with_capacity(count);
    for index in 0..count {
        instances.push(scheduler::spawn_instance(binary, argument(index)).map_err(FaasError::Spawn)?);
    }
    scheduler::run_until_quiet();
    check_alive()?;
    Ok(instances)
}

/// Fails when an instance ended (only instances run under the driver).
fn check_alive() -> Result<(), FaasError> {
    if let Some(ended) = scheduler::take_finished().first() {
        return Err(FaasError::InstanceEnded { pid: ended.pid, reason: ended.reason(), code: ended.status.code });
    }
    Ok(())
}

/// Runs one round: invocation `payload(index)` for each instance, then the scheduler until all
/// wait again. Returns the results, one per instance.
///
/// # Errors
/// Returns a [`FaasError`] when an invocation cannot be delivered or an instance ended.
pub fn round(instances: &[u64], first_id: u64, payload: impl Fn(usize) -> Invocation) -> Result<Vec<InvocationResult>, FaasError> {
    for (index, &pid) in instances.iter().enumerate() {
        let mut invocation = payload(index);
        invocation.id = first_id + index as u64;
        scheduler::deliver(pid, invocation).map_err(FaasError::Deliver)?;
    }
    scheduler::run_until_quiet();
    check_alive()?;
    let results = scheduler::take_invocation_results();
    if results.len() != instances.len() {
        return Err(FaasError::MissingResults { delivered: instances.len(), reported: results.len() });
    }
    Ok(results)
}

/// Tells every instance to shut down and runs them to their end.
///
/// # Errors
/// Returns [`FaasError::Deliver`] or [`FaasError::InstanceEnded`] for an instance that did not
/// exit with 0.
pub fn shut_down(instances: &[u64]) -> Result<(), FaasError> {
    for &pid in instances {
        let stop = Invocation { id: 0, payload: [0; abi::PAYLOAD_MAX_BYTES as usize], length: 0 };
        scheduler::deliver(pid, stop).map_err(FaasError::Deliver)?;
    }
    scheduler::run();
    for ended in scheduler::take_finished() {
        if ended.reason() != Some(EndReason::Exited) || ended.status.code != 0 {
            return Err(FaasError::InstanceEnded { pid: ended.pid, reason: ended.reason(), code: ended.status.code });
        }
    }
    Ok(())
}

/// Returns a synthetic runtime's invocation seeded with `seed` that touches `code_pages` code
/// and `data_pages` read-only data pages.
pub fn synthetic_payload(seed: u64, code_pages: u32, data_pages: u32) -> Invocation {
    let mut payload = [0u8; abi::PAYLOAD_MAX_BYTES as usize];
    let bytes = abi::synthetic::Payload { seed, code_pages, data_pages }.encode();
    payload[..bytes.len()].copy_from_slice(&bytes);
    Invocation { id: 0, payload, length: bytes.len() }
}
