"""The offline training loop shared by DOM2 and every baseline.

``fit`` draws mini-batches from a sampler, calls ``algo.update`` for all agents at once, logs metrics,
evaluates the current policy now and then, and writes checkpoints from which an interrupted run
continues bit-identically (same seed, same thread count). Two guards stop a run that has gone wrong,
naming the step and the quantity: a NaN/inf in any logged metric, and a Q value beyond ``q_limit``.
The policy reported at the end is the final one, never the best seen on the way.
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dom2lite.errors import TrainingDiverged
from dom2lite.train.checkpoint import load_latest_checkpoint, save_checkpoint, set_global_rng_state
from dom2lite.train.runs import MetricsLog

EvalFn = Callable[[Any], dict[str, float]]


@dataclass
class FitSchedule:
    """How long to train and how often to log, evaluate and checkpoint (in gradient steps)."""

    steps: int
    """Total number of gradient steps (each updates every agent)."""
    log_every: int = 100
    """Write the update's metrics to metrics.jsonl every this many steps."""
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


def fit(
    algo,
    sampler,
    batch_size: int,
    schedule: FitSchedule,
    run_dir: str | Path,
    eval_fn: EvalFn | None = None,
    progress: bool = True,
    stop_after: int | None = None,
) -> list[dict[str, Any]]:
    """Train ``algo`` on mini-batches from ``sampler`` up to ``schedule.steps``; resume if possible.

    ``stop_after`` ends this call after that many steps (a checkpoint is written), so a long run can be
    done in pieces. Returns the metrics log.
    """
    run_dir = Path(run_dir)
    log = MetricsLog(run_dir)
    start = 0
    ckpt = load_latest_checkpoint(run_dir, map_location=algo.device)
    if ckpt is not None:
        algo.load_state_dict(ckpt["algo"])
        sampler.load_state_dict(ckpt["sampler"])
        set_global_rng_state(ckpt["rng"])
        start = ckpt["step"]
        log.truncate_after(start)
    end = schedule.steps if stop_after is None else min(schedule.steps, start + stop_after)

    bar = None
    if progress and end > start:
        from dom2lite.progress import progress_bar  # tqdm on a terminal, a line every few percent elsewhere

        bar = progress_bar(schedule.steps, f"{algo.name}", initial=start)
    last_eval: dict[str, float] = {}
    try:
        for step in range(start + 1, end + 1):
            metrics = algo.update(sampler.sample(batch_size))
            check_metrics(step, metrics, schedule.q_limit)
            if step % schedule.log_every == 0 or step == schedule.steps:
                log.append({"step": step, **metrics})
            if eval_fn is not None and (step % schedule.eval_every == 0 or step == schedule.steps):
                last_eval = eval_fn(algo)
                log.append({"step": step, **last_eval})
            if step % schedule.checkpoint_every == 0 or step == end:
                payload = {"algo": algo.state_dict(), "sampler": sampler.state_dict()}
                save_checkpoint(run_dir, step, payload)
            if bar is not None:
                bar.update(1)
                if step % 10 == 0 or step == end:
                    shown = {k: metrics[k] for k in list(metrics)[:3]}
                    if "eval/mean" in last_eval:
                        shown["return"] = last_eval["eval/mean"]
                    bar.set_postfix({k: f"{v:.3g}" for k, v in shown.items()}, refresh=False)
    finally:
        if bar is not None:
            bar.close()
    return log.read()
