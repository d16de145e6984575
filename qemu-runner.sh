#!/usr/bin/env bash
# qemu-runner.sh — the one place that holds QEMU flags for shoal.
#
# Boots a shoal disk image in QEMU, passes kernel arguments through fw_cfg, applies a timeout,
# prints the exact QEMU command it runs, and maps QEMU's status to a result. With --linux-kernel it
# boots a Linux kernel and initramfs instead (the Linux baseline's guest, guest/linux/kernel.pin),
# whose init reports through the same port (0xf4, after ioperm), so the statuses mean the same:
#
#   exit 0    the kernel reported success (QEMU status 33: isa-debug-exit value 0x10)
#   exit 2    the kernel reported failure (QEMU status 35: value 0x11) — a failed check, a
#             refused argument, a kernel exception or panic
#   exit 3    QEMU ended without a kernel status (QEMU itself failed — its status 1 is never a
#             success — or the guest reset or powered off without reporting)
#   exit 124  the timeout expired
#   exit 64   bad usage of this script
#
# The statuses 33 and 35 are pinned by the tests of kernel/libs/protocol (ExitCode).
#
# Usage: qemu-runner.sh [options] IMAGE
#        qemu-runner.sh [options] --linux-kernel VMLINUZ --initrd INITRAMFS [--append "CMDLINE"]
#   --mode run|test        run: serial console on this terminal (Ctrl-A X quits QEMU);
#                          test: serial to stdout, no input (default: run)
#   --firmware bios|uefi   boot through SeaBIOS or OVMF (default: bios)
#   --accel tcg|kvm        QEMU's TCG emulator, or KVM (default: tcg)
#   --memory MIB           guest memory in MiB (default: 1024)
#   --args "K=V ..."       kernel arguments, passed as fw_cfg file opt/shoal/args
#   --timeout SECONDS      stop QEMU after this long; 0 = never (default: 0)
#   --cpu MODEL            QEMU CPU model (default: max under TCG, host under KVM)
#   --dry-run              print the QEMU command and exit 0
#   --iso                  IMAGE is an ISO file ('shoal iso'), attached as a CD-ROM (-cdrom);
#                          needs --firmware uefi (the ISO's only boot image is EFI)
#   --tlbsim "ARGS"        run under the tlbsim TLB-simulator plugin (TCG only) with these
#                          comma-separated plugin arguments, e.g. "preset=skylake-client,mode=fast"
#                          (see tlbsim/README.md); "" takes the plugin's defaults. Guest RAM is then
#                          a shared file in /dev/shm (removed on exit) that the plugin maps for its
#                          page walks; the plugin prints its report lines to stderr unless out=FILE
#   --tlbsim-plugin PATH   the plugin library (default: libtlbsim.so under $CARGO_TARGET_DIR or
#                          ./target, release build first; build it with 'cargo build -p tlbsim')
#   --icount               a repeatable run (TCG only): instruction-counted virtual time (QEMU's
#                          clock advances one nanosecond per guest instruction and never sleeps,
#                          so timer interrupts land at the same instruction counts on every run),
#                          the RTC starts at a fixed date and follows that clock, and the default
#                          CPU has no RDRAND/RDSEED (TCG answers them from the host's random
#                          source) and no x2APIC (see below). Two Linux boots under tlbsim then
#                          differ by a few counts in a billion, where they differed by thousands
#                          (QEMU's record/replay, not used here, would make them identical)
#   --linux-kernel PATH    boot this Linux kernel (a bzImage, or a vmlinux ELF file with a PVH
#                          entry note, which starts without decompressing itself) through QEMU's
#                          -kernel instead of a disk image; needs --initrd and --firmware bios,
#                          refuses IMAGE, --iso and --args. The default CPU under TCG is then max
#                          without LA57 (max,la57=off,phys-bits=39): Linux would otherwise turn
#                          on 5-level paging, which tlbsim does not model
#   --initrd PATH          the initramfs (an uncompressed or compressed cpio archive) for
#                          --linux-kernel
#   --append "CMDLINE"     the Linux kernel command line for --linux-kernel (Linux's arguments,
#                          where shoal takes --args); e.g. "console=ttyS0 rdinit=/init"
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
say() { printf 'qemu-runner: %s\n' "$*" >&2; }
die_usage() { say "$*"; say "see: qemu-runner.sh --help"; exit 64; }

mode=run firmware=bios accel=tcg memory=1024 args="" timeout_seconds=0 cpu="" dry_run=0 image=""
tlbsim=0 tlbsim_args="" tlbsim_plugin=""
iso=0 icount=0
linux_kernel="" initrd="" append="" append_given=0
while [ $# -gt 0 ]; do
    case "$1" in
        --mode) mode=${2-}; shift 2 ;;
        --firmware) firmware=${2-}; shift 2 ;;
        --accel) accel=${2-}; shift 2 ;;
        --memory) memory=${2-}; shift 2 ;;
        --args) args=${2-}; shift 2 ;;
        --timeout) timeout_seconds=${2-}; shift 2 ;;
        --cpu) cpu=${2-}; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --iso) iso=1; shift ;;
        --tlbsim) [ $# -ge 2 ] || die_usage "--tlbsim needs an argument"; tlbsim=1; tlbsim_args=$2; shift 2 ;;
        --tlbsim-plugin) tlbsim_plugin=${2-}; shift 2 ;;
        --icount) icount=1; shift ;;
        --linux-kernel) [ $# -ge 2 ] || die_usage "--linux-kernel needs a path"; linux_kernel=$2; shift 2 ;;
        --initrd) [ $# -ge 2 ] || die_usage "--initrd needs a path"; initrd=$2; shift 2 ;;
        --append) [ $# -ge 2 ] || die_usage "--append needs an argument"; append=$2; append_given=1; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        -*) die_usage "unknown option '$1'" ;;
        *) [ -z "$image" ] || die_usage "more than one image given"; image=$1; shift ;;
    esac
done

case "$mode" in run|test) ;; *) die_usage "--mode must be run or test, not '$mode'" ;; esac
case "$firmware" in bios|uefi) ;; *) die_usage "--firmware must be bios or uefi, not '$firmware'" ;; esac
case "$accel" in tcg|kvm) ;; *) die_usage "--accel must be tcg or kvm, not '$accel'" ;; esac
[ "$iso" -eq 0 ] || [ "$firmware" = uefi ] || die_usage "--iso needs --firmware uefi: the ISO boots through its EFI image only"
[[ "$memory" =~ ^[0-9]+$ ]] && [ "$memory" -ge 128 ] ||
    die_usage "--memory must be a whole number of MiB, at least 128, not '$memory'"
[[ "$timeout_seconds" =~ ^[0-9]+$ ]] || die_usage "--timeout must be a whole number of seconds, not '$timeout_seconds'"
if [ -n "$linux_kernel" ]; then
    [ -z "$image" ] || die_usage "--linux-kernel boots without a disk image: do not also give '$image'"
    [ "$iso" -eq 0 ] || die_usage "--iso and --linux-kernel exclude each other"
    [ "$firmware" = bios ] || die_usage "--linux-kernel needs --firmware bios (QEMU's -kernel loads it through SeaBIOS)"
    [ -z "$args" ] || die_usage "--args is shoal's fw_cfg file; a Linux kernel takes its arguments in --append"
    [ -n "$initrd" ] || die_usage "--linux-kernel needs --initrd (the initramfs holding the guest's init)"
    [ -f "$linux_kernel" ] || die_usage "Linux kernel '$linux_kernel' does not exist (run ./setup.sh)"
    [ -f "$initrd" ] || die_usage "initramfs '$initrd' does not exist"
else
    [ -z "$initrd" ] || die_usage "--initrd needs --linux-kernel"
    [ "$append_given" -eq 0 ] || die_usage "--append needs --linux-kernel (shoal takes its arguments in --args)"
    [ -n "$image" ] || die_usage "no disk image given"
    [ -f "$image" ] || die_usage "disk image '$image' does not exist (build it with 'cargo build')"
fi
[ "$icount" -eq 0 ] || [ "$accel" = tcg ] || die_usage "--icount needs --accel tcg: KVM runs guest instructions natively"

if [ "$tlbsim" -eq 1 ]; then
    [ "$accel" = tcg ] || die_usage "--tlbsim needs --accel tcg: the plugin observes QEMU's TCG emulator"
    case ",$tlbsim_args," in
        *,ram=*) die_usage "--tlbsim: do not pass ram=: this script makes the RAM file and passes it" ;;
    esac
    if [ -z "$tlbsim_plugin" ]; then
        target_dir=${CARGO_TARGET_DIR:-$(cd "$(dirname "$0")" && pwd)/target}
        for candidate in "$target_dir/release/libtlbsim.so" "$target_dir/debug/libtlbsim.so"; do
            if [ -f "$candidate" ]; then tlbsim_plugin=$candidate; break; fi
        done
        [ -n "$tlbsim_plugin" ] ||
            die_usage "no libtlbsim.so under $target_dir: build it with 'cargo build -p tlbsim --release' or pass --tlbsim-plugin"
    fi
    [ -f "$tlbsim_plugin" ] || die_usage "tlbsim plugin '$tlbsim_plugin' does not exist"
elif [ -n "$tlbsim_plugin" ]; then
    die_usage "--tlbsim-plugin without --tlbsim"
fi

qemu=qemu-system-x86_64
command -v "$qemu" >/dev/null 2>&1 || { say "$qemu not found: run ./setup.sh"; exit 3; }

# q35 is the machine; a physical address width of 39 bits keeps the memory map free of the hole
# near 1 TiB that AMD CPU models get on q35 (the bootloader would otherwise map 1 TiB).
if [ "$tlbsim" -eq 1 ]; then
    # The plugin reads the guest's page tables from its RAM, so RAM is a shared file (sized
    # here so it exists before QEMU starts; -m must equal the backend's size).
    if [ "$dry_run" -eq 1 ]; then
        ram_file=$(mktemp -u /dev/shm/shoal-tlbsim-ram.XXXXXX)
    else
        ram_file=$(mktemp /dev/shm/shoal-tlbsim-ram.XXXXXX)
        trap 'rm -f "$ram_file"' EXIT
        trap 'exit 130' INT
        trap 'exit 143' TERM
        truncate -s "${memory}M" "$ram_file"
    fi
    cmd=("$qemu" -machine q35,memory-backend=ram -m "${memory}M"
         -object "memory-backend-file,id=ram,size=${memory}M,mem-path=$ram_file,share=on"
         -no-reboot -display none)
else
    cmd=("$qemu" -machine q35 -m "${memory}M" -no-reboot -display none)
fi
if [ "$accel" = kvm ]; then
    [ -w /dev/kvm ] || { say "/dev/kvm is missing or not writable: KVM is not available here"; exit 3; }
    if [ -d /sys/module/kvm_pvm ] || ! grep -qE '\b(vmx|svm)\b' /proc/cpuinfo; then
        say "warning: /dev/kvm is PVM, a software virtualiser with shadow paging (no PCID, no PMU,"
        say "warning: the global bit has no effect): timings under it are NOT hardware timings"
        if [ "$firmware" = uefi ]; then
            say "OVMF (UEFI firmware) does not run under PVM; use --firmware bios or --accel tcg"
            exit 3
        fi
    fi
    cmd+=(-accel kvm -cpu "${cpu:-host,host-phys-bits=on,host-phys-bits-limit=39}")
else
    default_cpu=max,phys-bits=39
    # QEMU's max CPU has LA57, and Linux turns 5-level paging on whenever the CPU has it;
    # tlbsim models 4-level walks only.
    [ -z "$linux_kernel" ] || default_cpu=max,la57=off,phys-bits=39
    # Under TCG, RDRAND and RDSEED return the host's random numbers, and Linux seeds its random
    # generator (free-list order, stack offsets, hash seeds) from them; shoal uses neither.
    # With icount, QEMU 10 stops with "Bad icount read" when RDMSR reads the x2APIC timer's
    # current count (shoal's calibration does): an MSR read is not an I/O point of a translated
    # block. The xAPIC's MMIO reads are, so both kernels use the xAPIC instead.
    [ "$icount" -eq 0 ] || default_cpu+=,rdrand=off,rdseed=off,x2apic=off
    cmd+=(-accel tcg -cpu "${cpu:-$default_cpu}")
fi
if [ "$icount" -eq 1 ]; then
    # shift=0: one nanosecond of virtual time per instruction; sleep=off: an idle guest's timers
    # fire at once instead of after real time passes, so the run does not depend on the host.
    # The RTC would start at the host's time of day (Linux reads it at boot); clock=vm makes it
    # follow the virtual clock.
    cmd+=(-icount shift=0,sleep=off -rtc base=2000-01-01T00:00:00,clock=vm)
fi

if [ "$firmware" = uefi ]; then
    ovmf=""
    for candidate in /usr/share/ovmf/OVMF.fd /usr/share/OVMF/OVMF.fd /usr/share/qemu/OVMF.fd; do
        if [ -f "$candidate" ]; then ovmf=$candidate; break; fi
    done
    [ -n "$ovmf" ] || { say "no OVMF firmware found: run ./setup.sh (package ovmf)"; exit 3; }
    cmd+=(-bios "$ovmf")
fi

if [ -n "$linux_kernel" ]; then
    # QEMU loads the kernel and initramfs itself (SeaBIOS's linuxboot option ROM starts it); no
    # disk, so nothing the guest writes outlives the run.
    cmd+=(-kernel "$linux_kernel" -initrd "$initrd" -append "$append")
elif [ "$iso" -eq 1 ]; then
    # A CD-ROM is read-only, so parallel runs can share one ISO.
    cmd+=(-cdrom "$image")
else
    # snapshot=on: writes go to a temporary overlay, so parallel runs can share one image.
    cmd+=(-drive "format=raw,file=$image,snapshot=on")
fi
cmd+=(-device "isa-debug-exit,iobase=0xf4,iosize=0x04")
if [ -n "$args" ]; then
    # Inside a -fw_cfg option value a comma must be doubled.
    cmd+=(-fw_cfg "name=opt/shoal/args,string=${args//,/,,}")
fi
if [ "$tlbsim" -eq 1 ]; then
    cmd+=(-plugin "$tlbsim_plugin,ram=$ram_file${tlbsim_args:+,$tlbsim_args}")
fi
if [ "$mode" = run ] && [ -t 0 ]; then
    cmd+=(-serial mon:stdio)
else
    cmd+=(-serial stdio -monitor none)
fi

say "$(printf '%q ' "${cmd[@]}")"
[ "$dry_run" -eq 0 ] || exit 0

status=0
if [ "$mode" = run ] && [ -t 0 ]; then
    if [ "$timeout_seconds" -gt 0 ]; then
        timeout --foreground -k 5 "$timeout_seconds" "${cmd[@]}" || status=$?
    else
        "${cmd[@]}" || status=$?
    fi
else
    # Without a terminal QEMU runs in the background while this script waits for it: bash runs
    # a trap only once a foreground command has ended, but `wait` returns as soon as a trapped
    # signal arrives. So a SIGTERM or SIGINT to this script (shoal bench sends SIGTERM to its
    # runners when it is stopped) is passed on to QEMU (through timeout, which forwards it) at
    # once, and the EXIT trap above then removes the guest-RAM file.
    if [ "$timeout_seconds" -gt 0 ]; then
        timeout -k 5 "$timeout_seconds" "${cmd[@]}" </dev/null &
    else
        "${cmd[@]}" </dev/null &
    fi
    child=$!
    stop_child() { kill -TERM "$child" 2>/dev/null || true; wait "$child" 2>/dev/null || true; exit "$1"; }
    trap 'stop_child 130' INT
    trap 'stop_child 143' TERM
    wait "$child" || status=$?
    trap - INT TERM
fi

case "$status" in
    33) say "kernel reported success"; exit 0 ;;
    35) say "kernel reported failure"; exit 2 ;;
    124|137) say "timed out after ${timeout_seconds}s"; exit 124 ;;
    *) say "QEMU ended with status $status without a kernel status (QEMU failed, or the guest reset)"; exit 3 ;;
esac
