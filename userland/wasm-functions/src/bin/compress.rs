//! The `compress` function module: DEFLATE compression and decompression (`wasm_functions::compress`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::compress::handle, arena_bytes = wasm_functions::compress::ARENA_BYTES);
