"""Gradient-norm clipping per agent for stacked per-agent weights.

Every parameter of an :class:`~dom2lite.nn.AgentMLP` has the agent on axis 0 (``[n, in, out]``,
``[n, 1, out]``), so ``torch.nn.utils.clip_grad_norm_`` would clip all agents by one global norm and
couple them. Here each agent's parameters are clipped by their own norm — what independent per-agent
optimisers would do. A stacked twin critic has ``2 n`` slices (head 1's agents, then head 2's); both
heads of agent j count as agent j, as they would in one per-agent double-Q network, so the stacked
and separate layouts clip identically. Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def grad_norm_per_agent(params: Iterable[torch.nn.Parameter], n_agents: int) -> torch.Tensor:
    """L2 norm of each agent's gradient: ``[n_agents]``. Axis 0 of every parameter has ``k * n_agents``
    slices, slice ``i`` belonging to agent ``i % n_agents``."""
    sq = None
    for p in params:
        if p.grad is None:
            continue
        if p.shape[0] % n_agents:
            raise ValueError(f"parameter of shape {tuple(p.shape)} does not stack {n_agents} agents on axis 0")
        g = p.grad.detach().pow(2).reshape(p.shape[0] // n_agents, n_agents, -1)  # [groups, n, size]
        s = g.transpose(0, 1).reshape(n_agents, -1).sum(-1)  # [n], each agent's row on its own
        sq = s if sq is None else sq + s
    if sq is None:
        raise ValueError("no parameter has a gradient")
    return sq.sqrt()


def clip_grad_norm_per_agent(params: Iterable[torch.nn.Parameter], n_agents: int, max_norm: float) -> torch.Tensor:
    """Scale each agent's gradient to norm at most ``max_norm`` (0 = no clipping); return the per-agent
    norms before clipping ``[n_agents]``. No host synchronisation."""
    params = [p for p in params if p.grad is not None]
    norms = grad_norm_per_agent(params, n_agents)  # [n]
    if max_norm > 0:
        scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)  # [n]
        for p in params:
            k = p.shape[0] // n_agents
            p.grad.mul_(scale.repeat(k).reshape(-1, *([1] * (p.dim() - 1))))
    return norms
