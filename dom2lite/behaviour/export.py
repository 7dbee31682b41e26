"""Shipping a finished training run: pick expert / medium / medium-replay snapshots, measure references.

``export_behaviour(task, seed, out)`` reads ``<out>/behaviour/{task}/s{seed}/``, measures the random and
expert reference returns on ``reference_episodes`` fixed-seed episodes, measures every earlier snapshot
on the same episodes (the few evaluation episodes behind each point of the training curve are too noisy
to pick medium from, world's most of all), applies the rules of
``dom2lite.behaviour.select`` to those measured returns and writes into
``dom2lite/assets/behaviour/{task}/``:

- ``expert.pt`` (the final snapshot), ``medium.pt``, ``replay_{i}.pt`` (the earlier snapshots that
  medium-replay rolls out, in step order; ``medium.pt`` is the last one of that sequence);
- ``provenance.json``: the training command, seed, git commit, steps, configuration, steps/s, the
  evaluation-return curve, the measured curve, the reference returns, which snapshot each file is and
  its sha256.

``final_step`` exports a run as it was at that step (later snapshots are ignored), so a run that was
continued past its budget can still ship the policy of the budget.
Explained in chapter 02.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from dom2lite.behaviour.policy import assets_root, load_snapshot
from dom2lite.progress import progress_bar
from dom2lite.behaviour.rollout import rollout_episodes
from dom2lite.behaviour.select import halfway_return, select_medium, select_replay
from dom2lite.behaviour.train import EVAL_SEED, run_dir_for, snapshot_paths
from dom2lite.errors import ConfigError, FileFieldError
from dom2lite.io import atomic_write, atomic_write_json
from dom2lite.provenance import provenance
from dom2lite.train.runs import MetricsLog, read_config

MEDIUM_RULE = ("medium = the snapshot before the final one whose mean return over the reference episodes "
               "(noise-free, the same reset seeds as the references) is closest to "
               "R_random + 0.5 (R_expert - R_random); ties go to the earliest")
REPLAY_RULE = ("medium-replay = equal numbers of episodes from each replay_i.pt then medium.pt, in step order: "
               "snapshots nearest to evenly spaced steps from step 0 to the medium snapshot, rolled out with "
               "the training exploration noise")


REFERENCE_EPISODES = {"spread": 100, "tag": 100, "halfcheetah": 100, "world": 400}
"""Fixed-seed episodes behind each reference and measured return. World's team return has a per-episode
standard deviation larger than its mean (about 10 against 5 to 8), so 100 episodes leave a standard
error near 1, a seventh of the random-to-expert range; 400 halve it."""


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
    reference_episodes: int | None = None,
    venv_factory=None,
    spec=None,
    command: list[str] | str | None = None,
    final_step: int | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    """Write the shipped behaviour policies of ``task`` from a finished run; return the provenance."""
    run_dir = run_dir_for(out, task, seed)
    paths = snapshot_paths(run_dir)
    snaps = [load_snapshot(p) for p in paths]
    if final_step is not None:
        if final_step not in [s.step for s in snaps]:
            raise ConfigError("final_step", f"{run_dir / 'snapshots'} has no snapshot at step {final_step}")
        paths = [p for p, s in zip(paths, snaps) if s.step <= final_step]
        snaps = snaps[: len(paths)]
    if len(paths) < 2:
        raise FileFieldError(run_dir / "snapshots", None,
                             f"needs at least 2 snapshots to choose expert and medium, found {len(paths)}")
    if venv_factory is None or spec is None:
        from dom2lite.envs import env_spec, make_vector_env

        venv_factory = venv_factory or (lambda n: make_vector_env(task, n))
        spec = spec or env_spec(task)
    config = read_config(run_dir)
    if reference_episodes is None:
        reference_episodes = REFERENCE_EPISODES.get(task, 100)
    steps = [s.step for s in snaps]
    curve = [[s.step, s.eval_return] for s in snaps]
    expert = snaps[-1]

    venv = venv_factory(min(reference_episodes, 50))
    measure = lambda policy, **kw: rollout_episodes(  # noqa: E731
        venv, policy, reference_episodes, EVAL_SEED, spec.act_mask, spec.max_steps, **kw).returns
    random_returns = measure(None, rng=np.random.default_rng(seed))
    expert_returns = measure(expert)
    ref_random, ref_expert = float(random_returns.mean()), float(expert_returns.mean())

    bar = progress_bar(len(snaps) - 1, f"{task}: measuring snapshots", enabled=progress, unit="snapshot")
    measured = []  # [n_snapshots - 1] arrays of [reference_episodes] returns
    for snap in snaps[:-1]:
        measured.append(measure(snap))
        bar.update()
    bar.close()
    measured_curve = [[s.step, float(r.mean())] for s, r in zip(snaps, measured)] + [[expert.step, ref_expert]]
    medium_idx = select_medium([r.mean() for r in measured], ref_random, ref_expert)
    medium, medium_returns = snaps[medium_idx], measured[medium_idx]
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

    measured_at = dict(map(tuple, measured_curve))  # step -> measured return

    def entry(snap, file, returns=None):
        e = {"file": file, "step": snap.step, "eval_return": snap.eval_return,
             "measured_return": measured_at[snap.step]}
        if returns is not None:
            e["return_mean"], e["return_std"] = float(returns.mean()), float(returns.std())
        return e

    pieces = [r for r in MetricsLog(run_dir).read() if r.get("event") == "piece_end" and r["step"] <= expert.step]
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
        "measured_curve": measured_curve,
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

