//! Exercises the heap: vectors, boxes and strings up to about 1 MiB, checks every byte, frees
//! them, and exits with 0 (or 1 when a check fails).
#![no_std]
#![no_main]

extern crate alloc;

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

shoal_rt::entry!(main);

const BLOCK_BYTES: usize = 1024 * 1024;
const SMALL_BLOCKS: usize = 1000;

fn main(_argument: u64) -> u64 {
    let mut big: Vec<u8> = Vec::with_capacity(BLOCK_BYTES);
    big.extend((0..BLOCK_BYTES).map(|index| (index % 253) as u8));
    let small: Vec<Box<u64>> = (0..SMALL_BLOCKS as u64).map(|index| Box::new(index * 3)).collect();
    let mut text = String::new();
    for index in 0..100 {
        text.push_str(if index % 2 == 0 { "shoal" } else { "-" });
    }
    let big_ok = big.iter().enumerate().all(|(index, &byte)| byte == (index % 253) as u8);
    let small_ok = small.iter().enumerate().all(|(index, value)| **value == index as u64 * 3);
    let text_ok = text.len() == 50 * 5 + 50;
    drop(big);
    drop(small);
    let again: Vec<u64> = (0..10_000).collect();
    let again_ok = again.iter().sum::<u64>() == 10_000 * 9_999 / 2;
    if big_ok && small_ok && text_ok && again_ok {
        shoal_rt::println!("alloc-exerciser: 1 MiB block, {SMALL_BLOCKS} boxes, a string: all correct");
        0
    } else {
        shoal_rt::println!("alloc-exerciser: MISMATCH big={big_ok} small={small_ok} text={text_ok} again={again_ok}");
        1
    }
}
