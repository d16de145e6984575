//! `synth-small` for Linux: the small synthetic runtime (1 MiB of code and 1 MiB of read-only data), built
//! from the native program's own source (`userland/programs/src/synthetic.rs`, the same
//! `synthetic::runtime!` that `userland/programs/src/bin/synth-small.rs` expands) as a static-pie
//! for x86_64-unknown-linux-musl. It serves invocations over the frame protocol of `abi::linux`
//! (`shoal-rt`'s Linux backend) and answers each payload (seed u64, code steps u32, data steps
//! u32) with the same checksum as the native program.
#![no_std]
#![no_main]

#[path = "../../../../programs/src/synthetic.rs"]
mod synthetic;

synthetic::runtime!("small");
