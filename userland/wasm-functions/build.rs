//! Links each function module small: a 32 KiB shadow stack instead of Rust's default 1 MiB, and
//! no debug information or name section (the runtime embeds the modules; every byte of them is
//! read-only data of its binary). The linear memory is then just the stack, the static data and
//! the module's arena (`src/arena.rs`), whose size each module states: no `memory.grow` ever
//! runs, so an instance's memory is fixed when it is instantiated.

/// Bytes of a module's shadow stack (the part of the Rust stack that lives in linear memory).
const STACK_BYTES: u32 = 32 * 1024;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() != Ok("wasm32") {
        return;
    }
    println!("cargo:rustc-link-arg-bins=-zstack-size={STACK_BYTES}");
    println!("cargo:rustc-link-arg-bins=--strip-all");
    println!("cargo:rustc-link-arg-bins=--no-growable-memory");
}
