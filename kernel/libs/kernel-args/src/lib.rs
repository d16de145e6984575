//! Parses the kernel argument string into a typed [`KernelArgs`] configuration.
//!
//! The host tool passes a string such as `log=debug test=paging timer_hz=250` through QEMU's
//! fw_cfg; `kernel/src/config.rs` reads the raw bytes and calls [`parse_bytes`]. Anything the
//! parser does not understand (an unknown key, a bad or missing value, a repeated key) is an
//! [`ArgError`] whose message names the offending text and what would have been accepted: the
//! kernel stops the boot with it rather than falling back to a silent default.
//!
//! Every key is one entry of the [`KEYS`] table: its name, accepted values, default, meaning,
//! and the private functions that parse its value into [`KernelArgs`] and print it back. Adding
//! a key means adding a field to [`KernelArgs`] (and its default) and one table entry; the
//! parser, the error messages, `--help`-style output and the canonical form
//! ([`KernelArgs`]'s `Display`) all follow from the table.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

use core::fmt;

/// Longest argument string accepted, in bytes.
pub const MAX_ARGS_BYTES: usize = 4096;

/// Separates a key from its value in a token.
const KEY_VALUE_SEPARATOR: char = '=';

/// Byte that C-style producers (fw_cfg strings) append to the text; ignored at the end.
const NUL_BYTE: u8 = 0;

/// Base of the integers the parser accepts (decimal only).
const DECIMAL_RADIX: u32 = 10;

/// How much the kernel logs, from least to most.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Only errors.
    Error,
    /// Errors and warnings.
    Warn,
    /// Normal progress messages.
    Info,
    /// Details useful when debugging the kernel.
    Debug,
    /// Everything, including per-event tracing.
    Trace,
}

impl LogLevel {
    /// Every level, from least to most verbose.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// Returns the level's name as written in the argument string (`"debug"`).
    pub const fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// Returns the level named `name` (exact, lower-case), or `None` for any other text.
    pub fn from_name(name: &str) -> Option<LogLevel> {
        LogLevel::ALL
            .into_iter()
            .find(|level| level.as_str() == name)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kernel's boot configuration, as given by its argument string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelArgs {
    /// Key `log`: how much the kernel logs.
    pub log_level: LogLevel,
    /// Key `test`: the in-kernel test suite to run instead of the default demo; one of the
    /// names the kernel passes to [`parse`].
    pub test: Option<&'static str>,
    /// Key `timer_hz`: local APIC timer frequency in interrupts per second.
    pub timer_hz: u32,
    /// Key `ticks`: timer ticks the default demo waits before it exits.
    pub ticks: u32,
    /// Key `pcid`: whether address spaces get PCIDs (where the CPU has them).
    pub pcid: bool,
    /// Key `quantum_ticks`: timer ticks a process runs before it is preempted.
    pub quantum_ticks: u32,
    /// Key `global`: whether the global segment's read-only pages carry the global bit.
    pub global: bool,
    /// Key `share_tables`: whether the global segment's page tables are shared.
    pub share_tables: bool,
    /// Key `large_pages`: whether the global segment maps each read-only 2 MiB region of a binary
    /// with one 2 MiB page (a page-directory leaf) instead of a page table of 4 KiB pages.
    pub large_pages: bool,
    /// Key `pcids`: how many PCIDs the pool uses (4096 = all; fewer forces recycling early).
    pub pcids: u32,
    /// Key `tlbsim`: the kernel runs under the tlbsim plugin: it simulates PCID where the CPU
    /// has none and marks its measured phases.
    pub tlbsim: bool,
    /// Key `instances`: the density sweep's instance counts.
    pub instances: InstanceCounts,
    /// Key `warmup`: warm-up invocations per density configuration before the measured ones
    /// (rounded up to whole rounds of all instances, at least one round).
    pub warmup: u32,
    /// Key `invocations`: measured invocations per density configuration (rounded up to whole
    /// rounds, at least one round).
    pub invocations: u32,
    /// Key `workload`: the density sweep's workload.
    pub workload: Workload,
    /// Key `binary`: which build of the workload the density sweep runs; `None` (the value
    /// `auto`): the workload's first build ([`Workload::default_build`]). [`parse`] refuses a
    /// build the workload does not have.
    pub build: Option<Build>,
    /// Key `code_pages`: code pages each invocation of a synthetic runtime calls into (0 with
    /// `data_pages=0`: the empty handler that calibrates an invocation's fixed cost).
    pub code_pages: u32,
    /// Key `data_pages`: read-only data pages each invocation of a synthetic runtime reads.
    pub data_pages: u32,
    /// Key `modes`: the density sweep's window modes, in the order they run.
    pub modes: WindowModes,
    /// Key `max_frames`: the most physical frames left free for processes after boot (the rest
    /// are held back), so that exhaustion tests run out quickly; 0 = no limit.
    pub max_frames: u32,
    /// Key `heap_bytes`: size of the kernel heap in bytes (a multiple of 4096).
    pub heap_bytes: u32,
    /// Key `fuzz_seeds`: how many seeds the `hostile` suite's system-call fuzzer runs.
    pub fuzz_seeds: u32,
    /// Key `fuzz_calls`: system calls per fuzzer seed in the `hostile` suite.
    pub fuzz_calls: u32,
    /// Key `scale_target`: how many live instances the `scale` suite spawns at most (it stops
    /// earlier when memory runs out).
    pub scale_target: u32,
    /// Key `kstack_probe`: paint every process kernel stack at spawn and record the deepest use
    /// when it is freed (costs 16 KiB of writes per spawn; off by default).
    pub kstack_probe: bool,
}

/// The density sweep's workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// The small synthetic runtime (1 MiB of code, 1 MiB of read-only data).
    SyntheticSmall,
    /// The medium synthetic runtime (8 MiB of code, 8 MiB of read-only data; only in the bench
    /// image).
    SyntheticMedium,
    /// The large synthetic runtime (64 MiB of code, 64 MiB of read-only data; only in the bench
    /// image, see the root `build.rs`).
    SyntheticLarge,
    /// The WebAssembly runtime hosting eight handlers; instance `i` serves handler `i mod 8`.
    Wasm,
    /// The JavaScript runtime (QuickJS, a Linux static-pie) hosting the same eight handlers.
    Js,
    /// The Lua 5.4 runtime (a Linux static-pie) hosting the same eight handlers.
    Lua,
}

impl Workload {
    /// Every workload.
    pub const ALL: [Workload; 6] =
        [Workload::SyntheticSmall, Workload::SyntheticMedium, Workload::SyntheticLarge, Workload::Wasm, Workload::Js, Workload::Lua];

    /// Returns the binary's name.
    pub const fn binary(self) -> &'static str {
        match self {
            Workload::SyntheticSmall => "synth-small",
            Workload::SyntheticMedium => "synth-medium",
            Workload::SyntheticLarge => "synth-large",
            Workload::Wasm => "wasm-runtime",
            Workload::Js => "js-runtime",
            Workload::Lua => "lua-runtime",
        }
    }

    /// Returns whether the workload is a language runtime hosting the eight handlers (instance
    /// `i` serves handler `i mod 8`, payloads are `abi::wasm::Payload`s).
    pub const fn hosts_handlers(self) -> bool {
        matches!(self, Workload::Wasm | Workload::Js | Workload::Lua)
    }

    /// Returns the builds of the workload the images carry, the default first: synth-small and
    /// wasm-runtime exist as shoal programs and, built from the same sources, as musl static-pies
    /// (`<name>-musl` in the ramdisk); the runtimes of Linux programs only as the latter. The musl
    /// builds of synth-medium and synth-large exist but are packed into no image (they would add
    /// 150 MiB to the bench image).
    pub const fn builds(self) -> &'static [Build] {
        match self {
            Workload::SyntheticSmall | Workload::Wasm => &[Build::Native, Build::LinuxMusl],
            Workload::SyntheticMedium | Workload::SyntheticLarge => &[Build::Native],
            Workload::Js | Workload::Lua => &[Build::LinuxMusl],
        }
    }

    /// Returns the build the sweep runs when the `binary` key is not given.
    pub const fn default_build(self) -> Build {
        self.builds()[0]
    }

    /// Returns whether the workload has `build`.
    pub fn has_build(self, build: Build) -> bool {
        self.builds().contains(&build)
    }

    /// Returns the ramdisk name of the workload's `build`: [`Workload::binary`] for its default
    /// build, `<binary>-musl` for the musl build of a shoal program.
    pub const fn file_name(self, build: Build) -> &'static str {
        match (self, build) {
            (Workload::SyntheticSmall, Build::LinuxMusl) => "synth-small-musl",
            (Workload::SyntheticMedium, Build::LinuxMusl) => "synth-medium-musl",
            (Workload::SyntheticLarge, Build::LinuxMusl) => "synth-large-musl",
            (Workload::Wasm, Build::LinuxMusl) => "wasm-runtime-musl",
            _ => self.binary(),
        }
    }
}

/// A build of a workload: the results' `binary` column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// `native`: a program written against shoal's own ABI (`userland/rt`).
    Native,
    /// `linux-musl`: a static-pie for x86_64-unknown-linux-musl, run on shoal's Linux
    /// personality (and unchanged on Linux).
    LinuxMusl,
}

impl Build {
    /// Every build.
    pub const ALL: [Build; 2] = [Build::Native, Build::LinuxMusl];

    /// Returns the build's name.
    pub const fn name(self) -> &'static str {
        match self {
            Build::Native => "native",
            Build::LinuxMusl => "linux-musl",
        }
    }

    /// Returns the build named `name`.
    pub fn from_name(name: &str) -> Option<Build> {
        Build::ALL.into_iter().find(|build| build.name() == name)
    }
}

impl KernelArgs {
    /// Returns the build of the workload the density sweep runs: the `binary` key's, or the
    /// workload's default.
    pub fn workload_build(&self) -> Build {
        self.build.unwrap_or(self.workload.default_build())
    }
}

/// A window mode of the density sweep: the `global` switch times the `share_tables` switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowMode {
    /// `global-shared`: global leaves, shared window tables (shoal's proposal).
    GlobalShared,
    /// `local-shared`: non-global leaves, shared window tables.
    LocalShared,
    /// `global-private`: global leaves, a private copy of the window tables per process.
    GlobalPrivate,
    /// `local-private`: non-global leaves, private window tables (what Linux does for a shared
    /// library).
    LocalPrivate,
}

impl WindowMode {
    /// Every mode, in the sweep's default order.
    pub const ALL: [WindowMode; 4] = [WindowMode::GlobalShared, WindowMode::LocalShared, WindowMode::GlobalPrivate, WindowMode::LocalPrivate];

    /// Returns the mode's name as written in the `modes` value (`global-shared`).
    pub const fn name(self) -> &'static str {
        match self {
            WindowMode::GlobalShared => "global-shared",
            WindowMode::LocalShared => "local-shared",
            WindowMode::GlobalPrivate => "global-private",
            WindowMode::LocalPrivate => "local-private",
        }
    }

    /// Returns whether the window's read-only leaves carry the global bit.
    pub const fn global(self) -> bool {
        matches!(self, WindowMode::GlobalShared | WindowMode::GlobalPrivate)
    }

    /// Returns whether the window's page tables are shared between address spaces.
    pub const fn share_tables(self) -> bool {
        matches!(self, WindowMode::GlobalShared | WindowMode::LocalShared)
    }

    /// Returns the mode named `name` (exact, lower-case), or `None` for any other text.
    pub fn from_name(name: &str) -> Option<WindowMode> {
        WindowMode::ALL.into_iter().find(|mode| mode.name() == name)
    }
}

/// The density sweep's window modes: 1 to 4 different [`WindowMode`]s in the order they run,
/// written `global-shared,local-private`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowModes {
    modes: [WindowMode; WindowMode::ALL.len()],
    length: usize,
}

impl WindowModes {
    /// Every mode in the default order: `global-shared,local-shared,global-private,local-private`.
    pub const ALL: WindowModes = WindowModes { modes: WindowMode::ALL, length: WindowMode::ALL.len() };

    /// Returns the modes in the order they run.
    pub fn as_slice(&self) -> &[WindowMode] {
        &self.modes[..self.length]
    }

    /// Parses `global-shared,local-private`; `None` unless it is 1 to 4 mode names, none twice.
    pub fn parse(text: &str) -> Option<WindowModes> {
        let mut parsed = WindowModes { modes: WindowMode::ALL, length: 0 };
        for item in text.split(MODES_SEPARATOR) {
            let mode = WindowMode::from_name(item)?;
            if parsed.as_slice().contains(&mode) {
                return None;
            }
            // Four different modes fill the array exactly, so there is always room here.
            parsed.modes[parsed.length] = mode;
            parsed.length += 1;
        }
        Some(parsed)
    }
}

impl fmt::Display for WindowModes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for mode in self.as_slice() {
            write!(f, "{separator}{}", mode.name())?;
            separator = ",";
        }
        Ok(())
    }
}

/// Separates the modes of the `modes` key.
const MODES_SEPARATOR: char = ',';
/// Accepted values of the `modes` key.
const MODES_VALUES: &str = "1 to 4 different modes, comma-separated, of: global-shared local-shared global-private local-private";

/// Most instance counts one sweep takes.
pub const MAX_INSTANCE_COUNTS: usize = 16;

/// The density sweep's instance counts: 1 to [`MAX_INSTANCE_COUNTS`] strictly increasing
/// numbers in 1..=65536, written `1,64,1024`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstanceCounts {
    counts: [u32; MAX_INSTANCE_COUNTS],
    length: usize,
}

impl InstanceCounts {
    /// Returns the counts, smallest first.
    pub fn as_slice(&self) -> &[u32] {
        &self.counts[..self.length]
    }

    /// Parses `1,64,1024`; `None` unless it is 1 to [`MAX_INSTANCE_COUNTS`] strictly increasing
    /// integers in [`INSTANCES_RANGE`].
    pub fn parse(text: &str) -> Option<InstanceCounts> {
        let mut parsed = InstanceCounts { counts: [0; MAX_INSTANCE_COUNTS], length: 0 };
        for item in text.split(INSTANCES_SEPARATOR) {
            let count = parse_decimal_in(item, INSTANCES_RANGE)?;
            if parsed.length == MAX_INSTANCE_COUNTS || parsed.as_slice().last().is_some_and(|&last| last >= count) {
                return None;
            }
            parsed.counts[parsed.length] = count;
            parsed.length += 1;
        }
        Some(parsed)
    }
}

impl fmt::Display for InstanceCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for count in self.as_slice() {
            write!(f, "{separator}{count}")?;
            separator = ",";
        }
        Ok(())
    }
}

/// Separates the counts of the `instances` key.
const INSTANCES_SEPARATOR: char = ',';

/// Default of [`KernelArgs::log_level`].
const DEFAULT_LOG_LEVEL: LogLevel = LogLevel::Info;
/// Default of [`KernelArgs::timer_hz`].
const DEFAULT_TIMER_HZ: u32 = 100;
/// Accepted values of [`KernelArgs::timer_hz`].
const TIMER_HZ_RANGE: core::ops::RangeInclusive<u32> = 10..=10_000;
/// Default of [`KernelArgs::ticks`].
const DEFAULT_TICKS: u32 = 20;
/// Accepted values of [`KernelArgs::ticks`].
const TICKS_RANGE: core::ops::RangeInclusive<u32> = 0..=1_000_000;
/// Default of [`KernelArgs::instances`].
const DEFAULT_INSTANCES: InstanceCounts = InstanceCounts { counts: [1, 2, 4, 8, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], length: 5 };
/// Accepted values of each count of [`KernelArgs::instances`].
pub const INSTANCES_RANGE: core::ops::RangeInclusive<u32> = 1..=65536;
/// Accepted values of the `instances` key.
const INSTANCES_VALUES: &str = "1 to 16 increasing integers in 1..=65536, comma-separated (1,64,1024)";
/// Default of [`KernelArgs::warmup`] (the README says why this many).
pub const DEFAULT_WARMUP: u32 = 512;
/// Default of [`KernelArgs::invocations`].
pub const DEFAULT_INVOCATIONS: u32 = 1024;
/// Accepted values of [`KernelArgs::warmup`] and [`KernelArgs::invocations`].
const INVOCATIONS_RANGE: core::ops::RangeInclusive<u32> = 1..=10_000_000;
/// Accepted values of the `warmup` and `invocations` keys.
const INVOCATIONS_VALUES: &str = "an integer in 1..=10000000";
/// Accepted values of the `workload` key.
const WORKLOAD_VALUES: &str = "one of: synth-small synth-medium synth-large wasm-runtime js-runtime lua-runtime";
/// Default of [`KernelArgs::code_pages`] and [`KernelArgs::data_pages`].
pub const DEFAULT_SYNTHETIC_PAGES: u32 = 32;
/// Accepted values of [`KernelArgs::code_pages`] and [`KernelArgs::data_pages`].
const SYNTHETIC_PAGES_RANGE: core::ops::RangeInclusive<u32> = 0..=4096;
/// Accepted values of the `code_pages` and `data_pages` keys.
const SYNTHETIC_PAGES_VALUES: &str = "an integer in 0..=4096";
/// Accepted values of the `binary` key.
const BINARY_VALUES: &str = "one of: auto native linux-musl";
/// What the `binary` key accepts once the workload is known (`parse` checks the pair).
const BINARY_OF_WORKLOAD_VALUES: &str = "a build the workload has (synth-small, wasm-runtime: native or linux-musl; synth-medium, synth-large: native; js-runtime, lua-runtime: linux-musl) or auto";
/// Default of [`KernelArgs::pcids`]: every PCID the architecture has.
const PCIDS_DEFAULT: u32 = 4096;
/// Accepted values of [`KernelArgs::pcids`] (PCID 0 is the kernel's, so at least one more).
const PCIDS_RANGE: core::ops::RangeInclusive<u32> = 2..=4096;
/// Accepted values of the `pcids` key; matches [`PCIDS_RANGE`].
const PCIDS_VALUES: &str = "an integer in 2..=4096";
/// Accepted values of [`KernelArgs::max_frames`]: 0 (no limit) up to 2^28 frames (1 TiB).
const MAX_FRAMES_RANGE: core::ops::RangeInclusive<u32> = 0..=1 << 28;
/// Accepted values of the `max_frames` key; matches [`MAX_FRAMES_RANGE`].
const MAX_FRAMES_VALUES: &str = "an integer in 0..=268435456 (0 = no limit)";
/// Default of [`KernelArgs::heap_bytes`]: 16 MiB.
pub const DEFAULT_HEAP_BYTES: u32 = 16 << 20;
/// Accepted values of [`KernelArgs::heap_bytes`]: 4 MiB to 256 MiB (and a multiple of 4096).
const HEAP_BYTES_RANGE: core::ops::RangeInclusive<u32> = 4 << 20..=256 << 20;
/// Accepted values of the `heap_bytes` key; matches [`HEAP_BYTES_RANGE`].
const HEAP_BYTES_VALUES: &str = "a multiple of 4096 in 4194304..=268435456";
/// Default of [`KernelArgs::fuzz_seeds`].
const DEFAULT_FUZZ_SEEDS: u32 = 3;
/// Accepted values of [`KernelArgs::fuzz_seeds`].
const FUZZ_SEEDS_RANGE: core::ops::RangeInclusive<u32> = 1..=100_000;
/// Accepted values of the `fuzz_seeds` key; matches [`FUZZ_SEEDS_RANGE`].
const FUZZ_SEEDS_VALUES: &str = "an integer in 1..=100000";
/// Default of [`KernelArgs::fuzz_calls`].
const DEFAULT_FUZZ_CALLS: u32 = 200_000;
/// Accepted values of [`KernelArgs::fuzz_calls`] (the fuzzer takes up to 2^30 - 1 calls per seed).
const FUZZ_CALLS_RANGE: core::ops::RangeInclusive<u32> = 1..=(1 << 30) - 1;
/// Accepted values of the `fuzz_calls` key; matches [`FUZZ_CALLS_RANGE`].
const FUZZ_CALLS_VALUES: &str = "an integer in 1..=1073741823";
/// Default of [`KernelArgs::scale_target`].
const DEFAULT_SCALE_TARGET: u32 = 50_000;
/// Accepted values of [`KernelArgs::scale_target`] (the layout has 2^20 process slots).
const SCALE_TARGET_RANGE: core::ops::RangeInclusive<u32> = 1..=1 << 20;
/// Accepted values of the `scale_target` key; matches [`SCALE_TARGET_RANGE`].
const SCALE_TARGET_VALUES: &str = "an integer in 1..=1048576";
/// Default of [`KernelArgs::quantum_ticks`].
const DEFAULT_QUANTUM_TICKS: u32 = 1;
/// Accepted values of [`KernelArgs::quantum_ticks`].
const QUANTUM_TICKS_RANGE: core::ops::RangeInclusive<u32> = 1..=1000;

impl Default for KernelArgs {
    /// Returns the configuration used when the argument string is empty.
    fn default() -> Self {
        KernelArgs {
            log_level: DEFAULT_LOG_LEVEL,
            test: None,
            timer_hz: DEFAULT_TIMER_HZ,
            ticks: DEFAULT_TICKS,
            pcid: true,
            quantum_ticks: DEFAULT_QUANTUM_TICKS,
            global: true,
            share_tables: true,
            large_pages: false,
            pcids: PCIDS_DEFAULT,
            tlbsim: false,
            instances: DEFAULT_INSTANCES,
            warmup: DEFAULT_WARMUP,
            invocations: DEFAULT_INVOCATIONS,
            workload: Workload::SyntheticSmall,
            build: None,
            code_pages: DEFAULT_SYNTHETIC_PAGES,
            data_pages: DEFAULT_SYNTHETIC_PAGES,
            modes: WindowModes::ALL,
            max_frames: 0,
            heap_bytes: DEFAULT_HEAP_BYTES,
            fuzz_seeds: DEFAULT_FUZZ_SEEDS,
            fuzz_calls: DEFAULT_FUZZ_CALLS,
            scale_target: DEFAULT_SCALE_TARGET,
            kstack_probe: false,
        }
    }
}

impl fmt::Display for KernelArgs {
    /// Writes the canonical argument string: every key in [`KEYS`] order, `key=value`, separated
    /// by single spaces, leaving out keys without a value (`test` when no suite is chosen).
    /// Parsing the output gives back the same configuration.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        for key in KEYS {
            if let Some(value) = (key.current_value)(self) {
                write!(f, "{separator}{}{KEY_VALUE_SEPARATOR}{value}", key.name)?;
                separator = " ";
            }
        }
        Ok(())
    }
}

/// Describes one key of the argument string.
#[derive(Clone, Copy, Debug)]
pub struct KeyInfo {
    /// The key as written before `=`.
    pub name: &'static str,
    /// The values it accepts, as a phrase ("an integer in 10..=10000").
    pub values: &'static str,
    /// Its value when the key is absent.
    pub default: &'static str,
    /// What it controls.
    pub meaning: &'static str,
    /// Parses a value into the configuration.
    apply: ApplyFn,
    /// Returns the configuration's value for this key, `None` when it has none to print.
    current_value: CurrentValueFn,
}

/// Parses `value` into its field of the configuration, or says what was expected instead.
type ApplyFn = for<'t> fn(&mut KernelArgs, &str, &'t [&'static str]) -> Result<(), Expected<'t>>;

/// Returns the value a configuration holds for one key.
type CurrentValueFn = fn(&KernelArgs) -> Option<CurrentValue>;

/// The value of one key, for printing.
#[derive(Clone, Copy, Debug)]
enum CurrentValue {
    Text(&'static str),
    Integer(u32),
    Counts(InstanceCounts),
    Modes(WindowModes),
}

impl fmt::Display for CurrentValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CurrentValue::Text(text) => f.write_str(text),
            CurrentValue::Integer(value) => write!(f, "{value}"),
            CurrentValue::Counts(counts) => write!(f, "{counts}"),
            CurrentValue::Modes(modes) => write!(f, "{modes}"),
        }
    }
}

/// Accepted values of the `log` key; matches [`LogLevel::ALL`] (a test checks it).
const LOG_VALUES: &str = "one of: error warn info debug trace";
/// Accepted values of the `timer_hz` key; matches [`TIMER_HZ_RANGE`] (a test checks it).
const TIMER_HZ_VALUES: &str = "an integer in 10..=10000";
/// Accepted values of the `ticks` key; matches [`TICKS_RANGE`] (a test checks it).
const TICKS_VALUES: &str = "an integer in 0..=1000000";
/// Accepted values of the `pcid` key.
const ON_OFF_VALUES: &str = "one of: on off";
/// Accepted values of the `quantum_ticks` key; matches [`QUANTUM_TICKS_RANGE`].
const QUANTUM_TICKS_VALUES: &str = "an integer in 1..=1000";

/// Every key the argument string may contain, in canonical order.
pub const KEYS: &[KeyInfo] = &[
    KeyInfo {
        name: "log",
        values: LOG_VALUES,
        default: "info",
        meaning: "how much the kernel logs on the serial port",
        apply: |args, value, _| {
            args.log_level = LogLevel::from_name(value).ok_or(Expected::Description(LOG_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Text(args.log_level.as_str())),
    },
    KeyInfo {
        name: "test",
        values: "the name of a test suite built into the kernel",
        default: "none (run the default demo)",
        meaning: "runs one in-kernel test suite instead of the default demo",
        apply: |args, value, known_tests| {
            let name = known_tests
                .iter()
                .find(|&&name| name == value)
                .ok_or(Expected::OneOf(known_tests))?;
            args.test = Some(*name);
            Ok(())
        },
        current_value: |args| args.test.map(CurrentValue::Text),
    },
    KeyInfo {
        name: "timer_hz",
        values: TIMER_HZ_VALUES,
        default: "100",
        meaning: "local APIC timer interrupts per second",
        apply: |args, value, _| {
            args.timer_hz = parse_decimal_in(value, TIMER_HZ_RANGE)
                .ok_or(Expected::Description(TIMER_HZ_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.timer_hz)),
    },
    KeyInfo {
        name: "ticks",
        values: TICKS_VALUES,
        default: "20",
        meaning: "timer ticks the default demo waits before it exits",
        apply: |args, value, _| {
            args.ticks =
                parse_decimal_in(value, TICKS_RANGE).ok_or(Expected::Description(TICKS_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.ticks)),
    },
    KeyInfo {
        name: "pcid",
        values: ON_OFF_VALUES,
        default: "on",
        meaning: "tag address spaces with PCIDs where the CPU has them (the `pcid` translation mode)",
        apply: |args, value, _| {
            args.pcid = parse_on_off(value)?;
            Ok(())
        },
        current_value: |args| Some(on_off(args.pcid)),
    },
    KeyInfo {
        name: "quantum_ticks",
        values: QUANTUM_TICKS_VALUES,
        default: "1",
        meaning: "timer ticks a process runs before it is preempted",
        apply: |args, value, _| {
            args.quantum_ticks = parse_decimal_in(value, QUANTUM_TICKS_RANGE)
                .ok_or(Expected::Description(QUANTUM_TICKS_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.quantum_ticks)),
    },
    KeyInfo {
        name: "global",
        values: ON_OFF_VALUES,
        default: "on",
        meaning: "the global segment's read-only pages carry the global bit (the `global` translation mode)",
        apply: |args, value, _| {
            args.global = parse_on_off(value)?;
            Ok(())
        },
        current_value: |args| Some(on_off(args.global)),
    },
    KeyInfo {
        name: "share_tables",
        values: ON_OFF_VALUES,
        default: "on",
        meaning: "the global segment's page tables are shared by every process (the `share_tables` mode)",
        apply: |args, value, _| {
            args.share_tables = parse_on_off(value)?;
            Ok(())
        },
        current_value: |args| Some(on_off(args.share_tables)),
    },
    KeyInfo {
        name: "large_pages",
        values: ON_OFF_VALUES,
        default: "off",
        meaning: "the global segment maps every read-only 2 MiB region of a binary with one 2 MiB page (global with `global=on`); off: 4 KiB pages",
        apply: |args, value, _| {
            args.large_pages = parse_on_off(value)?;
            Ok(())
        },
        current_value: |args| Some(on_off(args.large_pages)),
    },
    KeyInfo {
        name: "pcids",
        values: PCIDS_VALUES,
        default: "4096",
        meaning: "PCIDs in the pool (PCID 0 included); fewer than the live address spaces forces recycling",
        apply: |args, value, _| {
            args.pcids = parse_decimal_in(value, PCIDS_RANGE).ok_or(Expected::Description(PCIDS_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.pcids)),
    },
    KeyInfo {
        name: "tlbsim",
        values: ON_OFF_VALUES,
        default: "off",
        meaning: "running under the tlbsim plugin: simulate PCID where the CPU has none (pcid=on)",
        apply: |args, value, _| {
            args.tlbsim = parse_on_off(value)?;
            Ok(())
        },
        current_value: |args| Some(on_off(args.tlbsim)),
    },
    KeyInfo {
        name: "instances",
        values: INSTANCES_VALUES,
        default: "1,2,4,8,16",
        meaning: "the density sweep's numbers of function instances",
        apply: |args, value, _| {
            args.instances = InstanceCounts::parse(value).ok_or(Expected::Description(INSTANCES_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Counts(args.instances)),
    },
    KeyInfo {
        name: "warmup",
        values: INVOCATIONS_VALUES,
        default: "512",
        meaning: "warm-up invocations per density configuration (whole rounds, at least one)",
        apply: |args, value, _| {
            args.warmup = parse_decimal_in(value, INVOCATIONS_RANGE).ok_or(Expected::Description(INVOCATIONS_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.warmup)),
    },
    KeyInfo {
        name: "invocations",
        values: INVOCATIONS_VALUES,
        default: "1024",
        meaning: "measured invocations per density configuration (whole rounds, at least one)",
        apply: |args, value, _| {
            args.invocations = parse_decimal_in(value, INVOCATIONS_RANGE).ok_or(Expected::Description(INVOCATIONS_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.invocations)),
    },
    KeyInfo {
        name: "workload",
        values: WORKLOAD_VALUES,
        default: "synth-small",
        meaning: "the density sweep's workload",
        apply: |args, value, _| {
            args.workload = Workload::ALL
                .into_iter()
                .find(|workload| workload.binary() == value)
                .ok_or(Expected::Description(WORKLOAD_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Text(args.workload.binary())),
    },
    KeyInfo {
        name: "binary",
        values: BINARY_VALUES,
        default: "auto",
        meaning: "which build of the workload the density sweep runs (auto: native where it exists)",
        apply: |args, value, _| {
            args.build = match value {
                "auto" => None,
                name => Some(Build::from_name(name).ok_or(Expected::Description(BINARY_VALUES))?),
            };
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Text(args.build.map_or("auto", Build::name))),
    },
    KeyInfo {
        name: "code_pages",
        values: SYNTHETIC_PAGES_VALUES,
        default: "32",
        meaning: "code pages each synthetic invocation calls into (0 and data_pages=0: an empty handler)",
        apply: |args, value, _| {
            args.code_pages = parse_decimal_in(value, SYNTHETIC_PAGES_RANGE).ok_or(Expected::Description(SYNTHETIC_PAGES_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.code_pages)),
    },
    KeyInfo {
        name: "data_pages",
        values: SYNTHETIC_PAGES_VALUES,
        default: "32",
        meaning: "read-only data pages each synthetic invocation reads",
        apply: |args, value, _| {
            args.data_pages = parse_decimal_in(value, SYNTHETIC_PAGES_RANGE).ok_or(Expected::Description(SYNTHETIC_PAGES_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.data_pages)),
    },
    KeyInfo {
        name: "modes",
        values: MODES_VALUES,
        default: "global-shared,local-shared,global-private,local-private",
        meaning: "the density sweep's window modes (global bit on/off x shared tables on/off), in the order they run",
        apply: |args, value, _| {
            args.modes = WindowModes::parse(value).ok_or(Expected::Description(MODES_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Modes(args.modes)),
    },
    KeyInfo {
        name: "max_frames",
        values: MAX_FRAMES_VALUES,
        default: "0",
        meaning: "frames left free for processes after boot (the rest are held back), for exhaustion tests",
        apply: |args, value, _| {
            args.max_frames = parse_decimal_in(value, MAX_FRAMES_RANGE).ok_or(Expected::Description(MAX_FRAMES_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.max_frames)),
    },
    KeyInfo {
        name: "heap_bytes",
        values: HEAP_BYTES_VALUES,
        default: "16777216",
        meaning: "size of the kernel heap in bytes",
        apply: |args, value, _| {
            args.heap_bytes = parse_decimal_in(value, HEAP_BYTES_RANGE)
                .filter(|bytes| bytes.is_multiple_of(4096))
                .ok_or(Expected::Description(HEAP_BYTES_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.heap_bytes)),
    },
    KeyInfo {
        name: "fuzz_seeds",
        values: FUZZ_SEEDS_VALUES,
        default: "3",
        meaning: "seeds the hostile suite's system-call fuzzer runs (seed i is 0x5eed0001 + i)",
        apply: |args, value, _| {
            args.fuzz_seeds = parse_decimal_in(value, FUZZ_SEEDS_RANGE).ok_or(Expected::Description(FUZZ_SEEDS_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.fuzz_seeds)),
    },
    KeyInfo {
        name: "fuzz_calls",
        values: FUZZ_CALLS_VALUES,
        default: "200000",
        meaning: "system calls per seed of the hostile suite's fuzzer",
        apply: |args, value, _| {
            args.fuzz_calls = parse_decimal_in(value, FUZZ_CALLS_RANGE).ok_or(Expected::Description(FUZZ_CALLS_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.fuzz_calls)),
    },
    KeyInfo {
        name: "scale_target",
        values: SCALE_TARGET_VALUES,
        default: "50000",
        meaning: "live instances the scale suite spawns at most (fewer when memory runs out)",
        apply: |args, value, _| {
            args.scale_target = parse_decimal_in(value, SCALE_TARGET_RANGE).ok_or(Expected::Description(SCALE_TARGET_VALUES))?;
            Ok(())
        },
        current_value: |args| Some(CurrentValue::Integer(args.scale_target)),
    },
    KeyInfo {
        name: "kstack_probe",
        values: ON_OFF_VALUES,
        default: "off",
        meaning: "paint process kernel stacks and report the deepest use (measurement aid)",
        apply: |args, value, _| {
            args.kstack_probe = parse_on_off(value)?;
            Ok(())
        },
        current_value: |args| Some(on_off(args.kstack_probe)),
    },
];

/// Parses `on` or `off`.
fn parse_on_off(value: &str) -> Result<bool, Expected<'static>> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(Expected::Description(ON_OFF_VALUES)),
    }
}

/// Returns `on` or `off` for printing.
fn on_off(value: bool) -> CurrentValue {
    CurrentValue::Text(if value { "on" } else { "off" })
}

/// Number of entries in [`KEYS`].
const KEY_COUNT: usize = KEYS.len();

/// What a key would have accepted, for [`ArgError::BadValue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected<'a> {
    /// A phrase from the key table ("an integer in 10..=10000").
    Description(&'static str),
    /// One of these names (the kernel's test suites).
    OneOf(&'a [&'static str]),
}

impl fmt::Display for Expected<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Description(text) => f.write_str(text),
            Expected::OneOf([]) => f.write_str("nothing: this kernel has no test suites"),
            Expected::OneOf(names) => {
                f.write_str("one of:")?;
                for name in names.iter() {
                    write!(f, " {name}")?;
                }
                Ok(())
            }
        }
    }
}

/// Why an argument string was refused; the text fields borrow from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgError<'a> {
    /// A token's key is not in [`KEYS`].
    UnknownKey {
        /// The key as written.
        key: &'a str,
    },
    /// A token has no `=`, or nothing after it.
    MissingValue {
        /// The whole token.
        token: &'a str,
    },
    /// A key's value is not one it accepts.
    BadValue {
        /// The key.
        key: &'static str,
        /// The value as written.
        value: &'a str,
        /// What the key accepts.
        expected: Expected<'a>,
    },
    /// A key appears more than once.
    DuplicateKey {
        /// The repeated key.
        key: &'static str,
    },
    /// The string is longer than [`MAX_ARGS_BYTES`].
    TooLong {
        /// Its length in bytes.
        length_bytes: usize,
    },
    /// The bytes are not UTF-8 text.
    NotText {
        /// Offset of the first byte that is not part of valid UTF-8.
        offset_bytes: usize,
    },
}

/// Text from the argument string (keys, values, tokens) is shown escaped (`\0`, `\u{1b}`): it
/// reaches the serial console, where a raw control byte would garble or forge output.
impl fmt::Display for ArgError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            ArgError::UnknownKey { key } => {
                write!(f, "unknown kernel argument key \"{}\"; known keys:", key.escape_debug())?;
                for known in KEYS {
                    write!(f, " {}", known.name)?;
                }
                Ok(())
            }
            ArgError::MissingValue { token } => write!(
                f,
                "kernel argument \"{}\" has no value; write key{KEY_VALUE_SEPARATOR}value",
                token.escape_debug()
            ),
            ArgError::BadValue {
                key,
                value,
                expected,
            } => write!(
                f,
                "bad value \"{}\" for kernel argument key \"{key}\": expected {expected}",
                value.escape_debug()
            ),
            ArgError::DuplicateKey { key } => {
                write!(f, "kernel argument key \"{key}\" is given more than once")
            }
            ArgError::TooLong { length_bytes } => write!(
                f,
                "kernel argument string is {length_bytes} bytes long; at most {MAX_ARGS_BYTES} \
                 are accepted"
            ),
            ArgError::NotText { offset_bytes } => write!(
                f,
                "kernel argument string is not UTF-8 text (bad byte at offset {offset_bytes})"
            ),
        }
    }
}

/// Parses whitespace-separated `key=value` tokens into a configuration.
///
/// An empty or all-whitespace string gives [`KernelArgs::default`]. Tokens are separated by
/// ASCII whitespace (spaces, tabs, newlines); a value runs from the first `=` to the end of the
/// token. Integers are plain decimal digits, without sign. A `test` value must be one of
/// `known_tests`, and the returned configuration holds the `&'static str` from that list.
///
/// # Errors
/// Returns the first problem found, in this order: [`ArgError::TooLong`] for the whole string;
/// then for each token from the left: [`ArgError::MissingValue`] (no `=`),
/// [`ArgError::UnknownKey`], [`ArgError::DuplicateKey`], [`ArgError::MissingValue`] (empty
/// value), [`ArgError::BadValue`].
pub fn parse<'a>(
    input: &'a str,
    known_tests: &'a [&'static str],
) -> Result<KernelArgs, ArgError<'a>> {
    if input.len() > MAX_ARGS_BYTES {
        return Err(ArgError::TooLong {
            length_bytes: input.len(),
        });
    }
    let mut args = KernelArgs::default();
    let mut seen = [false; KEY_COUNT];
    let mut binary_value = "";
    for token in input.split_ascii_whitespace() {
        let (key, value) = token
            .split_once(KEY_VALUE_SEPARATOR)
            .ok_or(ArgError::MissingValue { token })?;
        let (index, info) = KEYS
            .iter()
            .enumerate()
            .find(|(_, info)| info.name == key)
            .ok_or(ArgError::UnknownKey { key })?;
        if seen[index] {
            return Err(ArgError::DuplicateKey { key: info.name });
        }
        seen[index] = true;
        if value.is_empty() {
            return Err(ArgError::MissingValue { token });
        }
        (info.apply)(&mut args, value, known_tests).map_err(|expected| ArgError::BadValue {
            key: info.name,
            value,
            expected,
        })?;
        if info.name == "binary" {
            binary_value = value;
        }
    }
    // The one pair of keys checked together: the build must be one the workload has.
    if let Some(build) = args.build
        && !args.workload.has_build(build)
    {
        return Err(ArgError::BadValue { key: "binary", value: binary_value, expected: Expected::Description(BINARY_OF_WORKLOAD_VALUES) });
    }
    Ok(args)
}

/// Parses raw argument bytes, as read from fw_cfg, into a configuration.
///
/// Trailing NUL bytes and trailing ASCII whitespace (in any mix) are dropped first; the rest
/// must be UTF-8 and is parsed by [`parse`].
///
/// # Errors
/// [`ArgError::TooLong`] when the trimmed bytes exceed [`MAX_ARGS_BYTES`],
/// [`ArgError::NotText`] when they are not UTF-8, and otherwise any error of [`parse`].
pub fn parse_bytes<'a>(
    input: &'a [u8],
    known_tests: &'a [&'static str],
) -> Result<KernelArgs, ArgError<'a>> {
    let trimmed_length = input
        .iter()
        .rposition(|&byte| byte != NUL_BYTE && !byte.is_ascii_whitespace())
        .map_or(0, |last| last + 1);
    let trimmed = &input[..trimmed_length];
    if trimmed.len() > MAX_ARGS_BYTES {
        return Err(ArgError::TooLong {
            length_bytes: trimmed.len(),
        });
    }
    let text = core::str::from_utf8(trimmed).map_err(|error| ArgError::NotText {
        offset_bytes: error.valid_up_to(),
    })?;
    parse(text, known_tests)
}

/// Returns the decimal integer `text` if it lies in `range`; `None` for anything else
/// (empty, a sign, another character, overflow).
fn parse_decimal_in(text: &str, range: core::ops::RangeInclusive<u32>) -> Option<u32> {
    if text.is_empty() {
        return None;
    }
    let mut value: u32 = 0;
    for character in text.chars() {
        let digit = character.to_digit(DECIMAL_RADIX)?;
        value = value.checked_mul(DECIMAL_RADIX)?.checked_add(digit)?;
    }
    range.contains(&value).then_some(value)
}

#[cfg(test)]
mod tests;
