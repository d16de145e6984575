//! `js-runtime`: a JavaScript function runtime (QuickJS) for shoal's Linux personality (a
//! static-pie x86_64-unknown-linux-musl executable that runs unchanged on a Linux host).
//!
//! # Design
//! - The engine is QuickJS(-ng) from `rquickjs`, whose `rquickjs-sys` crate bundles the C sources
//!   (compiled with musl-gcc by the cc crate) and ships pregenerated bindings for
//!   x86_64-unknown-linux-musl: no bindgen or libclang at build time.
//! - The eight handlers (`abi::wasm::FUNCTIONS`: json, aes, compress, sha256, matmul, rotate,
//!   regex, pagerank) are JavaScript ports of `userland/wasm-functions`, one file each under
//!   `handlers/js/`, embedded with `include_str!`. `json` and `regex` use the engine's own
//!   `JSON` and `RegExp` (as a JavaScript function would); the others are plain JavaScript with
//!   typed arrays and BigInt for 64-bit arithmetic.
//! - At start the instance evaluates `handlers/js/common.js` (the seeded SplitMix64 generator,
//!   the FNV-1a checksum) and the file of its function once, in one context; each invocation
//!   calls the global `handle(seed, flags)` with both as BigInts (u64) and gets back an
//!   `abi::wasm::Outcome` as a BigInt (or a Number): the checksum, or `-n` for failed check n.
//!   Handlers never use `Math.random` (QuickJS seeds it from the clock): results depend on the
//!   seed only.
//! - The protocol (frames on fd 0 and 1, exit codes) is `linux_rt::serve`: argv[1] is the
//!   function's number; a script that fails to evaluate exits with `EXIT_LOAD_FAILED`, an
//!   exception from a handler with `EXIT_TRAPPED`, a failed self-check with
//!   `EXIT_SELF_CHECK_FAILED`.
//! - No threads, no signals; one runtime and one context live for the whole instance.

use abi::wasm;
use linux_rt::Invocation;
use rquickjs::{BigInt, CaughtError, Context, Ctx, Function, Runtime, Value};

/// Name of the program in its stderr lines.
const PROGRAM: &str = "js-runtime";

/// Code shared by every handler, evaluated first.
const COMMON: &str = include_str!("../../handlers/js/common.js");

/// The handler scripts, in `abi::wasm::FUNCTIONS` order.
const SCRIPTS: [(&str, &str); wasm::FUNCTIONS.len()] = [
    ("json", include_str!("../../handlers/js/json.js")),
    ("aes", include_str!("../../handlers/js/aes.js")),
    ("compress", include_str!("../../handlers/js/compress.js")),
    ("sha256", include_str!("../../handlers/js/sha256.js")),
    ("matmul", include_str!("../../handlers/js/matmul.js")),
    ("rotate", include_str!("../../handlers/js/rotate.js")),
    ("regex", include_str!("../../handlers/js/regex.js")),
    ("pagerank", include_str!("../../handlers/js/pagerank.js")),
];

/// Turns a failed rquickjs call into a one-line message (the exception and its stack).
fn message<T>(ctx: &Ctx<'_>, result: rquickjs::Result<T>) -> Result<T, String> {
    CaughtError::catch(ctx, result).map_err(|error| error.to_string().replace('\n', " | "))
}

/// Evaluates the common code and `script` in `ctx` and checks that `handle` is a function.
fn load(ctx: &Ctx<'_>, script: &str) -> Result<(), String> {
    message(ctx, ctx.eval::<(), _>(COMMON))?;
    message(ctx, ctx.eval::<(), _>(script))?;
    message(ctx, ctx.globals().get::<_, Function>(wasm::HANDLER_EXPORT)).map(drop)
}

/// Runs one invocation of the global `handle`.
fn invoke(ctx: &Ctx<'_>, seed: u64, flags: u64) -> Result<i64, String> {
    let handle: Function = message(ctx, ctx.globals().get(wasm::HANDLER_EXPORT))?;
    let arguments = (message(ctx, BigInt::from_u64(ctx.clone(), seed))?, message(ctx, BigInt::from_u64(ctx.clone(), flags))?);
    let result: Value = message(ctx, handle.call(arguments))?;
    if let Some(big) = result.as_big_int() {
        message(ctx, big.clone().to_i64())
    } else if let Some(number) = result.as_number().filter(|number| number.fract() == 0.0 && number.abs() < 9.007_199_254_740_992e15) {
        Ok(number as i64)
    } else {
        Err(format!("handle returned {:?}, not an integer", result.type_of()))
    }
}

fn main() {
    let number = linux_rt::function_argument(PROGRAM);
    let (name, script) = SCRIPTS[number];
    debug_assert_eq!(name, wasm::FUNCTIONS[number]);
    let loaded = Runtime::new().map_err(|error| error.to_string()).and_then(|runtime| {
        let context = Context::full(&runtime).map_err(|error| error.to_string())?;
        context.with(|ctx| load(&ctx, script))?;
        Ok((runtime, context))
    });
    let (_runtime, context) = match loaded {
        Ok(loaded) => loaded,
        Err(error) => {
            eprintln!("{PROGRAM}: handler {name}: loading its script failed: {error}");
            linux_rt::exit(wasm::EXIT_LOAD_FAILED as i32);
        }
    };
    linux_rt::serve(PROGRAM, name, |seed, flags| match context.with(|ctx| invoke(&ctx, seed, flags)) {
        Ok(raw) => Invocation::Returned(raw),
        Err(error) => Invocation::Trapped(error),
    })
}
