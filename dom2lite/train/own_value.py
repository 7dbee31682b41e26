"""Does a critic know what its own policy is worth? Q(o_0, pi(o_0)) against the return pi then earns.

The calibration of :mod:`dom2lite.critics.calibration` holds a critic against the returns that followed
the data's *own* actions. That check cannot see the error conservatism exists for: the actor maximises Q,
so it goes wherever the critic overrates actions, and a critic can match the data's returns on the
data's actions while it rates its policy's quite different actions just as highly. This module runs the
policy in the environment and compares, per agent, the critic's value of the policy's first action,
``Q_j(o_0, pi(o_0))``, with the discounted return the policy then earned from ``o_0``, continued past the
time limit by the same geometric tail as the data's Monte-Carlo returns (the mean reward of the
episode's last ``tail_window`` steps; none after a true terminal). Over many episodes, a critic that is
right about its policy puts the two means together; a positive gap is over-estimation, the failure mode
of offline actor-critic methods.
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import types
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class OwnValue:
    """Mean over episodes and agents, in raw reward units."""

    q_start: float
    """The critic's ``Q(o_0, pi(o_0))`` (mean of both heads)."""
    return_start: float
    """The discounted return the policy earned from ``o_0`` (with the tail past the time limit)."""
    team_return: float
    """The undiscounted team return of the same episodes (what ``evaluate`` reports)."""

    @property
    def gap(self) -> float:
        """``q_start - return_start``: above 0 the critic over-rates its own policy."""
        return self.q_start - self.return_start


def discounted_from_start(rew: np.ndarray, alive: np.ndarray, terminated: np.ndarray, gamma: float,
                          tail_window: int = 5) -> np.ndarray:
    """Per episode and agent, ``sum_t gamma^t r_t`` plus the geometric tail: ``[E, n]``.

    ``rew [T, E, n]`` rewards, ``alive [T, E]`` whether step t belonged to the episode, ``terminated [E]``
    whether the episode ended in a true terminal (then no tail). The episodes are laid out as data-set
    rows and summed by :func:`~dom2lite.critics.calibration.monte_carlo_returns`, so the tail is exactly
    the one the data's returns get.
    """
    from dom2lite.critics.calibration import monte_carlo_returns

    lengths = alive.sum(0).astype(int)  # [E]
    rows = np.concatenate([rew[:length, e] for e, length in enumerate(lengths)])  # [sum(lengths), n]
    last = np.zeros(len(rows), dtype=bool)
    last[np.cumsum(lengths) - 1] = np.asarray(terminated, dtype=bool)  # a terminal marks its episode's last row
    episodes = types.SimpleNamespace(rew=rows, episode=np.repeat(np.arange(len(lengths)), lengths), terminated=last)
    g = monte_carlo_returns(episodes, gamma, tail="episode_end", tail_window=tail_window)  # [rows, n]
    return g[np.cumsum(lengths) - lengths].astype(np.float64)  # [E, n] the first row of each episode


@torch.no_grad()
def own_value(algo, task: str, n_episodes: int = 20, seed: int = 10_000, tail_window: int = 5) -> OwnValue:
    """Roll out ``algo``'s deterministic policy on ``task`` and compare its critic with what it earned."""
    from dom2lite.envs import make_vector_env

    if getattr(algo, "critic", None) is None:
        raise ValueError(f"{type(algo).__name__} has no critic to check")
    device = algo.device
    scale = float(algo.reward_scale)
    with make_vector_env(task, n_episodes) as venv:
        obs, state = venv.reset(seed=seed)  # [E, n, O], [E, S]
        o = torch.as_tensor(obs, device=device)
        a = algo.act(o)  # [E, n, A]
        q1, q2 = algo.critic(o, a, torch.as_tensor(state, device=device))  # [E, n] each
        q_start = (0.5 * (q1 + q2) / scale).mean().item()
        rews, alive = [], []
        done = np.zeros(n_episodes, dtype=bool)
        ended_terminal = np.zeros(n_episodes, dtype=bool)
        for _ in range(venv.spec.max_steps):
            alive.append(~done)
            obs, state, rew, terminated, truncated = venv.step(a.cpu().numpy())
            rews.append(np.where(done[:, None], 0.0, rew))  # [E, n]
            ended_terminal |= terminated & ~done
            done |= terminated | truncated
            if done.all():
                break
            a = algo.act(torch.as_tensor(obs, device=device))
    rew, alive = np.stack(rews), np.stack(alive)  # [T, E, n], [T, E]
    returns = discounted_from_start(rew, alive, ended_terminal, algo.config.gamma, tail_window)  # [E, n]
    return OwnValue(q_start, float(returns.mean()), float(rew.mean(2).sum(0).mean()))
