//! Calls every system call that takes a pointer with boundary pointers (null, the window, its
//! own slot, the kernel half, non-canonical, unmapped, the very end of user space, wrapping
//! lengths) and checks the exact error codes. Prints one line per check and exits with the
//! number of checks that failed (0 = all good).
//!
//! Where the answer depends on something the program cannot know (whether the first slot of the
//! window is readable to it), or on the order in which the kernel checks two bad arguments, the
//! check accepts each code that a correct kernel may give and says so.
#![no_std]
#![no_main]

use shoal_rt::abi::{self, EndReason, ErrorCode, ExitStatus, Syscall};
use shoal_rt::syscall::{self, raw};

shoal_rt::entry!(main);

/// Bytes of a page.
const PAGE_BYTES: u64 = 4096;
/// Start of the global window (its first slot).
const GLOBAL_WINDOW_START: u64 = 0x0000_4000_0000_0000;
/// End of the global window: user space above it is never mapped.
const GLOBAL_WINDOW_END: u64 = 0x0000_4080_0000_0000;
/// An address in the kernel half.
const KERNEL_ADDRESS: u64 = 0xffff_8000_0000_0000;
/// A non-canonical address with the top bit set.
const NON_CANONICAL_HIGH: u64 = 0x8000_0000_0000_0000;
/// A non-canonical address just above user space.
const NON_CANONICAL_LOW: u64 = 0x0000_8000_0000_0000 + 0x1000;
/// A user address nothing maps.
const UNMAPPED_USER_ADDRESS: u64 = 0x0000_2000_0000_0000;
/// End of user space: a zero-length range here is refused.
const USER_END: u64 = 0x0000_8000_0000_0000;
/// 16 bytes ending exactly at the end of user space (unmapped).
const LAST_SIXTEEN: u64 = USER_END - 16;
/// The last page of user space (unmapped).
const LAST_USER_PAGE: u64 = USER_END - PAGE_BYTES;
/// A process id no process has.
const NO_SUCH_PROCESS: u64 = 1 << 40;
/// The program's name, as `verify_binary` knows it (read from its own read-only data).
static OWN_NAME: [u8; 16] = *b"hostile-boundary";
/// A program to spawn with a name read from its own read-only data.
static CHILD_NAME: [u8; 9] = *b"exit-code";
/// Exit code the spawned child is told to use.
const CHILD_CODE: u64 = 17;
/// Text written from its own read-only data.
static OWN_TEXT: [u8; 42] = *b"hostile-boundary: written from the window\n";

/// The checks' bookkeeping.
struct Checks {
    /// Checks that failed.
    failures: u64,
}

impl Checks {
    /// Checks that `result` carries one of `expected`; prints a line.
    fn expect(&mut self, what: &str, result: (u64, u64), expected: &[ErrorCode]) {
        let found = ErrorCode::from_value(result.0);
        let ok = found.is_some_and(|code| expected.contains(&code));
        let found_name = found.map_or("not a code", ErrorCode::name);
        if ok {
            shoal_rt::println!("hostile-boundary: {what} -> {found_name} ok");
        } else {
            shoal_rt::print!("hostile-boundary: {what} -> {found_name} (raw {}), expected", result.0);
            for code in expected {
                shoal_rt::print!(" {code}");
            }
            shoal_rt::println!(" FAILED");
            self.failures += 1;
        }
    }

    /// Records a check that is not a call result.
    fn require(&mut self, what: core::fmt::Arguments<'_>, ok: bool) {
        if ok {
            shoal_rt::println!("hostile-boundary: {what} ok");
        } else {
            shoal_rt::println!("hostile-boundary: {what} FAILED");
            self.failures += 1;
        }
    }
}

/// Makes system call `call` with `arguments`.
fn call(call: Syscall, arguments: [u64; 6]) -> (u64, u64) {
    raw(call.number(), arguments)
}

/// The boundary ranges every call that reads or writes a user range is tried with: a name, the
/// address and the length. None of them may be used by the kernel.
const BAD_RANGES: [(&str, u64, u64); 8] = [
    ("null", 0, 8),
    ("kernel half", KERNEL_ADDRESS, 8),
    ("non-canonical high", NON_CANONICAL_HIGH, 8),
    ("non-canonical low", NON_CANONICAL_LOW, 8),
    ("unmapped user memory", UNMAPPED_USER_ADDRESS, 8),
    ("end of user space, length 0", USER_END, 0),
    ("16 bytes ending at the end of user space", LAST_SIXTEEN, 16),
    ("the last user page", LAST_USER_PAGE, 8),
];

fn main(_argument: u64) -> u64 {
    let mut checks = Checks { failures: 0 };
    let stack_buffer = [0u8; 64];
    let stack_address = stack_buffer.as_ptr() as u64;
    let wrapping_length = (u64::MAX - stack_address).wrapping_add(2);
    let own_name = OWN_NAME.as_ptr() as u64;
    shoal_rt::println!("hostile-boundary: own read-only data at {own_name:#x}, stack at {stack_address:#x}");
    checks.require(
        format_args!("own read-only data lies in the window"),
        (GLOBAL_WINDOW_START..GLOBAL_WINDOW_END).contains(&own_name),
    );

    write_checks(&mut checks, stack_address, wrapping_length);
    name_checks(&mut checks, Syscall::Spawn, stack_address, wrapping_length);
    name_checks(&mut checks, Syscall::VerifyBinary, stack_address, wrapping_length);
    wait_checks(&mut checks, stack_address);
    invoke_checks(&mut checks, stack_address, wrapping_length);
    protect_checks(&mut checks, stack_address, wrapping_length);

    shoal_rt::println!("hostile-boundary: {} failures", checks.failures);
    checks.failures
}

/// `write(pointer, length)` with every boundary.
fn write_checks(checks: &mut Checks, stack_address: u64, wrapping_length: u64) {
    for (name, address, length) in BAD_RANGES {
        checks.expect(&label("write", name), call(Syscall::Write, [address, length, 0, 0, 0, 0]), &[ErrorCode::BadAddress]);
    }
    // The first slot of the window holds some binary: readable when it is this one or when
    // protection keys are off, refused otherwise. Four bytes: an ELF header starts "\x7fELF".
    shoal_rt::print!("hostile-boundary: the window's first bytes: ");
    let result = call(Syscall::Write, [GLOBAL_WINDOW_START, 4, 0, 0, 0, 0]);
    shoal_rt::println!();
    checks.expect(
        "write the window start (4 bytes; another binary's unless it is ours)",
        result,
        &[ErrorCode::Success, ErrorCode::BadAddress],
    );
    let own_text = OWN_TEXT.as_ptr() as u64;
    let result = call(Syscall::Write, [own_text, OWN_TEXT.len() as u64, 0, 0, 0, 0]);
    checks.expect("write own read-only data (in the window)", result, &[ErrorCode::Success]);
    checks.require(format_args!("write own read-only data returned {} bytes", result.1), result.1 == OWN_TEXT.len() as u64);
    checks.expect(
        "write with a wrapping length",
        call(Syscall::Write, [stack_address, wrapping_length, 0, 0, 0, 0]),
        &[ErrorCode::TooLarge],
    );
    checks.expect(
        "write a valid stack range with length 0",
        call(Syscall::Write, [stack_address, 0, 0, 0, 0, 0]),
        &[ErrorCode::Success],
    );
}

/// `spawn(name, length, argument)` or `verify_binary(name, length)` with every boundary.
fn name_checks(checks: &mut Checks, which: Syscall, stack_address: u64, wrapping_length: u64) {
    let call_name = which.name();
    for (name, address, length) in BAD_RANGES {
        // A zero length is refused too; whether as a bad name or a bad range depends on which
        // the kernel checks first.
        let expected: &[ErrorCode] =
            if length == 0 { &[ErrorCode::BadAddress, ErrorCode::InvalidArgument] } else { &[ErrorCode::BadAddress] };
        checks.expect(&label(call_name, name), call(which, [address, length, 0, 0, 0, 0]), expected);
    }
    // The first bytes of the window's first slot: refused, or read and not a binary's name.
    checks.expect(
        &label(call_name, "the window start"),
        call(which, [GLOBAL_WINDOW_START, 8, 0, 0, 0, 0]),
        &[ErrorCode::BadAddress, ErrorCode::NotFound, ErrorCode::InvalidArgument],
    );
    checks.expect(
        &label(call_name, "a wrapping length"),
        call(which, [stack_address, wrapping_length, 0, 0, 0, 0]),
        &[ErrorCode::TooLarge],
    );
    if which == Syscall::Spawn {
        let result = call(which, [CHILD_NAME.as_ptr() as u64, CHILD_NAME.len() as u64, CHILD_CODE, 0, 0, 0]);
        checks.expect("spawn a name in own read-only data (the window)", result, &[ErrorCode::Success]);
        if result.0 == ErrorCode::Success.value() {
            let status = syscall::wait(result.1);
            checks.require(
                format_args!("the child exited with {CHILD_CODE}: {status:?}"),
                status == Ok(ExitStatus { reason: EndReason::Exited as u64, code: CHILD_CODE }),
            );
        }
    } else {
        let result = call(which, [OWN_NAME.as_ptr() as u64, OWN_NAME.len() as u64, 0, 0, 0, 0]);
        checks.expect("verify_binary a name in own read-only data (the window)", result, &[ErrorCode::Success]);
        checks.require(format_args!("verify_binary of itself returned {} (intact)", result.1), result.1 == 1);
    }
}

/// `wait(pid, status)`: the status pointer is checked before the pid.
fn wait_checks(checks: &mut Checks, stack_address: u64) {
    for (name, address, _) in BAD_RANGES {
        checks.expect(&label("wait status", name), call(Syscall::Wait, [NO_SUCH_PROCESS, address, 0, 0, 0, 0]), &[ErrorCode::BadAddress]);
    }
    checks.expect(
        "wait status at the window start (read-only)",
        call(Syscall::Wait, [NO_SUCH_PROCESS, GLOBAL_WINDOW_START, 0, 0, 0, 0]),
        &[ErrorCode::BadAddress],
    );
    checks.expect(
        "wait status in own read-only data (the window)",
        call(Syscall::Wait, [NO_SUCH_PROCESS, OWN_NAME.as_ptr() as u64, 0, 0, 0, 0]),
        &[ErrorCode::BadAddress],
    );
    checks.expect(
        "wait status wrapping around",
        call(Syscall::Wait, [NO_SUCH_PROCESS, u64::MAX - 7, 0, 0, 0, 0]),
        &[ErrorCode::BadAddress],
    );
    checks.expect(
        "wait with a valid status for a process that is no child",
        call(Syscall::Wait, [NO_SUCH_PROCESS, stack_address, 0, 0, 0, 0]),
        &[ErrorCode::NoSuchChild],
    );
}

/// `invoke_wait` and `invoke_done` from a process that is no instance: refused before the
/// buffer is looked at.
fn invoke_checks(checks: &mut Checks, stack_address: u64, wrapping_length: u64) {
    for (name, address, length) in BAD_RANGES {
        checks.expect(&label("invoke_wait", name), call(Syscall::InvokeWait, [address, length, 0, 0, 0, 0]), &[ErrorCode::NotAnInstance]);
    }
    let cases = [
        ("the window start", GLOBAL_WINDOW_START, 64),
        ("own read-only data", OWN_NAME.as_ptr() as u64, 16),
        ("a wrapping length", stack_address, wrapping_length),
        ("a valid stack buffer", stack_address, 64),
    ];
    for (name, address, length) in cases {
        checks.expect(&label("invoke_wait", name), call(Syscall::InvokeWait, [address, length, 0, 0, 0, 0]), &[ErrorCode::NotAnInstance]);
    }
    checks.expect("invoke_done", call(Syscall::InvokeDone, [5, 0, 0, 0, 0, 0]), &[ErrorCode::NotAnInstance]);
}

/// `protect(address, length, access)` with every boundary.
fn protect_checks(checks: &mut Checks, stack_address: u64, wrapping_length: u64) {
    let write = abi::ACCESS_WRITE;
    let stack_page = stack_address & !(PAGE_BYTES - 1);
    let own_page = OWN_NAME.as_ptr() as u64 & !(PAGE_BYTES - 1);
    let protect = |address: u64, length: u64, access: u64| call(Syscall::Protect, [address, length, access, 0, 0, 0]);
    checks.expect("protect null", protect(0, PAGE_BYTES, write), &[ErrorCode::BadAddress]);
    checks.expect("protect the window start", protect(GLOBAL_WINDOW_START, PAGE_BYTES, write), &[ErrorCode::Forbidden]);
    checks.expect("protect the window start read-only", protect(GLOBAL_WINDOW_START, PAGE_BYTES, 0), &[ErrorCode::Forbidden]);
    checks.expect("protect own page in the window", protect(own_page, PAGE_BYTES, write), &[ErrorCode::Forbidden]);
    checks.expect("protect the kernel half", protect(KERNEL_ADDRESS, PAGE_BYTES, write), &[ErrorCode::Forbidden]);
    checks.expect("protect the kernel image", protect(0xffff_ffff_8000_0000, PAGE_BYTES, 0), &[ErrorCode::Forbidden]);
    // Non-canonical: never the caller's; refused as forbidden or as a bad address.
    checks.expect(
        "protect non-canonical high",
        protect(NON_CANONICAL_HIGH, PAGE_BYTES, write),
        &[ErrorCode::Forbidden, ErrorCode::BadAddress],
    );
    checks.expect(
        "protect non-canonical low",
        protect(NON_CANONICAL_LOW, PAGE_BYTES, write),
        &[ErrorCode::Forbidden, ErrorCode::BadAddress],
    );
    checks.expect("protect unmapped user memory", protect(UNMAPPED_USER_ADDRESS, PAGE_BYTES, write), &[ErrorCode::BadAddress]);
    checks.expect("protect user space above the window", protect(GLOBAL_WINDOW_END, PAGE_BYTES, write), &[ErrorCode::BadAddress]);
    checks.expect("protect the last user page", protect(LAST_USER_PAGE, PAGE_BYTES, write), &[ErrorCode::BadAddress]);
    // A zero-length range at the end of user space: refused (as a bad range or a bad length).
    checks.expect(
        "protect the end of user space, length 0",
        protect(USER_END, 0, write),
        &[ErrorCode::BadAddress, ErrorCode::InvalidArgument, ErrorCode::Forbidden],
    );
    checks.expect("protect unaligned address", protect(stack_page + 1, PAGE_BYTES, write), &[ErrorCode::InvalidArgument]);
    checks.expect("protect unaligned length", protect(stack_page, 1, write), &[ErrorCode::InvalidArgument]);
    // The length wraps around from the stack buffer; from the stack page it may instead end
    // in the kernel half (forbidden). Its length is unaligned too.
    checks.expect(
        "protect a wrapping length",
        protect(stack_page, wrapping_length, write),
        &[ErrorCode::BadAddress, ErrorCode::InvalidArgument, ErrorCode::Forbidden],
    );
    // From the stack page itself the range does wrap (to end at address 1).
    let page_wrapping_length = (u64::MAX - stack_page).wrapping_add(2);
    checks.expect(
        "protect a length wrapping from the stack page",
        protect(stack_page, page_wrapping_length, write),
        &[ErrorCode::BadAddress, ErrorCode::InvalidArgument, ErrorCode::Forbidden],
    );
    checks.expect("protect own stack page writable", protect(stack_page, PAGE_BYTES, write), &[ErrorCode::Success]);
}

/// Returns "`call` `case`" in a fixed buffer (no heap): the check's label.
fn label(call: &str, case: &str) -> Label {
    let mut label = Label { bytes: [0; 96], used: 0 };
    label.push(call);
    label.push(" ");
    label.push(case);
    label
}

/// A short label assembled on the stack.
struct Label {
    /// The bytes.
    bytes: [u8; 96],
    /// Bytes used.
    used: usize,
}

impl Label {
    /// Appends `text`, cut at the capacity (on a character boundary: the labels are ASCII).
    fn push(&mut self, text: &str) {
        for &byte in text.as_bytes() {
            if self.used < self.bytes.len() {
                self.bytes[self.used] = byte;
                self.used += 1;
            }
        }
    }
}

impl core::ops::Deref for Label {
    type Target = str;

    fn deref(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.used]).unwrap_or("?")
    }
}
