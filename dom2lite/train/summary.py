"""What a finished run (or several seeds of one setting) amounts to, as plain numbers for results files.

``run_summary(run_dir)`` reads a run folder and reports its final evaluation (the policy after the last
step, never the best one seen), its critic's calibration at the end (``calib/*``, chapter 05) and whether
``td_loss`` still grows (and its curve at the evaluations): ``td_growth`` is the mean ``td_loss`` over the last quarter of the logged steps
divided by its mean over the quarter before (the last half of training, split in two; above 1 it grew).
``summarise(run_dirs)`` groups runs that differ only in their seed and gives mean ± std over seeds.
``python -m dom2lite summarise RUN_DIR... --out results/NAME.json`` writes both with provenance; with
``--keep-from results/NAME.json`` the runs that file summarised and that are not among the folders given
(a grid run over several machines or sittings, whose earlier folders are gone) are kept as they were
stored, each with its own command and commit, and averaged with the new ones.
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dom2lite.train.curves import setting_labels
from dom2lite.train.runs import MetricsLog, read_config

FIGURES = ("eval/normalised_mean", "eval/mean", "calib/bias", "calib/bias_frac", "calib/corr", "calib/q_mean",
           "calib/mc_mean", "td_growth")


WINDOWED = ("td_loss", "cql_alpha")
"""Training metrics a curve averages over the steps since the evaluation before (``cql_alpha``: the
CQL weight, which the Lagrangian form learns)."""


def td_growth(rows: list[dict[str, Any]]) -> float | None:
    """Mean td_loss over the last quarter of its logged steps over the mean of the quarter before."""
    td = np.array([r["td_loss"] for r in rows if "td_loss" in r], dtype=np.float64)
    if len(td) < 4:
        return None
    q = len(td) // 4
    return float(td[-q:].mean() / max(td[-2 * q:-q].mean(), 1e-12))


def run_summary(run_dir: str | Path, until: int | None = None) -> dict[str, Any]:
    """The setting, the final evaluation and calibration, and ``td_growth`` of one run folder; with
    ``until``, as of that step (the rows logged after it are ignored: runs of a grid compared at one step)."""
    cfg = read_config(run_dir)
    rows = [r for r in MetricsLog(run_dir).read() if until is None or r["step"] <= until]
    evals = [r for r in rows if "eval/mean" in r]
    last = evals[-1] if evals else {}
    steps = cfg["schedule"]["steps"]
    out: dict[str, Any] = {
        "run_dir": str(run_dir), "task": cfg["task"], "algo": cfg["algo"], "quality": cfg["quality"],
        "seed": cfg["seed"], "steps": steps, "last_eval_step": last.get("step"),
        "finished": bool(last) and last.get("step") == steps,
        "reward_scale": cfg.get("reward_scale", 1.0), "data_sha256": cfg["data"]["sha256"],
        "commit": cfg.get("provenance", {}).get("git_commit"),
        "command": cfg.get("provenance", {}).get("command"),
        "torch_threads": cfg.get("provenance", {}).get("torch_threads"),  # CPU results repeat at the same count
        "cpu": cfg.get("provenance", {}).get("cpu"),  # and on the same kind of processor (None: not recorded)
        "algo_config": cfg.get("algo_config"),
    }
    out["data_normalised_mean"] = _data_score(cfg["data"]["path"], cfg["data"]["sha256"])
    for key in FIGURES[:-1]:
        out[key] = last.get(key)
    out["td_growth"] = td_growth(rows)
    out["curve"] = eval_curve(rows)
    return out


def _data_score(data_path: str, sha256: str | None) -> float | None:
    """The data set's own normalised mean return, from its card (None when the card is not here or is
    the card of another file: the figure the issue's medium gate is read against)."""
    from dom2lite.data.card import read_card
    from dom2lite.data.paths import card_path

    try:
        card = read_card(card_path(data_path))
    except (OSError, ValueError):
        return None
    return card.get("normalised_return_mean") if card.get("sha256") == sha256 else None


def eval_curve(rows: list[dict[str, Any]]) -> dict[str, list]:
    """The run's learning curve at its evaluations, small enough for a results file: the step, the
    evaluation figures, the calibration, and the :data:`WINDOWED` metrics averaged over the steps since
    the evaluation before."""
    curve: dict[str, list] = defaultdict(list)
    since: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for key in WINDOWED:
            if key in r:
                since[key].append(r[key])
        if "eval/mean" in r:
            curve["step"].append(r["step"])
            for key in ("eval/mean", "eval/normalised_mean", "calib/bias", "calib/bias_frac", "calib/corr"):
                if key in r:
                    curve[key].append(r[key])
            for key, values in since.items():
                if values:
                    curve[key].append(float(np.mean(values)))
            since = defaultdict(list)
    return dict(curve)


def stored_runs(path: str | Path, required: tuple[str, ...] = ("run_dir", "setting", "seed")) -> list[dict]:
    """The ``runs`` of a results file written earlier (none when the file is not there yet), each with
    the ``required`` fields; :class:`~dom2lite.errors.FileFieldError` when the file holds no such list."""
    import json

    from dom2lite.errors import FileFieldError

    path = Path(path)
    if not path.exists():
        return []
    hint = "name a results file written by the same command, or leave out --keep-from"
    try:
        runs = json.loads(path.read_text()).get("runs")
    except (ValueError, AttributeError) as exc:
        raise FileFieldError(path, None, "not a JSON object", hint=hint) from exc
    if not isinstance(runs, list) or not all(isinstance(r, dict) and set(required) <= r.keys() for r in runs):
        raise FileFieldError(path, "runs", f"not a list of run summaries ({', '.join(required)})", hint=hint)
    return runs


def kept_rows(path: str | Path | None, run_dirs, required: tuple[str, ...] = ("run_dir", "algo", "seed")) -> list[dict]:
    """The rows of an earlier results file (``--keep-from``) for runs whose folder is not among
    ``run_dirs``: none without a file; :class:`~dom2lite.errors.FileFieldError` as :func:`stored_runs`."""
    if not path:
        return []
    here = {str(Path(d)) for d in run_dirs}
    return [r for r in stored_runs(path, required) if str(Path(r["run_dir"])) not in here]


def write_rows(out: str | Path, rows: list[dict], kept: list[dict], keep_from: str | None, command: list[str]) -> None:
    """Write a per-run results file atomically: ``rows`` measured now and ``kept`` from ``keep_from``,
    sorted by algorithm, seed and folder, with the ``command`` that made it and the kept folders."""
    from dom2lite.io import atomic_write_json
    from dom2lite.provenance import provenance

    rows = sorted(kept + rows, key=lambda r: (r["algo"], r["seed"], r["run_dir"]))
    extra = {"kept_from": {"file": keep_from, "runs": [r["run_dir"] for r in kept]}} if keep_from else {}
    atomic_write_json(out, {"provenance": provenance(command), "runs": rows, **extra})


def summarise(run_dirs, until: int | None = None, keep: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Per-run summaries and, per setting (task, quality, algorithm, every other field but the seed),
    mean ± std over seeds of each figure. Settings that share a label are told apart by their fields
    that differ (``spread-expert/cql [cql_alpha=0.5]``). ``keep``: run summaries stored earlier (the
    ``runs`` of a results file); those whose ``run_dir`` is not among ``run_dirs`` join their setting as
    they were stored (a folder given here replaces its stored summary)."""
    runs = [run_summary(d, until) for d in run_dirs]
    base = lambda cfg: f"{cfg['task']}-{cfg['quality']}/{cfg['algo']}"  # noqa: E731
    for r, key in zip(runs, setting_labels([read_config(d) for d in run_dirs], base)):
        r["setting"] = key
    here = {str(Path(d)) for d in run_dirs}
    kept = [r for r in (keep or []) if str(Path(r["run_dir"])) not in here]
    runs = sorted(kept + runs, key=lambda r: (r["setting"], r["seed"]))
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        groups[r["setting"]].append(r)
    settings = {}
    for key, members in sorted(groups.items()):
        entry: dict[str, Any] = {"seeds": sorted(m["seed"] for m in members),
                                 "finished": all(m["finished"] for m in members),
                                 "last_eval_step": min((m["last_eval_step"] or 0) for m in members)}
        for fig in (*FIGURES, "data_normalised_mean"):
            values = [m[fig] for m in members if m.get(fig) is not None]
            if values:
                entry[fig] = {"mean": float(np.mean(values)), "std": float(np.std(values)), "n": len(values)}
        settings[key] = entry
    return {"settings": settings, "runs": runs}
