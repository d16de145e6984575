#!/usr/bin/env bash
# density-array.sh — one shard of the density study per Slurm array task.
#
# Run from the repository root on a shared file system, after ./setup.sh and
# `cargo build --release` (the shoal binary finds its disk images and the tlbsim plugin by the
# absolute paths of that build, so every node must see the same tree):
#
#   jobid=$(sbatch --parsable docs/slurm/density-array.sh)
#   sbatch --dependency=afterok:"$jobid" --wrap \
#       'target/release/shoal bench merge results/density-cluster/shard-* --out results/density-cluster/merged'
#
# Every task runs `shoal bench --shard K/N` with the same options (anything after the script's
# name is passed on, e.g. `sbatch docs/slurm/density-array.sh --workload synth-large`), where N
# is the array's size and K this task's place in it; `shoal bench merge` refuses shards whose
# options differ. See docs/density-on-a-cluster.md.
#
# Sizing: the full preset is 4 workloads x 2 PCID settings x 4 modes x 6 instance counts = 192
# boots plus 4 without the plugin; 16 tasks run 12-13 each. A boot under the plugin keeps its
# guest RAM (--memory, default 4096 MiB) in /dev/shm, so a task needs --cpus-per-task boots x
# 4 GiB there and in --mem, plus QEMU's own memory.
#SBATCH --job-name=shoal-density
#SBATCH --array=1-16
#SBATCH --cpus-per-task=4
#SBATCH --mem=24G
#SBATCH --time=24:00:00
#SBATCH --output=density-%A_%a.out
set -euo pipefail

: "${SLURM_ARRAY_TASK_ID:?submit this script with sbatch as an array job (--array=1-N)}"
shards=${SLURM_ARRAY_TASK_COUNT:?submit this script with sbatch as an array job (--array=1-N)}
# Array indices may start anywhere (--array=0-15): the shard is the place in the array, from 1.
shard=$((SLURM_ARRAY_TASK_ID - ${SLURM_ARRAY_TASK_MIN:-1} + 1))
out=${SHOAL_RESULTS:-results/density-cluster}
shoal=${SHOAL_BIN:-target/release/shoal}

[ -x "$shoal" ] || { echo "density-array: $shoal missing: run 'cargo build --release' first" >&2; exit 64; }
exec "$shoal" bench --jobs "${SLURM_CPUS_PER_TASK:-1}" --shard "$shard/$shards" --out "$out/shard-$shard" "$@"
