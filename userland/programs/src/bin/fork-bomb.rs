//! A bounded fork bomb: each process of depth D > 0 spawns two children of depth D - 1 and waits
//! for them. A refused spawn is counted, not fatal.
//!
//! Argument: the depth; bit 63 set marks the top process, which prints
//! `fork-bomb: depth {d}: {n} processes started, {r} spawns refused`.
//!
//! Exit code: bits 0..31 = processes of its subtree that started (itself included), bits 32..62
//! = spawns refused in its subtree. A child that was started but did not exit normally counts
//! as one started process (its own subtree's counts are lost).
#![no_std]
#![no_main]

use shoal_rt::abi::{EndReason, ErrorCode};
use shoal_rt::syscall;

shoal_rt::entry!(main);

/// The bit of the argument that marks the top process.
const TOP: u64 = 1 << 63;
/// Children per process.
const CHILDREN: usize = 2;
/// The exit code's field of started processes.
const STARTED_MASK: u64 = 0xffff_ffff;
/// Where the count of refused spawns starts in the exit code.
const REFUSED_SHIFT: u32 = 32;
/// The largest count of refused spawns the exit code holds.
const REFUSED_MAX: u64 = (1 << 31) - 1;

fn main(argument: u64) -> u64 {
    let top = argument & TOP != 0;
    let depth = argument & !TOP;
    let mut started: u64 = 1;
    let mut refused: u64 = 0;
    let mut killed: u64 = 0;
    let mut refusal_codes = [0u64; ErrorCode::ALL.len() + 1];
    if depth > 0 {
        let mut children = [None; CHILDREN];
        for child in children.iter_mut() {
            match syscall::spawn("fork-bomb", depth - 1) {
                Ok(pid) => *child = Some(pid),
                Err(error) => {
                    refused += 1;
                    refusal_codes[(error.value() as usize).min(ErrorCode::ALL.len())] += 1;
                }
            }
        }
        for pid in children.into_iter().flatten() {
            match syscall::wait(pid) {
                Ok(status) if status.reason == EndReason::Exited as u64 => {
                    started += status.code & STARTED_MASK;
                    refused += status.code >> REFUSED_SHIFT;
                }
                // Started, but killed (or not waitable): it counts as itself only.
                _ => {
                    started += 1;
                    killed += 1;
                }
            }
        }
    }
    if top {
        shoal_rt::println!("fork-bomb: depth {depth}: {started} processes started, {refused} spawns refused");
        if refusal_codes.iter().any(|&count| count > 0) {
            shoal_rt::print!("fork-bomb: the top's own refusals:");
            for (code, count) in ErrorCode::ALL.iter().zip(refusal_codes.iter()) {
                if *count > 0 {
                    shoal_rt::print!(" {}={count}", code.name());
                }
            }
            shoal_rt::println!();
        }
        if killed > 0 {
            shoal_rt::println!("fork-bomb: {killed} children of the top did not exit normally");
        }
    }
    started.min(STARTED_MASK) | (refused.min(REFUSED_MAX) << REFUSED_SHIFT)
}
