"""Checkpoints that survive being killed: atomic writes, a fallback to the previous one, safe loading.

A checkpoint holds everything needed to continue bit-identically: the algorithm's state (networks,
EMA and target copies, optimisers, its own random generator), the sampler's generator, the global
random states and the step. Files are ``ckpt_{step:08d}.pt`` in the run folder; the newest ``keep``
are kept. Loading uses ``torch.load(weights_only=True)``: a checkpoint cannot run code.
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dom2lite.errors import CheckpointError
from dom2lite.io import atomic_write

_NAME = re.compile(r"^ckpt_(\d{8})\.pt$")
FORMAT_VERSION = 1


def global_rng_state() -> dict[str, Any]:
    """Python, NumPy (legacy global) and torch CPU/CUDA random states."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"key": np_state[0], "pos": np_state[2], "has_gauss": np_state[3],
                  "cached_gaussian": np_state[4], "keys": torch.from_numpy(np_state[1].astype(np.int64))},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_global_rng_state(state: dict[str, Any]) -> None:
    random.setstate(_to_tuple(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["key"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_tuple(x):
    return tuple(_to_tuple(v) for v in x) if isinstance(x, (list, tuple)) else x


def checkpoint_path(run_dir: str | Path, step: int) -> Path:
    return Path(run_dir) / f"ckpt_{step:08d}.pt"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoint files in ``run_dir``, oldest first."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    return sorted(p for p in run_dir.iterdir() if _NAME.match(p.name))


def save_checkpoint(run_dir: str | Path, step: int, payload: dict[str, Any], keep: int = 2) -> Path:
    """Write ``payload`` (plus the step and global random states) atomically; prune old checkpoints."""
    body = {"format_version": FORMAT_VERSION, "step": int(step), "rng": global_rng_state(), **payload}
    buffer = io.BytesIO()
    torch.save(body, buffer)
    path = atomic_write(checkpoint_path(run_dir, step), lambda fh: fh.write(buffer.getbuffer()))
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint_file(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load one checkpoint; a truncated, corrupt or foreign file raises ``CheckpointError``."""
    path = Path(path)
    try:
        body = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # zip/pickle errors differ by torch version; all mean "unreadable"
        raise CheckpointError(path, None, f"unreadable checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(body, dict):
        raise CheckpointError(path, None, "not a dom2lite checkpoint (top level is not a dict)")
    for key in ("format_version", "step", "rng"):
        if key not in body:
            raise CheckpointError(path, key, "missing key")
    if body["format_version"] != FORMAT_VERSION:
        raise CheckpointError(path, "format_version", f"{body['format_version']} != {FORMAT_VERSION}")
    return body


def load_latest_checkpoint(
    run_dir: str | Path, map_location: str | torch.device = "cpu", warn=print
) -> dict[str, Any] | None:
    """The newest readable checkpoint of ``run_dir`` (None if there is none).

    A corrupt newest file is reported through ``warn`` and the previous one is used.
    """
    errors: list[CheckpointError] = []
    for path in reversed(list_checkpoints(run_dir)):
        try:
            body = load_checkpoint_file(path, map_location)
        except CheckpointError as err:
            warn(f"warning: {err}; falling back to the previous checkpoint")
            errors.append(err)
            continue
        body["path"] = str(path)
        return body
    if errors:
        raise errors[-1]
    return None
