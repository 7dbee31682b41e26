#!/usr/bin/env bash
# The calibration grid of chapter 05 (issue: calibrated conservative critics), resumable in pieces.
#
#   bash experiments/calibration.sh [TASK] [QUALITY] [ALGOS] [SEEDS] [STEPS] [PIECE]
#   e.g. bash experiments/calibration.sh spread expert "cql omar" 0-2 20000 5000
#
# One `python -m dom2lite sweep` over the algorithms and seeds: full-profile presets, one folder per run,
# runs/calibration/{task}-{quality}/{algo}-s{seed}, DOM2LITE_JOBS runs side by side (default 2: one per
# core of a two-core machine, one thread each). Calling the script again continues each unfinished run
# where its last checkpoint left it (every run stops after PIECE more steps per call, bit-identical to an
# uninterrupted run). Then it writes results/calibration/{task}-{quality}.json: per-run and mean ± std
# final score, calibration and td_loss trend, with the command, config, data sha256 and commit of every
# run. DOM2LITE_BATCH overrides the batch size (recorded in each run's config); DOM2LITE_CKPT=STEPS
# checkpoints every STEPS (default: the full profile's 5,000; a run keeps the value it started with, and
# experiments/gpu_grid.sh uses 1,000, so DOM2 runs started here with DOM2LITE_CKPT=1000 can continue
# there); DOM2LITE_UNTIL=STEP summarises every run as of that step (a grid stopped part-way, compared at
# one step). DOM2's runs are summarised apart, into results/calibration/{task}-{quality}-dom2.json, so
# that a call for DOM2 alone leaves the baselines' file as it is (and the other way round); so are BC's,
# which has no critic to calibrate, into {task}-{quality}-bc.json. Runs the file
# summarised before and whose folders are not on this machine (a grid continued on a fresh machine or
# elsewhere) are kept in it as they were stored (`summarise --keep-from`), except with DOM2LITE_UNTIL.
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:-spread}; quality=${2:-expert}; algos=${3:-"cql omar td3bc bc"}; seeds=${4:-0-2}
steps=${5:-20000}; piece=${6:-$steps}
export DOM2LITE_THREADS=${DOM2LITE_THREADS:-1}
extra=()
[ -n "${DOM2LITE_BATCH:-}" ] && extra+=(--set "batch_size=$DOM2LITE_BATCH")
[ -n "${DOM2LITE_CKPT:-}" ] && extra+=(--checkpoint-every "$DOM2LITE_CKPT")
python -m dom2lite sweep --tasks "$task" --qualities "$quality" --algos "${algos// /,}" --seeds "$seeds" \
  --profile full --steps "$steps" --eval-every 2500 --eval-episodes 20 --root runs/calibration \
  --jobs "${DOM2LITE_JOBS:-2}" --stop-after "$piece" "${extra[@]}"
mkdir -p results/calibration
summarise() {  # summarise OUT DIR...: with the file's earlier runs kept, unless summarised as of a step
  local out=$1; shift
  if [ -n "${DOM2LITE_UNTIL:-}" ]; then
    python -m dom2lite summarise "$@" --until "$DOM2LITE_UNTIL" --out "$out"
  else
    python -m dom2lite summarise "$@" --keep-from "$out" --out "$out"
  fi
}
baselines=(); dom2=(); bc=()
for algo in $algos; do
  for dir in "runs/calibration/$task-$quality/$algo"-s*; do
    [ -d "$dir" ] || continue
    case $algo in
      dom2) dom2+=("$dir") ;;
      bc) bc+=("$dir") ;;
      *) baselines+=("$dir") ;;
    esac
  done
done
if [ ${#baselines[@]} -gt 0 ]; then
  summarise "results/calibration/$task-$quality.json" "${baselines[@]}"
fi
if [ ${#dom2[@]} -gt 0 ]; then
  summarise "results/calibration/$task-$quality-dom2.json" "${dom2[@]}"
fi
if [ ${#bc[@]} -gt 0 ]; then
  summarise "results/calibration/$task-$quality-bc.json" "${bc[@]}"
fi
