//! The WebAssembly runtime: one large binary that hosts function handlers the way a language
//! runtime does. Its code (the `wasmi` interpreter) is shared by every instance through the global
//! segment; each function's own code is data: a WebAssembly module embedded in the read-only data
//! (`userland/wasm-functions`, built for wasm32-unknown-unknown at build time).
//!
//! An instance's process argument is the number of its function (`abi::wasm::FUNCTIONS`). At
//! start the instance compiles that module (eagerly, so an invocation never compiles) and
//! instantiates it once; then it serves invocations: the payload's seed and flags
//! (`abi::wasm::Payload`) go to the module's `handle` export, and the handler's checksum is the
//! answer. A handler that reports a failed self-check, or traps, ends the instance with a non-zero
//! code (`abi::wasm::EXIT_*`) after one line saying which handler failed: a wrong answer fails the
//! run instead of passing silently.
#![no_std]
#![no_main]

use shoal_rt::abi::wasm::{self, Outcome, Payload};
use shoal_rt::println;
use wasmi::{CompilationMode, Config, Engine, Linker, Module, Store, TypedFunc};

/// A hosted function: its name and its module.
struct Function {
    name: &'static str,
    module: &'static [u8],
}

/// Returns the [`Function`] whose module is the `wasm-functions` binary `$name`.
macro_rules! function {
    ($name:literal) => {
        Function { name: $name, module: include_bytes!(env!(concat!("CARGO_BIN_FILE_WASM_FUNCTIONS_", $name))) }
    };
}

/// The hosted functions, in `abi::wasm::FUNCTIONS` order (checked below).
static FUNCTIONS: [Function; wasm::FUNCTIONS.len()] = [
    function!("json"),
    function!("aes"),
    function!("compress"),
    function!("sha256"),
    function!("matmul"),
    function!("rotate"),
    function!("regex"),
    function!("pagerank"),
];

/// Returns whether two strings are equal (`==` on `str` is not `const`).
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut index = 0;
    while index < a.len() {
        if a[index] != b[index] {
            return false;
        }
        index += 1;
    }
    true
}

const _: () = {
    let mut index = 0;
    while index < FUNCTIONS.len() {
        assert!(same(FUNCTIONS[index].name, wasm::FUNCTIONS[index]), "the modules are not in abi::wasm::FUNCTIONS order");
        index += 1;
    }
};

/// Largest depth of nested WebAssembly calls (the regex handler's backtracking is the deepest).
const MAX_RECURSION_DEPTH: usize = 1024;

/// An instantiated module, ready to serve invocations.
struct Instance {
    name: &'static str,
    store: Store<()>,
    handler: TypedFunc<(i64, i64), i64>,
}

impl Instance {
    /// Compiles and instantiates `function`'s module and finds its handler.
    fn load(function: &Function) -> Result<Instance, wasmi::Error> {
        let mut config = Config::default();
        config.compilation_mode(CompilationMode::Eager).set_max_recursion_depth(MAX_RECURSION_DEPTH).set_max_cached_stacks(1);
        let engine = Engine::new(&config);
        let module = Module::new(&engine, function.module)?;
        let mut store = Store::new(&engine, ());
        // The modules import nothing: the runtime offers no host functions.
        let instance = Linker::<()>::new(&engine).instantiate_and_start(&mut store, &module)?;
        let handler = instance.get_typed_func::<(i64, i64), i64>(&store, wasm::HANDLER_EXPORT)?;
        Ok(Instance { name: function.name, store, handler })
    }

    /// Runs one invocation; returns the checksum, or the exit code of a failed handler.
    fn invoke(&mut self, payload: &[u8]) -> Result<u64, u64> {
        let Some(Payload { seed, flags }) = Payload::decode(payload) else {
            println!("wasm-runtime: handler {}: payload of {} bytes, {} needed", self.name, payload.len(), Payload::BYTES);
            return Err(wasm::EXIT_BAD_PAYLOAD);
        };
        match self.handler.call(&mut self.store, (seed as i64, flags as i64)) {
            Ok(raw) => match Outcome::from_raw(raw) {
                Outcome::Checksum(checksum) => Ok(checksum),
                Outcome::Failed(check) => {
                    println!("wasm-runtime: handler {} failed its self-check {check} (seed {seed:#x}, flags {flags:#x})", self.name);
                    Err(wasm::EXIT_SELF_CHECK_FAILED)
                }
            },
            Err(error) => {
                println!("wasm-runtime: handler {} trapped: {error} (seed {seed:#x}, flags {flags:#x})", self.name);
                Err(wasm::EXIT_TRAPPED)
            }
        }
    }
}

shoal_rt::entry!(main);

fn main(argument: u64) -> u64 {
    let Some(function) = usize::try_from(argument).ok().and_then(|number| FUNCTIONS.get(number)) else {
        println!("wasm-runtime: no function {argument}: the functions are 0..{}", FUNCTIONS.len());
        return wasm::EXIT_UNKNOWN_FUNCTION;
    };
    let mut instance = match Instance::load(function) {
        Ok(instance) => instance,
        Err(error) => {
            println!("wasm-runtime: handler {}: loading its module failed: {error}", function.name);
            return wasm::EXIT_LOAD_FAILED;
        }
    };
    shoal_rt::faas::serve_with(|payload| instance.invoke(payload))
}
