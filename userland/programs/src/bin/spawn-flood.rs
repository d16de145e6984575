//! Spawns short-lived children of `yield-loop` until the kernel refuses (children that have
//! exited stay zombies, holding their process slot, until waited for), prints
//! `spawn-flood: {n} children started, then {error}`, then waits for every child and checks each
//! exited with 0.
//!
//! Argument: how many times each child yields before it exits (0 means 3).
//!
//! Exit code: the number of children started (the kernel test reads it); a child that did not
//! exit with 0 is reported on a line ending in FAILED.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::vec::Vec;

use shoal_rt::abi::{EndReason, ExitStatus};
use shoal_rt::syscall;

shoal_rt::entry!(main);

/// Yields of each child when the argument is 0.
const DEFAULT_CHILD_YIELDS: u64 = 3;
/// Most children the flood starts: it stops here even if the kernel never refuses (the kernel's
/// process table is sized from memory; the hostile suite leaves the flood 16 MiB, which runs out
/// first).
const MAX_CHILDREN: usize = 8192;
/// Children whose wrong ending is printed in detail.
const DETAILED_WRONG: u64 = 5;

fn main(argument: u64) -> u64 {
    let yields = if argument == 0 { DEFAULT_CHILD_YIELDS } else { argument };
    // All the memory for the process ids up front: later the kernel may have none left.
    let mut children: Vec<u64> = Vec::new();
    if let Err(error) = children.try_reserve_exact(MAX_CHILDREN) {
        shoal_rt::println!("spawn-flood: no memory for the process ids: {error} FAILED");
        return 0;
    }
    let mut refusal = None;
    while children.len() < MAX_CHILDREN {
        match syscall::spawn("yield-loop", yields) {
            Ok(pid) => children.push(pid),
            Err(error) => {
                refusal = Some(error);
                break;
            }
        }
    }
    let started = children.len() as u64;
    match refusal {
        Some(error) => shoal_rt::println!("spawn-flood: {started} children started, then {error}"),
        None => shoal_rt::println!("spawn-flood: {started} children started, then none refused (stopped at {MAX_CHILDREN})"),
    }
    let (mut wrong, mut out_of_memory) = (0, 0);
    for &pid in &children {
        match syscall::wait(pid) {
            Ok(ExitStatus { reason, code: 0 }) if reason == EndReason::Exited as u64 => {}
            // Memory ran out after the spawn, at the child's first touch of its stack (demand
            // paging): the kernel ended it for that, as it must.
            Ok(ExitStatus { reason, .. }) if reason == EndReason::OutOfMemory as u64 => out_of_memory += 1,
            other => {
                wrong += 1;
                if wrong <= DETAILED_WRONG {
                    shoal_rt::println!("spawn-flood: child {pid} ended {other:?} FAILED");
                }
            }
        }
    }
    if wrong == 0 {
        shoal_rt::println!("spawn-flood: all {started} children exited with 0 or were ended out-of-memory ({out_of_memory}) on a demand fault");
    } else {
        shoal_rt::println!("spawn-flood: {wrong} of {started} children did not exit with 0 FAILED");
    }
    started
}
