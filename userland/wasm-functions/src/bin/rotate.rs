//! The `rotate` function module: image rotation (`wasm_functions::rotate`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::rotate::handle, arena_bytes = wasm_functions::rotate::ARENA_BYTES);
