"""Learning curves from run folders: read ``metrics.jsonl`` and plot any logged quantity against the step.

``plot_runs([run_a, run_b], keys=("eval/mean", "critic_loss"))`` draws one panel per key and one line
per run (runs that share task, algorithm and every setting but the seed are averaged, with a band of
one standard deviation). Used by ``python -m dom2lite plot`` and by the chapters.
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from dom2lite.train.runs import MetricsLog, read_config


TITLES = {"eval/mean": "evaluation return", "eval/normalised_mean": "normalised score",
          "critic_loss": "critic loss", "actor_loss": "actor loss", "q_mean": "mean Q on data actions",
          "td_loss": "TD error (critic's units)", "calib/bias": "Q minus the return that followed",
          "calib/bias_frac": "calibration bias / return range", "calib/corr": "corr(Q, return that followed)",
          "cql_alpha": "CQL weight"}
"""Panel titles for logged keys; any other key is its own title."""


def series(run_dir: str | Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, values)`` of ``key`` in a run's metrics (rows without the key are skipped)."""
    rows = [r for r in MetricsLog(run_dir).read() if key in r]
    return np.array([r["step"] for r in rows]), np.array([r[key] for r in rows], dtype=np.float64)


def run_label(config: dict) -> str:
    label = f"{config['algo']} ({config['task']}, {config['quality']})"
    if config.get("augment"):
        label += " +aug"
    if config.get("data_fraction", 1.0) < 1.0:
        label += f" {config['data_fraction']:.0%} data"
    return label


def setting_fields(config: dict) -> dict:
    """Everything that defines a run's setting except its seed: algorithm fields, augmentation, data
    fraction and step budget."""
    return {**{k: v for k, v in config.get("algo_config", {}).items() if k != "seed"},
            "augment": config.get("augment"), "data_fraction": config.get("data_fraction"),
            "steps": config.get("schedule", {}).get("steps")}


def setting_labels(configs, base=run_label) -> list[str]:
    """One label per run config: ``base(config)``, and where settings that differ in more than the seed
    share that label, the fields that tell them apart (``cql (spread, medium) [cql_lagrange=False]``)."""
    fields = [setting_fields(c) for c in configs]
    variants: dict[str, list[dict]] = defaultdict(list)
    for c, f in zip(configs, fields):
        if f not in variants[base(c)]:
            variants[base(c)].append(f)
    labels = []
    for c, f in zip(configs, fields):
        differ = sorted(k for k in f if any(v.get(k) != f[k] for v in variants[base(c)]))
        labels.append(base(c) + (" [" + ", ".join(f"{k}={f[k]}" for k in differ) + "]" if differ else ""))
    return labels


def group_by_setting(run_dirs) -> dict[str, list[Path]]:
    """Runs that differ only in their seed share a label."""
    groups: dict[str, list[Path]] = defaultdict(list)
    for d, label in zip(run_dirs, setting_labels([read_config(d) for d in run_dirs])):
        groups[label].append(Path(d))
    return dict(groups)


def plot_runs(run_dirs, keys=("eval/mean",), axes=None, reference: dict | None = None):
    """One panel per key; mean ± std over seeds per setting. ``reference``: ``{"random": R, "expert": R}``
    draws the data set's reference returns on ``eval/mean`` panels. Returns the figure."""
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, len(keys), figsize=(4.5 * len(keys), 3.3), squeeze=False)
        axes = axes[0]
    fig = axes[0].figure
    groups = group_by_setting(run_dirs)
    colours = {label: f"C{i % 10}" for i, label in enumerate(groups)}  # one colour per run on every panel
    first_line: dict = {}
    for ax, key in zip(axes, keys):
        for label, dirs in groups.items():
            curves = [series(d, key) for d in dirs]
            n = min(len(s) for s, _ in curves)
            if n == 0:
                continue
            steps = curves[0][0][:n]
            values = np.stack([v[:n] for _, v in curves])  # [seeds, points]
            mean, std = values.mean(0), values.std(0)
            (line,) = ax.plot(steps, mean, color=colours[label],
                              label=f"{label} ×{len(dirs)}" if len(dirs) > 1 else label)
            first_line.setdefault(label, line)
            if len(dirs) > 1:
                ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        if reference and key == "eval/mean":
            for name, style in (("random", ":"), ("expert", "--")):
                ax.axhline(reference[name], color="grey", ls=style, lw=1, label=f"{name} (data card)")
        ax.set_xlabel("gradient step")
        ax.set_title(TITLES.get(key, key))
        ax.grid(alpha=0.3)
    # the legend (first panel) lists every run, also one that panel lacks (a metric it never logged)
    references = [h for h in axes[0].get_legend_handles_labels()[0] if h not in first_line.values()]
    axes[0].legend(handles=[*first_line.values(), *references], fontsize=8)
    fig.tight_layout()
    return fig
