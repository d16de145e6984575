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
#     (musl-gcc) as static-pie executables;
#   - cpio: the host tool's unit tests list the Linux guest's initramfs with it; xz-utils: unpacks
#     the guest kernel's image;
#   - the Linux baseline's guest kernel pinned in guest/linux/kernel.pin (a Debian 12 kernel
#     package): fetched with `apt-get download`, checked against the pinned SHA-256 and unpacked
#     into ${SHOAL_CACHE_DIR:-$HOME/.cache/shoal}/linux-guest/<version>/ (vmlinuz, vmlinux, config,
#     package.sha256). It is never installed on this host.
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
for pkg in ovmf xorriso mtools bochs bochsbios vgabios musl-tools gcc cpio xz-utils; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ "$(qemu_major)" -ge 10 ]; then
    say "QEMU $(qemu-system-x86_64 --version | head -n1 | awk '{print $4}') already installed"
    qemu_pkg=()
else
    qemu_pkg=(qemu-system-x86)
fi
if [ ${#missing[@]} -eq 0 ] && [ ${#qemu_pkg[@]} -eq 0 ]; then
    say "system packages already installed (qemu-system-x86, ovmf, xorriso, mtools, bochs, bochsbios, vgabios, musl-tools, gcc, cpio, xz-utils)"
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
# --- Linux guest kernel ---------------------------------------------------------------------------
# The Linux baseline boots a stock Debian kernel as its guest. guest/linux/kernel.pin names the
# package, its version and the SHA-256 of its .deb; the kernel image and its configuration are
# unpacked into a cache directory that src/linux_guest/ finds the same way. package.sha256 is
# written last, so its presence with the pinned digest marks a complete copy.
#
# vmlinux is the kernel ELF file inside the bzImage vmlinuz, unpacked here: it has a PVH entry
# note (CONFIG_PVH=y), so QEMU's -kernel starts it directly and the guest skips decompressing
# itself: booted from the bzImage, the boot code and XZ decompressor ran 4.5 billion instructions
# under TCG against the kernel's own 1.4 billion, most of a boot's time under the tlbsim plugin.
pin=$here/guest/linux/kernel.pin
pin_value() {
    local value
    value=$(sed -n "s/^$1=//p" "$pin" | head -n1)
    [ -n "$value" ] || { say "$pin has no '$1=' line" >&2; exit 1; }
    printf '%s' "$value"
}
guest_package=$(pin_value package)
guest_version=$(pin_value version)
guest_sha256=$(pin_value sha256)
guest_vmlinuz=$(pin_value vmlinuz)
guest_release=$(pin_value release)
guest_dir=${SHOAL_CACHE_DIR:-$HOME/.cache/shoal}/linux-guest/$guest_version
if [ -f "$guest_dir/vmlinuz" ] && [ -f "$guest_dir/vmlinux" ] && [ -f "$guest_dir/config" ] &&
    [ "$(cat "$guest_dir/package.sha256" 2>/dev/null)" = "$guest_sha256" ]; then
    say "Linux guest kernel $guest_package $guest_version already in $guest_dir"
else
    say "fetching the Linux guest kernel $guest_package $guest_version into $guest_dir (not installed here)"
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    # Root's downloads run as the _apt user, which must be able to write the directory.
    chmod 0755 "$work"
    mkdir "$work/deb" "$work/root"
    [ "$(id -u)" -ne 0 ] || chown _apt "$work/deb" 2>/dev/null || true
    download() { (cd "$work/deb" && apt-get download -qq "$guest_package=$guest_version") >/dev/null; }
    if ! download 2>/dev/null; then
        # A fresh machine has no package lists yet (the section above updates them only when it
        # installs something).
        say "apt-get update (apt-get download did not find the package)"
        $sudo_cmd apt-get update -qq
        download || { say "cannot download $guest_package=$guest_version: is bookworm or bookworm-security in apt's sources?"; exit 1; }
    fi
    deb=$(find "$work/deb" -name '*.deb' | head -n1)
    [ -n "$deb" ] || { say "apt-get download left no .deb file"; exit 1; }
    actual=$(sha256sum "$deb" | awk '{print $1}')
    if [ "$actual" != "$guest_sha256" ]; then
        say "SHA-256 mismatch for $(basename "$deb"):"
        say "  pinned in guest/linux/kernel.pin: $guest_sha256"
        say "  downloaded:                       $actual"
        say "refusing to use it; if Debian rebuilt the package, pin the new digest on purpose"
        exit 1
    fi
    say "SHA-256 of $(basename "$deb") matches the pin"
    dpkg-deb -x "$deb" "$work/root"
    [ -f "$work/root/$guest_vmlinuz" ] || { say "the package has no $guest_vmlinuz"; exit 1; }
    [ -f "$work/root/boot/config-$guest_release" ] || { say "the package has no boot/config-$guest_release"; exit 1; }
    for option in CONFIG_KERNEL_XZ=y CONFIG_PVH=y; do
        grep -qx "$option" "$work/root/boot/config-$guest_release" ||
            { say "the kernel's configuration lacks $option: this script unpacks XZ-compressed PVH kernels only"; exit 1; }
    done
    # The compressed kernel is one XZ stream inside the bzImage, starting with XZ's magic number
    # (FD '7zXZ' 00; bash cannot hold the NUL, and the first five bytes are enough).
    xz_offset=$(LC_ALL=C grep -m1 -abo $'\xfd7zXZ' "$work/root/$guest_vmlinuz" | head -n1 | cut -d: -f1)
    [ -n "$xz_offset" ] || { say "no XZ stream in $guest_vmlinuz"; exit 1; }
    tail -c "+$((xz_offset + 1))" "$work/root/$guest_vmlinuz" >"$work/payload.xz"
    xz -dc --single-stream "$work/payload.xz" >"$work/vmlinux"
    [ "$(head -c 4 "$work/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ] ||
        { say "the XZ stream in $guest_vmlinuz is not an ELF file"; exit 1; }
    mkdir -p "$guest_dir"
    rm -f "$guest_dir/package.sha256"
    cp "$work/root/$guest_vmlinuz" "$guest_dir/vmlinuz"
    cp "$work/vmlinux" "$guest_dir/vmlinux"
    cp "$work/root/boot/config-$guest_release" "$guest_dir/config"
    printf '%s\n' "$actual" >"$guest_dir/package.sha256"
    rm -rf "$work"
    trap - EXIT
    say "Linux guest kernel $guest_release in $guest_dir"
fi

say "QEMU: $(qemu-system-x86_64 --version | head -n1)"
say "Bochs: $(dpkg-query -W -f='${Version}' bochs) ($(command -v bochs))"
say "done"
