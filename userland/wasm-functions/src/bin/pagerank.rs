//! The `pagerank` function module: PageRank of a small graph (`wasm_functions::pagerank`), exported as
//! `handle(seed, flags) -> outcome` for shoal's WebAssembly runtime.
#![no_std]
#![no_main]

wasm_functions::function_module!(wasm_functions::pagerank::handle, arena_bytes = wasm_functions::pagerank::ARENA_BYTES);
