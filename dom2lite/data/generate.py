"""Generating the offline data sets from the shipped behaviour policies (no retraining needed).

``generate_dataset(task, quality, seed)`` rolls out the behaviour policy of a quality and saves an
``OfflineDataset`` (``{task}-{quality}-s{seed}.npz`` + ``.card.json``):

| quality | behaviour | action noise |
|---|---|---|
| random | uniform actions in [-1, 1] on the real action dims | - |
| medium | ``medium.pt`` (evaluation return about half-way between random and expert) | N(0, 0.1^2) |
| expert | ``expert.pt`` (the final snapshot of training) | N(0, 0.1^2) |
| medium-replay | ``replay_0.pt .. medium.pt`` in step order, equal episodes each | the training exploration noise |

The data set seed seeds everything random: the environment resets (episode k of a data set is reset
with ``base + k``, ``base`` drawn from the seed) and the action noise. The card records the random and
expert reference returns of the shipped policies (for normalised scores), which files produced the data
and the data set's own return statistics.

Sizes: OMAR recorded 1M transitions per MPE data set. Here the defaults (``DEFAULT_TRANSITIONS``) are
100k transitions for spread, tag and HalfCheetah and 50k for world (its environment steps about 5x
slower), so that all 16 data sets generate in well under 30 minutes on 2 CPU cores and a book-profile
training run still samples every transition many times. ``--episodes`` changes them.
Explained in chapter 02.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from dom2lite.behaviour.export import sha256
from dom2lite.behaviour.policy import load_shipped, shipped_dir, shipped_provenance
from dom2lite.progress import progress_bar
from dom2lite.behaviour.rollout import rollout_episodes
from dom2lite.data.paths import QUALITIES, dataset_path
from dom2lite.envs import TASKS
from dom2lite.errors import ConfigError
from dom2lite.provenance import provenance

DEFAULT_TRANSITIONS = {"spread": 100_000, "tag": 100_000, "world": 50_000, "halfcheetah": 100_000}
"""Transitions per data set by default (OMAR's MPE data sets had 1,000,000)."""
PAPER_TRANSITIONS = 1_000_000
ACTION_NOISE_STD = 0.1
"""Gaussian action noise of the expert and medium rollouts (on the [-1, 1] action scale)."""
MAX_ENVS = 16
"""Environments stepped in lock-step while generating (one batched actor call per step)."""


def default_episodes(task: str, max_steps: int) -> int:
    return math.ceil(DEFAULT_TRANSITIONS[task] / max_steps)


def behaviour_plan(task: str, quality: str, episodes: int, assets: str | Path | None = None,
                   prov: dict | None = None) -> list[dict[str, Any]]:
    """What to roll out: a list of ``{"name", "policy" (None = random), "episodes", "noise_std"}``."""
    if quality not in QUALITIES:
        raise ConfigError("quality", f"unknown quality {quality!r}; choose from {QUALITIES}")
    if quality == "random":
        return [{"name": "random", "policy": None, "episodes": episodes, "noise_std": 0.0}]
    prov = prov if prov is not None else shipped_provenance(task, assets)
    if quality in ("expert", "medium"):
        return [{"name": quality, "policy": load_shipped(task, quality, assets), "episodes": episodes,
                 "noise_std": ACTION_NOISE_STD}]
    files = [entry["file"] for entry in prov["policies"]["replay"]]  # step order, medium.pt last
    share = [episodes // len(files) + (1 if i >= len(files) - episodes % len(files) else 0)
             for i in range(len(files))]  # equal shares, the remainder to the later snapshots
    return [{"name": Path(f).stem, "policy": load_shipped(task, Path(f).stem, assets), "episodes": n,
             "noise_std": float(prov["exploration_std"])} for f, n in zip(files, share) if n > 0]


def generate_dataset(
    task: str,
    quality: str,
    seed: int = 0,
    episodes: int | None = None,
    out: str | Path | None = None,
    assets: str | Path | None = None,
    n_envs: int | None = None,
    progress: bool = True,
    command: list[str] | str | None = None,
    venv_factory=None,
    spec=None,
) -> Path:
    """Roll out the ``quality`` behaviour of ``task`` and save the data set; return the ``.npz`` path."""
    from dom2lite.data.dataset import OfflineDataset

    if task not in DEFAULT_TRANSITIONS and spec is None:
        raise ConfigError("task", f"unknown task {task!r}; choose from {TASKS}")
    if venv_factory is None or spec is None:
        from dom2lite.envs import env_spec, make_vector_env

        venv_factory = venv_factory or (lambda n: make_vector_env(task, n))
        spec = spec or env_spec(task)
    episodes = int(episodes if episodes is not None else default_episodes(task, spec.max_steps))
    if episodes < 1:
        raise ConfigError("episodes", f"must be >= 1, got {episodes}")
    prov = shipped_provenance(task, assets)
    plan = behaviour_plan(task, quality, episodes, assets, prov)

    rng = np.random.default_rng(np.random.SeedSequence([int(seed), QUALITIES.index(quality)]))
    reset_base = int(rng.integers(0, 2**30))
    if n_envs is None:  # as many as useful, spread evenly so the last batch wastes little
        n_envs = min(MAX_ENVS, max(p["episodes"] for p in plan))
        n_envs = math.ceil(max(p["episodes"] for p in plan) / math.ceil(max(p["episodes"] for p in plan) / n_envs))
    venv = venv_factory(n_envs)
    bar = progress_bar(episodes * spec.max_steps, f"{task} {quality} s{seed}", progress)
    t0 = time.monotonic()
    parts, done = [], 0
    for part in plan:
        roll = rollout_episodes(venv, part["policy"], part["episodes"], reset_base + done, spec.act_mask,
                                spec.max_steps, noise_std=part["noise_std"], rng=rng, record=True,
                                episode_offset=done, on_step=bar.update)
        parts.append((part, roll))
        done += part["episodes"]
    bar.close()
    tr = {k: np.concatenate([r.transitions[k] for _, r in parts]) for k in parts[0][1].transitions}
    returns = np.concatenate([r.returns for _, r in parts])

    folder = shipped_dir(task, assets)
    measured = {step: ret for step, ret in prov.get("measured_curve", [])}  # step -> return measured at export
    behaviour: dict[str, Any] = {
        "quality": quality,
        "policies": [
            {"name": p["name"], "episodes": p["episodes"], "noise_std": p["noise_std"],
             **({} if p["policy"] is None else {"file": f"{p['name']}.pt", "step": p["policy"].step,
                                               "eval_return": p["policy"].eval_return,
                                               **({"measured_return": measured[p["policy"].step]}
                                                  if p["policy"].step in measured else {}),
                                               "sha256": sha256(folder / f"{p['name']}.pt")})}
            for p, _ in parts
        ],
        "source": f"dom2lite/assets/behaviour/{task}",
        "training_command": prov["training"]["command"],
        "training_commit": prov["training"]["git_commit"],
        "training_steps": prov["training"]["steps"],
        "rules": {"medium": prov["medium_rule"], "medium-replay": prov["replay_rule"]},
    }
    card_extra = {
        "reference_returns": dict(prov["reference_returns"]),
        "behaviour": behaviour,
        "generation": {
            "episodes": episodes, "transitions": int(len(tr["obs"])), "reset_seed_base": reset_base,
            "n_envs": n_envs, "seconds": round(time.monotonic() - t0, 2),
            "return_mean": float(returns.mean()), "return_std": float(returns.std()),
            "return_min": float(returns.min()), "return_max": float(returns.max()),
            "paper_transitions": PAPER_TRANSITIONS,
            "provenance": provenance(command),
        },
    }
    dataset = OfflineDataset(
        obs=tr["obs"], act=tr["act"], rew=tr["rew"], next_obs=tr["next_obs"], state=tr["state"],
        next_state=tr["next_state"], terminated=tr["terminated"], truncated=tr["truncated"],
        episode=tr["episode"], obs_mask=np.asarray(spec.obs_mask, bool), act_mask=np.asarray(spec.act_mask, bool),
        task=task, quality=quality, seed=int(seed),
    )
    return Path(dataset.save(dataset_path(task, quality, seed, out), card_extra=card_extra, command=command))


def generate_all(seed: int = 0, tasks=TASKS, qualities=QUALITIES, episodes: int | None = None,
                 out: str | Path | None = None, progress: bool = True, command=None, log=print) -> list[Path]:
    """Every (task, quality) data set for ``seed``; prints the time each took."""
    paths = []
    t0 = time.monotonic()
    for task in tasks:
        for quality in qualities:
            t = time.monotonic()
            paths.append(generate_dataset(task, quality, seed, episodes, out, progress=progress, command=command))
            log(f"{paths[-1]}  ({time.monotonic() - t:.1f} s)")
    log(f"{len(paths)} data sets in {time.monotonic() - t0:.1f} s")
    return paths


def _generate_cmd(args: argparse.Namespace) -> int:
    from dom2lite.seeding import pin_threads

    pin_threads()
    command = ["python", "-m", "dom2lite", *sys.argv[1:]]
    if args.all:
        tasks = (args.task,) if args.task else TASKS
        qualities = (args.quality,) if args.quality else QUALITIES
        generate_all(args.seed, tasks, qualities, args.episodes, args.out, not args.no_progress, command)
        return 0
    if not args.task or not args.quality:
        raise ConfigError("--task" if not args.task else "--quality", "required unless --all is given",
                          hint="give --task and --quality, or --all")
    path = generate_dataset(args.task, args.quality, args.seed, args.episodes, args.out,
                            n_envs=args.n_envs, progress=not args.no_progress, command=command)
    print(path)
    return 0


def add_generate_parser(data_subparsers) -> argparse.ArgumentParser:
    """Add ``generate`` to the ``python -m dom2lite data`` sub-commands."""
    from dom2lite.cli_values import positive_int, seed_int

    g = data_subparsers.add_parser(
        "generate", help="generate offline data sets from the shipped behaviour policies",
        description="Roll out the shipped behaviour policies and save {task}-{quality}-s{seed}.npz + .card.json.",
    )
    g.add_argument("--task", choices=TASKS, default=None)
    g.add_argument("--quality", choices=QUALITIES, default=None)
    g.add_argument("--seed", type=seed_int, default=0, help="seeds the resets and the action noise")
    g.add_argument("--all", action="store_true", help="every task and quality (or all of those not fixed)")
    g.add_argument("--episodes", type=positive_int, default=None,
                   help=f"episodes per data set (default: {DEFAULT_TRANSITIONS} transitions / episode length)")
    g.add_argument("--out", default=None, help="output folder (default: $DOM2LITE_DATA or ./data)")
    g.add_argument("--n-envs", type=positive_int, default=None,
                   help=f"environments in lock-step (default: up to {MAX_ENVS})")
    g.add_argument("--no-progress", action="store_true")
    g.set_defaults(func=_generate_cmd)
    return g

