"""Bringing a trained policy back from its run folder, and evaluating it on standard or shifted tasks.

``load_policy(run_dir)`` rebuilds the algorithm from ``config.json`` and loads the newest readable
checkpoint (``weights_only=True``; a corrupt newest file falls back to the previous one). The policy
reported is the final one, never the best one seen while training.
Explained in chapter 07 (DOM2 end to end) and chapter 09 (shifted environments).
"""

from __future__ import annotations

from pathlib import Path

from dom2lite.errors import CheckpointError


def load_policy(run_dir: str | Path, device=None):
    """The algorithm of ``run_dir`` with its newest checkpoint's weights (``eval()`` mode)."""
    from dom2lite.algos import algo_class
    from dom2lite.algos.config import build_config
    from dom2lite.device import resolve_device
    from dom2lite.envs import env_spec
    from dom2lite.train.checkpoint import load_latest_checkpoint
    from dom2lite.train.runs import read_config

    cfg = read_config(run_dir)
    cls = algo_class(cfg["algo"])
    device = resolve_device(device)
    algo = cls(env_spec(cfg["task"]), build_config(cls.config_class, cfg["algo_config"]), device)
    ckpt = load_latest_checkpoint(run_dir, map_location=device)
    if ckpt is None:
        raise CheckpointError(run_dir, None, "the run folder holds no checkpoint yet")
    algo.load_state_dict(ckpt["algo"])
    algo.trained_steps = int(ckpt["step"])
    return algo.eval()


def run_card(run_dir: str | Path) -> dict | None:
    """The card of the data set a run trained on (None when the file is gone)."""
    from dom2lite.data.card import read_card
    from dom2lite.data.paths import card_path
    from dom2lite.train.runs import read_config

    path = card_path(read_config(run_dir)["data"]["path"])
    return read_card(path) if path.is_file() else None


def evaluate_run(run_dir: str | Path, shift: str | None = None, shift_strength: float = 1.0,
                 n_episodes: int = 20, seed: int = 10_000, device=None):
    """Evaluate a run's final policy; normalised with its data set's reference returns when available."""
    from dom2lite.train.evaluate import evaluate
    from dom2lite.train.runs import read_config

    algo = load_policy(run_dir, device)
    return evaluate(algo, read_config(run_dir)["task"], n_episodes=n_episodes, seed=seed, shift=shift,
                    shift_strength=shift_strength, card=run_card(run_dir), device=algo.device)


def calibration_pairs(run_dir: str | Path, device=None):
    """``(q, mc)``, both ``[R, n]`` numpy arrays: a run's final critic's Q on a fixed subsample of its own
    data set's transitions (raw reward units) and the Monte-Carlo returns that followed them; None for
    an algorithm without a critic. ``DatasetError`` when the data set is gone or changed."""
    from dom2lite.critics.calibration import data_q

    loaded = critic_and_calibration_set(run_dir, device)
    if loaded is None:
        return None
    algo, cset = loaded
    return data_q(algo.critic, cset, float(algo.reward_scale)).cpu().numpy(), cset.mc.cpu().numpy()


def calibrate_run(run_dir: str | Path, device=None) -> dict[str, float] | None:
    """The calibration figures (``calib/*``) of a run's final critic on its own data set; None for an
    algorithm without a critic. ``DatasetError`` when the data set is gone or changed."""
    from dom2lite.critics.calibration import calibration_metrics

    loaded = critic_and_calibration_set(run_dir, device)
    if loaded is None:
        return None
    algo, cset = loaded
    return calibration_metrics(algo.critic, cset, float(algo.reward_scale))


def training_data(run_dir: str | Path):
    """The data set a run trained on, as it trained on it (its fraction of the episodes, drawn from its seed)."""
    from dom2lite.train.experiment import load_training_data
    from dom2lite.train.runs import read_config

    cfg = read_config(run_dir)
    data_dir = Path(cfg["data"]["path"]).parent
    dataset, _, _ = load_training_data(cfg["task"], cfg["quality"], cfg["data_seed"], data_dir, cfg["data_fraction"],
                                       cfg["seed"])
    return dataset


def critic_and_calibration_set(run_dir: str | Path, device=None):
    """``(algo, CalibrationSet)`` of a run: its final algorithm and the fixed subsample of its own data
    set with their Monte-Carlo returns; None for an algorithm without a critic."""
    from dom2lite.critics.calibration import calibration_set

    algo = load_policy(run_dir, device)
    if getattr(algo, "critic", None) is None:
        return None
    return algo, calibration_set(training_data(run_dir), algo.config.gamma, device=algo.device)
