//! The `matmul` function module: a 16×16 matrix product (`wasm_functions::matmul`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::matmul::handle, arena_bytes = wasm_functions::matmul::ARENA_BYTES);
