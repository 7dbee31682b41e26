"""One offline training run, end to end: data set -> algorithm -> run folder -> final evaluation.

``train_run(task, algo, quality, seed)`` is what the chapters call (``python -m dom2lite train`` calls
:func:`train_members`, of which one seed is the solo run). It
loads the data set (validated against its card), resolves the configuration (dataclass defaults <
the papers' presets < the profile's budget < the caller's overrides), creates or reopens the run
folder, and hands everything to :func:`dom2lite.train.trainer.fit`. Calling it again with the same
``run_dir`` continues an interrupted run bit-identically; asking an existing folder for a different
configuration is refused, so two runs never mix in one folder.

Options every algorithm accepts: ``augment`` (trajectory-based augmentation, chapter 06: sampling
weights from return thresholds), ``data_fraction`` (a random fraction of the episodes, for the data
efficiency experiment), ``data_seed`` (which generated data set).
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from dom2lite.errors import ConfigError, MissingFileError
from dom2lite.io import atomic_write_json


@dataclass
class RunResult:
    run_dir: Path
    metrics: list[dict[str, Any]]
    finished: bool
    final_eval: dict[str, Any] | None
    """The evaluation after the last step (the reported figure), once the run is finished."""


def dataset_spec(dataset) -> types.SimpleNamespace:
    """The sizes an algorithm is built from, read off a data set (no environment needed)."""
    obs, act = dataset.obs, dataset.act  # [T, n, obs_dim], [T, n, act_dim]
    return types.SimpleNamespace(task=dataset.task, n_agents=obs.shape[1], obs_dim=obs.shape[2],
                                 act_dim=act.shape[2], state_dim=dataset.state.shape[1],
                                 act_mask=np.asarray(dataset.act_mask, bool))


def load_training_data(task: str, quality: str, data_seed: int = 0, data_dir=None, data_fraction: float = 1.0,
                       fraction_seed: int = 0):
    """The data set of ``(task, quality, data_seed)``, cut to ``data_fraction`` of its episodes."""
    from dom2lite.data.dataset import OfflineDataset
    from dom2lite.data.paths import dataset_path

    if not 0.0 < data_fraction <= 1.0:
        raise ConfigError("data_fraction", f"must lie in (0, 1], got {data_fraction!r}")
    path = dataset_path(task, quality, data_seed, data_dir)
    if not path.is_file():
        raise MissingFileError(path, f"{path} does not exist",
                               hint=f"generate it with: python -m dom2lite data generate --task {task} "
                                    f"--quality {quality} --seed {data_seed} --out {path.parent}")
    dataset = OfflineDataset.load(path)
    card = dataset.card
    if data_fraction < 1.0:
        dataset = dataset.keep_fraction(data_fraction, seed=fraction_seed)
    return dataset, card, path


def resolve_run_config(algo: str, task: str, quality: str, seed: int, profile=None,
                       overrides: dict[str, Any] | None = None):
    """The algorithm config: defaults < presets < the profile's budget overrides < ``overrides``."""
    from dom2lite.algos import algo_class, canonical_name, config_for
    from dom2lite.train.presets import budget_for

    budget = budget_for(task, profile)
    known = {f.name for f in fields(algo_class(algo).config_class)}
    narrowed = {k: v for k, v in budget.overrides_for(canonical_name(algo)).items() if k in known}
    values = {**narrowed, **(overrides or {}), "seed": seed}
    return canonical_name(algo), config_for(algo, task, quality, **values), budget


def with_added_defaults(stored: dict[str, Any], config_defaults: dict[str, Any]) -> dict[str, Any]:
    """A stored ``algo_config`` with every field added since it was stored at its default: new fields
    default to the behaviour that came before them, so that is what the run had."""
    return {**{k: v for k, v in config_defaults.items() if k not in stored}, **stored}


def _check_same_run(run_dir: Path, record: dict[str, Any], config_defaults: dict[str, Any]) -> None:
    """Refuse to resume ``run_dir`` with another setting. A config field added since the run started
    (absent from its config.json) counts as the same when the new run leaves it at its default: new fields
    default to the behaviour that came before them."""
    from dom2lite.train.runs import read_config

    stored = read_config(run_dir)
    if isinstance(stored.get("algo_config"), dict):
        stored = {**stored, "algo_config": with_added_defaults(stored["algo_config"], config_defaults)}
    for key in ("task", "algo", "quality", "data_seed", "data_fraction", "augment", "algo_config", "schedule",
                "reward_scale"):
        if stored.get(key) != record.get(key):
            raise ConfigError(key, f"{run_dir} holds a run with {key}={stored.get(key)!r}, not {record.get(key)!r}; "
                                   "use another --run-dir to start a new run")


def train_run(
    task: str,
    algo: str,
    quality: str = "expert",
    seed: int = 0,
    *,
    run_dir=None,
    **kwargs,
) -> RunResult:
    """Train ``algo`` on the ``(task, quality, data_seed)`` data set; resume when ``run_dir`` holds a run.

    ``data_dir`` defaults to the profile's data folder (``data/smoke``, ``data/book``, ``data`` for full).
    The keyword arguments are :func:`train_members`'s.
    """
    return train_members(task, algo, quality, [seed], run_dirs=None if run_dir is None else [run_dir], **kwargs)[0]


def member_run_dirs(template: str | Path, seeds) -> list[Path]:
    """``runs/spread-dom2-s{seed}`` -> one folder per seed (a template must name ``{seed}``)."""
    template = str(template)
    if "{seed}" not in template:
        raise ConfigError("run_dir", f"{template!r} names no {{seed}}: several seeds need one folder each",
                          hint="write the folder as a template, e.g. --run-dir 'runs/spread-dom2-s{seed}'")
    return [Path(template.replace("{seed}", str(s))) for s in seeds]


def train_members(
    task: str,
    algo: str,
    quality: str = "expert",
    seeds=(0,),
    *,
    data_seed: int = 0,
    data_dir=None,
    data_fraction: float = 1.0,
    augment: bool = False,
    overrides: dict[str, Any] | None = None,
    steps: int | None = None,
    eval_every: int | None = None,
    eval_episodes: int | None = None,
    checkpoint_every: int | None = None,
    profile=None,
    run_dirs=None,
    runs_root=None,
    stop_after: int | None = None,
    progress: bool = True,
    device=None,
    command: list[str] | str | None = None,
) -> list[RunResult]:
    """Train one run per seed in ``seeds``, all in this process as members of one wide algorithm
    (seeds as a batch dimension, the Cost appendix); one seed is an ordinary solo run.

    Each member is prepared exactly as its solo run (configuration, data, reward scale, critic start,
    sampler) and writes its own ordinary run folder, which ``evaluate``, ``plot`` and a solo resume treat
    as any other. ``run_dirs``: one folder per seed, or a template naming ``{seed}``; calling again with
    the same folders continues every member. Returns one :class:`RunResult` per seed.
    """
    from dom2lite.algos import make_algo
    from dom2lite.augment import augmentation_weights
    from dom2lite.critics.calibration import calibration_metrics, calibration_set
    from dom2lite.data.card import file_sha256
    from dom2lite.data.ensure import profile_data_dir
    from dom2lite.data.sampler import TransitionSampler
    from dom2lite.device import resolve_device
    from dom2lite.members.algo import member_module, member_values, stack_members
    from dom2lite.provenance import provenance
    from dom2lite.train.evaluate import evaluate
    from dom2lite.train.runs import new_run_dirs, write_config
    from dom2lite.train.trainer import FitSchedule, fit

    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ConfigError("seeds", f"need one or more distinct seeds, got {seeds}")
    if isinstance(run_dirs, (str, Path)):
        run_dirs = member_run_dirs(run_dirs, seeds)
    if run_dirs is not None and len(run_dirs) != len(seeds):
        raise ConfigError("run_dir", f"{len(run_dirs)} run folders for {len(seeds)} seeds")
    data_dir = data_dir if data_dir is not None else profile_data_dir(profile)
    device = resolve_device(device)

    def given(value, default):  # an explicit 0 is checked (and refused) by FitSchedule, never "the default"
        return default if value is None else value

    name, _, budget = resolve_run_config(algo, task, quality, seeds[0], profile, overrides)
    total = given(steps, budget.steps)
    schedule = FitSchedule(steps=total, log_every=budget.log_every, eval_every=given(eval_every, budget.eval_every),
                           checkpoint_every=given(checkpoint_every, min(budget.checkpoint_every, total)))
    n_eval = given(eval_episodes, budget.eval_episodes)
    if n_eval < 1:
        raise ConfigError("eval_episodes", f"must be >= 1, got {n_eval}")
    folders = [Path(d) for d in run_dirs] if run_dirs is not None else new_run_dirs(task, name, seeds, runs_root)

    shared: dict[Any, Any] = {}  # with the whole data set, every member reads one copy (and one yardstick)
    solos, samplers, csets, cards, new_configs = [], [], [], [], []
    checked_data: set = set()  # data files whose sha256 was checked against their card
    for seed, run_dir in zip(seeds, folders):
        _, config, _ = resolve_run_config(algo, task, quality, seed, profile, overrides)
        key = seed if data_fraction < 1.0 else None  # a fraction of the episodes is drawn with the seed
        if key not in shared:
            dataset, card, data_path = load_training_data(task, quality, data_seed, data_dir, data_fraction, seed)
            cset = calibration_set(dataset, config.gamma, device=device) if hasattr(config, "gamma") else None
            shared[key] = (dataset, card, data_path, cset, None)
        dataset, card, data_path, cset, first_sampler = shared[key]
        reward_scale = 1.0
        if cset is not None and config.reward_norm == "return_range":  # one step's reward spans about one unit
            reward_scale = 1.0 / ((1.0 - config.gamma) * cset.return_range)
        record = {
            "task": task, "algo": name, "quality": quality, "seed": seed, "data_seed": data_seed,
            "data_fraction": data_fraction, "augment": augment, "algo_config": config.to_dict(),
            "schedule": vars(schedule), "eval_episodes": n_eval, "reward_scale": reward_scale,
            "data": {"path": str(data_path), "sha256": card.get("sha256"), "episodes": dataset.n_episodes,
                     "transitions": dataset.n_transitions},
        }
        if (run_dir / "config.json").is_file():
            _check_same_run(run_dir, record, type(config)().to_dict())
        else:  # written once every member has been checked, so a refused member leaves no half-made set
            if data_path not in checked_data:
                if card.get("sha256") != file_sha256(data_path):
                    raise ConfigError("data", f"{data_path} does not match the sha256 of its card")
                checked_data.add(data_path)
            members = {} if len(seeds) == 1 else {"members": {"seeds": seeds, "run_dirs": [str(f) for f in folders]}}
            new_configs.append((run_dir, {**record, **members, "provenance": provenance(command)}))

        agent = make_algo(name, dataset_spec(dataset), config, device)
        if reward_scale != 1.0:
            agent.set_reward_scale(reward_scale)
        if getattr(config, "q_init", "zero") == "data_return":
            agent.start_q_at(cset.mc.mean(0))  # [n] the data's mean Monte-Carlo return per agent
        if first_sampler is None:
            weights = augmentation_weights(dataset.episode_returns(), dataset.episode) if augment else None
            sampler = TransitionSampler(dataset, device, seed=seed, weights=weights)
            shared[key] = (dataset, card, data_path, cset, sampler)
        else:
            sampler = first_sampler.share(seed)
        solos.append(agent)
        samplers.append(sampler)
        csets.append(cset)
        cards.append(card)

    for run_dir, config_record in new_configs:
        write_config(run_dir, config_record)
    wide = stack_members(solos)
    k_members = len(seeds)

    def eval_fn(policy):
        results = evaluate(policy, task, n_episodes=n_eval, card=cards[0], device=device, members=k_members)
        results = [results] if k_members == 1 else results
        out = [r.as_dict() for r in results]
        if csets[0] is not None:
            scales = member_values(policy, policy.reward_scale)
            for k, row in enumerate(out):
                row.update(calibration_metrics(member_module(policy, "critic", k), csets[k], scales[k]))
        return out[0] if k_members == 1 else out

    logs = fit(wide, samplers[0] if k_members == 1 else samplers, wide.config.batch_size, schedule,
               folders[0] if k_members == 1 else folders, eval_fn, progress, stop_after)
    logs = [logs] if k_members == 1 else logs
    results = []
    for run_dir, metrics in zip(folders, logs):
        last_step = max((m["step"] for m in metrics), default=0)
        finished = last_step >= schedule.steps
        final = None
        if finished:
            final = next((m for m in reversed(metrics) if "eval/mean" in m), None)
            atomic_write_json(run_dir / "result.json", {"final_eval": final, "step": schedule.steps})
        results.append(RunResult(run_dir, metrics, finished, final))
    return results
