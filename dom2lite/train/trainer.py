"""The offline training loop shared by DOM2 and every baseline.

``fit`` draws mini-batches from a sampler, calls ``algo.update`` for all agents at once, logs metrics
(each row the mean over the steps since the row before, :mod:`dom2lite.train.log_window`), evaluates
the current policy now and then, and writes checkpoints from which an interrupted run continues
bit-identically (same seed, same thread count). Two guards stop a run that has gone wrong,
naming the step and the quantity: a NaN/inf in any logged metric, and a Q value beyond ``q_limit``.
The policy reported at the end is the final one, never the best seen on the way.

Members (seeds as a batch dimension, the Cost appendix): given a wide algorithm of K members
(:func:`dom2lite.members.algo.stack_members`), K samplers and K run folders, ``fit`` steps all members
on their own mini-batches at once and writes every member's metrics and ordinary solo checkpoints into
its own folder. A resumed call continues every member from the newest step they all have a checkpoint
for (a kill between two members' checkpoint writes loses nothing: each folder keeps its last two).
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dom2lite.errors import ConfigError, TrainingDiverged
from dom2lite.members.algo import load_member_state_dicts, member_state_dict, stack_batches
from dom2lite.train.checkpoint import (
    checkpoint_path,
    load_checkpoint_file,
    load_latest_checkpoint,
    save_checkpoint,
    set_global_rng_state,
)
from dom2lite.train.log_window import LogWindow
from dom2lite.train.runs import MetricsLog

EvalFn = Callable[[Any], dict[str, float]]


@dataclass
class FitSchedule:
    """How long to train and how often to log, evaluate and checkpoint (in gradient steps)."""

    steps: int
    """Total number of gradient steps (each updates every agent)."""
    log_every: int = 100
    """Write to metrics.jsonl every this many steps: the mean of each metric over the steps since the last row."""
    eval_every: int = 1000
    """Evaluate the current policy every this many steps (and always after the last step)."""
    checkpoint_every: int = 1000
    """Write a resumable checkpoint every this many steps (and after the last step)."""
    q_limit: float = 1e6
    """Stop with TrainingDiverged when |Q| (metrics q_max / q_min) exceeds this."""

    def __post_init__(self):
        for name in ("steps", "log_every", "eval_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                from dom2lite.errors import ConfigError

                raise ConfigError(name, f"must be >= 1, got {getattr(self, name)}")


def check_metrics(step: int, metrics: dict[str, float], q_limit: float) -> None:
    """Raise ``TrainingDiverged`` on a non-finite metric or a Q value beyond ``q_limit``."""
    for key, value in metrics.items():
        if not math.isfinite(value):
            raise TrainingDiverged(step, key, value)
    for key in ("q_max", "q_min"):
        if key in metrics and abs(metrics[key]) > q_limit:
            raise TrainingDiverged(step, f"{key} (|Q| > q_limit={q_limit:g})", metrics[key])


def _resume(algo, samplers, windows: list[LogWindow], run_dirs: list[Path], checkpoint_every: int) -> int:
    """Load every member's checkpoint (and its log window) at the newest step all members have; return
    that step (0: none).

    A member may be at most one checkpoint ahead of the others (a kill between two members' writes);
    members further apart (a member folder continued on its own) are refused, naming every folder."""
    latest = [load_latest_checkpoint(d, map_location=algo.device) for d in run_dirs]
    steps = [c["step"] if c is not None else 0 for c in latest]
    start = min(steps)
    if max(steps) - start > checkpoint_every or any(
            s > start > 0 and not checkpoint_path(d, start).is_file() for s, d in zip(steps, run_dirs)):
        where = ", ".join(f"{d} at step {s}" for d, s in zip(run_dirs, steps))
        raise ConfigError("run_dir", f"the members' folders are at different steps ({where}); members resume together "
                                     "from a step all of them have",
                          hint="continue the folders that are behind on their own first (train --seed S --run-dir "
                               "DIR), or start the members in new folders")
    if start == 0:
        return 0
    ckpts = [c if c["step"] == start else load_checkpoint_file(checkpoint_path(d, start), algo.device)
             for c, d in zip(latest, run_dirs)]
    if len(ckpts) == 1:
        algo.load_state_dict(ckpts[0]["algo"])
    else:
        load_member_state_dicts(algo, [c["algo"] for c in ckpts])
    for sampler, window, c in zip(samplers, windows, ckpts):
        sampler.load_state_dict(c["sampler"])
        window.load_state_dict(c.get("log_window"))
    set_global_rng_state(ckpts[0]["rng"])
    return start


def fit(
    algo,
    sampler,
    batch_size: int,
    schedule: FitSchedule,
    run_dir: str | Path | list,
    eval_fn: EvalFn | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> list[dict[str, Any]] | list[list[dict[str, Any]]]:
    """Train ``algo`` on mini-batches from ``sampler`` up to ``schedule.steps``; resume if possible.

    ``stop_after`` ends this call after that many steps (a checkpoint is written), so a long run can be
    done in pieces. Returns the metrics log. Members: ``sampler`` and ``run_dir`` are lists (one per
    member), ``eval_fn`` returns one dict per member, and so does the result (one log per member).
    """
    solo = not isinstance(run_dir, (list, tuple))
    samplers = [sampler] if solo else list(sampler)
    run_dirs = [Path(run_dir)] if solo else [Path(d) for d in run_dir]
    members = getattr(algo, "members", 1)  # any object with update/state_dict/load_state_dict trains solo
    if len(samplers) != members or len(run_dirs) != members:
        raise ValueError(f"{members} members need as many samplers and run folders, "
                         f"got {len(samplers)} and {len(run_dirs)}")
    logs = [MetricsLog(d) for d in run_dirs]
    windows = [LogWindow() for _ in run_dirs]  # each row: the mean over the steps since the row before
    start = _resume(algo, samplers, windows, run_dirs, schedule.checkpoint_every)
    for log in logs:
        log.truncate_after(start)
    end = schedule.steps if stop_after is None else min(schedule.steps, start + stop_after)

    bar = None
    if progress and end > start:
        from dom2lite.progress import progress_bar  # tqdm on a terminal, a line every few percent elsewhere

        label = algo.name if solo else f"{algo.name} x{algo.members}"
        bar = progress_bar(schedule.steps, label, initial=start)
    last_eval: list[dict[str, float]] = [{} for _ in run_dirs]
    try:
        for step in range(start + 1, end + 1):
            batch = stack_batches([s.sample(batch_size) for s in samplers])  # one member: its own batch
            metrics = algo.update(batch)
            metrics = [metrics] if solo else metrics
            for m, d, window in zip(metrics, run_dirs, windows):
                window.add(m)
                try:
                    check_metrics(step, m, schedule.q_limit)
                except TrainingDiverged as err:
                    if solo:
                        raise
                    raise TrainingDiverged(step, f"{err.quantity} of the member in {d} (the other members' folders "
                                                 "continue on their own: train --seed S --run-dir DIR)", err.value) from None
            if step % schedule.log_every == 0 or step == schedule.steps:
                for log, window in zip(logs, windows):
                    log.append({"step": step, **window.flush()})
            if eval_fn is not None and (step % schedule.eval_every == 0 or step == schedule.steps):
                out = eval_fn(algo)
                last_eval = [out] if solo else out
                for log, e in zip(logs, last_eval):
                    log.append({"step": step, **e})
            if step % schedule.checkpoint_every == 0 or step == end:
                full = algo.state_dict()
                for k, (d, s, window) in enumerate(zip(run_dirs, samplers, windows)):
                    state = full if solo else member_state_dict(algo, k, full)
                    save_checkpoint(d, step, {"algo": state, "sampler": s.state_dict(),
                                              "log_window": window.state_dict()})
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 or step == end:
                    shown = {k: metrics[0][k] for k in list(metrics[0])[:3]}
                    if "eval/mean" in last_eval[0]:
                        shown["return"] = last_eval[0]["eval/mean"]
                    bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()}, refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return logs[0].read() if solo else [log.read() for log in logs]
