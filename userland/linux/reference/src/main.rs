//! `wasm-reference SEED...`: prints, for each of the eight `wasm-functions` handlers (in
//! `abi::wasm::FUNCTIONS` order) and each seed, the raw outcome the handler's module would return
//! (`wasm_functions::run`, the very function the modules' `handle` export calls), one line
//! `<function number> <name> <seed> <outcome>` each, all in decimal.
//!
//! It is the reference of `check-workloads.py` for `wasm-runtime-musl`: the same handler sources
//! compiled to x86_64 machine code by rustc and run directly, rather than compiled to
//! WebAssembly and interpreted by wasmi, so a wrong interpreter, module or frame path shows up as
//! a mismatch. (The handlers are deterministic integer and IEEE `f64` code, which WebAssembly and
//! x86_64's SSE2 compute alike.) A Linux program (this workspace), but not one the ramdisk
//! carries: it is no member of `default-members`, so the root build does not build it.

// std's link glue for this workspace (`libunwind.a`, `_dl_find_object`).
use linux_rt as _;
use wasm_functions::{Handler, aes_cbc, compress, json, matmul, pagerank, regex, rotate, sha256};

/// The handlers, in `abi::wasm::FUNCTIONS` order (the order of `wasm-runtime`'s modules).
const HANDLERS: [Handler; 8] = [json::handle, aes_cbc::handle, compress::handle, sha256::handle, matmul::handle, rotate::handle, regex::handle, pagerank::handle];

/// Parses a seed in decimal, or in hexadecimal with `0x`.
fn parse(text: &str) -> u64 {
    let parsed = match text.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.unwrap_or_else(|_| panic!("not a seed: {text:?}"))
}

fn main() {
    let seeds: Vec<u64> = std::env::args().skip(1).map(|text| parse(&text)).collect();
    for (number, (name, handler)) in abi::wasm::FUNCTIONS.iter().zip(HANDLERS).enumerate() {
        for &seed in &seeds {
            println!("{number} {name} {seed} {}", wasm_functions::run(handler, seed as i64, 0));
        }
    }
}

