//! A system-call fuzzer: makes many calls with random numbers, random and boundary arguments,
//! random callee-saved registers and random RFLAGS bits, and checks after every call that the
//! kernel kept the register convention (every register but `rax`, `rdx`, `rcx` and `r11`
//! unchanged, RFLAGS unchanged but for RF, `rax` a known error code).
//!
//! Argument: bits 0..31 = seed; bits 32..61 = number of calls (0 = 200 000); bits 62..63 = how
//! the run ends: 0 (or 3) = exit with the number of mismatches; 1 = set RFLAGS.TF and expect to be
//! killed by #DB (exit code 1000 if not); 2 = set RFLAGS.AC and load from an unaligned address
//! (exit code 2000 if no #AC stopped it; the kernel test decides what it expects).
//!
//! The fuzzer keeps itself alive and the console quiet: it never makes its own memory
//! non-writable with `protect`, never spawns a name read from memory it or another binary owns,
//! prints at most 8 bytes of its own (printable) memory through `write` once per 2048 calls, and
//! stops growing its heap after 16 MiB.
#![no_std]
#![no_main]

use core::arch::asm;
use core::mem::offset_of;

use shoal_rt::abi::{self, ErrorCode, Syscall};

shoal_rt::entry!(main);

/// Calls made when the argument asks for 0.
const DEFAULT_CALLS: u64 = 200_000;
/// Mismatches printed in detail; the rest are only counted.
const DETAILED_MISMATCHES: u64 = 10;
/// Successful heap growth after which the fuzzer stops asking for more.
const HEAP_BUDGET_BYTES: u64 = 16 * 1024 * 1024;
/// A `write` of the fuzzer's own memory is allowed once per this many calls.
const OWN_WRITE_INTERVAL: u64 = 2048;
/// Bytes of the printable buffers (stack and static) whose addresses the fuzzer passes.
const BUFFER_BYTES: usize = 256;
/// Longest `write` of the fuzzer's own memory.
const OWN_WRITE_MAX_BYTES: u64 = 8;

/// Exit code when execution continues after setting RFLAGS.TF.
const TF_SURVIVED_EXIT_CODE: u64 = 1000;
/// Exit code when an unaligned load with RFLAGS.AC set did not fault.
const AC_SURVIVED_EXIT_CODE: u64 = 2000;

/// RFLAGS.TF: single-step.
const FLAG_TF: u64 = 1 << 8;
/// RFLAGS.DF: string instructions count down.
const FLAG_DF: u64 = 1 << 10;
/// RFLAGS.IOPL (two bits); POPFQ at CPL 3 leaves it unchanged.
const FLAG_IOPL: u64 = 3 << 12;
/// RFLAGS.NT: nested task (IRET would do a task switch in legacy mode).
const FLAG_NT: u64 = 1 << 14;
/// RFLAGS.RF: resume flag; SYSRET clears it, POPFQ clears it.
const FLAG_RF: u64 = 1 << 16;
/// RFLAGS.AC: alignment check (with CR0.AM at CPL 3), and SMAP's override in the kernel.
const FLAG_AC: u64 = 1 << 18;
/// The flags the fuzzer may set before a call, each with probability 1/2.
const RANDOM_FLAGS: [u64; 5] = [FLAG_DF, FLAG_NT, FLAG_AC, FLAG_IOPL, FLAG_RF];
/// The mask that clears every flag the fuzzer may have set (TF, DF, NT, AC) before returning to
/// Rust code, as an `and` immediate.
const CLEAN_FLAGS_MASK: i64 = !(FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC) as i64;

/// Bytes of a page.
const PAGE_BYTES: u64 = 4096;
/// Start of the user private region.
const USER_PRIVATE_START: u64 = 0x0000_0000_0040_0000;
/// End of the region where a binary may be linked for the private layout.
const USER_IMAGE_END: u64 = 0x0000_0001_0000_0000;
/// Start of every process's heap.
const USER_HEAP_START: u64 = 0x0000_1000_0000_0000;
/// Largest heap.
const USER_HEAP_MAX_BYTES: u64 = 1 << 30;
/// Top of the user stack.
const USER_STACK_TOP: u64 = 0x0000_3fff_0000_0000;
/// Bytes around the stack (below its top) the fuzzer treats as its own.
const STACK_REGION_BYTES: u64 = 16 * 1024 * 1024;
/// Start of the global window.
const GLOBAL_WINDOW_START: u64 = 0x0000_4000_0000_0000;
/// End of the global window.
const GLOBAL_WINDOW_END: u64 = 0x0000_4080_0000_0000;
/// Bytes of one binary's slot in the window.
const GLOBAL_SLOT_BYTES: u64 = 1 << 30;
/// End of user space.
const USER_END: u64 = 0x0000_8000_0000_0000;

/// Boundary addresses: region edges, the window, the end of user space, non-canonical and
/// kernel addresses.
const BOUNDARY_POINTERS: [u64; 27] = [
    USER_PRIVATE_START - PAGE_BYTES,
    USER_PRIVATE_START,
    USER_HEAP_START,
    USER_HEAP_START + USER_HEAP_MAX_BYTES,
    USER_STACK_TOP - 16,
    USER_STACK_TOP,
    0x0000_3fff_ffff_f000,
    0x0000_3fff_ffff_fff0,
    0x0000_3fff_ffff_fff8,
    0x0000_3fff_ffff_ffff,
    GLOBAL_WINDOW_START,
    GLOBAL_WINDOW_START + 0x1000,
    GLOBAL_WINDOW_START + GLOBAL_SLOT_BYTES,
    GLOBAL_WINDOW_END - 16,
    GLOBAL_WINDOW_END,
    0x0000_7fff_ffff_f000,
    USER_END - 16,
    USER_END - 1,
    USER_END,
    USER_END + 0x1000,
    0x8000_0000_0000_0000,
    0xffff_7fff_ffff_ffff,
    0xffff_8000_0000_0000,
    0xffff_c000_0000_0000,
    0xffff_ffff_8000_0000,
    u64::MAX - 15,
    u64::MAX,
];

/// Interesting lengths (besides `u64::MAX - pointer`, which depends on the previous argument).
const LENGTHS: [u64; 9] = [0, 1, 8, 16, 4095, 4096, 4097, 1 << 32, u64::MAX];

/// Printable bytes in the fuzzer's static (read-only, in the window) data.
static FUZZ_TEXT: [u8; BUFFER_BYTES] = printable_pattern();

/// Returns `BUFFER_BYTES` printable ASCII bytes (no control characters, no newline).
const fn printable_pattern() -> [u8; BUFFER_BYTES] {
    let mut bytes = [0u8; BUFFER_BYTES];
    let mut index = 0;
    while index < BUFFER_BYTES {
        bytes[index] = b'a' + (index % 26) as u8;
        index += 1;
    }
    bytes
}

/// The splitmix64 generator: small, fast, and every seed gives a good sequence.
struct Random(u64);

impl Random {
    /// Returns the next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Returns a value in `0..bound` (`bound` > 0; the slight bias does not matter here).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    /// Returns true with probability `numerator / denominator`.
    fn chance(&mut self, numerator: u64, denominator: u64) -> bool {
        self.below(denominator) < numerator
    }
}

/// What one system call is made with, and what the registers held after it. The `asm!` block in
/// [`fuzz_call`] reads and writes it through a pointer, at the offsets below.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Call {
    /// The call number (`rax`).
    number: u64,
    /// The arguments (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`).
    arguments: [u64; 6],
    /// Values for the registers the kernel must preserve: `rbx`, `rbp`, `r12`..`r15`.
    preserved: [u64; 6],
    /// The RFLAGS value to load with POPFQ before the call.
    flags_wanted: u64,
    /// RFLAGS as the CPU had them just before SYSCALL (after POPFQ dropped what CPL 3 may not
    /// change).
    flags_before: u64,
    /// `rsp` just before SYSCALL.
    rsp_before: u64,
    /// `rsp` just after SYSCALL.
    rsp_after: u64,
    /// RFLAGS just after SYSCALL.
    flags_after: u64,
    /// `rax` after the call: the error code.
    rax: u64,
    /// `rdx` after the call: the value.
    rdx: u64,
    /// `rbx`, `rbp`, `r12`..`r15` after the call.
    preserved_after: [u64; 6],
    /// `rdi`, `rsi`, (unused), `r10`, `r8`, `r9` after the call.
    arguments_after: [u64; 6],
}

/// Names of the preserved registers, in [`Call::preserved`] order.
const PRESERVED_NAMES: [&str; 6] = ["rbx", "rbp", "r12", "r13", "r14", "r15"];
/// Names of the argument registers, in [`Call::arguments`] order (`rdx` is a result).
const ARGUMENT_NAMES: [&str; 6] = ["rdi", "rsi", "rdx", "r10", "r8", "r9"];

/// Makes the call described by `call` and fills in what the registers held after it.
fn fuzz_call(call: &mut Call) {
    let pointer: *mut Call = call;
    // SAFETY: the block saves `rbx`, `rbp` and the `Call` pointer on the stack (no `nostack`),
    // loads the requested flags (never TF) and registers, makes the system call, and restores
    // `rbx`, `rbp` and clean flags (DF, AC, NT, TF clear) before it ends. Every other register it
    // changes is declared as clobbered. Memory is touched only through `pointer`, a valid
    // exclusive `Call`, at 8-byte aligned offsets (so AC with CR0.AM cannot fault), and on the
    // stack. The kernel preserves everything but `rax`, `rdx`, `rcx` and `r11` and writes no
    // memory the arguments do not ask for; the fuzzer never passes arguments that would let it
    // change memory Rust relies on (see `constrain`).
    unsafe {
        asm!(
            "push rbx",
            "push rbp",
            "push rcx",
            "mov rax, [rcx + {flags_wanted}]",
            "push rax",
            "popfq",
            "pushfq",
            "pop qword ptr [rcx + {flags_before}]",
            "mov rbx, [rcx + {preserved}]",
            "mov rbp, [rcx + {preserved} + 8]",
            "mov r12, [rcx + {preserved} + 16]",
            "mov r13, [rcx + {preserved} + 24]",
            "mov r14, [rcx + {preserved} + 32]",
            "mov r15, [rcx + {preserved} + 40]",
            "mov rdi, [rcx + {arguments}]",
            "mov rsi, [rcx + {arguments} + 8]",
            "mov rdx, [rcx + {arguments} + 16]",
            "mov r10, [rcx + {arguments} + 24]",
            "mov r8, [rcx + {arguments} + 32]",
            "mov r9, [rcx + {arguments} + 40]",
            "mov rax, [rcx + {number}]",
            "mov [rcx + {rsp_before}], rsp",
            "syscall",
            // MOV changes no flag: read rsp and the block pointer first, then the flags.
            "mov r11, rsp",
            "mov rcx, [rsp]",
            "mov [rcx + {rsp_after}], r11",
            "pushfq",
            "pop qword ptr [rcx + {flags_after}]",
            "cld",
            "mov [rcx + {rax}], rax",
            "mov [rcx + {rdx}], rdx",
            "mov [rcx + {preserved_after}], rbx",
            "mov [rcx + {preserved_after} + 8], rbp",
            "mov [rcx + {preserved_after} + 16], r12",
            "mov [rcx + {preserved_after} + 24], r13",
            "mov [rcx + {preserved_after} + 32], r14",
            "mov [rcx + {preserved_after} + 40], r15",
            "mov [rcx + {arguments_after}], rdi",
            "mov [rcx + {arguments_after} + 8], rsi",
            "mov [rcx + {arguments_after} + 16], rdx",
            "mov [rcx + {arguments_after} + 24], r10",
            "mov [rcx + {arguments_after} + 32], r8",
            "mov [rcx + {arguments_after} + 40], r9",
            "mov r11, [rcx + {flags_after}]",
            "and r11, {clean}",
            "push r11",
            "popfq",
            "pop rcx",
            "pop rbp",
            "pop rbx",
            flags_wanted = const offset_of!(Call, flags_wanted),
            flags_before = const offset_of!(Call, flags_before),
            preserved = const offset_of!(Call, preserved),
            arguments = const offset_of!(Call, arguments),
            number = const offset_of!(Call, number),
            rsp_before = const offset_of!(Call, rsp_before),
            rsp_after = const offset_of!(Call, rsp_after),
            flags_after = const offset_of!(Call, flags_after),
            rax = const offset_of!(Call, rax),
            rdx = const offset_of!(Call, rdx),
            preserved_after = const offset_of!(Call, preserved_after),
            arguments_after = const offset_of!(Call, arguments_after),
            clean = const CLEAN_FLAGS_MASK,
            inout("rcx") pointer => _,
            out("rax") _,
            out("rdx") _,
            out("rdi") _,
            out("rsi") _,
            out("r8") _,
            out("r9") _,
            out("r10") _,
            out("r11") _,
            out("r12") _,
            out("r13") _,
            out("r14") _,
            out("r15") _,
        );
    }
}

/// Addresses the fuzzer owns or may read, to keep its arguments from hurting itself.
struct OwnMemory {
    /// Start of the stack buffer of printable bytes.
    stack_buffer: u64,
    /// Start of [`FUZZ_TEXT`].
    static_text: u64,
    /// Start of the fuzzer's own slot in the window.
    own_slot: u64,
}

impl OwnMemory {
    /// The private regions the fuzzer (or its runtime) may have mapped: the image region, the
    /// heap, the stack, and its own slot in the window.
    fn private_regions(&self) -> [(u64, u64); 5] {
        let stack_page = self.stack_buffer & !(PAGE_BYTES - 1);
        [
            (USER_PRIVATE_START, USER_IMAGE_END),
            (USER_HEAP_START, USER_HEAP_START + USER_HEAP_MAX_BYTES),
            (USER_STACK_TOP - STACK_REGION_BYTES, USER_STACK_TOP),
            (stack_page.saturating_sub(STACK_REGION_BYTES), stack_page.saturating_add(STACK_REGION_BYTES)),
            (self.own_slot, self.own_slot + GLOBAL_SLOT_BYTES),
        ]
    }

    /// Returns true when `[address, address + length)` (at least one byte) overlaps memory the
    /// fuzzer owns.
    fn overlaps_own(&self, address: u64, length: u64) -> bool {
        let end = address.saturating_add(length.max(1));
        self.private_regions().iter().any(|&(start, region_end)| address < region_end && start < end)
    }

    /// Returns true when `address` may be readable: memory the fuzzer owns or the window.
    fn maybe_readable(&self, address: u64) -> bool {
        self.overlaps_own(address, 1) || (GLOBAL_WINDOW_START..GLOBAL_WINDOW_END).contains(&address)
    }

    /// Returns true when `[address, address + length)` lies in one of the printable buffers.
    fn in_printable_buffer(&self, address: u64, length: u64) -> bool {
        [self.stack_buffer, self.static_text].iter().any(|&start| {
            address >= start && address.checked_add(length).is_some_and(|end| end <= start + BUFFER_BYTES as u64)
        })
    }
}

/// The fuzzer's state across calls.
struct Fuzzer {
    /// The random sequence.
    random: Random,
    /// What the fuzzer owns.
    own: OwnMemory,
    /// Bytes of heap growth that succeeded.
    heap_grown: u64,
    /// The call index at which a `write` of own memory was last allowed.
    last_own_write: Option<u64>,
    /// Spawn calls skipped (replaced) because their name would be read from readable memory.
    spawns_skipped: u64,
}

impl Fuzzer {
    /// Returns a random argument: zero, a small integer, random bits, a boundary pointer, a
    /// pointer into the fuzzer's buffers, or a length (`previous` is the argument before it,
    /// for `u64::MAX - pointer`).
    fn argument(&mut self, previous: u64) -> u64 {
        match self.random.below(100) {
            0..=9 => 0,
            10..=24 => self.random.below(17),
            25..=39 => self.random.next(),
            40..=64 => BOUNDARY_POINTERS[self.random.below(BOUNDARY_POINTERS.len() as u64) as usize],
            65..=79 => {
                let base = if self.random.chance(1, 2) { self.own.stack_buffer } else { self.own.static_text };
                let offset = if self.random.chance(1, 2) { self.random.below(BUFFER_BYTES as u64) & !7 } else { self.random.below(BUFFER_BYTES as u64) };
                base + offset
            }
            80..=84 => u64::MAX - previous,
            85..=89 => (u64::MAX - previous).wrapping_add(2),
            _ => LENGTHS[self.random.below(LENGTHS.len() as u64) as usize],
        }
    }

    /// Returns a random call number: mostly a real call (never `exit`), sometimes an unknown one.
    fn number(&mut self) -> u64 {
        match self.random.below(100) {
            0..=84 => 1 + self.random.below(13),
            85..=92 => 12 + self.random.below(53),
            _ => self.random.next().max(1),
        }
    }

    /// Builds the next call, or None when the chosen call must be skipped.
    fn next_call(&mut self, index: u64) -> Option<Call> {
        let mut call = Call { number: self.number(), ..Call::default() };
        let mut previous = 0;
        for argument in call.arguments.iter_mut() {
            *argument = self.argument(previous);
            previous = *argument;
        }
        for register in call.preserved.iter_mut() {
            *register = self.random.next();
        }
        // Keep the interrupt flag and the fixed bit as they are; add random extras.
        let mut flags = read_flags() & !(FLAG_TF | FLAG_DF | FLAG_NT | FLAG_AC);
        for &flag in &RANDOM_FLAGS {
            if self.random.chance(1, 2) {
                flags |= flag;
            }
        }
        call.flags_wanted = flags;
        if self.constrain(&mut call, index) { Some(call) } else { None }
    }

    /// Applies the rules that keep the fuzzer alive and the console quiet; returns false when the
    /// call must be skipped.
    fn constrain(&mut self, call: &mut Call, index: u64) -> bool {
        let [first, second, third, ..] = call.arguments;
        match Syscall::from_number(call.number) {
            Some(Syscall::Write) => {
                if second != 0 && second <= abi::WRITE_MAX_BYTES && self.own.maybe_readable(first) {
                    let allowed = self.last_own_write.is_none_or(|last| index - last >= OWN_WRITE_INTERVAL);
                    let length = 1 + self.random.below(OWN_WRITE_MAX_BYTES);
                    if allowed && self.own.in_printable_buffer(first, length) {
                        self.last_own_write = Some(index);
                        call.arguments[1] = length;
                    } else if self.random.chance(1, 2) {
                        call.arguments[1] = 0;
                    } else {
                        call.arguments[1] = abi::WRITE_MAX_BYTES + 1 + self.random.below(1 << 20);
                    }
                }
            }
            Some(Syscall::HeapGrow) => {
                let mut bytes = if self.random.chance(9, 10) { self.random.below(64 * 1024 + 1) } else { first };
                let rounded = bytes.div_ceil(PAGE_BYTES).saturating_mul(PAGE_BYTES);
                if (1..=abi::HEAP_GROW_MAX_BYTES).contains(&bytes) && self.heap_grown.saturating_add(rounded) > HEAP_BUDGET_BYTES {
                    bytes = abi::HEAP_GROW_MAX_BYTES + 1 + self.random.below(1 << 40);
                }
                call.arguments[0] = bytes;
            }
            Some(Syscall::Spawn) => {
                if (1..=abi::NAME_MAX_BYTES).contains(&second) && self.own.maybe_readable(first) {
                    self.spawns_skipped += 1;
                    return false;
                }
            }
            Some(Syscall::Protect) => {
                let mut access = if self.random.chance(3, 4) { self.random.below(5) } else { third };
                if access != abi::ACCESS_WRITE && self.own.overlaps_own(first, second) {
                    access = abi::ACCESS_WRITE;
                }
                call.arguments[2] = access;
            }
            _ => {}
        }
        true
    }
}

/// Returns the current RFLAGS.
fn read_flags() -> u64 {
    let flags: u64;
    // SAFETY: PUSHFQ/POP read RFLAGS and leave the stack as it was.
    unsafe { asm!("pushfq", "pop {flags}", flags = out(reg) flags, options(preserves_flags)) };
    flags
}

/// One detected difference between what the convention promises and what the call did.
struct Mismatch<'a> {
    /// What differs.
    what: &'a str,
    /// The value before the call (or the expectation).
    before: u64,
    /// The value after the call.
    after: u64,
}

/// Returns the call's mismatches (at most 16: 6 preserved, 5 arguments, rsp, flags, code).
fn mismatches(call: &Call) -> ([Option<Mismatch<'static>>; 16], usize) {
    let mut found: [Option<Mismatch<'static>>; 16] = Default::default();
    let mut count = 0;
    let mut note = |what: &'static str, before: u64, after: u64| {
        if before != after && count < found.len() {
            found[count] = Some(Mismatch { what, before, after });
            count += 1;
        }
    };
    for index in 0..6 {
        note(PRESERVED_NAMES[index], call.preserved[index], call.preserved_after[index]);
        if index != 2 {
            note(ARGUMENT_NAMES[index], call.arguments[index], call.arguments_after[index]);
        }
    }
    note("rsp", call.rsp_before, call.rsp_after);
    note("rflags (RF masked)", call.flags_before & !FLAG_RF, call.flags_after & !FLAG_RF);
    if ErrorCode::from_value(call.rax).is_none() {
        note("rax (not an error code)", ErrorCode::ALL.len() as u64, call.rax);
    }
    (found, count)
}

/// The run's totals.
#[derive(Default)]
struct Totals {
    /// Calls made.
    calls: u64,
    /// Mismatches found.
    mismatches: u64,
    /// Calls per returned error code; the last entry counts values that are no code.
    codes: [u64; ErrorCode::ALL.len() + 1],
}

fn main(argument: u64) -> u64 {
    let seed = argument & 0xffff_ffff;
    let requested = (argument >> 32) & ((1 << 30) - 1);
    let calls = if requested == 0 { DEFAULT_CALLS } else { requested };
    let ending = argument >> 62;

    let mut stack_buffer = [0u8; BUFFER_BYTES];
    stack_buffer.copy_from_slice(core::hint::black_box(&FUZZ_TEXT));
    let static_text = FUZZ_TEXT.as_ptr() as u64;
    // The window and its slots are 1 GiB aligned: this is the base of the slot holding the
    // fuzzer's own binary (or, for a binary linked elsewhere, the 1 GiB around its data).
    let own = OwnMemory {
        stack_buffer: stack_buffer.as_mut_ptr() as u64,
        static_text,
        own_slot: static_text & !(GLOBAL_SLOT_BYTES - 1),
    };
    shoal_rt::println!("hostile-fuzz: seed {seed}: {calls} calls, ending {ending}");
    let mut fuzzer = Fuzzer { random: Random(seed), own, heap_grown: 0, last_own_write: None, spawns_skipped: 0 };
    let mut totals = Totals::default();
    let mut index = 0;
    while totals.calls < calls {
        index += 1;
        let Some(mut call) = fuzzer.next_call(index) else { continue };
        // A write of a few bytes of the printable buffers: put them on a line of their own.
        let own_write = call.number == Syscall::Write.number()
            && call.arguments[1] != 0
            && fuzzer.own.in_printable_buffer(call.arguments[0], call.arguments[1]);
        if own_write {
            shoal_rt::print!("hostile-fuzz: seed {seed}: own bytes: ");
        }
        fuzz_call(&mut call);
        if own_write {
            shoal_rt::println!();
        }
        totals.calls += 1;
        let code_index = usize::try_from(call.rax).map_or(ErrorCode::ALL.len(), |code| code.min(ErrorCode::ALL.len()));
        totals.codes[code_index] += 1;
        if call.number == Syscall::HeapGrow.number() && call.rax == ErrorCode::Success.value() {
            fuzzer.heap_grown += call.arguments[0].div_ceil(PAGE_BYTES) * PAGE_BYTES;
        }
        let (found, count) = mismatches(&call);
        for mismatch in found.iter().take(count).flatten() {
            totals.mismatches += 1;
            if totals.mismatches <= DETAILED_MISMATCHES {
                shoal_rt::println!(
                    "hostile-fuzz: seed {seed}: MISMATCH call {} number {:#x} arguments {:#x?} flags {:#x}: {} before {:#x} after {:#x}",
                    totals.calls,
                    call.number,
                    call.arguments,
                    call.flags_before,
                    mismatch.what,
                    mismatch.before,
                    mismatch.after
                );
            }
        }
    }
    print_summary(seed, &totals, &fuzzer);

    match ending {
        1 => {
            shoal_rt::println!("hostile-fuzz: seed {seed}: setting TF, expecting to be killed by #DB");
            set_trap_flag();
            shoal_rt::println!("hostile-fuzz: seed {seed}: still running after setting TF");
            TF_SURVIVED_EXIT_CODE
        }
        2 => {
            shoal_rt::println!("hostile-fuzz: seed {seed}: setting AC and loading from an unaligned address");
            let value = unaligned_load_with_ac(&stack_buffer);
            shoal_rt::println!("hostile-fuzz: seed {seed}: no #AC: the unaligned load returned {value:#x}");
            AC_SURVIVED_EXIT_CODE
        }
        _ => totals.mismatches,
    }
}

/// Prints the one summary line.
fn print_summary(seed: u64, totals: &Totals, fuzzer: &Fuzzer) {
    shoal_rt::print!("hostile-fuzz: seed {seed}: {} calls, {} mismatches, codes:", totals.calls, totals.mismatches);
    for (code, count) in ErrorCode::ALL.iter().zip(totals.codes.iter()) {
        shoal_rt::print!(" {}={count}", code.name());
    }
    shoal_rt::println!(
        " other={}, heap grown {} KiB, spawns skipped {}",
        totals.codes[ErrorCode::ALL.len()],
        fuzzer.heap_grown / 1024,
        fuzzer.spawns_skipped
    );
}

/// Sets RFLAGS.TF: the CPU raises #DB after the next instruction. Clears it again if execution
/// continues.
fn set_trap_flag() {
    // SAFETY: only RFLAGS.TF changes, and it is cleared again before the block ends (if the
    // process survives the single-step trap at all); the stack is left as it was.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {tf}",
            "popfq",
            "nop",
            "nop",
            "pushfq",
            "and qword ptr [rsp], {clean}",
            "popfq",
            tf = const FLAG_TF,
            clean = const CLEAN_FLAGS_MASK,
        );
    }
}

/// Sets RFLAGS.AC and loads 8 bytes from an odd address of `buffer` (an #AC fault if the kernel
/// set CR0.AM); clears AC again and returns the value if execution continues.
fn unaligned_load_with_ac(buffer: &[u8; BUFFER_BYTES]) -> u64 {
    let address = buffer[1..9].as_ptr();
    let value: u64;
    // SAFETY: `address` points to 8 readable bytes of `buffer`; an unaligned load is valid x86
    // unless alignment checking is on, which is what is being probed (the kernel then kills the
    // process). AC is cleared again before the block ends; the stack is left as it was.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], {ac}",
            "popfq",
            "mov {value}, qword ptr [{address}]",
            "pushfq",
            "and qword ptr [rsp], {clean}",
            "popfq",
            ac = const FLAG_AC,
            clean = const CLEAN_FLAGS_MASK,
            address = in(reg) address,
            value = out(reg) value,
        );
    }
    value
}
