"""The deterministic per-agent actor of the baselines: ``a_j = tanh(MLP_j(o_j))``, padded dims zeroed.

All agents run in one :class:`~dom2lite.nn.AgentMLP` call; agent j's network sees only ``o_j``, so
execution is decentralised. Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from dom2lite.nn.agent_mlp import AgentMLP


class DeterministicActor(nn.Module):
    """``forward(obs [B, n, O]) -> act [B, n, A]`` in [-1, 1]; multiplied by ``act_scale [n, A]`` (the mask)."""

    def __init__(self, n_agents: int, obs_dim: int, act_dim: int, act_scale: torch.Tensor,
                 hidden: Sequence[int] = (256, 256), activation: str = "relu"):
        super().__init__()
        self.net = AgentMLP(n_agents, obs_dim, act_dim, hidden, activation, out_activation="tanh")
        self.register_buffer("act_scale", act_scale.detach().clone().float(), persistent=False)  # [n, A]

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs) * self.act_scale  # [B, n, A]

