"""A one-dimensional bandit that shows extrapolation error and what CQL does about it.

One state, one action ``a in [-1, 1]``, a known reward ``r(a)``; the data set holds only actions near
``data_mean``. A Q network fitted by regression on those actions is unconstrained elsewhere, and the
action that maximises it is often one the data never showed (extrapolation error). Adding the CQL(H)
penalty of :mod:`dom2lite.critics.cql` (uniform samples on [-1, 1], density 1/2) pushes Q down away
from the data. Everything here is tiny: a fit takes well under a second on a CPU.
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from dom2lite.critics.cql import cql_penalty


def toy_reward(act: torch.Tensor) -> torch.Tensor:
    """The true reward ``r(a) = exp(-4 (a - 0.5)^2)`` (best action 0.5), same shape as ``act``."""
    return torch.exp(-4.0 * (act - 0.5) ** 2)


def toy_dataset(
    n: int, data_mean: float = -0.4, data_std: float = 0.15, reward_noise: float = 0.05, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` logged actions from a narrow behaviour policy and their noisy rewards: ``([n], [n])``."""
    g = torch.Generator().manual_seed(seed)
    act = (data_mean + data_std * torch.randn(n, generator=g)).clamp(-1.0, 1.0)  # [n]
    rew = toy_reward(act) + reward_noise * torch.randn(n, generator=g)  # [n]
    return act, rew


def fit_toy_q(
    act: torch.Tensor,
    rew: torch.Tensor,
    cql_alpha: float = 0.0,
    n_actions: int = 10,
    steps: int = 500,
    hidden: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
) -> tuple[nn.Module, list[float]]:
    """Fit ``Q(a)`` to ``(act, rew)`` (a bandit: the target is the reward) plus ``cql_alpha`` x CQL(H).

    Returns the network (``[N, 1] -> [N, 1]``) and the per-step regression loss.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        q = nn.Sequential(nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))
    opt = torch.optim.Adam(q.parameters(), lr=lr)
    a_data = act.reshape(-1, 1)  # [N, 1]
    log_p = torch.tensor([-math.log(2.0)])  # uniform on [-1, 1]
    losses = []
    for _ in range(steps):
        q_data = q(a_data)  # [N, 1]: N "states" that are all the one state, one agent
        loss = (q_data.squeeze(-1) - rew).pow(2).mean()
        total = loss
        if cql_alpha > 0:
            a_rand = 2.0 * torch.rand(n_actions, a_data.shape[0], 1, generator=g) - 1.0  # [K, N, 1]
            q_rand = q(a_rand.reshape(-1, 1)).reshape(n_actions, -1, 1)  # [K, N, 1]
            total = loss + cql_alpha * cql_penalty(q_data, q_rand, log_p).sum()
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(loss.item())
    return q, losses


@torch.no_grad()
def q_on_grid(q: nn.Module, n_grid: int = 201) -> tuple[torch.Tensor, torch.Tensor]:
    """``(grid [G], Q(grid) [G])`` on [-1, 1], for plotting and for the arg-max action."""
    grid = torch.linspace(-1.0, 1.0, n_grid)
    return grid, q(grid.reshape(-1, 1)).squeeze(-1)
