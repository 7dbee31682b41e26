#!/usr/bin/env bash
# Seeds as a batch dimension on a GPU (issue 13's GPU gate: 32 full-size DOM2 members >= 10x one solo
# run's steps/s). One short command for a lent device machine, which has torch, numpy and tqdm and
# needs nothing carried:   bash benchmarks/gpu_members.sh        (writes $OUT/members-gpu.json)
# Tried here first at toy size:   OUT=/tmp DEVICE=cpu SIZES=book ALGOS=dom2 MEMBERS=1,2 REPEATS=1 bash benchmarks/gpu_members.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 - <<'PY'
import torch
print("torch", torch.__version__, "| cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PY
python3 benchmarks/bench_members.py --device "${DEVICE:-cuda}" --sizes "${SIZES:-full,book}" \
  --algos "${ALGOS:-dom2,cql}" --members "${MEMBERS:-1,2,8,32}" --repeats "${REPEATS:-7}" \
  --note "device machine: benchmarks/gpu_members.sh" --out "${OUT:-.}/members-gpu.json"
