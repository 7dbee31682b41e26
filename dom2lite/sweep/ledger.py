"""Where each cell of a sweep stands, read from its run folder alone (so any later call, on any machine
that sees the folders, knows what is done).

A cell's folder holds, besides the ordinary run files:

- ``sweep_claim.json`` while a worker runs the cell: host, pid, executor, job id. The worker touches it
  every :data:`HEARTBEAT_S` seconds and removes it at the end. A claim is live when its host is this one
  and its pid is alive, or (another host: a cluster node) when it was touched less than ``stale_s`` ago.
  A worker killed with the session leaves a dead claim: the cell counts as interrupted and is resumed.
  A folder whose metrics were written in the last ``stale_s`` seconds after the last piece a worker
  finished also counts as running (a ``train`` started by hand in it), so no second process joins it.
- ``sweep_pieces.jsonl``: one line per piece of work a worker did (wall seconds, steps from and to, exit
  status): the sweep's measured speed (its ETA) and each run's wall time in the results.

States: ``done`` (the run finished and every shifted evaluation is written), ``running``, ``queued``
(submitted to a cluster, not started), ``failed`` (its last piece exited with an error; the next call
retries it), ``interrupted`` (started, not finished, no live claim) and ``left`` (never started).
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dom2lite.sweep.grid import Cell

HEARTBEAT_S = 30.0
STALE_S = 300.0
"""A claim from another host untouched for this long belongs to a worker that is gone."""
CLAIM, PIECES = "sweep_claim.json", "sweep_pieces.jsonl"
INTERRUPTED_RC = 130
"""``train``'s exit status after Ctrl-C (a negative status: killed by a signal); neither is a failure."""
STATES = ("done", "running", "queued", "failed", "interrupted", "left")


@dataclass(frozen=True)
class CellState:
    cell: Cell
    run_dir: Path
    state: str
    step: int
    """The last step the run logged (0 before it started)."""
    steps: int
    """The run's budget."""
    pieces: tuple[dict[str, Any], ...]
    """Every piece of work a worker did on the cell (``sweep_pieces.jsonl``)."""

    @property
    def seconds(self) -> float:
        """Wall seconds of every piece so far."""
        return float(sum(p.get("seconds", 0.0) for p in self.pieces))


def last_step(run_dir: Path) -> int:
    """The largest ``step`` in ``metrics.jsonl`` (read from the end: the file may be long)."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return 0
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        fh.seek(max(0, fh.tell() - 65536))
        lines = fh.read().decode("utf-8", "replace").splitlines()
    for line in reversed(lines):
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):  # a line cut by a kill, or the first partial line
            continue
    return 0


def budget_steps(cell: Cell, run_dir: Path) -> int:
    """The run's budget: its config once it exists, else the sweep's ``--steps`` or the profile's."""
    config = run_dir / "config.json"
    if config.is_file():
        return int(json.loads(config.read_text())["schedule"]["steps"])
    if cell.options.steps is not None:
        return cell.options.steps
    from dom2lite.train.presets import budget_for

    return budget_for(cell.task, cell.options.profile).steps


def read_pieces(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / PIECES
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def append_piece(run_dir: Path, piece: dict[str, Any]) -> None:
    with open(run_dir / PIECES, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(piece) + "\n")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def claim_is_live(run_dir: Path, stale_s: float = STALE_S, now: float | None = None) -> bool:
    path = run_dir / CLAIM
    try:
        claim = json.loads(path.read_text())
        touched = path.stat().st_mtime
    except (FileNotFoundError, json.JSONDecodeError):
        return False
    if claim.get("host") == socket.gethostname():
        return _pid_alive(int(claim.get("pid", -1)))
    return (time.time() if now is None else now) - touched < stale_s


def _written_outside(run_dir: Path, pieces: list[dict[str, Any]], stale_s: float) -> bool:
    """The run's metrics were written less than ``stale_s`` ago, after the last piece a sweep worker
    finished: a ``train`` started by hand (or by an older script) is at work in the folder."""
    try:
        written = (run_dir / "metrics.jsonl").stat().st_mtime
    except FileNotFoundError:
        return False
    last_end = max((p.get("start", 0.0) + p.get("seconds", 0.0) for p in pieces), default=0.0)
    return written > last_end + 1.0 and time.time() - written < stale_s


def cell_state(cell: Cell, root: str | Path, queued: bool = False, stale_s: float = STALE_S) -> CellState:
    """The cell's state; ``queued``: the sweep's ledger says a cluster job for it is waiting."""
    run_dir = cell.run_dir(root)
    step, steps = last_step(run_dir), budget_steps(cell, run_dir)
    pieces = read_pieces(run_dir)
    finished = (run_dir / "result.json").is_file() and step >= steps
    if finished and all(f.is_file() for f in cell.eval_files(root)):
        state = "done"
    elif claim_is_live(run_dir, stale_s) or _written_outside(run_dir, pieces, stale_s):
        state = "running"
    elif queued:
        state = "queued"
    elif pieces and pieces[-1].get("rc", 0) > 0 and pieces[-1].get("rc") != INTERRUPTED_RC:
        state = "failed"
    elif step > 0 or finished:
        state = "interrupted"
    else:
        state = "left"
    return CellState(cell, run_dir, state, step, steps, tuple(pieces))


def seconds_per_step(states: list[CellState]) -> float | None:
    """Wall seconds per training step of one worker, measured over every piece of the sweep so far."""
    seconds = steps = 0.0
    for s in states:
        for p in s.pieces:
            moved = p.get("to_step", 0) - p.get("from_step", 0)
            if moved > 0:
                seconds, steps = seconds + p.get("seconds", 0.0), steps + moved
    return seconds / steps if steps else None


def _duration(s: float) -> str:
    s = int(round(s))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def progress_line(states: list[CellState], parallel: int) -> str:
    """``12 cells: 3 done, 2 running, 0 queued, 0 failed, 1 interrupted, 6 left; ETA ~ 1 h 05 min ...``."""
    counts = {name: sum(s.state == name for s in states) for name in STATES}
    text = f"{len(states)} cells: " + ", ".join(f"{counts[n]} {n}" for n in STATES)
    remaining = sum(max(s.steps - s.step, 0) for s in states if s.state != "done")
    rate = seconds_per_step(states)
    if remaining == 0:
        return text + "; nothing left"
    if rate is None:
        return text + f"; {remaining:,} steps left (ETA after the first piece)"
    eta = remaining * rate / max(1, min(parallel, sum(s.state != "done" for s in states)))
    return text + (f"; {remaining:,} steps left, ETA ~ {_duration(eta)} at {parallel} in parallel "
                   f"({rate * 1000:.0f} s per 1,000 steps measured)")
