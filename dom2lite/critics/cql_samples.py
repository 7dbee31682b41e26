"""The actions at which CQL's log-sum-exp is estimated: uniform ones and noisy policy ones.

Both draw from a caller-owned ``torch.Generator`` (each algorithm owns one, seeded from its config), so
a run is repeatable. Padded action dimensions stay exactly zero. The number of samples ``K`` per state
and agent is the cost knob (``cql_n_actions``): the critic is evaluated on ``K`` (or ``3K`` with policy
samples) extra actions per transition.
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import torch

from dom2lite.critics.cql import gaussian_log_density
from dom2lite.members import rng as draws


def sample_uniform_actions(
    k: int, batch: int, act_mask: torch.Tensor, generator: draws.Generator = None
) -> torch.Tensor:
    """``K`` uniform actions per state on each agent's real box [-1, 1]^{d_j}: ``[K, B, n, A]``."""
    n, a = act_mask.shape
    u = draws.rand((k, batch, n, a), generator, -2, device=act_mask.device)  # [K, B, n, A]
    return (2.0 * u - 1.0) * act_mask.to(u.dtype)


def sample_noisy_actions(
    act: torch.Tensor, k: int, sigma: float, act_mask: torch.Tensor, generator: draws.Generator = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """``K`` Gaussian perturbations of ``act [B, n, A]``, clipped to [-1, 1]: ``([K, B, n, A], log p [K, B, n])``.

    The log-density is that of the (unclipped) noise on the real dimensions.
    """
    noise = sigma * draws.randn((k, *act.shape), generator, -2, device=act.device, dtype=act.dtype)
    noise = noise * act_mask.to(act.dtype)  # [K, B, n, A]
    noisy = (act.unsqueeze(0) + noise).clamp(-1.0, 1.0)
    return noisy, gaussian_log_density(noise, sigma, act_mask)
