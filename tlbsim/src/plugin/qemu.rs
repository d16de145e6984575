//! The FFI boundary with QEMU: the only module of the crate with unsafe code.
//!
//! QEMU loads `libtlbsim.so`, checks [`qemu_plugin_version`] and calls
//! [`qemu_plugin_install`] with the plugin arguments. Install parses them, builds the model
//! and the walk-cost model (so that a bad geometry stops QEMU before the guest starts), creates
//! the instruction scoreboard and registers three callbacks: vCPU initialisation, block
//! translation and exit. Everything else is registered per block at translation time (see
//! `plugin/mod.rs`).
//!
//! # One vCPU, one thread, no lock
//!
//! All state lives in one [`Plugin`] in the `PLUGIN` static, an `UnsafeCell` without a lock:
//! the callbacks run for every memory access, and an uncontended mutex there cost two atomic
//! read-modify-writes per access. This is sound because the plugin models one vCPU (it
//! refuses machines with more) and QEMU never runs two of its callbacks at once:
//!
//! 1. `qemu_plugin_install` runs on the main thread while QEMU initialises, before any vCPU
//!    thread exists; creating those threads orders its writes before everything they do.
//! 2. vCPU initialisation, block translation and every execution callback run on the single
//!    vCPU thread (with one vCPU, TCG has one thread; translation happens on the thread that
//!    executes), one after the other, never nested: no callback calls back into QEMU in a way
//!    that runs another of ours.
//! 3. The exit callback runs from QEMU's exit path once no vCPU executes guest code any more:
//!    either on the vCPU thread itself (the guest's isa-debug-exit write calls `exit()` from the
//!    device handler, outside any callback of ours) or on the main thread after
//!    `qemu_cleanup` stopped the vCPUs (a shutdown request, a signal such as the runner's
//!    timeout).
//!
//! [`with_plugin`] is the only way to the state; each callback holds the `&mut Plugin` only for
//! its own duration.
//!
//! # Instruction counting
//!
//! Instructions are counted by QEMU itself, in the generated code: at translation, every
//! instruction of a block translated while IA-32e paging is on gets an inline
//! `QEMU_PLUGIN_INLINE_ADD_U64` of 1 on one of two scoreboard entries, chosen by its linear
//! address (kernel half or not). The add runs when the instruction starts, so a block that
//! ends early in a fault counts only what it executed. The session reads the two entries only
//! at markers and at exit. The add is registered before the instruction's marker callback, and
//! QEMU runs an instruction's inline operations and callbacks in registration order, so a
//! marker counts itself.
//!
//! # Skipped block callbacks (fast mode)
//!
//! Two more scoreboard entries serve the fetch count: `blocks`, an inline add on every
//! instrumented block, and `code_page`, which the plugin keeps equal to the session's
//! `code_mru_page` after every callback that can change it (block, second-page, special and
//! marker callbacks; data accesses cannot). The block callback is registered with the condition
//! "block's page != `code_page`", so a block that starts on the page of the previous fetch,
//! whose fetch could only be an L1 hit on its set's most recent entry, runs without a call.
//! `blocks` minus the callbacks made is the number skipped; they are reported to the session
//! before every marker and at exit (counts are additive, so the delay changes nothing).
//!
//! Unsafe code here does four things, each with its own `// SAFETY:` comment: calls QEMU's
//! plugin API and glib (which QEMU links, so their symbols resolve when QEMU loads the
//! plugin), dereferences the pointers QEMU hands to callbacks, maps the RAM file, and reaches
//! the unlocked state.

#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_uint, c_void};
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::AtomicU64;

use qemu_plugin_sys as sys;

use crate::cost::WalkCostModel;
use crate::counters::{InstructionCounts, KERNEL_HALF_START};
use crate::guest_ram::{RamLayout, RamWords};
use crate::instruction::{
    self, BasedSegment, ControlRegister, GeneralRegister, SpecialInstruction,
};
use crate::model::Model;
use crate::plugin::config::{FetchMode, MemoryCallbacks, PluginConfig};
use crate::plugin::session::{PagingRegisters, Session, SessionOptions};

/// The plugin API version this plugin is built for; QEMU refuses to load a plugin whose
/// version it does not support.
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub(crate) static qemu_plugin_version: c_int = sys::QEMU_PLUGIN_VERSION as c_int;

/// Size of a 4 KiB page, the granularity at which code pages are counted.
const PAGE_BYTES: u64 = 4096;

/// log2 of [`PAGE_BYTES`].
const PAGE_SHIFT: u32 = 12;

/// The largest memory access QEMU can report: its `MemOp` size field (`MO_SIZE`, 3 bits)
/// encodes at most 2^7 bytes.
const MAX_ACCESS_BYTES: u64 = 128;

/// The longest x86 instruction (Intel SDM vol. 2 §2.3.11).
const MAX_INSTRUCTION_BYTES: usize = 15;

/// Status QEMU is stopped with when the plugin cannot go on after the guest started.
const FATAL_EXIT_STATUS: c_int = 1;

/// The target QEMU must emulate.
const TARGET_NAME: &str = "x86_64";

// glib, which QEMU links: the register API fills a `GByteArray` and returns a `GArray`.
unsafe extern "C" {
    fn g_byte_array_new() -> *mut sys::GByteArray;
    fn g_byte_array_set_size(array: *mut sys::GByteArray, length: c_uint) -> *mut sys::GByteArray;
    fn g_array_free(array: *mut sys::GArray, free_segment: c_int) -> *mut c_char;
}

/// glib's `TRUE`.
const GLIB_TRUE: c_int = 1;

/// A register handle from `qemu_plugin_get_registers`.
#[derive(Clone, Copy, Debug)]
struct RegisterHandle(*mut sys::qemu_plugin_register);


/// The registers the callbacks read, found by name at vCPU initialisation.
#[derive(Debug)]
struct Registers {
    /// RAX to R15 in encoding order.
    general: [RegisterHandle; GeneralRegister::COUNT],
    rip: RegisterHandle,
    cr3: RegisterHandle,
    cr4: RegisterHandle,
    efer: RegisterHandle,
    /// FS and GS bases, for INVLPG and INVPCID operands with a segment override.
    fs_base: Option<RegisterHandle>,
    gs_base: Option<RegisterHandle>,
}

/// A glib byte array that register reads fill.
#[derive(Debug)]
struct ByteArray(*mut sys::GByteArray);

/// The plugin's values in QEMU's generated code: a scoreboard of one `[u64; 4]` per vCPU.
#[derive(Clone, Copy, Debug)]
struct InstructionScoreboard {
    /// Instructions below the kernel half.
    user: sys::qemu_plugin_u64,
    /// Instructions in the kernel half.
    kernel: sys::qemu_plugin_u64,
    /// Block executions instrumented for fetches (fast mode), called back or not.
    blocks: sys::qemu_plugin_u64,
    /// The page number (address >> 12) a block may start on without a callback: the session's
    /// [`Session::code_mru_page`], or [`NO_CODE_PAGE`].
    code_page: sys::qemu_plugin_u64,
}

/// Bytes of one vCPU's scoreboard entry: the four values.
const SCOREBOARD_ENTRY_BYTES: usize = 4 * core::mem::size_of::<u64>();

/// A `code_page` no block starts on (page numbers are below 2^52): every block calls back.
const NO_CODE_PAGE: u64 = u64::MAX;

/// The vCPU whose counters are read: the plugin models only vCPU 0.
const VCPU: c_uint = 0;

impl InstructionScoreboard {
    /// Creates the scoreboard; QEMU keeps it for the life of the process (never freed: the
    /// exit callback is the last user and QEMU ends right after).
    fn new() -> InstructionScoreboard {
        // SAFETY: allocates a zeroed scoreboard with one entry of the given size per vCPU;
        // QEMU resizes it when vCPUs are created.
        let score = unsafe { sys::qemu_plugin_scoreboard_new(SCOREBOARD_ENTRY_BYTES) };
        let entry = |index: usize| sys::qemu_plugin_u64 {
            score,
            offset: index * core::mem::size_of::<u64>(),
        };
        InstructionScoreboard {
            user: entry(0),
            kernel: entry(1),
            blocks: entry(2),
            code_page: entry(3),
        }
    }

    /// Returns vCPU 0's count of instrumented block executions.
    fn blocks(&self) -> u64 {
        // SAFETY: an entry of the live scoreboard, read on the vCPU thread or after it stopped.
        unsafe { sys::qemu_plugin_u64_get(self.blocks, VCPU) }
    }

    /// Sets vCPU 0's `code_page`.
    fn set_code_page(&self, page: u64) {
        // SAFETY: an entry of the live scoreboard, written from a callback on the vCPU thread,
        // which is the only thread that reads it (in generated code).
        unsafe { sys::qemu_plugin_u64_set(self.code_page, VCPU, page) };
    }

    /// Returns the entry that counts instructions at linear address `address`.
    fn entry_for(&self, address: u64) -> sys::qemu_plugin_u64 {
        if address >= KERNEL_HALF_START {
            self.kernel
        } else {
            self.user
        }
    }

    /// Returns vCPU 0's totals.
    fn totals(&self) -> InstructionCounts {
        // SAFETY: both entries belong to the live scoreboard made in `new`, at offsets inside
        // its element size; vCPU 0 exists once any callback runs. Reading from the vCPU thread
        // (or after it stopped) sees every inline add of the instructions executed so far.
        unsafe {
            InstructionCounts {
                user: sys::qemu_plugin_u64_get(self.user, VCPU),
                kernel: sys::qemu_plugin_u64_get(self.kernel, VCPU),
            }
        }
    }
}

/// What the callbacks share.
struct Plugin {
    /// The parsed arguments.
    config: PluginConfig,
    /// The model, until the session takes it at vCPU initialisation.
    model: Option<Model>,
    /// The walk-cost model, until the session takes it at vCPU initialisation.
    cost: Option<WalkCostModel>,
    /// The instruction counters.
    instructions: InstructionScoreboard,
    /// Fast-mode block callbacks so far (the other instrumented block executions hit the
    /// previous fetch's page and were skipped).
    block_callbacks: u64,
    /// Skipped block executions already reported to the session.
    reported_skipped_blocks: u64,
    /// The value `code_page` was last set to.
    code_page: u64,
    /// The running session, from vCPU initialisation on.
    session: Option<Session<RamWords<'static>>>,
    /// Where report lines go.
    output: Box<dyn Write>,
    /// Register handles and the buffer reads go through.
    registers: Option<(Registers, ByteArray)>,
    /// The special instructions met at translation, indexed by the callbacks' user data.
    specials: Vec<SpecialInstruction>,
    /// The index of each special instruction in `specials`.
    special_indices: HashMap<SpecialInstruction, usize>,
}

/// The cell that holds the plugin's state: `None` until `qemu_plugin_install` fills it.
struct PluginCell(UnsafeCell<Option<Plugin>>);

// SAFETY: QEMU never runs two of the plugin's callbacks at once (module documentation, "One
// vCPU, one thread, no lock"), and the cell is only reached through `with_plugin`, whose callers
// are those callbacks; so the state is never accessed from two threads at the same time, and
// the hand-overs between threads (install to vCPU thread, vCPU thread to exit) are ordered by
// QEMU's thread creation and shutdown.
unsafe impl Sync for PluginCell {}

/// The plugin's state.
static PLUGIN: PluginCell = PluginCell(UnsafeCell::new(None));

/// Runs `body` with the plugin's state, or returns `None` before install.
///
/// # Safety
///
/// Only QEMU's callbacks of this plugin may call it, each at most once at a time and never
/// from inside `body` (no nesting): then no other reference to the state exists while `body`
/// runs (module documentation, "One vCPU, one thread, no lock").
#[inline(always)]
unsafe fn with_plugin<R>(body: impl FnOnce(&mut Plugin) -> R) -> Option<R> {
    // SAFETY: by the caller's guarantee this is the only live reference to the state.
    let plugin = unsafe { &mut *PLUGIN.0.get() };
    plugin.as_mut().map(body)
}

/// Prints `message` as a plugin error on standard error.
fn report_error(message: &str) {
    eprintln!("tlbsim: error: {message}");
}

/// Stops QEMU at once: the measurement cannot be trusted any more. `_exit` skips the exit
/// callbacks, which would otherwise run while the caller still holds the plugin's state.
fn fatal(message: &str) -> ! {
    report_error(message);
    // SAFETY: `_exit` ends the process without running atexit handlers; nothing is left in
    // an inconsistent state that outlives the process.
    unsafe { libc::_exit(FATAL_EXIT_STATUS) }
}

/// Entry point: checks the target, parses `argv`, builds the model and registers the
/// callbacks. Returns 0 on success; anything else makes QEMU fail to start.
///
/// # Safety
///
/// QEMU calls this once, with `info` pointing to a valid `qemu_info_t` and `argv` to `argc`
/// NUL-terminated strings, all valid for the duration of the call.
#[unsafe(no_mangle)]
pub(crate) unsafe extern "C" fn qemu_plugin_install(
    id: sys::qemu_plugin_id_t,
    info: *const sys::qemu_info_t,
    argc: c_int,
    argv: *mut *mut c_char,
) -> c_int {
    // SAFETY: QEMU passes a valid `qemu_info_t`.
    let info = unsafe { &*info };
    // SAFETY: `target_name` is a NUL-terminated string owned by QEMU.
    let target = unsafe { CStr::from_ptr(info.target_name) }.to_string_lossy();
    if !info.system_emulation || target != TARGET_NAME {
        report_error(&format!(
            "tlbsim needs qemu-system-{TARGET_NAME}, not {target} (system emulation: {})",
            info.system_emulation
        ));
        return -1;
    }
    // SAFETY: in system emulation the `system` member of the union is the valid one.
    let vcpus = unsafe { info.__bindgen_anon_1.system.max_vcpus };
    if vcpus > 1 {
        report_error(&format!(
            "tlbsim models one vCPU; the machine has up to {vcpus} (drop -smp)"
        ));
        return -1;
    }
    let arguments: Vec<String> = (0..usize::try_from(argc).unwrap_or(0))
        .map(|index| {
            // SAFETY: `argv` holds `argc` valid NUL-terminated strings.
            unsafe { CStr::from_ptr(*argv.add(index)) }
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let config = match PluginConfig::parse(arguments.iter().map(String::as_str)) {
        Ok(config) => config,
        Err(error) => {
            report_error(&error.to_string());
            return -1;
        }
    };
    let model = match Model::new(config.geometry.clone()) {
        Ok(model) => model,
        Err(error) => {
            report_error(&format!("geometry: {error}"));
            return -1;
        }
    };
    let cost = match WalkCostModel::from_preset(&config.cost_preset, config.psc) {
        Ok(mut cost) => {
            if let Some(milli) = config.base_cpi_milli {
                let mut parameters = *cost.parameters();
                parameters.base_cpi_milli = milli;
                cost = match WalkCostModel::new(parameters) {
                    Ok(cost) => cost,
                    Err(error) => {
                        report_error(&format!("cost model: {error}"));
                        return -1;
                    }
                };
            }
            cost
        }
        Err(error) => {
            report_error(&format!("cost model of preset {}: {error}", config.cost_preset));
            return -1;
        }
    };
    let output: Box<dyn Write> = match &config.output_path {
        Some(path) => match File::create(path) {
            Ok(file) => Box::new(BufWriter::new(file)),
            Err(error) => {
                report_error(&format!("out={}: {error}", path.display()));
                return -1;
            }
        },
        None => Box::new(io::stderr()),
    };
    if config.memory_callbacks == MemoryCallbacks::Empty {
        eprintln!(
            "tlbsim: memory_callbacks=empty: loads and stores are not counted (a speed floor, \
             not a simulation: every data count stays 0)"
        );
    }
    let plugin = Plugin {
        config,
        model: Some(model),
        cost: Some(cost),
        instructions: InstructionScoreboard::new(),
        block_callbacks: 0,
        reported_skipped_blocks: 0,
        code_page: 0,
        session: None,
        output,
        registers: None,
        specials: Vec::new(),
        special_indices: HashMap::new(),
    };
    // SAFETY: install runs once, on the main thread, before any vCPU thread exists, so no
    // callback can be reaching the state (module documentation, point 1).
    let installed = unsafe { with_plugin(|_| ()) }.is_some();
    if installed {
        report_error("tlbsim is loaded twice");
        return -1;
    }
    // SAFETY: as above; `with_plugin` returned, so no reference to the state is alive.
    unsafe { *PLUGIN.0.get() = Some(plugin) };
    // SAFETY: registering callbacks with the id QEMU gave us, from the install function as
    // the API requires; the callbacks are `extern "C"` functions of the right types.
    unsafe {
        sys::qemu_plugin_register_vcpu_init_cb(id, Some(on_vcpu_init));
        sys::qemu_plugin_register_vcpu_tb_trans_cb(id, Some(on_translate));
        sys::qemu_plugin_register_atexit_cb(id, Some(on_exit), core::ptr::null_mut());
    }
    0
}

/// vCPU initialisation: finds the registers, maps the RAM file and starts the session.
unsafe extern "C" fn on_vcpu_init(_id: sys::qemu_plugin_id_t, vcpu_index: c_uint) {
    if vcpu_index != 0 {
        fatal("tlbsim models one vCPU; a second one was created");
    }
    let registers = match find_registers() {
        Ok(registers) => registers,
        Err(message) => fatal(&message),
    };
    // SAFETY: `g_byte_array_new` allocates a new, empty array; the plugin keeps it forever.
    let buffer = ByteArray(unsafe { g_byte_array_new() });
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe {
        with_plugin(|plugin| {
            let words = match map_ram(&plugin.config) {
                Ok(words) => words,
                Err(message) => fatal(&message),
            };
            let (Some(model), Some(cost)) = (plugin.model.take(), plugin.cost.take()) else {
                return;
            };
            let options = SessionOptions {
                mode: plugin.config.mode,
                cost_preset: plugin.config.cost_preset.clone(),
                psc: plugin.config.psc,
                cost_data: plugin.config.cost_data,
            };
            plugin.session = Some(Session::new(model, cost, words, options));
            plugin.registers = Some((registers, buffer));
            plugin.sync_code_page();
            plugin.write_lines();
        })
    };
}

/// Finds the registers the callbacks read in QEMU's register list for the current vCPU.
fn find_registers() -> Result<Registers, String> {
    // SAFETY: called from the vCPU initialisation callback, in vCPU context, as the API
    // requires; the result is a `GArray` of `qemu_plugin_reg_descriptor` that we free below.
    let array = unsafe { sys::qemu_plugin_get_registers() };
    if array.is_null() {
        return Err("QEMU returned no register list".to_owned());
    }
    let mut handles = HashMap::new();
    {
        // SAFETY: `array` is a valid `GArray` whose `data` holds `len` descriptors.
        let descriptors = unsafe {
            let array = &*array;
            core::slice::from_raw_parts(
                array.data.cast::<sys::qemu_plugin_reg_descriptor>(),
                array.len as usize,
            )
        };
        for descriptor in descriptors {
            // SAFETY: each descriptor's name is a NUL-terminated string valid for the
            // plugin's lifetime.
            let name = unsafe { CStr::from_ptr(descriptor.name) }.to_string_lossy();
            handles.insert(name.into_owned(), RegisterHandle(descriptor.handle));
        }
    }
    // SAFETY: frees the array and its element storage (not the names, which QEMU owns).
    unsafe { g_array_free(array, GLIB_TRUE) };
    let mut missing = Vec::new();
    let mut find = |name: &str| {
        let handle = handles.get(name).copied();
        if handle.is_none() {
            missing.push(name.to_owned());
        }
        handle.unwrap_or(RegisterHandle(core::ptr::null_mut()))
    };
    let general = GeneralRegister::NAMES.map(&mut find);
    let registers = Registers {
        general,
        rip: find("rip"),
        cr3: find("cr3"),
        cr4: find("cr4"),
        efer: find("efer"),
        fs_base: handles.get("fs_base").copied(),
        gs_base: handles.get("gs_base").copied(),
    };
    // CR0 is only ever the source register's value; it is not read.
    if missing.is_empty() {
        Ok(registers)
    } else {
        let mut names: Vec<&String> = handles.keys().collect();
        names.sort();
        Err(format!(
            "QEMU's register list lacks {missing:?}; it has {names:?}"
        ))
    }
}

/// Maps the RAM file read-only and shared, for the whole life of the process.
fn map_ram(config: &PluginConfig) -> Result<RamWords<'static>, String> {
    let path = &config.ram_path;
    let describe = |error: &dyn core::fmt::Display| format!("ram={}: {error}", path.display());
    let file = File::open(path).map_err(|error| describe(&error))?;
    let length_bytes = file.metadata().map_err(|error| describe(&error))?.len();
    if length_bytes == 0 || length_bytes % 8 != 0 {
        return Err(describe(&format!(
            "size {length_bytes} is not a positive multiple of 8 bytes: is it QEMU's \
             memory-backend-file mem-path?"
        )));
    }
    let layout = match config.ram_below_4g_bytes {
        Some(below) => {
            RamLayout::with_low_piece(length_bytes, below).map_err(|error| describe(&error))?
        }
        None => RamLayout::q35(length_bytes),
    };
    let length = usize::try_from(length_bytes).map_err(|error| describe(&error))?;
    // SAFETY: maps `length` bytes of an open file read-only; the kernel picks the address.
    // The result is checked against MAP_FAILED before use.
    let pointer = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            length,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if pointer == libc::MAP_FAILED {
        return Err(describe(&io::Error::last_os_error()));
    }
    // SAFETY: the mapping is page-aligned (so aligned for `AtomicU64`), `length` bytes long
    // (a multiple of 8), readable, and never unmapped, so the slice may be `'static`.
    // `AtomicU64` has the layout of `u64`. QEMU writes the same memory concurrently (through
    // its own shared mapping); the plugin only ever loads from it atomically, so it never
    // reads a torn word and never assumes the memory is unchanging.
    let words = unsafe {
        core::slice::from_raw_parts(pointer.cast::<AtomicU64>().cast_const(), length / 8)
    };
    Ok(RamWords::new(words, layout))
}

impl Plugin {
    /// Writes the session's queued report lines to the output.
    fn write_lines(&mut self) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        let lines = session.take_lines();
        if lines.is_empty() {
            return;
        }
        let mut result = Ok(());
        for line in &lines {
            result = result.and_then(|()| writeln!(self.output, "{line}"));
        }
        if let Err(error) = result.and_then(|()| self.output.flush()) {
            report_error(&format!("writing report lines: {error}"));
        }
    }

    /// Sets the scoreboard's `code_page` to the session's [`Session::code_mru_page`], so that
    /// the generated code skips exactly the block callbacks that would only count an L1 hit on
    /// the previous fetch's entry. Called after every callback that can change it.
    fn sync_code_page(&mut self) {
        let page = self
            .session
            .as_ref()
            .and_then(Session::code_mru_page)
            .unwrap_or(NO_CODE_PAGE);
        if page != self.code_page {
            self.code_page = page;
            self.instructions.set_code_page(page);
        }
    }

    /// Reports the block executions skipped since the last report to the session, which
    /// counts them as L1 hits on the previous fetch's page. Called before the session reads or
    /// resets its counters (markers, exit); the counts are additive, so reporting them late
    /// changes nothing else.
    fn report_skipped_blocks(&mut self) {
        let skipped = self.instructions.blocks().wrapping_sub(self.block_callbacks);
        let new = skipped.wrapping_sub(self.reported_skipped_blocks);
        self.reported_skipped_blocks = skipped;
        if let Some(session) = self.session.as_mut() {
            session.repeated_fetches(new);
        }
    }

    /// Returns the index of `special` in `specials`, adding it if new.
    fn intern(&mut self, special: SpecialInstruction) -> usize {
        if let Some(index) = self.special_indices.get(&special) {
            return *index;
        }
        let index = self.specials.len();
        self.specials.push(special);
        self.special_indices.insert(special, index);
        index
    }

    /// Reads a register of the current vCPU; only valid inside a callback registered with
    /// `QEMU_PLUGIN_CB_R_REGS`. Returns `None` if QEMU refuses.
    fn read_register(&self, pick: impl FnOnce(&Registers) -> RegisterHandle) -> Option<u64> {
        let (registers, buffer) = self.registers.as_ref()?;
        let handle = pick(registers);
        // SAFETY: `buffer` is the plugin's own `GByteArray`; the handle comes from QEMU's
        // register list; the callers are register-reading callbacks on the vCPU thread.
        // After a successful read the array holds `len` bytes at `data`.
        let bytes = unsafe {
            g_byte_array_set_size(buffer.0, 0);
            if sys::qemu_plugin_read_register(handle.0, buffer.0) <= 0 {
                return None;
            }
            let array = &*buffer.0;
            core::slice::from_raw_parts(array.data, array.len as usize)
        };
        let mut word = [0u8; 8];
        let used = bytes.len().min(word.len());
        word[..used].copy_from_slice(&bytes[..used]);
        // x86 registers come in target byte order, little-endian.
        Some(u64::from_le_bytes(word))
    }

    /// Reads the general-purpose register `register`.
    fn read_general(&self, register: GeneralRegister) -> Option<u64> {
        self.read_register(|registers| registers.general[register.index()])
    }

    /// Returns the linear address of a memory operand, reading its registers.
    fn operand_address(&self, operand: &instruction::MemoryOperand) -> Option<u64> {
        let mut failed = false;
        let address = operand.linear_address(
            |register| {
                self.read_general(register).unwrap_or_else(|| {
                    failed = true;
                    0
                })
            },
            |segment| {
                let handle = |registers: &Registers| match segment {
                    BasedSegment::Fs => registers.fs_base,
                    BasedSegment::Gs => registers.gs_base,
                };
                let present = self
                    .registers
                    .as_ref()
                    .and_then(|(registers, _)| handle(registers));
                present
                    .and_then(|present| self.read_register(|_| present))
                    .unwrap_or(0)
            },
        );
        (!failed).then_some(address)
    }

    /// Applies the special instruction with index `index` (a register-reading callback).
    fn execute_special(&mut self, index: usize) {
        let Some(special) = self.specials.get(index).copied() else {
            return;
        };
        // Registers are read before the session is borrowed.
        let event = match special {
            SpecialInstruction::MovToControlRegister { register, source } => {
                let Some(value) = self.read_general(source) else {
                    self.register_failure("a MOV to a control register");
                };
                match register {
                    ControlRegister::Cr0 => {
                        let real = (
                            self.read_register(|registers| registers.cr3),
                            self.read_register(|registers| registers.cr4),
                            self.read_register(|registers| registers.efer),
                        );
                        let (Some(cr3), Some(cr4), Some(efer)) = real else {
                            self.register_failure("a MOV to CR0");
                        };
                        Event::Cr0(value, PagingRegisters { cr3, cr4, efer })
                    }
                    ControlRegister::Cr3 => Event::Cr3(value),
                    ControlRegister::Cr4 => Event::Cr4(value),
                }
            }
            SpecialInstruction::Invlpg { operand } => match self.operand_address(&operand) {
                Some(address) => Event::Invlpg(address),
                None => self.register_failure("an INVLPG"),
            },
            SpecialInstruction::Invpcid {
                type_register,
                descriptor,
            } => {
                let invpcid_type = self.read_general(type_register);
                let address = self.operand_address(&descriptor);
                match (invpcid_type, address) {
                    (Some(invpcid_type), Some(address)) => Event::Invpcid(invpcid_type, address),
                    _ => self.register_failure("an INVPCID"),
                }
            }
            SpecialInstruction::Marker(command) => match self.read_general(GeneralRegister::RAX) {
                Some(rax) => Event::Marker(command, rax),
                None => self.register_failure("a marker"),
            },
            SpecialInstruction::Wrmsr => return,
        };
        if let Event::Marker(..) = event {
            self.report_skipped_blocks();
        }
        let Some(session) = self.session.as_mut() else {
            return;
        };
        match event {
            Event::Cr0(value, real) => session.mov_to_cr0(value, real),
            Event::Cr3(value) => session.mov_to_cr3(value),
            Event::Cr4(value) => session.mov_to_cr4(value),
            Event::Invlpg(address) => session.invlpg(address),
            Event::Invpcid(invpcid_type, address) => session.invpcid(invpcid_type, address),
            Event::Marker(command, rax) => {
                session.marker(command, rax, self.instructions.totals());
                self.write_lines();
            }
        }
        self.sync_code_page();
    }

    /// Stops QEMU because a register needed for `what` could not be read.
    fn register_failure(&self, what: &str) -> ! {
        fatal(&format!("QEMU refused a register read for {what}"))
    }
}

/// A special instruction with its register values read.
enum Event {
    Cr0(u64, PagingRegisters),
    Cr3(u64),
    Cr4(u64),
    Invlpg(u64),
    Invpcid(u64, u64),
    Marker(tlbsim_protocol::Command, u64),
}

/// Returns the start of the 4 KiB page containing `address`.
const fn page_of(address: u64) -> u64 {
    address & !(PAGE_BYTES - 1)
}

/// Packs an integer into a callback's user-data pointer.
fn user_data(value: u64) -> *mut c_void {
    core::ptr::without_provenance_mut(value as usize)
}

/// Block translation: registers the per-block and per-instruction callbacks and inline
/// instruction counters (see `plugin/mod.rs` and the module documentation).
unsafe extern "C" fn on_translate(_id: sys::qemu_plugin_id_t, block: *mut sys::qemu_plugin_tb) {
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe { with_plugin(|plugin| plugin.translate(block)) };
}

impl Plugin {
    /// Instruments the block `block` (the body of [`on_translate`]).
    fn translate(&mut self, block: *mut sys::qemu_plugin_tb) {
        // A block translated while IA-32e paging is off (firmware, the bootloader's 16- and
        // 32-bit code) never runs with it on: entering IA-32e mode sets EFER.LMA, which is part
        // of the flags QEMU looks blocks up by. So such blocks get only the special-instruction
        // callbacks, among them the MOV to CR0 that turns paging on; their instructions are not
        // counted either.
        let count_accesses = self
            .session
            .as_ref()
            .is_some_and(|session| session.paging());
        let instructions = self.instructions;
        // SAFETY: `block` is the valid translation handle QEMU passes to this callback; the
        // registration functions take it, our callbacks of the right types, scoreboard entries
        // of our live scoreboard and plain integers as user data, and are called during
        // translation as the API requires.
        unsafe {
            let block_address = sys::qemu_plugin_tb_vaddr(block);
            match self.config.mode {
                _ if !count_accesses => {}
                FetchMode::Fast => {
                    // Count the execution, then call back unless the block starts on the page
                    // of the previous fetch (see `Plugin::sync_code_page`).
                    sys::qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(
                        block,
                        sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                        instructions.blocks,
                        1,
                    );
                    sys::qemu_plugin_register_vcpu_tb_exec_cond_cb(
                        block,
                        Some(on_block_fast),
                        sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                        sys::qemu_plugin_cond::QEMU_PLUGIN_COND_NE,
                        instructions.code_page,
                        block_address >> PAGE_SHIFT,
                        user_data(block_address),
                    );
                }
                FetchMode::Exact => sys::qemu_plugin_register_vcpu_tb_exec_cb(
                    block,
                    Some(on_block_exact),
                    sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS,
                    user_data(block_address),
                ),
            }
            let mut last_page = page_of(block_address);
            for position in 0..sys::qemu_plugin_tb_n_insns(block) {
                let instruction = sys::qemu_plugin_tb_get_insn(block, position);
                let address = sys::qemu_plugin_insn_vaddr(instruction);
                let size = sys::qemu_plugin_insn_size(instruction) as u64;
                let end_page = page_of(address.wrapping_add(size.max(1) - 1));
                if count_accesses {
                    // First, so that a marker on this instruction sees itself counted.
                    sys::qemu_plugin_register_vcpu_insn_exec_inline_per_vcpu(
                        instruction,
                        sys::qemu_plugin_op::QEMU_PLUGIN_INLINE_ADD_U64,
                        instructions.entry_for(address),
                        1,
                    );
                }
                if count_accesses && end_page != last_page {
                    last_page = end_page;
                    match self.config.mode {
                        FetchMode::Fast => sys::qemu_plugin_register_vcpu_insn_exec_cb(
                            instruction,
                            Some(on_page_entry_fast),
                            sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                            user_data(end_page),
                        ),
                        FetchMode::Exact => sys::qemu_plugin_register_vcpu_insn_exec_cb(
                            instruction,
                            Some(on_page_entry),
                            sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                            user_data(end_page.wrapping_sub(block_address)),
                        ),
                    }
                }
                let mut bytes = [0u8; MAX_INSTRUCTION_BYTES];
                let copied = sys::qemu_plugin_insn_data(
                    instruction,
                    bytes.as_mut_ptr().cast::<c_void>(),
                    bytes.len(),
                );
                let decoded = instruction::decode(&bytes[..copied.min(bytes.len())], address);
                if let Some(special) =
                    decoded.filter(|special| *special != SpecialInstruction::Wrmsr)
                {
                    let index = self.intern(special);
                    sys::qemu_plugin_register_vcpu_insn_exec_cb(
                        instruction,
                        Some(on_special),
                        sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_R_REGS,
                        user_data(index as u64),
                    );
                }
                if count_accesses {
                    let callback: sys::qemu_plugin_vcpu_mem_cb_t = match self.config.memory_callbacks {
                        MemoryCallbacks::Counted => Some(on_memory),
                        MemoryCallbacks::Empty => Some(on_memory_empty),
                    };
                    sys::qemu_plugin_register_vcpu_mem_cb(
                        instruction,
                        callback,
                        sys::qemu_plugin_cb_flags::QEMU_PLUGIN_CB_NO_REGS,
                        sys::qemu_plugin_mem_rw::QEMU_PLUGIN_MEM_RW,
                        core::ptr::null_mut(),
                    );
                }
            }
        }
    }
}

/// A block starts executing (fast mode) on another page than the previous fetch's: the user
/// data is its translation address.
unsafe extern "C" fn on_block_fast(_vcpu_index: c_uint, block_address: *mut c_void) {
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe {
        with_plugin(|plugin| {
            plugin.block_callbacks += 1;
            if let Some(session) = plugin.session.as_mut() {
                let address = block_address.addr() as u64;
                session.block(address, address);
            }
            plugin.sync_code_page();
        })
    };
}

/// Execution reaches the block's second code page (fast mode): the user data is the page's
/// address.
unsafe extern "C" fn on_page_entry_fast(_vcpu_index: c_uint, page: *mut c_void) {
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe {
        with_plugin(|plugin| {
            if let Some(session) = plugin.session.as_mut() {
                session.enter_page_at(page.addr() as u64);
            }
            plugin.sync_code_page();
        })
    };
}

/// A block starts executing (exact mode): reads RIP, the block's true address.
unsafe extern "C" fn on_block_exact(_vcpu_index: c_uint, block_address: *mut c_void) {
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe {
        with_plugin(|plugin| {
            let Some(rip) = plugin.read_register(|registers| registers.rip) else {
                plugin.register_failure("RIP at a block start");
            };
            if let Some(session) = plugin.session.as_mut() {
                session.block(rip, block_address.addr() as u64);
            }
        })
    };
}

/// Execution reaches the block's second code page: the user data is the page's offset from
/// the block's start.
unsafe extern "C" fn on_page_entry(_vcpu_index: c_uint, offset: *mut c_void) {
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe {
        with_plugin(|plugin| {
            if let Some(session) = plugin.session.as_mut() {
                session.enter_page(offset.addr() as u64);
            }
        })
    };
}

/// A load or store at linear address `address`; `info` gives its size.
unsafe extern "C" fn on_memory(
    _vcpu_index: c_uint,
    info: sys::qemu_plugin_meminfo_t,
    address: u64,
    _user_data: *mut c_void,
) {
    // Only an access that starts within its largest possible size of the page's end can reach
    // the next page; only then is its size asked for (a call into QEMU). Elsewhere 1 byte
    // stands for it: the session only uses the size to find the last byte's page.
    let size_bytes = if address & (PAGE_BYTES - 1) > PAGE_BYTES - MAX_ACCESS_BYTES {
        // SAFETY: `info` is the meminfo QEMU passes to this memory callback; reading its size
        // is valid for the duration of the callback.
        1u64 << unsafe { sys::qemu_plugin_mem_size_shift(info) }
    } else {
        1
    };
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe {
        with_plugin(|plugin| {
            if let Some(session) = plugin.session.as_mut() {
                session.data_access(address, size_bytes);
            }
        })
    };
}

/// A load or store, with `memory_callbacks=empty`: nothing is done (the speed floor of a
/// callback per access). Safe: it touches nothing; it coerces to the callback's unsafe type.
extern "C" fn on_memory_empty(
    _vcpu_index: c_uint,
    _info: sys::qemu_plugin_meminfo_t,
    _address: u64,
    _user_data: *mut c_void,
) {
}

/// A special instruction is about to execute: the user data is its index.
unsafe extern "C" fn on_special(_vcpu_index: c_uint, index: *mut c_void) {
    // SAFETY: a callback of this plugin, on the vCPU thread, not nested.
    unsafe { with_plugin(|plugin| plugin.execute_special(index.addr())) };
}

/// QEMU exits: report the open phase, the whole run and the statistics.
unsafe extern "C" fn on_exit(_id: sys::qemu_plugin_id_t, _user_data: *mut c_void) {
    // SAFETY: the exit callback runs once no vCPU executes guest code any more and outside any
    // other callback of ours (module documentation, point 3), so it is the only user.
    unsafe {
        with_plugin(|plugin| {
            plugin.report_skipped_blocks();
            let totals = plugin.instructions.totals();
            if let Some(session) = plugin.session.as_mut() {
                session.finish(totals);
            }
            plugin.write_lines();
        })
    };
}
