"""The online replay buffer: a ring of joint transitions in numpy, sampled into a ``Batch``.

Its ``state_dict`` holds the filled rows and the write position, so a checkpoint restores it exactly
(a resumed run samples the same mini-batches as an uninterrupted one). Explained in chapter 02.
"""

from __future__ import annotations

import numpy as np
import torch

from dom2lite.data.batch import Batch

_FIELDS = ("obs", "act", "rew", "next_obs", "state", "next_state", "terminated")


class ReplayBuffer:
    """Fixed-capacity FIFO of joint transitions (agents on axis 1, like ``Batch``)."""

    def __init__(self, capacity: int, n_agents: int, obs_dim: int, act_dim: int, state_dim: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        shapes = {
            "obs": (n_agents, obs_dim), "act": (n_agents, act_dim), "rew": (n_agents,),
            "next_obs": (n_agents, obs_dim), "state": (state_dim,), "next_state": (state_dim,),
            "terminated": (),
        }
        self.data = {k: np.zeros((self.capacity, *shapes[k]), dtype=np.float32) for k in _FIELDS}
        self.ptr = 0  # next row to write
        self.size = 0  # rows filled

    def __len__(self) -> int:
        return self.size

    def add(self, **rows: np.ndarray) -> None:
        """Append ``k`` transitions: each field an array with a leading axis of length ``k``."""
        missing = set(_FIELDS) - set(rows)
        if missing:
            raise KeyError(f"ReplayBuffer.add is missing fields {sorted(missing)}")
        k = len(rows["obs"])
        if k == 0:
            return
        idx = (self.ptr + np.arange(k)) % self.capacity
        for name in _FIELDS:
            self.data[name][idx] = rows[name]
        self.ptr = int((self.ptr + k) % self.capacity)
        self.size = int(min(self.size + k, self.capacity))

    def sample(self, batch_size: int, rng: np.random.Generator, device: torch.device | str = "cpu") -> Batch:
        """A uniform mini-batch (with replacement) drawn with ``rng``."""
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx = rng.integers(0, self.size, size=batch_size)
        return Batch(**{k: torch.from_numpy(self.data[k][idx]).to(device) for k in _FIELDS})

    def state_dict(self) -> dict:
        return {"ptr": self.ptr, "size": self.size, "capacity": self.capacity,
                **{k: torch.from_numpy(self.data[k][: self.size].copy()) for k in _FIELDS}}

    def load_state_dict(self, state: dict) -> None:
        if int(state["capacity"]) != self.capacity:
            raise ValueError(f"replay capacity {state['capacity']} in the checkpoint != {self.capacity}")
        self.ptr, self.size = int(state["ptr"]), int(state["size"])
        for k in _FIELDS:
            arr = state[k].numpy()
            if arr.shape[1:] != self.data[k].shape[1:]:
                raise ValueError(f"replay field {k!r} has shape {arr.shape[1:]}, expected {self.data[k].shape[1:]}")
            self.data[k][: self.size] = arr
