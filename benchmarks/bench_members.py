"""Seeds as a batch dimension: K members in one process against K solo runs one after the other.

For each size (the book and full profiles' spread configurations), algorithm (DOM2, MA-CQL) and K,
a child process builds K members (:func:`dom2lite.members.algo.stack_members`), times their update on
K random spread-shaped mini-batches (median over repeats, after warm-up) and reports its peak resident
memory. K = 1 is the solo run, measured in the same benchmark run; the figure of merit is

    speed-up(K) = (K runs x steps/s of the members) / (runs x steps/s of K solo runs one after another)
                = K * t_solo / t_members(K).

Run on one thread, on a quiet machine (the load average is recorded):

    .venv/bin/python benchmarks/bench_members.py            # book and full, K = 1, 2, 5, 10 (minutes)
    .venv/bin/python benchmarks/bench_members.py --quick    # fewer repeats
    .venv/bin/python benchmarks/bench_members.py --sizes book --members 1,5 --device cuda   # on a GPU

Each child keeps freed memory in the process (:mod:`dom2lite.allocator`, as ``train`` does);
``DOM2LITE_KEEP_MEMORY=0`` measures glibc's default instead. Writes ``benchmarks/results/members.json``
(``--out``); the Cost appendix plots it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

def _members(algo: str, size: str, k: int, device: str):
    from benchmarks.bench_dom2 import spread_spec
    from dom2lite.algos import make_algo
    from dom2lite.members.algo import stack_members
    from dom2lite.train.experiment import resolve_run_config

    solos = []
    for seed in range(k):
        name, cfg, _ = resolve_run_config(algo, "spread", "medium", seed, size)
        solos.append(make_algo(name, spread_spec(), cfg, device))
    return stack_members(solos), cfg


def _batches(k: int, batch: int, device: str):
    """K members' own random spread-shaped mini-batches, side by side."""
    from benchmarks.bench_dom2 import make_batch
    from dom2lite.members.algo import stack_batches

    return stack_batches([make_batch(seed, batch).to(device) for seed in range(k)])


def child(algo: str, size: str, k: int, warmup: int, repeats: int, device: str) -> dict:
    """Time one configuration in this process (called in a fresh child per configuration)."""
    import torch

    from dom2lite.allocator import keep_freed_memory
    from dom2lite.seeding import pin_threads

    pin_threads()
    kept = keep_freed_memory() if os.environ.get("DOM2LITE_KEEP_MEMORY", "1") != "0" else False
    wide, cfg = _members(algo, size, k, device)
    batch = _batches(k, cfg.batch_size, device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    for i in range(warmup + repeats):
        sync()
        t0 = time.perf_counter()
        wide.update(batch)
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    times.sort()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
    return {"algo": algo, "size": size, "members": k, "step_ms": 1e3 * times[len(times) // 2],
            "repeats": repeats, "hidden": list(cfg.hidden), "batch_size": cfg.batch_size,
            "maxrss_mb": peak_mb, "gpu_peak_mb": gpu_mb, "keep_freed_memory": kept}


def run_child(args, algo: str, size: str, k: int) -> dict:
    reps = args.repeats if args.repeats else (3 if args.quick else 7)
    cmd = [sys.executable, __file__, "--child", algo, size, str(k), str(reps), "--device", args.device]
    env = {**os.environ, "DOM2LITE_THREADS": str(args.threads)}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{algo} {size} K={k} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summarise(rows: list[dict]) -> list[dict]:
    """Add each row's speed-up and memory against the solo run (K = 1) of its size and algorithm."""
    solo = {(r["algo"], r["size"]): r for r in rows if r["members"] == 1}
    for r in rows:
        s = solo.get((r["algo"], r["size"]))
        if s is None:
            continue
        r["runs_steps_per_s"] = r["members"] * 1e3 / r["step_ms"]
        r["solo_runs_steps_per_s"] = 1e3 / s["step_ms"]
        r["speedup_vs_sequential"] = r["members"] * s["step_ms"] / r["step_ms"]
        r["maxrss_vs_solo"] = r["maxrss_mb"] / s["maxrss_mb"]
    return rows


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", nargs=4, metavar=("ALGO", "SIZE", "K", "REPEATS"), help=argparse.SUPPRESS)
    p.add_argument("--quick", action="store_true", help="3 timed repeats instead of 7")
    p.add_argument("--repeats", type=int, default=None)
    p.add_argument("--sizes", default="book,full")
    p.add_argument("--algos", default="dom2,cql")
    p.add_argument("--members", default="1,2,5,10")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--note", default="", help="stored with the figures: what else ran on the machine")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "members.json"), help="'' for none")
    args = p.parse_args(argv)
    if args.child:
        algo, size, k, reps = args.child
        print(json.dumps(child(algo, size, int(k), 2, int(reps), args.device)))
        return {}

    from dom2lite.provenance import provenance

    ks = sorted({1, *(int(x) for x in args.members.split(","))})
    load_start = os.getloadavg()
    rows = []
    for size in args.sizes.split(","):
        for algo in args.algos.split(","):
            for k in ks:
                rows.append(run_child(args, algo, size, k))
                r = rows[-1]
                print(f"{size:5s} {algo:5s} K={k:3d}: {r['step_ms']:9.1f} ms/step  peak {r['maxrss_mb']:7.0f} MB",
                      flush=True)
    summarise(rows)
    print(f"\n{'size':5s} {'algo':5s} {'K':>3s}  {'runs x steps/s':>14s}  {'vs K solo runs':>14s}  {'memory vs solo':>14s}")
    for r in rows:
        print(f"{r['size']:5s} {r['algo']:5s} {r['members']:3d}  {r['runs_steps_per_s']:14.2f}  "
              f"{r['speedup_vs_sequential']:13.2f}x  {r['maxrss_vs_solo']:13.2f}x")
    out = {"rows": rows, "threads": args.threads, "device": args.device, "note": args.note,
           "load_average": {"start": load_start, "end": os.getloadavg()},
           "provenance": provenance(["python", "benchmarks/bench_members.py", *(argv or sys.argv[1:])])}
    if args.out:
        from dom2lite.io import atomic_write_json

        atomic_write_json(args.out, out)
        print(args.out)
    return out


if __name__ == "__main__":
    main()
