#!/usr/bin/env bash
# hardware-compare.sh — set a real machine's page-walk counters beside tlbsim's counts.
#
# Usage: scripts/hardware-compare.sh CONSOLE_LOG RESULTS_CSV
#
#   CONSOLE_LOG  the serial console of a density run on bare metal or under KVM with a virtual
#                PMU (the kernel's `result: density ...` lines, with pmu.<event>=<count> words)
#   RESULTS_CSV  results.csv of `shoal bench` for the same configurations under tlbsim
#
# For every hardware result line it finds the tlbsim row with the same workload, window mode
# (global, share_tables) and number of instances, and prints per warm invocation:
#   instruction-side walks   pmu.itlb_walks            vs  i.walks_4k + i.walks_2m
#   data-side walks          pmu.dtlb_load_walks + pmu.dtlb_store_walks (Intel) or
#                            pmu.dtlb_walks (AMD)      vs  d.walks_4k + d.walks_2m
#   instructions             pmu.instructions          vs  instructions_per_invocation
#   cycles                   pmu.cycles                vs  the model's instructions x base CPI +
#                                                          walk cycles (walk_cycles_per_invocation
#                                                          and translation_overhead_percent)
# and the ratio hardware / tlbsim. A missing counter prints as "-". The PCID settings of the two
# runs are printed side by side: hardware `pcid=on` corresponds to tlbsim's `pcid=simulated`.
# See docs/hardware-validation.md for how to produce both inputs and how to read the ratios.
set -euo pipefail

if [ $# -ne 2 ] || [ "${1-}" = -h ] || [ "${1-}" = --help ]; then
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    [ $# -eq 2 ] && exit 0 || exit 64
fi
log=$1 csv=$2
[ -r "$log" ] || { echo "hardware-compare: cannot read console log '$log'" >&2; exit 66; }
[ -r "$csv" ] || { echo "hardware-compare: cannot read results '$csv'" >&2; exit 66; }
grep -q 'result: density ' "$log" || { echo "hardware-compare: '$log' has no 'result: density' line" >&2; exit 65; }

# Console lines may end in CR (serial-over-LAN captures).
tr -d '\r' < "$log" | grep 'result: density ' | awk -v csv="$csv" '
function per(value, invocations) { return (value == "" || invocations == 0) ? "-" : sprintf("%.2f", value / invocations) }
function ratio(hardware, model) { return (hardware == "-" || model == "-" || model + 0 == 0) ? "-" : sprintf("%.2f", hardware / model) }
function sum2(a, b) { return (a == "" && b == "") ? "" : a + b }
BEGIN {
    FS = ","
    if ((getline header < csv) <= 0) { print "hardware-compare: " csv " is empty" > "/dev/stderr"; exit 65 }
    n = split(header, names, ",")
    for (i = 1; i <= n; i++) column[names[i]] = i
    split("workload global share_tables instances pcid invocations i.walks_4k i.walks_2m d.walks_4k d.walks_2m", needed, " ")
    for (i in needed) if (!(needed[i] in column)) { print "hardware-compare: " csv " has no column " needed[i] > "/dev/stderr"; exit 65 }
    while ((getline line < csv) > 0) {
        split(line, f, ",")
        key = f[column["workload"]] "/" f[column["global"]] "/" f[column["share_tables"]] "/" f[column["instances"]]
        rows[key] = line
    }
    FS = " "
    printf "%-34s %-14s %10s %10s %8s\n", "configuration (workload g s N)", "per invocation", "hardware", "tlbsim", "hw/sim"
}
{
    delete k
    for (i = 1; i <= NF; i++) if (split($i, kv, "=") == 2) k[kv[1]] = kv[2]
    key = k["workload"] "/" k["global"] "/" k["share_tables"] "/" k["instances"]
    name = k["workload"] " g" k["global"] " s" k["share_tables"] " N=" k["instances"]
    if (!(key in rows)) { printf "%-34s no tlbsim row with these settings in %s\n", name, csv; next }
    split(rows[key], f, ",")
    sim_inv = f[column["invocations"]]
    hw_inv = k["invocations"]
    printf "%-34s pcid: hardware %s, tlbsim %s; engine %s, pmu %s\n", name, k["pcid"], f[column["pcid"]], k["engine"], k["pmu"]
    hw_i = per(k["pmu.itlb_walks"], hw_inv)
    sim_i = per(f[column["i.walks_4k"]] + f[column["i.walks_2m"]], sim_inv)
    hw_d = per(("pmu.dtlb_walks" in k) ? k["pmu.dtlb_walks"] : sum2(k["pmu.dtlb_load_walks"], k["pmu.dtlb_store_walks"]), hw_inv)
    sim_d = per(f[column["d.walks_4k"]] + f[column["d.walks_2m"]], sim_inv)
    printf "%-34s %-14s %10s %10s %8s\n", "", "i-side walks", hw_i, sim_i, ratio(hw_i, sim_i)
    printf "%-34s %-14s %10s %10s %8s\n", "", "d-side walks", hw_d, sim_d, ratio(hw_d, sim_d)
    hw_n = per(k["pmu.instructions"], hw_inv)
    sim_n = ("instructions_per_invocation" in column) ? f[column["instructions_per_invocation"]] : ""
    if (sim_n == "") sim_n = "-"
    printf "%-34s %-14s %10s %10s %8s\n", "", "instructions", hw_n, sim_n, ratio(hw_n, sim_n)
    hw_c = per(k["pmu.cycles"], hw_inv)
    sim_w = ("walk_cycles_per_invocation" in column) ? f[column["walk_cycles_per_invocation"]] : ""
    sim_o = ("translation_overhead_percent" in column) ? f[column["translation_overhead_percent"]] : ""
    printf "%-34s %-14s %10s %10s %8s\n", "", "cycles", hw_c, "-", "-"
    if (sim_w != "") printf "%-34s %-14s %10s %10s %8s\n", "", "walk cycles", "-", sim_w, "-"
    if (sim_o != "") printf "%-34s %-14s %10s %9s%% %8s\n", "", "overhead bound", "-", sim_o, "-"
}'
