"""Reductions over the batch (or candidate) axis whose result for one agent never depends on the others.

``x.mean(0)`` on ``[B, n]`` sums down the outer axis, and PyTorch's CPU kernels vectorise such a sum
across the inner axis: with 3 agents the lanes hold other values than with 6, and the rounding differs
(measured here: ``[64, 6].mean(0)`` and two ``[64, 3].mean(0)`` differ in the last bit). A reduction
along a contiguous last axis is computed row by row, the same however many rows there are. These
helpers move the reduced axis last first; the copy is small next to the networks' work.

Why it matters: K runs stacked on the agent axis (members, the Cost appendix) must compute for each
member exactly what its solo run computes. Used wherever an algorithm reduces over the batch or over
sampled actions with agents inside (losses, CQL's log-sum-exp, Q normalisers, OMAR's search).
Explained in the Cost appendix.
"""

from __future__ import annotations

import torch


def _last(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x.movedim(dim, -1).contiguous()


def mean_over(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``x.mean(dim)``, row by row."""
    return _last(x, dim).mean(-1)


def sum_over(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``x.sum(dim)``, row by row."""
    return _last(x, dim).sum(-1)


def std_over(x: torch.Tensor, dim: int = 0, correction: int = 1) -> torch.Tensor:
    """``x.std(dim, correction=...)``, row by row."""
    return _last(x, dim).std(-1, correction=correction)


def logsumexp_over(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``torch.logsumexp(x, dim)``, row by row."""
    return torch.logsumexp(_last(x, dim), dim=-1)


def softmax_over(x: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """``torch.softmax(x, dim)``, row by row (same shape as ``x``)."""
    return torch.softmax(_last(x, dim), dim=-1).movedim(-1, dim)
