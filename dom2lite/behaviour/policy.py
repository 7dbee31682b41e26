"""Actor snapshots: saving a trained actor with its evaluation return, and loading one as a policy.

A snapshot is a small ``torch.save`` dict (float32 state dict + the sizes needed to rebuild the network
+ ``step`` and ``eval_return``), loaded with ``torch.load(weights_only=True)`` so a file cannot run code.
The shipped behaviour policies live in ``dom2lite/assets/behaviour/{task}/`` beside a
``provenance.json``. Explained in chapter 02.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dom2lite.errors import CheckpointError
from dom2lite.io import atomic_write
from dom2lite.nn.agent_mlp import AgentMLP

SNAPSHOT_FORMAT = "dom2lite-behaviour-actor"
SNAPSHOT_VERSION = 1
_META_KEYS = ("task", "n_agents", "obs_dim", "act_dim", "hidden", "activation", "act_mask", "step", "eval_return")


def assets_root() -> Path:
    """``dom2lite/assets/behaviour``: where the shipped behaviour weights are."""
    return Path(__file__).resolve().parent.parent / "assets" / "behaviour"


def save_snapshot(path: str | Path, actor: AgentMLP, act_mask: np.ndarray, **meta: Any) -> Path:
    """Write ``actor`` (float32, on the CPU) and ``meta`` (task, hidden, activation, step, eval_return)."""
    body = {
        "format": SNAPSHOT_FORMAT, "version": SNAPSHOT_VERSION,
        "n_agents": actor.n_agents, "obs_dim": actor.in_dim, "act_dim": actor.out_dim,
        "act_mask": torch.tensor(np.array(act_mask, dtype=bool)),
        "state_dict": {k: v.detach().to("cpu", torch.float32).clone() for k, v in actor.state_dict().items()},
        **meta,
    }
    body["hidden"] = [int(h) for h in body["hidden"]]
    buffer = io.BytesIO()
    torch.save(body, buffer)
    return atomic_write(path, lambda fh: fh.write(buffer.getbuffer()))


class BehaviourPolicy:
    """A loaded actor: ``policy(obs [E, n, obs_dim]) -> act [E, n, act_dim]`` in [-1, 1], deterministic."""

    def __init__(self, actor: AgentMLP, act_mask: np.ndarray, meta: dict[str, Any], device="cpu"):
        self.actor = actor.to(device).eval()
        self.device = torch.device(device)
        self.act_mask_np = np.asarray(act_mask, dtype=bool)
        self._mask = torch.as_tensor(self.act_mask_np, dtype=torch.float32, device=self.device)
        self.meta = meta

    @property
    def step(self) -> int:
        return int(self.meta["step"])

    @property
    def eval_return(self) -> float:
        return float(self.meta["eval_return"])

    @torch.no_grad()
    def __call__(self, obs: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.asarray(obs, dtype=np.float32), device=self.device)  # [E, n, obs_dim]
        return (self.actor(x) * self._mask).cpu().numpy()  # [E, n, act_dim]


def load_snapshot(path: str | Path, device: torch.device | str = "cpu") -> BehaviourPolicy:
    """Load a snapshot written by ``save_snapshot``; a corrupt or foreign file raises ``CheckpointError``."""
    path = Path(path)
    try:
        body = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unreadable zip/pickle: all mean "not a usable snapshot"
        raise CheckpointError(path, None, f"unreadable behaviour snapshot ({type(err).__name__}: {err})") from err
    if not isinstance(body, dict) or body.get("format") != SNAPSHOT_FORMAT:
        raise CheckpointError(path, "format", f"not a {SNAPSHOT_FORMAT} file")
    if body.get("version") != SNAPSHOT_VERSION:
        raise CheckpointError(path, "version", f"{body.get('version')} != {SNAPSHOT_VERSION}")
    for key in (*_META_KEYS, "state_dict"):
        if key not in body:
            raise CheckpointError(path, key, "missing key")
    actor = AgentMLP(int(body["n_agents"]), int(body["obs_dim"]), int(body["act_dim"]),
                     tuple(body["hidden"]), body["activation"], out_activation="tanh")
    try:
        actor.load_state_dict(body["state_dict"])
    except RuntimeError as err:
        raise CheckpointError(path, "state_dict", f"does not fit the network it describes: {err}") from err
    meta = {k: v for k, v in body.items() if k not in ("state_dict", "act_mask")}
    return BehaviourPolicy(actor, body["act_mask"].numpy(), meta, device)


def shipped_dir(task: str, root: str | Path | None = None) -> Path:
    return (Path(root) if root is not None else assets_root()) / task


def shipped_provenance(task: str, root: str | Path | None = None) -> dict[str, Any]:
    """The ``provenance.json`` of the shipped behaviour policies of ``task``."""
    path = shipped_dir(task, root) / "provenance.json"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: no shipped behaviour policies for {task!r}. Train them with "
            f"`python -m dom2lite behaviour train --task {task}` and export them with "
            f"`python -m dom2lite behaviour export --task {task}`."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_shipped(task: str, name: str, root: str | Path | None = None, device="cpu") -> BehaviourPolicy:
    """A shipped behaviour policy of ``task``: ``name`` is ``expert``, ``medium`` or ``replay_{i}``."""
    path = shipped_dir(task, root) / f"{name}.pt"
    if not path.exists():
        shipped_provenance(task, root)  # raises the actionable message when nothing is shipped
        raise FileNotFoundError(f"{path} not found (names: expert, medium, replay_0, ...)")
    return load_snapshot(path, device)
