//! The Linux programs on Linux: the same static-pie binaries that shoal runs through its Linux
//! personality (`js-runtime`, `lua-runtime`, `linux-std-test`) run on this host, speaking the
//! FaaS frame protocol of `abi::linux` over pipes (`userland/linux/check-runtimes.py`: every
//! handler of both runtimes answers, repeats its checksum for a seed, fails its self-check when
//! corrupted, and the protocol's error exits hold).

use std::io::{Read, Write};
use std::process::{Command, Stdio};

/// What `js-runtime` answers for handler 0 (`json`) and seed 7: the `cargo run` demo prints the
/// same number from inside shoal (`tests/qemu.rs`, `check_demo`): the same binary, the same answer.
const JSON_SEED_7: u64 = 0x12d_5665_ba70_b013;

#[test]
fn the_runtimes_serve_every_handler_on_a_linux_host_over_pipes() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/userland/linux/check-runtimes.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(env!("SHOAL_LINUX_PROGRAMS"))
        .output()
        .expect("running python3 (Debian's python3 package)");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "check-runtimes.py failed:\n{text}");
    assert!(text.contains("all checks passed 0 failures"), "{text}");
    for runtime in ["js-runtime", "lua-runtime"] {
        for (number, handler) in ["json", "aes", "compress", "sha256", "matmul", "rotate", "regex", "pagerank"].iter().enumerate() {
            assert!(text.contains(&format!("ok   {runtime} {number} ({handler}): ")), "{runtime} {handler} not checked:\n{text}");
        }
    }
}

#[test]
fn the_native_workloads_built_for_musl_answer_what_the_native_ones_compute() {
    // `userland/linux/check-workloads.py`: synth-{small,medium,large}-musl against the checksums
    // of `userland/programs/src/synthetic.rs`'s formulas, wasm-runtime-musl against the handlers
    // compiled to machine code (`wasm-reference`, which the root build script builds too).
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/userland/linux/check-workloads.py");
    let output = Command::new("python3").arg(script).arg(env!("SHOAL_LINUX_PROGRAMS")).output().expect("running python3");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "check-workloads.py failed:\n{text}");
    for program in ["synth-small-musl", "synth-medium-musl", "synth-large-musl", "wasm-runtime-musl"] {
        assert!(text.contains(program), "{program} not checked:\n{text}");
    }
}

#[test]
fn js_runtime_gives_on_linux_the_answer_it_gives_on_shoal() {
    let binary = concat!(env!("SHOAL_LINUX_PROGRAMS"), "/js-runtime");
    let mut child = Command::new(binary).arg("0").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting js-runtime");
    let mut payload = [0u8; 16];
    payload[..8].copy_from_slice(&7u64.to_le_bytes());
    let mut input = child.stdin.take().expect("stdin");
    input.write_all(&16u32.to_le_bytes()).and_then(|()| input.write_all(&payload)).and_then(|()| input.write_all(&0u32.to_le_bytes())).expect("writing frames");
    drop(input);
    let mut output = Vec::new();
    child.stdout.take().expect("stdout").read_to_end(&mut output).expect("reading the result frame");
    let status = child.wait().expect("js-runtime ends");
    assert!(status.success(), "js-runtime exited with {status}");
    assert_eq!(output.len(), 12, "one result frame: {output:?}");
    assert_eq!(output[..4], 8u32.to_le_bytes());
    let answer = u64::from_le_bytes(output[4..].try_into().expect("8 bytes"));
    assert_eq!(answer, JSON_SEED_7, "{answer:#x}");
}
