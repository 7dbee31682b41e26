"""The unit every learner consumes: a mini-batch of joint transitions as torch tensors.

Explained in chapter 02 (the offline multi-agent setting).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch


@dataclass(frozen=True)
class Batch:
    """Joint transitions, agents on axis 1. Actions are normalised to [-1, 1]; padded dims are zero.

    ``terminated`` is 1.0 only for a true terminal; a time-limit truncation is *not* a terminal
    (critics bootstrap through it).
    """

    obs: torch.Tensor  # [B, n_agents, obs_dim]
    act: torch.Tensor  # [B, n_agents, act_dim]
    rew: torch.Tensor  # [B, n_agents]
    next_obs: torch.Tensor  # [B, n_agents, obs_dim]
    state: torch.Tensor  # [B, state_dim]
    next_state: torch.Tensor  # [B, state_dim]
    terminated: torch.Tensor  # [B] float, 1.0 = true terminal

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    @property
    def size(self) -> int:
        return self.obs.shape[0]

    @property
    def n_agents(self) -> int:
        return self.obs.shape[1]
