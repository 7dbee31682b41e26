"""``python -m dom2lite sweep``: a grid of training runs, run in pieces over as many calls as it takes.

    python -m dom2lite sweep --tasks spread,tag --qualities expert,medium --algos cql,omar,dom2 \\
        --seeds 0-2 --steps 20000 --root runs/sweep/main --jobs 2 --out results/main.json

Each call prints where the grid stands (done / running / queued / failed / interrupted / left, and an
ETA from the speed measured so far), skips finished cells, resumes interrupted ones from their last
checkpoint and starts the rest; ``--stop-after N`` makes every cell stop after N more steps (pieces that
fit a session), ``--status`` only prints. ``--on slurm`` submits one submitit job per cell instead
(``--cluster timeout_min=600 --cluster slurm_partition=gpu``...); ``--on submitit-local`` runs that same
path on this machine. ``--out`` summarises the finished cells (mean ± std over seeds, shifted
evaluations, wall time, the one command that reproduces each setting) into a results file.
Dimensions: ``--fractions 0.05,1`` (data efficiency), ``--augment both``, ``--vary FIELD=V1,V2`` (any
config field), ``--shift speed=0.5,1`` (evaluations of every final policy on shifted environments).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import threading
from pathlib import Path

from dom2lite.cli_values import device_name, positive_int, seed_list


def _words(raw: str) -> list[str]:
    return [w.strip() for w in raw.split(",") if w.strip()]


def _fractions(raw: str) -> list[float]:
    try:
        return [float(w) for w in _words(raw)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected fractions like 0.05,1, got {raw!r}") from None


def build_cells(args: argparse.Namespace):
    """The grid of ``args``, every value checked before anything runs (a ``ConfigError`` names the option)."""
    from dom2lite.algos import algo_class, canonical_name
    from dom2lite.cli_values import parse_set
    from dom2lite.data.paths import QUALITIES
    from dom2lite.envs import TASKS
    from dom2lite.errors import ConfigError
    from dom2lite.sweep.grid import TrainOptions, grid_cells, parse_shifts, parse_vary
    from dom2lite.train.experiment import resolve_run_config

    for name, values, allowed in (("--tasks", args.tasks, TASKS), ("--qualities", args.qualities, QUALITIES)):
        for v in values:
            if v not in allowed:
                raise ConfigError(name, f"unknown value {v!r}", hint=f"choose from {', '.join(allowed)}")
    algos = [canonical_name(a) for a in args.algos]
    vary = parse_vary(args.vary)
    shifts = parse_shifts(args.shift, args.tasks)
    options = TrainOptions(profile=args.profile, steps=args.steps, eval_every=args.eval_every,
                           eval_episodes=args.eval_episodes, checkpoint_every=args.checkpoint_every,
                           sets=tuple(args.set or ()), data_dir=args.data_dir, device=args.device)
    augment = {"off": (False,), "on": (True,), "both": (False, True)}[args.augment]
    cells = grid_cells(args.tasks, args.qualities, algos, args.seeds, fractions=args.fractions, augment=augment,
                       vary=vary, shifts=shifts, options=options)
    checked = set()
    for cell in cells:  # every distinct configuration is built once: a bad field fails here, not in a job
        key = (cell.task, cell.quality, cell.algo, cell.varied)
        if key in checked:
            continue
        checked.add(key)
        items = [*options.sets, *(f"{k}={v}" for k, v in cell.varied)]
        overrides = parse_set(items, algo_class(cell.algo).config_class, reserved={"seed": "--seeds"})
        resolve_run_config(cell.algo, cell.task, cell.quality, cell.seed, args.profile, overrides)
    return cells


def _parameters(items: list[str] | None) -> dict:
    """``--cluster timeout_min=600`` -> ``{"timeout_min": 600}`` (numbers as numbers), for submitit."""
    import json

    from dom2lite.errors import ConfigError

    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--cluster", f"expects KEY=VALUE, got {item!r}", hint="e.g. --cluster timeout_min=600")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw
    return out


def _ensure_data(cells, args) -> None:
    """Make missing data sets here, one at a time, so that parallel cells never generate one twice."""
    from dom2lite.data.ensure import generate_if_missing, profile_data_dir

    folder = Path(args.data_dir) if args.data_dir is not None else profile_data_dir(args.profile)
    for task, quality in dict.fromkeys((c.task, c.quality) for c in cells):
        generate_if_missing(task, quality, 0, args.profile, folder, progress=False)


def _sweep(args: argparse.Namespace) -> int:
    from dom2lite.sweep.launch import queued_dirs, run_local, submit
    from dom2lite.sweep.ledger import INTERRUPTED_RC, cell_state, progress_line

    cells = build_cells(args)
    root = str(args.root)
    parameters = _parameters(args.cluster)

    def states():
        waiting = queued_dirs(root)
        return [cell_state(c, root, queued=str(c.run_dir(root)) in waiting) for c in cells]

    now = states()
    print(f"sweep {root}: {progress_line(now, args.jobs)}", flush=True)
    todo = [s.cell for s in now if s.state in ("left", "interrupted", "failed")]
    if args.status or not todo:
        return _write_summary(args, cells, root)
    _ensure_data(todo, args)
    if args.on == "local":
        def on_done(cell, piece):
            rc = piece["rc"]
            status = (f" ({piece['skipped']} in another worker: skipped)" if "skipped" in piece else "" if rc == 0
                      else " (stopped)" if rc < 0 or rc == INTERRUPTED_RC
                      else f" (exit {rc}: see {cell.run_dir(root) / 'sweep.log'})")
            print(f"  {cell.setting} s{cell.seed}: step {piece['to_step']}{status}; "
                  f"{progress_line(states(), args.jobs)}", flush=True)

        try:
            with _sigterm_as_interrupt():
                run_local(todo, root, args.jobs, args.stop_after, on_done)
        except KeyboardInterrupt:
            print(f"interrupted: rerun the same command to continue ({shlex.join(_command(args))})", file=sys.stderr)
            return 130
    else:
        jobs = submit(todo, root, args.on, parameters, args.stop_after, wait=args.wait)
        print(f"submitted {len(jobs)} {args.on} jobs (ids in {Path(root) / 'sweep_jobs.json'})", flush=True)
    after = states()
    print(f"sweep {root}: {progress_line(after, args.jobs)}", flush=True)
    _write_summary(args, cells, root)
    return 1 if any(s.state == "failed" for s in after) else 0


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """SIGTERM (a scheduler's or a script's stop; processes started in the background ignore SIGINT)
    stops the sweep the way Ctrl-C does."""
    def stop(signum, frame):
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, stop) if main_thread else None
    try:
        yield
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def _command(args: argparse.Namespace) -> list[str]:
    return ["python", "-m", "dom2lite", *getattr(args, "argv", sys.argv[1:])]


def _write_summary(args, cells, root) -> int:
    if not args.out:
        return 0
    from dom2lite.io import atomic_write_json
    from dom2lite.provenance import provenance
    from dom2lite.sweep.results import sweep_results

    out = sweep_results(cells, root)
    if out is None:
        print(f"{args.out}: not written, no cell is done yet", flush=True)
        return 0
    atomic_write_json(args.out, {**out, "provenance": provenance(_command(args))})
    print(args.out)
    return 0


def register(subparsers) -> None:
    """Add ``sweep`` to the top-level sub-commands."""
    from dom2lite.sweep.launch import EXECUTORS

    s = subparsers.add_parser("sweep", help="a grid of training runs (tasks x qualities x algorithms x seeds ...), "
                                            "resumable in pieces, locally or on a cluster",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--tasks", type=_words, required=True, help="comma-separated: spread,tag,world,halfcheetah")
    s.add_argument("--qualities", type=_words, default=["expert"], help="comma-separated (default expert)")
    s.add_argument("--algos", type=_words, required=True, help="comma-separated: dom2,bc,td3bc,cql,omar")
    s.add_argument("--seeds", type=seed_list, default=[0, 1, 2], help="0-2 or 0,3,7 (default 0-2)")
    s.add_argument("--fractions", type=_fractions, default=[1.0],
                   help="fractions of the episodes to train on, comma-separated (default 1)")
    s.add_argument("--augment", choices=("off", "on", "both"), default="off",
                   help="trajectory-based augmentation (chapter 06)")
    s.add_argument("--vary", action="append", metavar="FIELD=V1,V2", help="a config field as a grid dimension")
    s.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a config field for every cell")
    s.add_argument("--shift", action="append", metavar="SHIFT[=S1,S2]",
                   help="evaluate every final policy on this shift at these strengths (default 1)")
    s.add_argument("--profile", choices=("smoke", "book", "full"), default="full", help="budget preset (default full)")
    s.add_argument("--steps", type=positive_int, default=None)
    s.add_argument("--eval-every", type=positive_int, default=None)
    s.add_argument("--eval-episodes", type=positive_int, default=None)
    s.add_argument("--checkpoint-every", type=positive_int, default=None,
                   help="steps between checkpoints (what a killed cell loses at most)")
    s.add_argument("--data-dir", default=None, help="folder of the data sets (default: the profile's)")
    s.add_argument("--device", type=device_name, default=None)
    s.add_argument("--root", default="runs/sweep", help="where the cells' run folders go (default runs/sweep)")
    s.add_argument("--on", choices=EXECUTORS, default="local", help="where cells run (default local)")
    s.add_argument("--jobs", type=positive_int, default=os.cpu_count() or 1,
                   help="cells side by side on this machine (default: one per core)")
    s.add_argument("--cluster", action="append", metavar="KEY=VALUE",
                   help="a submitit parameter (timeout_min, slurm_partition, gpus_per_node, ...)")
    s.add_argument("--wait", action="store_true", help="with --on slurm: wait for the jobs to finish")
    s.add_argument("--stop-after", type=positive_int, default=None, help="every cell stops after N more steps")
    s.add_argument("--status", action="store_true", help="print where the sweep stands and start nothing")
    s.add_argument("--out", default=None, help="write the finished cells' summary to this JSON file")
    s.set_defaults(func=_sweep)
