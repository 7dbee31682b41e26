"""The resumable online training driver for the behaviour policies.

``train_behaviour(task, seed, steps, out)`` collects joint transitions from ``n_envs`` environments in
lock-step (one batched actor call per step, Gaussian exploration noise, uniform actions during the
warm-up), does ``updates_per_step`` MATD3 updates per transition, and writes into
``<out>/behaviour/{task}/s{seed}/``:

- ``config.json``: task, seed, the MATD3 configuration and the provenance of the first piece;
- ``snapshots/actor_{step:08d}.pt``: the actor every ``snapshot_every`` steps (and at step 0 and at the
  end) with its evaluation return (deterministic actor, ``eval_episodes`` fixed-seed episodes);
- ``metrics.jsonl``: per snapshot, the evaluation return and the training averages since the last one;
  per piece, its wall time and steps/s;
- ``ckpt_*.pt``: every ``checkpoint_every`` steps and when a piece ends: networks, optimisers, the
  replay buffer, the random generators and the counters.

Checkpoints, snapshots and evaluations happen only at episode boundaries (an environment's internal
state is not saved), so rerunning the same command continues exactly where the last piece stopped and
gives the same weights as an uninterrupted run (same seed, same thread count). ``max_minutes`` ends a
piece early; a larger ``steps`` continues a finished run. Explained in chapter 02.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dom2lite.behaviour.config import MATD3Config, default_config
from dom2lite.behaviour.matd3 import MATD3
from dom2lite.behaviour.policy import load_snapshot, save_snapshot
from dom2lite.progress import progress_bar
from dom2lite.behaviour.replay import ReplayBuffer
from dom2lite.behaviour.rollout import noisy_actions, random_actions, rollout_episodes
from dom2lite.device import resolve_device
from dom2lite.errors import ConfigError
from dom2lite.provenance import provenance
from dom2lite.train.checkpoint import load_latest_checkpoint, save_checkpoint
from dom2lite.train.runs import MetricsLog, read_config, write_config

EVAL_SEED = 2**30
"""Episode k of every snapshot evaluation is reset with seed ``EVAL_SEED + k`` (same episodes for all)."""

VectorEnvFactory = Callable[[int], Any]


@dataclass
class TrainOutcome:
    run_dir: Path
    step: int
    done: bool
    """True when ``step`` reached the requested number of steps (False: the piece hit ``max_minutes``)."""
    curve: list[tuple[int, float]] = field(default_factory=list)
    """(step, evaluation return) of every snapshot so far."""


def run_dir_for(out: str | Path, task: str, seed: int) -> Path:
    return Path(out) / "behaviour" / task / f"s{seed}"


def snapshot_paths(run_dir: str | Path) -> list[Path]:
    """The run's actor snapshots, in step order."""
    folder = Path(run_dir) / "snapshots"
    return sorted(folder.glob("actor_*.pt")) if folder.is_dir() else []


def read_curve(run_dir: str | Path) -> list[tuple[int, float]]:
    """(step, evaluation return) of every snapshot of a run."""
    out = []
    for path in snapshot_paths(run_dir):
        pol = load_snapshot(path)
        out.append((pol.step, pol.eval_return))
    return out


def evaluate_policy(eval_venv, policy, act_mask: np.ndarray, max_steps: int, n_episodes: int) -> np.ndarray:
    """Team returns of ``n_episodes`` fixed-seed episodes (``EVAL_SEED + k``), no action noise."""
    return rollout_episodes(eval_venv, policy, n_episodes, EVAL_SEED, act_mask, max_steps).returns


def _default_factory(task: str) -> tuple[VectorEnvFactory, Any]:
    from dom2lite.envs import env_spec, make_vector_env

    return (lambda n: make_vector_env(task, n)), env_spec(task)


def _check_same_run(run_dir: Path, task: str, seed: int, cfg: MATD3Config) -> None:
    saved = read_config(run_dir)
    if saved.get("task") != task or saved.get("seed") != seed:
        raise ConfigError("task/seed", f"{run_dir} holds task={saved.get('task')!r} seed={saved.get('seed')}, "
                                       f"not task={task!r} seed={seed}")
    old, new = dict(saved["config"]), cfg.to_dict()
    old.pop("total_steps", None), new.pop("total_steps", None)
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            raise ConfigError(key, f"{run_dir} was trained with {key}={old.get(key)!r}, not {new.get(key)!r}; "
                                   "use another --out folder to start a different run")


def train_behaviour(
    task: str,
    seed: int = 0,
    steps: int | None = None,
    out: str | Path = "runs",
    config: MATD3Config | None = None,
    max_minutes: float | None = None,
    progress: bool = True,
    device: torch.device | str | None = None,
    venv_factory: VectorEnvFactory | None = None,
    spec: Any = None,
    command: list[str] | str | None = None,
) -> TrainOutcome:
    """Train (or continue training) MATD3 behaviour policies for ``task``; see the module docstring.

    ``venv_factory(n)`` and ``spec`` default to ``dom2lite.envs.make_vector_env(task, n)`` and
    ``env_spec(task)`` (tests pass a small fake environment).
    """
    cfg = config if config is not None else default_config(task)
    total = int(steps if steps is not None else cfg.total_steps)
    if venv_factory is None or spec is None:
        default_factory, default_spec = _default_factory(task)
        venv_factory, spec = venv_factory or default_factory, spec or default_spec
    device = resolve_device(device)
    run_dir = run_dir_for(out, task, seed)
    if (run_dir / "config.json").exists():
        _check_same_run(run_dir, task, seed, cfg)
    else:
        write_config(run_dir, {"task": task, "seed": seed, "config": cfg.to_dict(),
                               "provenance": provenance(command)})
    metrics = MetricsLog(run_dir)
    act_mask = np.asarray(spec.act_mask, dtype=np.float32)  # [n, A]
    learner = MATD3(spec.n_agents, spec.obs_dim, spec.act_dim, spec.state_dim, act_mask, cfg, seed, device)
    buffer = ReplayBuffer(cfg.buffer_size, spec.n_agents, spec.obs_dim, spec.act_dim, spec.state_dim)
    rng = np.random.default_rng(seed)  # exploration noise, warm-up actions, reset seeds, mini-batches
    c = {"step": 0, "episodes": 0, "credit": 0.0, "next_snapshot": 0, "next_checkpoint": cfg.checkpoint_every,
         "last_snapshot": -1, "last_eval": float("nan"), "acc_n": 0, "acc_critic": 0.0, "acc_q": 0.0,
         "acc_actor_n": 0, "acc_actor": 0.0, "acc_ret_n": 0, "acc_ret": 0.0}
    ckpt = load_latest_checkpoint(run_dir, map_location=device)
    if ckpt is not None:
        learner.load_state_dict(ckpt["learner"])
        buffer.load_state_dict(ckpt["buffer"])
        rng.bit_generator.state = ckpt["rng_np"]
        c.update(ckpt["counters"])
    # whatever a killed piece wrote after the checkpoint (or before the first one) is redone
    metrics.truncate_after(c["step"] if ckpt is not None else -1)
    for path in snapshot_paths(run_dir):
        if ckpt is None or int(path.stem.split("_")[1]) > c["step"]:
            path.unlink()

    venv, eval_venv = venv_factory(cfg.n_envs), venv_factory(cfg.eval_episodes)
    t_start, step_start = time.monotonic(), c["step"]
    bar = progress_bar(total, f"behaviour {task}", progress, initial=c["step"])

    def snapshot() -> None:
        returns = evaluate_policy(eval_venv, learner.act, act_mask, spec.max_steps, cfg.eval_episodes)
        step = int(c["step"])
        save_snapshot(run_dir / "snapshots" / f"actor_{step:08d}.pt", learner.actor, spec.act_mask,
                      task=task, hidden=list(cfg.hidden), activation=cfg.activation, step=step,
                      eval_return=float(returns.mean()), eval_return_std=float(returns.std()), seed=seed)
        row: dict[str, Any] = {"step": step, "eval/return_mean": float(returns.mean()),
                               "eval/return_std": float(returns.std()), "episodes": int(c["episodes"])}
        for key, acc, n in (("train/return_mean", "acc_ret", "acc_ret_n"), ("train/critic_loss", "acc_critic", "acc_n"),
                            ("train/q_mean", "acc_q", "acc_n"), ("train/actor_loss", "acc_actor", "acc_actor_n")):
            if c[n]:
                row[key] = c[acc] / c[n]
            c[acc], c[n] = 0.0, 0
        metrics.append(row)
        c["last_snapshot"], c["last_eval"] = step, float(returns.mean())
        c["next_snapshot"] = (step // cfg.snapshot_every + 1) * cfg.snapshot_every
        bar.set_postfix(eval_return=f"{c['last_eval']:.2f}")

    done, saved = False, ckpt is not None
    if c["last_snapshot"] < 0:  # the untrained actor: the first point of the curve
        snapshot()
        saved = False
    while True:
        if c["step"] >= total:
            if c["last_snapshot"] != c["step"]:  # the final actor (expert) always has a snapshot
                snapshot()
                saved = False
            done = True
            break
        made_progress = c["step"] > step_start  # every piece collects at least one batch of episodes
        if max_minutes is not None and made_progress and time.monotonic() - t_start > 60.0 * max_minutes:
            break
        _collect_episodes(venv, learner, buffer, rng, c, cfg, spec, act_mask, device, bar)
        saved = False
        if c["step"] >= c["next_snapshot"]:
            snapshot()
        if c["step"] >= c["next_checkpoint"]:
            c["next_checkpoint"] = (c["step"] // cfg.checkpoint_every + 1) * cfg.checkpoint_every
            save_checkpoint(run_dir, c["step"], _payload(learner, buffer, rng, c))
            saved = True
    if not saved:  # the checkpoint is always the last thing a piece writes before its summary
        save_checkpoint(run_dir, c["step"], _payload(learner, buffer, rng, c))
    bar.close()
    seconds = time.monotonic() - t_start
    metrics.append({"step": int(c["step"]), "event": "piece_end", "done": done, "seconds": round(seconds, 2),
                    "steps_per_s": round((c["step"] - step_start) / max(seconds, 1e-9), 1),
                    "command": provenance(command)["command"]})
    return TrainOutcome(run_dir, int(c["step"]), done, read_curve(run_dir))


def _payload(learner: MATD3, buffer: ReplayBuffer, rng: np.random.Generator, c: dict) -> dict:
    return {"learner": learner.state_dict(), "buffer": buffer.state_dict(),
            "rng_np": rng.bit_generator.state, "counters": dict(c)}


def _collect_episodes(venv, learner, buffer, rng, c, cfg, spec, act_mask, device, bar) -> None:
    """One lock-step batch of episodes with learning interleaved (``updates_per_step`` per transition)."""
    obs, state = venv.reset(seed=int(rng.integers(0, 2**30)))  # [E, n, obs_dim], [E, state_dim]
    n_envs = obs.shape[0]
    alive = np.ones(n_envs, dtype=bool)
    ep_return = np.zeros(n_envs)
    for _ in range(spec.max_steps):
        if c["step"] < cfg.start_steps:
            act = random_actions((n_envs, *act_mask.shape), act_mask, rng)
        else:
            act = noisy_actions(learner.act(obs), act_mask, cfg.exploration_std, rng)  # [E, n, A]
        next_obs, next_state, rew, terminated, truncated = venv.step(act)
        terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
        a = alive
        buffer.add(obs=obs[a], act=act[a], rew=rew[a], next_obs=next_obs[a], state=state[a],
                   next_state=next_state[a], terminated=terminated[a].astype(np.float32))
        k = int(a.sum())
        ep_return += np.where(a, rew.mean(axis=-1), 0.0)
        c["step"] += k
        if c["step"] >= cfg.start_steps:
            c["credit"] += k * cfg.updates_per_step
        while c["credit"] >= 1.0 and len(buffer) >= cfg.batch_size:
            m = learner.update(buffer.sample(cfg.batch_size, rng, device))
            c["credit"] -= 1.0
            c["acc_n"] += 1
            c["acc_critic"] += m["critic_loss"]
            c["acc_q"] += m["q_mean"]
            if "actor_loss" in m:
                c["acc_actor_n"] += 1
                c["acc_actor"] += m["actor_loss"]
        bar.update(k)
        alive = alive & ~(terminated | truncated)
        if not alive.any():
            break
        obs, state = next_obs, next_state
    c["episodes"] += n_envs
    c["acc_ret"] += float(ep_return.sum())
    c["acc_ret_n"] += n_envs

