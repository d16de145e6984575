#!/usr/bin/env bash
# bochs-runner.sh — the one place that holds Bochs configuration for shoal.
#
# Boots a shoal BIOS disk image in Bochs 2.7 (Debian's build, installed by setup.sh), whose CPU
# models have the PCID, INVPCID and protection-key paths that QEMU TCG lacks. Bochs has neither
# fw_cfg nor isa-debug-exit, and its own exit status means nothing (1, 124 or 134 after a clean
# run), so the kernel reads its arguments from the ramdisk's `args` file (build.rs makes
# shoal-bios-hardware.img with one) and the result is the kernel's final status line on COM1:
#
#   exit 0    the kernel printed `shoal: exit success`
#   exit 2    the kernel printed `shoal: exit failure (reason)`
#   exit 3    Bochs ended without a status line (a Bochs panic, a triple fault, a bad image)
#   exit 124  the timeout expired before the status line appeared
#   exit 64   bad usage of this script
#
# The script writes a bochsrc and a debugger command file into a private temporary directory,
# copies the image there padded to whole cylinders, prints the exact Bochs command and the bochsrc
# path, streams the serial output to stdout, stops Bochs as soon as the status line is complete
# (or at the timeout), and removes the directory. Runs in parallel do not collide: each has its own
# directory and image copy, and each takes an rfb (VNC) port of its own (see RFB below).
#
# Usage: bochs-runner.sh [options] IMAGE
#   --cpu-model MODEL      Bochs CPU model (default: corei7_icelake_u). Measured: corei7_icelake_u
#                          has PCID, INVPCID, PKU, SMEP and SMAP; corei7_haswell_4770 has PCID and
#                          INVPCID but no PKU and no SMAP; ryzen has no PCID. 'bochs -help cpu'
#                          lists them all
#   --memory MIB           guest memory in MiB (default: 1024)
#   --timeout SECONDS      stop Bochs after this long; 0 = never (default: 0)
#   --keep                 keep the temporary directory (bochsrc, Bochs' log and output, serial
#                          output, image copy) instead of removing it, and name it at the end
#   --dry-run              print the Bochs command and the bochsrc, and exit 0
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
say() { printf 'bochs-runner: %s\n' "$*" >&2; }
die_usage() { say "$*"; say "see: bochs-runner.sh --help"; exit 64; }

cpu_model=corei7_icelake_u memory=1024 timeout_seconds=0 dry_run=0 keep=0 image=""
while [ $# -gt 0 ]; do
    case "$1" in
        --cpu-model) [ $# -ge 2 ] || die_usage "--cpu-model needs an argument"; cpu_model=$2; shift 2 ;;
        --memory) [ $# -ge 2 ] || die_usage "--memory needs an argument"; memory=$2; shift 2 ;;
        --timeout) [ $# -ge 2 ] || die_usage "--timeout needs an argument"; timeout_seconds=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) die_usage "unknown option '$1'" ;;
        *) [ -z "$image" ] || die_usage "more than one image given"; image=$1; shift ;;
    esac
done

[[ "$memory" =~ ^[0-9]+$ ]] && [ "$memory" -ge 128 ] ||
    die_usage "--memory must be a whole number of MiB, at least 128, not '$memory'"
[[ "$timeout_seconds" =~ ^[0-9]+$ ]] || die_usage "--timeout must be a whole number of seconds, not '$timeout_seconds'"
[[ "$cpu_model" =~ ^[a-z0-9_]+$ ]] || die_usage "--cpu-model '$cpu_model' is not a Bochs CPU model name"
[ -n "$image" ] || die_usage "no disk image given"
[ -f "$image" ] || die_usage "disk image '$image' does not exist (build it with 'cargo build')"

command -v bochs >/dev/null 2>&1 || { say "bochs not found: run ./setup.sh (packages bochs, bochsbios, vgabios)"; exit 3; }
rom_bios=/usr/share/bochs/BIOS-bochs-latest
vga_bios=/usr/share/vgabios/vgabios-cirrus.bin
for firmware in "$rom_bios" "$vga_bios"; do
    [ -f "$firmware" ] || { say "$firmware not found: run ./setup.sh (packages bochsbios, vgabios)"; exit 3; }
done
# Bochs lists its CPU models itself; an unknown one would only show up as a panic in its log.
models=$(bochs -help cpu 2>&1 | awk '/^Supported CPU models:/ { on = 1; next } on && /^[a-z0-9_]+$/ { print }')
grep -qx -- "$cpu_model" <<<"$models" ||
    die_usage "--cpu-model '$cpu_model' is not one of Bochs' models: $(echo $models)"

work=$(mktemp -d "${TMPDIR:-/tmp}/shoal-bochs.XXXXXX")
bochs_pid="" wrapper_pid="" tail_pid="" client_pid=""
cleanup() {
    for pid in $bochs_pid $tail_pid $client_pid; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $wrapper_pid $tail_pid $client_pid; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$keep" -eq 1 ] && [ "$dry_run" -eq 0 ]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Bochs' flat disk images must hold whole cylinders of 16 heads x 63 sectors x 512 bytes, and
# Bochs writes to its image: each run gets its own padded copy (sparse, so the copy is cheap).
cylinder_bytes=$((16 * 63 * 512))
disk=$work/disk.img
image_bytes=$(stat -c %s "$image")
cylinders=$(( (image_bytes + cylinder_bytes - 1) / cylinder_bytes ))
[ "$cylinders" -ge 1 ] && [ "$cylinders" -le 16383 ] ||
    die_usage "disk image '$image' ($image_bytes bytes) does not fit 1..16383 cylinders of 16x63 sectors"
if [ "$dry_run" -eq 0 ]; then
    cp --sparse=always "$image" "$disk"
    truncate -s $((cylinders * cylinder_bytes)) "$disk"
fi

serial=$work/serial.txt log=$work/bochs.log out=$work/bochs.out
cat >"$work/bochsrc" <<BOCHSRC
# Written by bochs-runner.sh for $image
# Debian's Bochs has no 'nogui' display: rfb is a VNC server. It waits up to 30 s for a client
# before it starts, and bochs-runner.sh connects one (see "RFB" in the script). Bochs 2.7 has no
# option for the rfb port: it binds the first free one of 5900-5949 (on all interfaces).
display_library: rfb, options="timeout=30"
romimage: file="$rom_bios"
# The Cirrus VGA BIOS: with the standard VBE BIOS the bootloader picks an 8-bpp mode and hangs.
vgaromimage: file="$vga_bios"
vga: extension=cirrus
pci: enabled=1, chipset=i440fx, slot1=cirrus
# ignore_bad_msrs=0: an MSR the model lacks raises #GP as on hardware (QEMU TCG reads 0).
# reset_on_triple_fault=0: a triple fault ends the run (as QEMU's -no-reboot) instead of rebooting.
cpu: model=$cpu_model, count=1, ignore_bad_msrs=0, reset_on_triple_fault=0
memory: guest=$memory, host=$memory
ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14
ata0-master: type=disk, path="$disk", mode=flat, cylinders=$cylinders, heads=16, spt=63
boot: disk
com1: enabled=1, mode=file, dev="$serial"
# No host sound: the ALSA driver aborts Bochs on a machine without a sound card.
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
mouse: enabled=0
log: "$log"
# The rfb display "panics" on the bootloader's 24-bpp frame buffer (it converts it to 8 bpp and
# goes on); reporting that panic is harmless once a client can resize the screen (see RFB).
panic: action=fatal, rfb=report
error: action=report
info: action=report
debug: action=ignore
BOCHSRC
# The debugger is compiled into Debian's Bochs and stops at time 0: run, then quit.
printf 'continue\nquit\n' >"$work/rc"

cmd=(bochs -q -f "$work/bochsrc" -rc "$work/rc")
say "$(printf '%q ' "${cmd[@]}")"
say "bochsrc: $work/bochsrc"
if [ "$dry_run" -eq 1 ]; then
    cat "$work/bochsrc"
    exit 0
fi

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
started_ms=$(now_ms)
elapsed_ms() { echo $(( $(now_ms) - started_ms )); }
bochs_alive() { kill -0 "$bochs_pid" 2>/dev/null; }

# RFB, the display. Bochs' rfb server has a screen of 720x480 unless its client announces that it
# can resize; the bootloader sets an 800x600 mode, and rfb then writes that frame buffer past the
# end of its own (measured: about one run in three ended in SIGSEGV, SIGABRT, "buffer overflow
# detected" or a logio assertion before the kernel printed anything). So the runner connects a
# minimal VNC client (RFB 3.3, no authentication) that announces the DesktopSize encoding and
# then discards whatever the server sends; Bochs waits for it before it starts (timeout=30).
#
# RFB ports: two Bochs that start together can both bind the same port before either listens, and
# the loser then panics ("RFB could not bind any port"). A lock shared by all runs of this script
# on the machine is held from Bochs' start until its log names the port it listens on.
rfb_client() {
    local port=$1 fd init name_length
    exec {fd}<>"/dev/tcp/127.0.0.1/$port"
    head -c 12 <&"$fd" >/dev/null             # ProtocolVersion "RFB 003.003\n"
    printf 'RFB 003.003\n' >&"$fd"
    head -c 4 <&"$fd" >/dev/null              # security type 1: none
    printf '\001' >&"$fd"                     # ClientInit: shared
    init=$(head -c 24 <&"$fd" | od -An -v -tu1) # ServerInit: size, pixel format, name length
    read -r -a init <<<"$(echo $init)"
    name_length=$(( (init[20] << 24) | (init[21] << 16) | (init[22] << 8) | init[23] ))
    head -c "$name_length" <&"$fd" >/dev/null
    # SetEncodings: message 2, padding, 2 encodings: Raw (0) and DesktopSize (-223).
    printf '\002\000\000\002\000\000\000\000\377\377\377\041' >&"$fd"
    exec cat <&"$fd" >/dev/null
}

lock=${TMPDIR:-/tmp}/shoal-bochs-rfb.lock
exec {lock_fd}>>"$lock"
flock -w 120 "$lock_fd" || { say "could not take $lock within 120 s"; exit 3; }

: >"$serial"
# Bochs runs under a subshell that reaps it quietly (it may end by SIGABRT after a clean run, and
# bash would report that as if it mattered); the subshell names Bochs' pid.
(
    "${cmd[@]}" </dev/null >"$out" 2>&1 &
    echo $! >"$work/bochs.pid"
    wait $! || true
) {lock_fd}>&- 2>/dev/null &
wrapper_pid=$!
while [ ! -s "$work/bochs.pid" ]; do sleep 0.01; done
bochs_pid=$(cat "$work/bochs.pid")
port=""
while bochs_alive && [ "$(elapsed_ms)" -lt 30000 ]; do
    port=$(sed -n 's/.*listening for connections on port \([0-9]*\).*/\1/p' "$log" 2>/dev/null | head -n1 || true)
    [ -z "$port" ] || break
    sleep 0.05
done
flock -u "$lock_fd"
exec {lock_fd}>&-
if [ -n "$port" ]; then
    say "Bochs (pid $bochs_pid) serves its screen on rfb port $port; the runner's client is connected"
    rfb_client "$port" </dev/null 2>>"$work/rfb-client.err" &
    client_pid=$!
fi

# Stream the serial output while Bochs runs; tail stops by itself once Bochs has ended.
tail -n +1 -s 0.1 -f --pid="$bochs_pid" "$serial" &
tail_pid=$!

status_pattern='^shoal: exit (success|failure)'
# The serial output up to its last newline: a status line counts once it is complete.
complete_lines() {
    local text
    text=$(tr -d '\000' <"$serial" 2>/dev/null; printf x)
    text=${text%x}
    if [[ $text == *$'\n' ]]; then
        printf '%s' "$text"
    elif [[ $text == *$'\n'* ]]; then
        printf '%s\n' "${text%$'\n'*}"
    fi
}
status_line() { complete_lines | grep -a -m1 -E "$status_pattern" | tr -d '\r' || true; }

outcome=""
while :; do
    if [ -n "$(status_line)" ]; then outcome=status; break; fi
    if ! bochs_alive; then outcome=ended; break; fi
    if [ "$timeout_seconds" -gt 0 ] && [ "$(elapsed_ms)" -ge $((timeout_seconds * 1000)) ]; then
        outcome=timeout; break
    fi
    sleep 0.1
done

# Stop Bochs (it may already be shutting down through port 0x8900), then let tail drain the file.
if bochs_alive; then
    kill "$bochs_pid" 2>/dev/null || true
    for _ in $(seq 20); do bochs_alive || break; sleep 0.1; done
    bochs_alive && kill -KILL "$bochs_pid" 2>/dev/null || true
fi
wait "$wrapper_pid" 2>/dev/null || true
bochs_pid="" wrapper_pid=""
wait "$tail_pid" 2>/dev/null || true
tail_pid=""
if [ -n "$client_pid" ]; then kill "$client_pid" 2>/dev/null || true; wait "$client_pid" 2>/dev/null || true; fi
client_pid=""
seconds=$(awk -v ms="$(elapsed_ms)" 'BEGIN { printf "%.1f", ms / 1000 }')

line=$(status_line)
case "$line" in
    "shoal: exit success"*) say "kernel reported success after ${seconds}s ($cpu_model)"; exit 0 ;;
    "shoal: exit failure"*) say "kernel reported failure after ${seconds}s ($cpu_model): $line"; exit 2 ;;
esac
if [ "$outcome" = timeout ]; then
    say "timed out after ${timeout_seconds}s ($cpu_model) without a status line"
    exit 124
fi
say "Bochs ended after ${seconds}s without a kernel status line ($cpu_model)"
last=$(tail -c 200 "$serial" | tr -d '\r' | tail -n 1)
case "$last" in
    "shoal: exit"*) say "the serial output ends inside a status line ('$last'): the kernel stopped" \
                        "Bochs before COM1 had sent its last bytes" ;;
esac
# Bochs' own account: its panics and its exit message.
grep -a -E '>>PANIC<<|Bochs is exiting|could not' "$log" "$out" 2>/dev/null | grep -v '\[RFB *\]' |
    tail -n 5 | sed 's/^/bochs-runner:   /' >&2 || true
exit 3
