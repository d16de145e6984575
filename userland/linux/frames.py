"""The FaaS frame protocol of shoal's Linux programs (`abi::linux`), seen from a driver on a Linux
host: start an instance with pipes, send invocation frames (u32 little-endian length, then the
payload; length 0 shuts the instance down), read result frames (length 8, then a u64).

Shared by check-runtimes.py and check-workloads.py. Every write is split after its third byte, so
the instances are also checked to read fd 0 as a stream (a frame may arrive in pieces).
"""

import struct
import subprocess


def start(binary, argument):
    """Starts `binary argument` with pipes on its stdin, stdout and stderr."""
    return subprocess.Popen([binary, str(argument)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)


def read_exact(stream, count):
    """Reads `count` bytes, or returns None at end of file before them."""
    data = b""
    while len(data) < count:
        chunk = stream.read(count - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def send(process, payload):
    """Writes one invocation frame in two pieces; False if the instance closed its stdin."""
    data = struct.pack("<I", len(payload)) + payload
    try:
        process.stdin.write(data[:3])
        process.stdin.flush()
        process.stdin.write(data[3:])
        process.stdin.flush()
        return True
    except BrokenPipeError:
        return False


def invoke(process, payload):
    """Sends one invocation; returns the result, or None if no frame came back."""
    if not send(process, payload):
        return None
    header = read_exact(process.stdout, 4)
    if header is None:
        return None
    (length,) = struct.unpack("<I", header)
    if length != 8:
        raise RuntimeError(f"result frame length {length}")
    return struct.unpack("<Q", read_exact(process.stdout, 8))[0]


def finish(process, timeout, shut_down=True):
    """Sends the shut-down frame (unless told not to), closes stdin, waits for the exit; returns
    (exit code, stderr text)."""
    try:
        if shut_down:
            process.stdin.write(struct.pack("<I", 0))
            process.stdin.flush()
        process.stdin.close()
    except BrokenPipeError:
        pass
    code = process.wait(timeout)
    return code, process.stderr.read().decode(errors="replace").strip()
