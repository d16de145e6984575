//! Spawns `argument` children of `exit-code` (argument 1 if 0), each told to exit with its
//! index plus 100, waits for each, and exits with 0 when every child ended as told.
#![no_std]
#![no_main]

use shoal_rt::abi::EndReason;
use shoal_rt::syscall;

shoal_rt::entry!(main);

const CODE_OFFSET: u64 = 100;
const MAX_CHILDREN: usize = 64;

fn main(argument: u64) -> u64 {
    let count = (argument.max(1) as usize).min(MAX_CHILDREN);
    let mut children = [0u64; MAX_CHILDREN];
    for (index, child) in children.iter_mut().enumerate().take(count) {
        match syscall::spawn("exit-code", index as u64 + CODE_OFFSET) {
            Ok(pid) => *child = pid,
            Err(error) => {
                shoal_rt::println!("spawn-wait: spawn failed: {error}");
                return 1;
            }
        }
    }
    let mut wrong = 0;
    for (index, &child) in children.iter().enumerate().take(count) {
        match syscall::wait(child) {
            Ok(status) if status.reason == EndReason::Exited as u64 && status.code == index as u64 + CODE_OFFSET => {}
            other => {
                shoal_rt::println!("spawn-wait: child {child}: {other:?}");
                wrong += 1;
            }
        }
    }
    shoal_rt::println!("spawn-wait: {count} children spawned and reaped, {wrong} wrong");
    wrong
}
