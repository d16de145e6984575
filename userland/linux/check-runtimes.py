#!/usr/bin/env python3
"""Host check of shoal's Linux function runtimes (js-runtime, lua-runtime) and linux-std-test.

Runs the binaries directly on this Linux host and speaks the FaaS protocol of abi::linux to them
over pipes: frames on fd 0 (u32 LE length, then the abi::wasm::Payload: seed u64 LE, flags u64
LE; length 0 = shut down), result frames on fd 1 (u32 LE 8, then the u64 LE outcome).

For each runtime and each handler number 0..7: three invocations with different seeds give
non-negative checksums; a second instance gives the same checksums for the same seeds; the
shut-down frame ends it with 0; an invocation with FLAG_CORRUPT ends it with
EXIT_SELF_CHECK_FAILED (42) and a line on stderr. Also: argv[1]=8 exits with
EXIT_UNKNOWN_FUNCTION (40), a short payload with EXIT_BAD_PAYLOAD (44), end of file before the
shut-down frame with 1. The frames are written in pieces (a stream may deliver part of a frame).

Usage: check-runtimes.py [BIN_DIR]   (default: target/x86_64-unknown-linux-musl/release)
"""
import os
import struct
import subprocess
import sys
import time

import frames

FUNCTIONS = ["json", "aes", "compress", "sha256", "matmul", "rotate", "regex", "pagerank"]
FLAG_CORRUPT = 1
EXIT_UNKNOWN_FUNCTION, EXIT_SELF_CHECK_FAILED, EXIT_BAD_PAYLOAD = 40, 42, 44
SEEDS = [1, 0x5EED, 0xFFFFFFFFFFFFFFFF]
TIMEOUT = 60

failures = []


def fail(message):
    failures.append(message)
    print("FAIL:", message)


def invoke(process, seed, flags=0):
    """Sends one handler invocation; returns the outcome, or None if no frame came back."""
    return frames.invoke(process, struct.pack("<QQ", seed, flags))


def finish(process):
    """Closes the instance's stdin without a shut-down frame; returns (exit code, stderr)."""
    return frames.finish(process, TIMEOUT, shut_down=False)


def run_seeds(binary, number):
    process = frames.start(binary, number)
    times, results = [], []
    for seed in SEEDS:
        began = time.perf_counter()
        results.append(invoke(process, seed))
        times.append(time.perf_counter() - began)
    try:
        process.stdin.write(struct.pack("<I", 0))
        process.stdin.flush()
    except BrokenPipeError:
        pass
    code, stderr = finish(process)
    return results, code, stderr, times


def check_runtime(binary):
    name = os.path.basename(binary)
    for number, function in enumerate(FUNCTIONS):
        label = f"{name} {number} ({function})"
        first, code, stderr, times = run_seeds(binary, number)
        if code != 0:
            fail(f"{label}: shut-down exit {code}, stderr {stderr.strip()!r}")
            continue
        if any(result is None or result >= 1 << 63 for result in first):
            fail(f"{label}: results {first}")
            continue
        if len(set(first)) != len(first):
            fail(f"{label}: different seeds gave equal checksums {first}")
        second, code, _, _ = run_seeds(binary, number)
        if second != first:
            fail(f"{label}: not deterministic: {first} then {second}")
        process = frames.start(binary, number)
        ok = invoke(process, 7)
        corrupt = invoke(process, 7, FLAG_CORRUPT)
        code, stderr = finish(process)
        if ok is None or corrupt is not None or code != EXIT_SELF_CHECK_FAILED or "self-check" not in stderr:
            fail(f"{label}: corrupt invocation gave {corrupt}, exit {code}, stderr {stderr.strip()!r}")
        else:
            print(f"ok   {label}: {[hex(r) for r in first]}, ms per invocation {[round(t * 1000, 1) for t in times]}; corrupt: {stderr.strip()}")
    process = frames.start(binary, len(FUNCTIONS))
    code, stderr = finish(process)
    if code != EXIT_UNKNOWN_FUNCTION or not stderr.strip():
        fail(f"{name} {len(FUNCTIONS)}: exit {code}, stderr {stderr!r}")
    else:
        print(f"ok   {name} {len(FUNCTIONS)}: exit {code}: {stderr.strip()}")
    process = frames.start(binary, 0)
    process.stdin.write(struct.pack("<I", 3) + b"abc")
    process.stdin.flush()
    code, stderr = finish(process)
    if code != EXIT_BAD_PAYLOAD:
        fail(f"{name}: short payload: exit {code}, stderr {stderr!r}")
    else:
        print(f"ok   {name}: short payload: exit {code}: {stderr.strip()}")
    process = frames.start(binary, 0)
    code, stderr = finish(process)
    if code != 1:
        fail(f"{name}: end of file before shut-down: exit {code}, stderr {stderr!r}")
    else:
        print(f"ok   {name}: end of file before shut-down: exit {code}: {stderr.strip()}")


def check_std_test(binary, scenario):
    result = subprocess.run([binary, "x", scenario], capture_output=True, timeout=TIMEOUT)
    out = result.stdout.decode(errors="replace")
    if result.returncode != 0 or "linux-std-test: ok" not in out:
        fail(f"linux-std-test: exit {result.returncode}, stdout {out!r}, stderr {result.stderr!r}")
    else:
        print(f"ok   linux-std-test {scenario}: {out.strip().splitlines()[-1]}")
    result = subprocess.run([binary, "x", "/nonexistent/file"], capture_output=True, timeout=TIMEOUT)
    if result.returncode != 1:
        fail(f"linux-std-test with a missing file: exit {result.returncode}")
    else:
        print("ok   linux-std-test with a missing file: exit 1")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    directory = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "target/x86_64-unknown-linux-musl/release")
    for runtime in ["lua-runtime", "js-runtime"]:
        check_runtime(os.path.join(directory, runtime))
    check_std_test(os.path.join(directory, "linux-std-test"), os.path.abspath(__file__))
    print("FAILED:" if failures else "all checks passed", len(failures), "failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
