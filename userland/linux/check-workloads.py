#!/usr/bin/env python3
"""Host check of the Linux builds of shoal's native workloads: synth-small-musl, synth-medium-musl,
synth-large-musl and wasm-runtime-musl (the sources of userland/programs built for
x86_64-unknown-linux-musl, see userland/linux/programs/Cargo.toml).

Runs the binaries directly on this Linux host and speaks the FaaS protocol of abi::linux to them
over pipes (invocation frames on fd 0: u32 LE length, then the payload, length 0 = shut down;
result frames on fd 1: u32 LE 8, then the u64 LE result), writing each frame in two pieces.

- Each ELF: a static-pie (ET_DYN, no PT_INTERP) without shoal's personality note (so shoal runs it
  as a Linux binary), every PT_LOAD aligned to 2 MiB and no 2 MiB region shared by a writable and a
  read-only segment, no segment writable and executable; for the synthetic runtimes the code lies
  in an executable read-only segment and the data in a read-only one.
- synth-*-musl: payloads in kernel/src/faas.rs's synthetic_payload format (seed u64, code steps
  u32, data steps u32) must give the checksum computed here from userland/programs/src/synthetic.rs's
  formulas (xorshift64 walk, page index sums, the build script's data tags): what the native
  program computes for the same payload. Then the protocol's ends: the shut-down frame exits 0, a
  short payload exits 5 (BAD_PAYLOAD, as natively), end of file before a frame and a frame over
  64 bytes exit 1 with a line on fd 2 (natively: invoke_wait's error).
- wasm-runtime-musl: each handler 0..7 answers the seeds of the kernel's `wasm` suite
  (0x5eed0000 + round * 8 + function, rounds 0..2) and a few more with the outcomes of
  `wasm-reference` (the same handlers' library compiled to machine code and run directly, built
  here with `cargo build --release -p wasm-reference`); the per-function summary is printed as the
  kernel's `wasm` suite prints it ("checksum" = fold of rotate_left(17) ^ answer over the rounds),
  to compare with a native run. FLAG_CORRUPT exits 42 with a self-check line, argv[1]=8 exits 40, a
  short payload 44, end of file before the shut-down frame 1.

Usage: check-workloads.py [BIN_DIR]   (default: target/x86_64-unknown-linux-musl/release)
"""
import os
import struct
import subprocess
import sys
import time

import frames

HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 120
PAGE = 4096
MASK = (1 << 64) - 1
FUNCTIONS = ["json", "aes", "compress", "sha256", "matmul", "rotate", "regex", "pagerank"]
FLAG_CORRUPT = 1
EXIT_UNKNOWN_FUNCTION, EXIT_SELF_CHECK_FAILED, EXIT_BAD_PAYLOAD = 40, 42, 44
SYNTHETIC_BAD_PAYLOAD = 5
SYNTHETIC_MIB = {"small": 1, "medium": 8, "large": 64}
WASM_SUITE_SEED_BASE, WASM_SUITE_ROUNDS = 0x5EED0000, 3
PT_LOAD, PT_INTERP, PT_NOTE = 1, 3, 4
PF_X, PF_W = 1, 2
TWO_MIB = 0x200000

failures = []


def fail(message):
    failures.append(message)
    print("FAIL:", message)


# --- the synthetic runtime's arithmetic (userland/programs/src/synthetic.rs, synthetic-blobs.rs) ---

def data_tag(page):
    z = (page + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def synthetic_checksum(mebibytes, seed, code_steps, data_steps):
    """What synthetic::invoke returns for the payload (code and data have equal page counts)."""
    pages = mebibytes * 1024 * 1024 // PAGE
    state = (seed | 1) & MASK

    def step():
        nonlocal state
        state ^= (state << 13) & MASK
        state ^= state >> 7
        state ^= (state << 17) & MASK
        return state

    accumulator = 0
    for _ in range(code_steps):
        accumulator = (accumulator + step() % pages) & MASK
    checksum = accumulator
    for _ in range(data_steps):
        checksum ^= data_tag(step() % pages)
    return checksum


# --- the protocol ---

def finish(process, shut_down=True):
    return frames.finish(process, TIMEOUT, shut_down)


def check_exit(label, binary, argument, payloads, want_code, want_stderr, shut_down=False):
    process = frames.start(binary, argument)
    for payload in payloads:
        frames.send(process, payload)
    code, stderr = finish(process, shut_down)
    if code != want_code or (want_stderr is not None and want_stderr not in stderr):
        fail(f"{label}: exit {code}, stderr {stderr!r} (wanted {want_code}, {want_stderr!r})")
    else:
        print(f"ok   {label}: exit {code}{': ' + stderr if stderr else ''}")


# --- the ELF layout ---

def check_elf(binary, synthetic):
    name = os.path.basename(binary)
    with open(binary, "rb") as file:
        header = file.read(64)
        (e_type,) = struct.unpack_from("<H", header, 16)
        (e_phoff,) = struct.unpack_from("<Q", header, 32)
        e_phentsize, e_phnum = struct.unpack_from("<HH", header, 54)
        file.seek(e_phoff)
        table = file.read(e_phentsize * e_phnum)
        segments = [struct.unpack_from("<IIQQQQQQ", table, index * e_phentsize) for index in range(e_phnum)]
        notes = b""
        for (p_type, _, offset, _, _, size, _, _) in segments:
            if p_type == PT_NOTE:
                file.seek(offset)
                notes += file.read(size)
    problems = []
    if e_type != 3:
        problems.append(f"e_type {e_type}, not ET_DYN")
    if any(segment[0] == PT_INTERP for segment in segments):
        problems.append("PT_INTERP")
    if b"shoal\0" in notes:
        problems.append("shoal's personality note (shoal would run it as a native program)")
    loads = [segment for segment in segments if segment[0] == PT_LOAD]
    regions = {}
    for (_, flags, _, vaddr, _, _, memsz, align) in loads:
        if align != TWO_MIB:
            problems.append(f"PT_LOAD at {vaddr:#x} aligned to {align:#x}")
        if flags & PF_W and flags & PF_X:
            problems.append(f"PT_LOAD at {vaddr:#x} writable and executable")
        for region in range(vaddr // TWO_MIB, (vaddr + memsz - 1) // TWO_MIB + 1):
            regions.setdefault(region, set()).add(bool(flags & PF_W))
    shared = [region for region, kinds in regions.items() if len(kinds) > 1]
    if shared:
        problems.append(f"2 MiB regions {[hex(region * TWO_MIB) for region in shared]} hold writable and read-only segments")
    if synthetic:
        mebibytes = SYNTHETIC_MIB[synthetic]
        code = [load for load in loads if load[1] & PF_X and not load[1] & PF_W]
        data = [load for load in loads if not load[1] & (PF_X | PF_W)]
        if not any(load[6] >= mebibytes << 20 for load in code) or not any(load[6] >= mebibytes << 20 for load in data):
            problems.append(f"no read-only executable and read-only data segment of {mebibytes} MiB")
    layout = ", ".join(f"{'R' + ('W' if flags & PF_W else '') + ('X' if flags & PF_X else '')} {memsz:#x} at {vaddr:#x}" for (_, flags, _, vaddr, _, _, memsz, _) in loads)
    if problems:
        fail(f"{name}: {'; '.join(problems)}")
    else:
        print(f"ok   {name}: static-pie, no personality note, PT_LOADs {layout}")


# --- the programs ---

def check_synthetic(binary, preset):
    name = os.path.basename(binary)
    mebibytes = SYNTHETIC_MIB[preset]
    pages = mebibytes * 256
    check_elf(binary, preset)
    cases = [(0, 0, 0), (1, 1, 0), (1, 0, 1), (0x5EED, 64, 64), (7, 1000, 1000), (MASK, 4 * pages, 4 * pages), (0x1234_5678_9ABC_DEF0, 3, 5000)]
    for argument in [0, 5]:
        process = frames.start(binary, argument)
        answers, times = [], []
        for seed, code_steps, data_steps in cases:
            began = time.perf_counter()
            answers.append(frames.invoke(process, struct.pack("<QII", seed, code_steps, data_steps)))
            times.append(time.perf_counter() - began)
        # A longer payload (the kernel pads its frames to 64 bytes natively; only 16 count).
        answers.append(frames.invoke(process, struct.pack("<QII", 9, 10, 10) + bytes(48)))
        code, stderr = finish(process)
        wanted = [synthetic_checksum(mebibytes, *case) for case in cases] + [synthetic_checksum(mebibytes, 9, 10, 10)]
        if code != 0 or answers != wanted:
            fail(f"{name} {argument}: answers {[hex(a) if a is not None else None for a in answers]}, wanted {[hex(w) for w in wanted]}, exit {code}, stderr {stderr!r}")
        else:
            print(f"ok   {name} (argv[1]={argument}): {len(answers)} invocations as computed from synthetic.rs, e.g. {cases[3]} -> {answers[3]:#x}; "
                  f"ms per invocation {[round(t * 1000, 2) for t in times]}")
    check_exit(f"{name}: short payload", binary, 0, [b"\1" * 15], SYNTHETIC_BAD_PAYLOAD, None)
    check_exit(f"{name}: end of file before a frame", binary, 0, [], 1, "invoke_wait failed")
    check_exit(f"{name}: a frame of 65 bytes", binary, 0, [bytes(65)], 1, "invoke_wait failed: too-large")
    check_exit(f"{name}: argv[1] not a number", binary, "x", [], 2, "not a decimal")


def reference_outcomes(seeds):
    """(function, seed) -> the outcome of `wasm-reference` (built here)."""
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "wasm-reference"], cwd=HERE, check=True)
    output = subprocess.run([os.path.join(HERE, "target/x86_64-unknown-linux-musl/release/wasm-reference")] + [str(seed) for seed in seeds],
                            capture_output=True, text=True, check=True).stdout
    outcomes = {}
    for line in output.splitlines():
        number, _, seed, outcome = line.split()
        outcomes[int(number), int(seed)] = int(outcome)
    return outcomes


def rotate_left(value, bits):
    return ((value << bits) | (value >> (64 - bits))) & MASK


def check_wasm(binary):
    name = os.path.basename(binary)
    check_elf(binary, None)
    suite_seeds = {number: [WASM_SUITE_SEED_BASE + round_ * len(FUNCTIONS) + number for round_ in range(WASM_SUITE_ROUNDS)] for number in range(len(FUNCTIONS))}
    extra_seeds = [0, 1, 31, 0x5EED, MASK]
    outcomes = reference_outcomes(sorted({seed for seeds in suite_seeds.values() for seed in seeds} | set(extra_seeds)))
    for number, function in enumerate(FUNCTIONS):
        seeds = suite_seeds[number] + extra_seeds
        process = frames.start(binary, number)
        answers, times = [], []
        for seed in seeds:
            began = time.perf_counter()
            answers.append(frames.invoke(process, struct.pack("<QQ", seed, 0)))
            times.append(time.perf_counter() - began)
        code, stderr = finish(process)
        wanted = [outcomes[number, seed] for seed in seeds]
        if code != 0 or answers != wanted:
            fail(f"{name} {number} ({function}): answers {answers}, reference {wanted}, exit {code}, stderr {stderr!r}")
            continue
        summary = 0
        for answer in answers[:WASM_SUITE_ROUNDS]:
            summary = rotate_left(summary, 17) ^ answer
        print(f"ok   {name} {number} ({function}): {len(seeds)} seeds as wasm-reference; wasm suite: checksum {summary:#018x} "
              f"(first answer {answers[0]:#x}); ms per invocation {[round(t * 1000, 2) for t in times]}")
        check_exit(f"{name} {number} ({function}): corrupt", binary, number, [struct.pack("<QQ", 7, 0), struct.pack("<QQ", 7, FLAG_CORRUPT)],
                   EXIT_SELF_CHECK_FAILED, "self-check")
    check_exit(f"{name} {len(FUNCTIONS)}: unknown function", binary, len(FUNCTIONS), [], EXIT_UNKNOWN_FUNCTION, "no function")
    check_exit(f"{name}: short payload", binary, 0, [b"abc"], EXIT_BAD_PAYLOAD, "payload of 3 bytes")
    check_exit(f"{name}: end of file before the shut-down frame", binary, 0, [], 1, "invoke_wait failed")


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "target/x86_64-unknown-linux-musl/release")
    for preset in SYNTHETIC_MIB:
        check_synthetic(os.path.join(directory, f"synth-{preset}-musl"), preset)
    check_wasm(os.path.join(directory, "wasm-runtime-musl"))
    print("FAILED:" if failures else "all checks passed", len(failures), "failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
