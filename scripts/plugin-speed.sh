#!/usr/bin/env bash
# plugin-speed.sh — how much the tlbsim plugin slows QEMU TCG, and the floor QEMU's plugin
# interface sets.
#
# Usage: scripts/plugin-speed.sh WORKLOAD WARMUP INVOCATIONS [RUNS]
#
# Boots the release bench image RUNS times (default 3) in each of three ways, with the kernel
# arguments `test=density pcid=off workload=WORKLOAD instances=16 warmup=WARMUP
# invocations=INVOCATIONS`:
#   plain    QEMU TCG without the plugin;
#   plugin   under the plugin (release build, preset skylake-client);
#   floor    under the plugin with memory_callbacks=empty: every callback registered as usual,
#            the one on each load and store returning at once (nothing is counted).
# It prints, per way and run, the smallest cycles_per_invocation of the result lines (one per
# window mode), and per way the smallest over the runs with its ratio to plain. TCG's TSC
# follows host time: run it on an otherwise idle machine, and read the spread between runs.
# tlbsim/README.md ("Speed") has the figures measured with it (synth-small 512 1024,
# wasm-runtime 64 128).
set -euo pipefail

if [ $# -lt 3 ] || [ $# -gt 4 ] || [ "${1-}" = -h ] || [ "${1-}" = --help ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    [ $# -ge 3 ] && exit 0 || exit 64
fi
workload=$1 warmup=$2 invocations=$3 runs=${4-3}
cd "$(dirname "$0")/.."
paths=$(cargo run -q --release -- images)
image=$(sed -n 's/^bench image[^:]*: //p' <<<"$paths")
plugin=$(sed -n 's/^tlbsim plugin: //p' <<<"$paths")
arguments="test=density pcid=off workload=$workload instances=16 warmup=$warmup invocations=$invocations"

# Prints the smallest cycles_per_invocation of one boot.
boot() {
    ./qemu-runner.sh --mode test --timeout 3000 --memory 4096 --firmware uefi "$@" "$image" 2>&1 |
        grep -o 'cycles_per_invocation=[0-9]*' | cut -d= -f2 | sort -n | head -1
}

declare -A best
for run in $(seq "$runs"); do
    for way in plain plugin floor; do
        case $way in
            plain) value=$(boot --args "$arguments") ;;
            plugin) value=$(boot --args "$arguments tlbsim=on" --tlbsim preset=skylake-client --tlbsim-plugin "$plugin") ;;
            floor) value=$(boot --args "$arguments tlbsim=on" --tlbsim preset=skylake-client,memory_callbacks=empty --tlbsim-plugin "$plugin") ;;
        esac
        [ -n "$value" ] || { echo "plugin-speed: the $way boot printed no result line" >&2; exit 1; }
        echo "$workload run $run $way cycles_per_invocation=$value"
        if [ -z "${best[$way]-}" ] || [ "$value" -lt "${best[$way]}" ]; then best[$way]=$value; fi
    done
done
for way in plain plugin floor; do
    awk -v w="$workload" -v way="$way" -v v="${best[$way]}" -v p="${best[plain]}" \
        'BEGIN { printf "%s %s smallest=%d ratio=%.2f\n", w, way, v, v / p }'
done
