//! The `aes` function module: AES-128-CBC encryption and decryption (`wasm_functions::aes_cbc`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::aes_cbc::handle, arena_bytes = wasm_functions::aes_cbc::ARENA_BYTES);
