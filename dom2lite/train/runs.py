"""Run folders: ``runs/{task}__{algo}__{seed}__{time}/`` with the resolved config, metrics and checkpoints.

- ``config.json``: the resolved configuration, the data set card's identity and the provenance
  (command line, git commit, versions).
- ``metrics.jsonl``: one JSON object per logged step (losses, Q statistics, gradient norms, each the mean
  over the steps since the row before: :mod:`dom2lite.train.log_window`) and per
  evaluation (``{"step": ..., "eval/return_mean": ...}``). On resume, lines past the checkpoint's step
  are dropped so the file matches an uninterrupted run.
- ``ckpt_*.pt``: see ``dom2lite.train.checkpoint``.
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

from dom2lite.io import atomic_write_json, atomic_write_text


def default_runs_root() -> Path:
    """``$DOM2LITE_RUNS``, else ``runs/`` beside ``data/`` (the checkout root, or the working directory)."""
    from dom2lite.data.paths import default_data_dir

    env = os.environ.get("DOM2LITE_RUNS", "").strip()
    return Path(env).expanduser() if env else default_data_dir().parent / "runs"


def new_run_dir(task: str, algo: str, seed: int, root: str | Path | None = None) -> Path:
    """A fresh folder name ``{task}__{algo}__{seed}__{YYYYmmdd-HHMMSS}`` under ``root``."""
    return new_run_dirs(task, algo, [seed], root)[0]


def new_run_dirs(task: str, algo: str, seeds, root: str | Path | None = None) -> list[Path]:
    """Fresh folders ``{task}__{algo}__{seed}__{YYYYmmdd-HHMMSS}``, one per seed, with one time stamp
    (members trained together are told apart by their seed alone)."""
    root = Path(root) if root is not None else default_runs_root()
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix, i = "", 1
    while any((root / f"{task}__{algo}__{s}__{stamp}{suffix}").exists() for s in seeds):  # started in one second
        suffix, i = f"-{i}", i + 1
    return [root / f"{task}__{algo}__{s}__{stamp}{suffix}" for s in seeds]


def write_config(run_dir: str | Path, config: dict[str, Any]) -> Path:
    return atomic_write_json(Path(run_dir) / "config.json", config)


def read_config(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "config.json"
    if not path.exists():
        from dom2lite.errors import MissingFileError

        what = "does not exist" if not Path(run_dir).exists() else "holds no config.json"
        raise MissingFileError(path, f"{run_dir} {what}: not a dom2lite run folder",
                               hint="give a folder made by python -m dom2lite train (runs/{task}__{algo}__...)")
    return json.loads(path.read_text())


class MetricsLog:
    """Append-only JSONL metrics; ``truncate_after(step)`` realigns it with a resumed checkpoint."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        keep = [line for line in self.read() if line.get("step", 0) <= step]
        atomic_write_text(self.path, "".join(json.dumps(r) + "\n" for r in keep))

    def append(self, record: dict[str, Any]) -> None:
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        rows = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:  # a line cut by a kill: ignore it
                continue
        return rows
