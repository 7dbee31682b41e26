"""Bootstrapped targets and slowly moving target networks.

- TD target of agent j: ``y_j = r_j + gamma (1 - terminated) min(Q'_{j,1}, Q'_{j,2})(o', a')``. Only a true
  terminal stops the bootstrap; a time-limit truncation (the 25-step MPE limit) does not.
- Polyak averaging: ``theta' <- (1 - tau) theta' + tau theta`` after each update (TD3's target networks;
  an EMA actor is the same rule).
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def td_target(
    rew: torch.Tensor, terminated: torch.Tensor, q1_next: torch.Tensor, q2_next: torch.Tensor, gamma: float
) -> torch.Tensor:
    """Clipped double-Q target ``[B, n]`` from ``rew [B, n]``, ``terminated [B]`` (or per agent ``[B, n]``,
    as members' batches have it) and ``q*_next [B, n]``."""
    not_done = 1.0 - terminated.to(rew.dtype)  # [B] or [B, n]
    if not_done.dim() == 1:
        not_done = not_done.unsqueeze(-1)  # [B, 1]
    return rew + gamma * not_done * torch.minimum(q1_next, q2_next)  # [B, n]


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy with ``requires_grad`` off: the starting point of a target network."""
    target = copy.deepcopy(module)
    for p in target.parameters():
        p.requires_grad_(False)
    return target


@torch.no_grad()
def polyak_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """``target <- (1 - tau) target + tau source``, parameter by parameter (buffers are copied)."""
    t_params, s_params = list(target.parameters()), list(source.parameters())
    if len(t_params) != len(s_params):
        raise ValueError("target and source networks have different parameter lists")
    torch._foreach_lerp_(t_params, s_params, float(tau))
    for t_buf, s_buf in zip(target.buffers(), source.buffers()):
        t_buf.copy_(s_buf)
