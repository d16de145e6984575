//! The small synthetic runtime: a function instance with 1 MiB of code and 1 MiB of read-only
//! data (see `src/synthetic.rs` and `build.rs`), serving invocations until shut down.
#![no_std]
#![no_main]

#[path = "../synthetic.rs"]
mod synthetic;

synthetic::runtime!("small");
