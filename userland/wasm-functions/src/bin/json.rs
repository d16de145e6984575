//! The `json` function module: JSON parse and serialise (`wasm_functions::json`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::json::handle, arena_bytes = wasm_functions::json::ARENA_BYTES);
