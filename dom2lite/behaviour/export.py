"""Shipping a finished training run: pick expert / medium / medium-replay snapshots, measure references.

``export_behaviour(task, seed, out)`` reads ``<out>/behaviour/{task}/s{seed}/``, measures the random and
expert reference returns on ``reference_episodes`` fixed-seed episodes, applies the rules of
``dom2lite.behaviour.select`` and writes into ``dom2lite/assets/behaviour/{task}/``:

- ``expert.pt`` (the final snapshot), ``medium.pt``, ``replay_{i}.pt`` (the earlier snapshots that
  medium-replay rolls out, in step order; ``medium.pt`` is the last one of that sequence);
- ``provenance.json``: the training command, seed, git commit, steps, configuration, steps/s, the
  evaluation-return curve, the reference returns, which snapshot each file is and its sha256.
Explained in chapter 02.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from dom2lite.behaviour.policy import assets_root, load_snapshot
from dom2lite.behaviour.rollout import rollout_episodes
from dom2lite.behaviour.select import halfway_return, select_medium, select_replay
from dom2lite.behaviour.train import EVAL_SEED, run_dir_for, snapshot_paths
from dom2lite.errors import FileFieldError
from dom2lite.io import atomic_write, atomic_write_json
from dom2lite.provenance import provenance
from dom2lite.train.runs import MetricsLog, read_config

MEDIUM_RULE = ("medium = the snapshot before the final one whose evaluation return is closest to "
               "R_random + 0.5 (R_expert - R_random); ties go to the earliest")
REPLAY_RULE = ("medium-replay = equal numbers of episodes from each replay_i.pt then medium.pt, in step order: "
               "snapshots nearest to evenly spaced steps from step 0 to the medium snapshot, rolled out with "
               "the training exploration noise")


def sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _copy(src: Path, dst: Path) -> None:
    data = src.read_bytes()
    atomic_write(dst, lambda fh: fh.write(data))


def export_behaviour(
    task: str,
    seed: int = 0,
    out: str | Path = "runs",
    dest: str | Path | None = None,
    n_replay: int = 5,
    reference_episodes: int = 100,
    venv_factory=None,
    spec=None,
    command: list[str] | str | None = None,
) -> dict[str, Any]:
    """Write the shipped behaviour policies of ``task`` from a finished run; return the provenance."""
    run_dir = run_dir_for(out, task, seed)
    paths = snapshot_paths(run_dir)
    if len(paths) < 2:
        raise FileFieldError(run_dir / "snapshots", None,
                             f"needs at least 2 snapshots to choose expert and medium, found {len(paths)}")
    if venv_factory is None or spec is None:
        from dom2lite.envs import env_spec, make_vector_env

        venv_factory = venv_factory or (lambda n: make_vector_env(task, n))
        spec = spec or env_spec(task)
    config = read_config(run_dir)
    snaps = [load_snapshot(p) for p in paths]
    steps = [s.step for s in snaps]
    curve = [[s.step, s.eval_return] for s in snaps]
    expert = snaps[-1]

    venv = venv_factory(min(reference_episodes, 50))
    measure = lambda policy, **kw: rollout_episodes(  # noqa: E731
        venv, policy, reference_episodes, EVAL_SEED, spec.act_mask, spec.max_steps, **kw).returns
    random_returns = measure(None, rng=np.random.default_rng(seed))
    expert_returns = measure(expert)
    ref_random, ref_expert = float(random_returns.mean()), float(expert_returns.mean())

    medium_idx = select_medium([s.eval_return for s in snaps[:-1]], ref_random, ref_expert)
    medium = snaps[medium_idx]
    medium_returns = measure(medium)
    replay_idx = select_replay(steps, medium_idx, n_replay)

    dest = Path(dest) if dest is not None else assets_root() / task
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("replay_*.pt"):
        old.unlink()
    _copy(paths[-1], dest / "expert.pt")
    _copy(paths[medium_idx], dest / "medium.pt")
    replay_files = []
    for i, j in enumerate(replay_idx[:-1]):
        _copy(paths[j], dest / f"replay_{i}.pt")
        replay_files.append(f"replay_{i}.pt")
    replay_files.append("medium.pt")

    def entry(snap, file, returns=None):
        e = {"file": file, "step": snap.step, "eval_return": snap.eval_return}
        if returns is not None:
            e["return_mean"], e["return_std"] = float(returns.mean()), float(returns.std())
        return e

    pieces = [r for r in MetricsLog(run_dir).read() if r.get("event") == "piece_end"]
    train_prov = config.get("provenance", {})
    record = {
        "task": task,
        "seed": seed,
        "training": {
            "command": train_prov.get("command"),
            "git_commit": train_prov.get("git_commit"),
            "versions": train_prov.get("versions"),
            "steps": expert.step,
            "config": config["config"],
            "pieces": [{k: r.get(k) for k in ("step", "seconds", "steps_per_s", "command")} for r in pieces],
            "wall_seconds": round(sum(r.get("seconds", 0.0) for r in pieces), 1),
        },
        "export": provenance(command),
        "curve": curve,
        "reference_returns": {"random": ref_random, "expert": ref_expert},
        "reference_episodes": reference_episodes,
        "reference_rule": (f"mean team return over {reference_episodes} episodes with reset seeds "
                           f"{EVAL_SEED} + k: uniform random actions (random), the expert actor without noise (expert)"),
        "medium_rule": MEDIUM_RULE,
        "medium_target": halfway_return(ref_random, ref_expert),
        "replay_rule": REPLAY_RULE,
        "exploration_std": config["config"]["exploration_std"],
        "policies": {
            "expert": entry(expert, "expert.pt", expert_returns),
            "medium": entry(medium, "medium.pt", medium_returns),
            "replay": [entry(snaps[j], f) for j, f in zip(replay_idx, replay_files)],
        },
        "sha256": {p.name: sha256(p) for p in sorted(dest.glob("*.pt"))},
    }
    atomic_write_json(dest / "provenance.json", record)
    return record

