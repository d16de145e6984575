//! The medium synthetic runtime: a function instance with 8 MiB of code and 8 MiB of read-only
//! data (see `src/synthetic.rs` and `build.rs`), serving invocations until shut down. Only the
//! bench image carries it.
#![no_std]
#![no_main]

#[path = "../synthetic.rs"]
mod synthetic;

synthetic::runtime!("medium");
