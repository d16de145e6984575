//! The large synthetic runtime: a function instance with 64 MiB of code and 64 MiB of read-only
//! data, the size class of a Node runtime (see `src/synthetic.rs` and `build.rs`), serving
//! invocations until shut down. Only the bench image carries it.
#![no_std]
#![no_main]

#[path = "../synthetic.rs"]
mod synthetic;

synthetic::runtime!("large");
