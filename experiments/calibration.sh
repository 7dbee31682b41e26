#!/usr/bin/env bash
# The calibration grid of chapter 05 (issue: calibrated conservative critics), resumable in pieces.
#
#   bash experiments/calibration.sh [TASK] [QUALITY] [ALGOS] [SEEDS] [STEPS] [PIECE]
#   e.g. bash experiments/calibration.sh spread expert "cql omar" "0 1 2" 20000 2500
#
# Every (algo, seed) trains into a fixed folder runs/calibration/{task}-{quality}/{algo}-s{seed}, so calling
# the script again continues each unfinished run where its last checkpoint left it (--stop-after PIECE steps
# per call and run, bit-identical to an uninterrupted run). Once all are finished it writes
# results/calibration/{task}-{quality}.json: per-run and mean ± std final score, calibration and td_loss trend,
# with the command, config, data sha256 and commit of every run. Full-profile presets, one thread per run;
# DOM2LITE_BATCH overrides the batch size (recorded in each run's config); DOM2LITE_UNTIL=STEP summarises
# every run as of that step (a grid stopped part-way, compared at one step).
set -euo pipefail
cd "$(dirname "$0")/.."
task=${1:-spread}; quality=${2:-expert}; algos=${3:-"cql omar td3bc bc"}; seeds=${4:-"0 1 2"}
steps=${5:-20000}; piece=${6:-$steps}
export DOM2LITE_THREADS=${DOM2LITE_THREADS:-1}
extra=()
[ -n "${DOM2LITE_BATCH:-}" ] && extra+=(--set "batch_size=$DOM2LITE_BATCH")
root=runs/calibration/$task-$quality
dirs=()
for algo in $algos; do
  for seed in $seeds; do
    dir=$root/$algo-s$seed
    dirs+=("$dir")
    python -m dom2lite train --task "$task" --quality "$quality" --algo "$algo" --seed "$seed" --profile full \
      --steps "$steps" --eval-every 2500 --eval-episodes 20 --run-dir "$dir" --stop-after "$piece" \
      --no-progress "${extra[@]}" | tail -n 2
  done
done
mkdir -p results/calibration
until=()
[ -n "${DOM2LITE_UNTIL:-}" ] && until+=(--until "$DOM2LITE_UNTIL")
python -m dom2lite summarise "${dirs[@]}" "${until[@]}" --out "results/calibration/$task-$quality.json"
