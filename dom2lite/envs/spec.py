"""``EnvSpec``: everything a learner needs to know about a task without building its environment.

Agents with smaller spaces are padded to the largest observation and action sizes; the boolean masks
say which entries are real (padded entries always carry zeros). Explained in chapter 02.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata

import numpy as np


def _padding_mask(dims: tuple[int, ...]) -> np.ndarray:
    """``[n_agents, max(dims)]`` bool: True on agent j's first ``dims[j]`` entries."""
    return np.arange(max(dims))[None, :] < np.asarray(dims)[:, None]  # [n_agents, dim]


def package_versions(*names: str) -> str:
    """``"mpe2==1.1.1"``-style versions read from the installed metadata (nothing is imported)."""
    out = []
    for name in names:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


@dataclass(frozen=True)
class EnvSpec:
    """Shapes and facts of one task; the learning agents only (scripted agents are part of the env).

    ``obs`` is ``[n_agents, obs_dim]`` and ``act`` ``[n_agents, act_dim]`` per environment, actions in
    [-1, 1] (the environment layer maps them to the simulator's own bounds ``native_act_bounds``).
    """

    task: str
    env_id: str  # the simulator behind the task, e.g. "mpe2.simple_spread_v3"
    agent_names: tuple[str, ...]  # learning agents, in the simulator's order
    obs_dims: tuple[int, ...]  # real observation size of each learning agent
    act_dims: tuple[int, ...]  # real action size of each learning agent
    state_dim: int  # global state (all agents', scripted ones included, as the simulator gives it)
    max_steps: int  # episodes end by truncation here (MPE: 25, HalfCheetah: 1000)
    native_act_bounds: tuple[float, float]  # the simulator's action box, e.g. (0.0, 1.0) for MPE
    scripted_agents: tuple[str, ...] = ()  # agents driven by the fixed policies of envs/scripted.py
    learners: str = ""  # one line: who learns, what the reward is
    packages: tuple[str, ...] = ()  # distributions whose versions define the dynamics

    def __post_init__(self):
        if not (len(self.agent_names) == len(self.obs_dims) == len(self.act_dims)):
            raise ValueError("agent_names, obs_dims and act_dims must have one entry per agent")

    @property
    def obs_mask(self) -> np.ndarray:
        """``[n_agents, obs_dim]`` bool, True on real entries (a fresh array on every access)."""
        return _padding_mask(self.obs_dims)

    @property
    def act_mask(self) -> np.ndarray:
        """``[n_agents, act_dim]`` bool, True on real entries (a fresh array on every access)."""
        return _padding_mask(self.act_dims)

    @property
    def n_agents(self) -> int:
        return len(self.agent_names)

    @property
    def obs_dim(self) -> int:
        return max(self.obs_dims)

    @property
    def act_dim(self) -> int:
        return max(self.act_dims)

    @property
    def env_version(self) -> str:
        """Installed versions of the simulator packages, for data-set cards and results."""
        return f"{self.env_id} ({package_versions(*self.packages)})"

    def to_dict(self) -> dict:
        """JSON-friendly summary (masks as nested lists)."""
        return {
            "task": self.task, "env_id": self.env_id, "env_version": self.env_version,
            "n_agents": self.n_agents, "obs_dim": self.obs_dim, "act_dim": self.act_dim,
            "state_dim": self.state_dim, "max_steps": self.max_steps, "agent_names": list(self.agent_names),
            "obs_dims": list(self.obs_dims), "act_dims": list(self.act_dims),
            "native_act_bounds": list(self.native_act_bounds), "scripted_agents": list(self.scripted_agents),
            "learners": self.learners, "obs_mask": self.obs_mask.tolist(), "act_mask": self.act_mask.tolist(),
        }
