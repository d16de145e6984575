//! `wasm-runtime` for Linux: the native WebAssembly runtime's source
//! (`userland/programs/src/bin/wasm-runtime.rs`, pulled in below as it is) built as a static-pie
//! for x86_64-unknown-linux-musl, with the same `wasmi` and the same `wasm-functions` modules.
//! `argv[1]` is the function's number (shoal puts the process argument there; `shoal-rt`'s Linux
//! `entry!` parses it), and invocations come and go as frames on fds 0 and 1 (`abi::linux`).
//!
//! The native file is a crate root (`#![no_std]`, `#![no_main]`, which this file repeats), so it
//! is included as a module rather than with `include!` (which cannot take inner attributes); its
//! crate-level attributes are then unused there.
#![no_std]
#![no_main]

#[allow(unused_attributes)]
#[path = "../../../../programs/src/bin/wasm-runtime.rs"]
mod wasm_runtime;
