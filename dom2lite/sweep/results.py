"""A sweep's finished cells as one results file: :func:`dom2lite.train.summary.summarise` of their run
folders, plus what only the sweep knows.

- per run: ``wall_seconds`` (every piece's wall time, ``sweep_pieces.jsonl``) and ``shifted``
  (``{"speed=1": {"mean": team return, "normalised_mean": ...}}`` from the ``eval_{shift}_{strength}.json`` files);
- per setting: ``command``, the one ``sweep`` call that reproduces it, and the shifted returns as
  mean ± std over seeds;
- ``cells``: how many cells the grid has and how many are in the file (a partial grid says so).
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from dom2lite.sweep.grid import Cell
from dom2lite.sweep.ledger import cell_state
from dom2lite.train.summary import summarise


def _shift_key(name: str, strength: float) -> str:
    return f"{name}={strength:g}"


def sweep_results(cells: list[Cell], root: str | Path) -> dict[str, Any] | None:
    """The summary of every done cell of ``cells`` (None when none is done)."""
    done = [s for s in (cell_state(c, root) for c in cells) if s.state == "done"]
    if not done:
        return None
    out = summarise([s.run_dir for s in done])
    by_dir = {str(s.run_dir): s for s in done}
    seeds: dict[str, list[int]] = defaultdict(list)
    shifted: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in out["runs"]:
        cell = by_dir[run["run_dir"]].cell
        run["wall_seconds"] = by_dir[run["run_dir"]].seconds
        run["shifted"] = {}
        for (name, strength), path in zip(cell.shifts, cell.eval_files(root)):
            ev = json.loads(path.read_text())
            key = _shift_key(name, strength)
            run["shifted"][key] = {"mean": ev["mean"], "normalised_mean": ev.get("normalised_mean")}
            shifted[run["setting"]][key].append(ev["mean"])
        seeds[run["setting"]].append(cell.seed)
        run["sweep_cell"] = cell.setting
    first = {}
    for run in out["runs"]:
        first.setdefault(run["setting"], by_dir[run["run_dir"]].cell)
    for key, entry in out["settings"].items():
        entry["command"] = first[key].sweep_command(root, sorted(seeds[key]))
        entry["shifted"] = {k: {"mean": float(np.mean(v)), "std": float(np.std(v)), "n": len(v)}
                            for k, v in shifted[key].items()}
        entry["wall_seconds"] = float(np.mean([r["wall_seconds"] for r in out["runs"] if r["setting"] == key]))
    out["cells"] = {"grid": len(cells), "done": len(done)}
    return out
