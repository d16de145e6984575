//! The `sha256` function module: SHA-256 hashing (`wasm_functions::sha256`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::sha256::handle, arena_bytes = wasm_functions::sha256::ARENA_BYTES);
