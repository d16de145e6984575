//! The `regex` function module: regular-expression search over log lines (`wasm_functions::regex`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::regex::handle, arena_bytes = wasm_functions::regex::ARENA_BYTES);
