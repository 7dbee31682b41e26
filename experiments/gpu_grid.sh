#!/usr/bin/env bash
# A slice of a grid on a lent GPU machine (one H200, 16 cores), as one command of under 10 minutes.
#
#   here, once:  bash experiments/gpu_wheels.sh        # gymnasium, pettingzoo, mpe2 as wheels in .whl/
#   there:       bash experiments/gpu_grid.sh          # device run with carry [".whl"] (and "runs" to continue)
#   here, after: tar xzf <files_at>/runs.tar.gz        # then summarise, or run the same slice again there
#
# It installs the carried wheels, makes the data sets the slice needs (in parallel), runs
# `python -m dom2lite sweep` on the GPU with JOBS cells side by side until DEADLINE seconds after its
# start, stops the cells there (each keeps its last checkpoint, every CKPT steps), and packs every run
# folder (configs, metrics, results, the sweep's ledger and the last checkpoint) into $OUT/runs.tar.gz,
# with the sweep's progress in $OUT/sweep.log and a summary in $OUT/summary.json. The default slice is
# DOM2's calibration grid (issue 12): spread expert and medium, seeds 0-2, 20,000 steps, full profile.
# Tried here first at toy size:
#   OUT=/tmp/gpu DEVICE=cpu PROFILE=smoke STEPS=20 EVAL_EVERY=10 CKPT=10 DEADLINE=240 bash experiments/gpu_grid.sh
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
out=${OUT:-/tmp/gpu-grid}; mkdir -p "$out"
tasks=${TASKS:-spread}; qualities=${QUALITIES:-expert,medium}; algos=${ALGOS:-dom2}; seeds=${SEEDS:-0-2}
steps=${STEPS:-20000}; eval_every=${EVAL_EVERY:-2500}; ckpt=${CKPT:-1000}; root=${ROOT:-runs/calibration}
profile=${PROFILE:-full}; device=${DEVICE:-cuda}; jobs=${JOBS:-16}; deadline=${DEADLINE:-540}
if ! python3 -c "import mpe2" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    || { echo "no mpe2 here and no wheels in .whl/: run experiments/gpu_wheels.sh here, carry .whl"; exit 1; }
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 DOM2LITE_THREADS=1
python3 -c "import torch; print('torch', torch.__version__, '| cuda', torch.cuda.is_available())"

data=$([ "$profile" = full ] && echo data || echo "data/$profile")
for task in ${tasks//,/ }; do
  for quality in ${qualities//,/ }; do
    [ -f "$data/$task-$quality-s0.npz" ] && continue
    python3 -c "from dom2lite.data.ensure import ensure_dataset as e; e('$task', '$quality', 0, '$profile', progress=False)" &
  done
done
wait
echo "[gpu_grid +$(( $(date +%s) - start ))s] data ready"

sweep=(python3 -m dom2lite sweep --tasks "$tasks" --qualities "$qualities" --algos "$algos" --seeds "$seeds"
       --profile "$profile" --steps "$steps" --eval-every "$eval_every" --eval-episodes "${EVAL_EPISODES:-20}"
       --checkpoint-every "$ckpt" --root "$root" --device "$device" --jobs "$jobs")
# at the deadline, SIGTERM stops the sweep as Ctrl-C would: it stops its cells, which keep their last
# checkpoints, and records their pieces
"${sweep[@]}" >"$out/sweep.log" 2>&1 &
pid=$!
while kill -0 "$pid" 2>/dev/null && [ $(( $(date +%s) - start )) -lt "$deadline" ]; do sleep 5; done
if kill -0 "$pid" 2>/dev/null; then
  echo "[gpu_grid +$(( $(date +%s) - start ))s] deadline: stopping the cells"
  kill -TERM "$pid"
fi
wait "$pid"
"${sweep[@]}" --status --out "$out/summary.json" | tee -a "$out/sweep.log"

# every run folder, with its newest checkpoint only
files=$(mktemp)
for dir in "$root"/*/*/; do
  find "$dir" -maxdepth 1 -type f ! -name 'ckpt_*' >>"$files"
  ls "$dir"ckpt_*.pt 2>/dev/null | sort | tail -n 1 >>"$files"
done
tar czf "$out/runs.tar.gz" -T "$files"
ls -la "$out"
echo "[gpu_grid +$(( $(date +%s) - start ))s] done"
