//! `lua-runtime`: a Lua 5.4 function runtime for shoal's Linux personality (a static-pie
//! x86_64-unknown-linux-musl executable that runs unchanged on a Linux host).
//!
//! # Design
//! - The interpreter is Lua 5.4 from `mlua` (features `lua54`, `vendored`: the `lua-src` crate
//!   compiles Lua's C sources with musl-gcc and links them statically). Only the `string`,
//!   `table`, `math` and `utf8` libraries are opened: a handler has no `io`, `os` or `package`, so
//!   a handler cannot reach a system call.
//! - Lua 5.4 would seed its string hashes from `time(NULL)` and addresses (`luai_makeseed` in
//!   lstate.c); `.cargo/config.toml` defines `luai_makeseed(L)` as a constant for the C build,
//!   so table traversal order, and every handler's result, is the same in every run.
//! - The eight handlers (`abi::wasm::FUNCTIONS`: json, aes, compress, sha256, matmul, rotate,
//!   regex, pagerank) are Lua ports of `userland/wasm-functions`, one file each under
//!   `handlers/lua/`, embedded with `include_str!`. At start the instance evaluates
//!   `handlers/lua/common.lua` (the seeded generator, FNV-1a checksum, `unsigned below`) and then
//!   the file of its function, once; each invocation calls the global `handle(seed, flags)` with
//!   the seed as a 64-bit Lua integer (two's complement of the u64) and gets back an
//!   `abi::wasm::Outcome` as an integer: the checksum, or `-n` for failed self-check n.
//! - The protocol (frames on fd 0 and 1, exit codes) is `linux_rt::serve`: argv[1] is the
//!   function's number; a script that fails to load exits with `EXIT_LOAD_FAILED`, a Lua error
//!   in a handler with `EXIT_TRAPPED`, a failed self-check with `EXIT_SELF_CHECK_FAILED`.
//! - No threads, no signals; the Lua state lives for the whole instance.

use abi::wasm;
use linux_rt::Invocation;
use mlua::{Function, Lua, LuaOptions, StdLib};

/// Name of the program in its stderr lines.
const PROGRAM: &str = "lua-runtime";

/// Code shared by every handler, evaluated first.
const COMMON: &str = include_str!("../../handlers/lua/common.lua");

/// The handler scripts, in `abi::wasm::FUNCTIONS` order.
const SCRIPTS: [(&str, &str); wasm::FUNCTIONS.len()] = [
    ("json", include_str!("../../handlers/lua/json.lua")),
    ("aes", include_str!("../../handlers/lua/aes.lua")),
    ("compress", include_str!("../../handlers/lua/compress.lua")),
    ("sha256", include_str!("../../handlers/lua/sha256.lua")),
    ("matmul", include_str!("../../handlers/lua/matmul.lua")),
    ("rotate", include_str!("../../handlers/lua/rotate.lua")),
    ("regex", include_str!("../../handlers/lua/regex.lua")),
    ("pagerank", include_str!("../../handlers/lua/pagerank.lua")),
];

/// Makes the Lua state, evaluates the common code and `script`; returns the state and `handle`.
fn load(name: &str, script: &str) -> mlua::Result<(Lua, Function)> {
    let lua = Lua::new_with(StdLib::STRING | StdLib::TABLE | StdLib::MATH | StdLib::UTF8, LuaOptions::default())?;
    lua.load(COMMON).set_name("@common.lua").exec()?;
    lua.load(script).set_name(format!("@{name}.lua")).exec()?;
    let handle: Function = lua.globals().get(wasm::HANDLER_EXPORT)?;
    Ok((lua, handle))
}

fn main() {
    let number = linux_rt::function_argument(PROGRAM);
    let (name, script) = SCRIPTS[number];
    debug_assert_eq!(name, wasm::FUNCTIONS[number]);
    let (_lua, handle) = match load(name, script) {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{PROGRAM}: handler {name}: loading its script failed: {error}");
            linux_rt::exit(wasm::EXIT_LOAD_FAILED as i32);
        }
    };
    linux_rt::serve(PROGRAM, name, |seed, flags| match handle.call::<i64>((seed as i64, flags as i64)) {
        Ok(raw) => Invocation::Returned(raw),
        Err(error) => Invocation::Trapped(error.to_string().replace('\n', " | ")),
    })
}
