#!/usr/bin/env bash
# setup.sh — installs everything a fresh Debian 12 machine needs to build, run and test shoal.
#
# Idempotent: each step checks whether its work is already done and says so. Safe to run twice.
#   - the Rust toolchain pinned in rust-toolchain.toml (with rust-src, llvm-tools-preview and the
#     x86_64-unknown-none and wasm32-unknown-unknown targets: the kernel and user programs, and the
#     WebAssembly function modules), through rustup: automatic toolchain install is off on these machines;
#   - QEMU 10 (qemu-system-x86) from bookworm-backports, plus ovmf (UEFI firmware), xorriso, mtools;
#   - Bochs 2.7 (bochs, bochsbios, vgabios): the second emulator of the test suite, whose CPU models
#     have PCID, INVPCID and protection keys (bochs-runner.sh holds its configuration);
#   - musl-tools and gcc: the Linux personality's C test programs are built with Debian's musl
#     (musl-gcc) as static-pie executables.
# `shoal bench` draws its charts (SVG and PNG) itself, with a font built into the binary: it needs
# no system package.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
say() { printf 'setup: %s\n' "$*"; }

sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo_cmd="sudo"; else
        say "not root and no sudo: cannot install system packages"; exit 1; fi
fi

# --- Rust toolchain -------------------------------------------------------------------------------
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' "$here/rust-toolchain.toml")
[ -n "$toolchain" ] || { say "cannot read the channel from rust-toolchain.toml"; exit 1; }
if ! command -v rustup >/dev/null 2>&1; then
    say "rustup is missing; install it first (https://rustup.rs), then run this script again"
    exit 1
fi
if rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    say "toolchain $toolchain already installed"
else
    say "installing toolchain $toolchain"
fi
# `rustup toolchain install` is itself idempotent and adds any missing component or target.
rustup toolchain install "$toolchain" --profile minimal \
    --component rust-src,llvm-tools-preview,clippy,rustfmt --target x86_64-unknown-none,wasm32-unknown-unknown 2>&1 |
    sed 's/^/setup:   /'
# A toolchain installed earlier without one of the targets gets it here (also idempotent).
rustup target add --toolchain "$toolchain" x86_64-unknown-none wasm32-unknown-unknown 2>&1 | sed 's/^/setup:   /'

# --- System packages ------------------------------------------------------------------------------
backports=/etc/apt/sources.list.d/shoal-bookworm-backports.sources
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ "$codename" = "bookworm" ]; then
    if grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        say "bookworm-backports already in apt's sources"
    else
        say "adding bookworm-backports to apt's sources ($backports)"
        $sudo_cmd tee "$backports" >/dev/null <<SRC
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    fi
else
    say "not Debian 12 (codename '$codename'): installing qemu-system-x86 from the default suites"
fi

qemu_major() {
    command -v qemu-system-x86_64 >/dev/null 2>&1 || { echo 0; return; }
    qemu-system-x86_64 --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -n1
}
missing=()
for pkg in ovmf xorriso mtools bochs bochsbios vgabios musl-tools gcc; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "$(qemu_major)" -ge 10 ]; then
    say "QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}') already installed"
    qemu_pkg=()
else
    qemu_pkg=(qemu-system-x86)
fi
if [ ${#missing[@]} -eq 0 ] && [ ${#qemu_pkg[@]} -eq 0 ]; then
    say "system packages already installed (qemu-system-x86, ovmf, xorriso, mtools, bochs, bochsbios, vgabios)"
else
    say "apt-get update"
    $sudo_cmd apt-get update -qq
    export DEBIAN_FRONTEND=noninteractive
    if [ ${#qemu_pkg[@]} -ne 0 ]; then
        if [ "$codename" = "bookworm" ]; then
            say "installing qemu-system-x86 from bookworm-backports"
            $sudo_cmd apt-get install -y -qq -t bookworm-backports qemu-system-x86 >/dev/null
        else
            say "installing qemu-system-x86"
            $sudo_cmd apt-get install -y -qq qemu-system-x86 >/dev/null
        fi
    fi
    if [ ${#missing[@]} -ne 0 ]; then
        say "installing ${missing[*]}"
        $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
fi
say "QEMU: $(qemu-system-x86_64 --version | head -n1)"
say "Bochs: $(dpkg-query -W -f='${Version}' bochs) ($(command -v bochs))"
say "done"
