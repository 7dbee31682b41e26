#!/usr/bin/env bash
# The calibration grid of chapter 05 (issue: calibrated conservative critics), resumable in pieces.
#
#   bash experiments/calibration.sh [TASK] [QUALITY] [ALGOS] [SEEDS] [STEPS] [PIECE]
#   e.g. bash experiments/calibration.sh spread expert "cql omar" 0-2 20000 5000
#
# Each algorithm trains its seeds together in one process (members, the Cost appendix), one fixed folder
# per seed, runs/calibration/{task}-{quality}/{algo}-s{seed}; the algorithms run side by side
# (DOM2LITE_JOBS at a time, default 2: one per core of a two-core machine). Calling the script again
# continues each unfinished run where its last checkpoint left it (--stop-after PIECE steps per call,
# bit-identical to an uninterrupted run). Then it writes results/calibration/{task}-{quality}.json: per-run
# and mean ± std final score, calibration and td_loss trend, with the command, config, data sha256 and
# commit of every run. Full-profile presets, one thread per process; DOM2LITE_BATCH overrides the batch
# size (recorded in each run's config); DOM2LITE_UNTIL=STEP summarises every run as of that step (a grid
# stopped part-way, compared at one step).
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:-spread}; quality=${2:-expert}; algos=${3:-"cql omar td3bc bc"}; seeds=${4:-0-2}
steps=${5:-20000}; piece=${6:-$steps}
export DOM2LITE_THREADS=${DOM2LITE_THREADS:-1}
jobs=${DOM2LITE_JOBS:-2}
extra=()
[ -n "${DOM2LITE_BATCH:-}" ] && extra+=(--set "batch_size=$DOM2LITE_BATCH")
root=runs/calibration/$task-$quality
for algo in $algos; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  python -m dom2lite train --task "$task" --quality "$quality" --algo "$algo" --seeds "$seeds" --profile full \
    --steps "$steps" --eval-every 2500 --eval-episodes 20 --run-dir "$root/$algo-s{seed}" --stop-after "$piece" \
    --no-progress "${extra[@]}" | tail -n 2 &
done
wait
dirs=()
for algo in $algos; do
  for dir in "$root/$algo"-s*; do dirs+=("$dir"); done
done
mkdir -p results/calibration
until=()
[ -n "${DOM2LITE_UNTIL:-}" ] && until+=(--until "$DOM2LITE_UNTIL")
python -m dom2lite summarise "${dirs[@]}" "${until[@]}" --out "results/calibration/$task-$quality.json"
