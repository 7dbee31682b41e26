"""Is a critic calibrated? Its Q on the data set's own transitions against the returns that followed them.

A critic trained offline estimates ``Q_j(o, a) = E[sum_k gamma^k r^j_{t+k}]``. On the data set's own
transitions there is a yardstick for that number: the discounted return that actually followed each
transition in the data, per agent (a Monte-Carlo return). For the behaviour policy it is an unbiased
sample of ``Q^mu``; a learned policy close to the data's scores about the same. A conservative critic
may sit somewhat below it — that is its purpose — but a critic whose mean is off by more than the whole
spread of returns in the data estimates nothing.

**The cut at the time limit.** MPE episodes end by a time limit after 25 steps, which is not a terminal:
the critics bootstrap through it (``y = r + gamma Q'(o', a')`` at the last step too), so they estimate an
*infinite-horizon* return. The Monte-Carlo sum is continued past the cut the same way, with a geometric
tail: after the last stored step the reward is assumed to stay at a level ``r_tail`` forever, which adds
``gamma^(T - t) * r_tail / (1 - gamma)`` to the return of row ``t`` of an episode of length ``T``.
``tail`` chooses ``r_tail`` per agent:

- ``"episode_end"`` (default): the mean reward of the episode's last ``tail_window`` steps. Behaviour
  that has settled (agents on their landmarks) goes on earning what it earned at the end;
- ``"data_mean"``: the data set's mean reward per agent;
- ``"none"``: no tail (the truncated finite sum; biased low for negative rewards' magnitude).

A true terminal (``terminated``) ends the sum with no tail. The tail's weight is ``gamma^(T - t)``: with
gamma 0.95 it is 0.28 at the first step of a 25-step episode and 0.95 at the last, so the choice matters
most late in an episode and the summary below pools all rows.

:func:`calibration_metrics` reports, over a fixed subsample of rows and every agent: the mean Q (the
average of both twin heads), the mean Monte-Carlo return, their difference (``bias``), the bias as a
fraction of the data's return range (1st to 99th percentile of the Monte-Carlo returns; the project's
gate is ``|bias_frac| <= 0.25``), the root-mean-square error and the per-agent Pearson correlation
(averaged over agents). Every training run with a critic logs them at each evaluation as ``calib/*``.
:func:`policy_gap` compares the critic's values of a policy's actions with those of the data's actions
at the same observations (the gap that TD backups pass on).
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from dom2lite.data.validate import episode_starts
from dom2lite.errors import ConfigError

TAILS = ("episode_end", "data_mean", "none")


def monte_carlo_returns(dataset, gamma: float, tail: str = "episode_end", tail_window: int = 5) -> np.ndarray:
    """Discounted return that followed each row, per agent, continued past a truncation: ``[T, n]``."""
    if tail not in TAILS:
        raise ConfigError("tail", f"unknown value {tail!r}; choose from {TAILS}")
    if not 0.0 < gamma < 1.0:
        raise ConfigError("gamma", f"must be in (0, 1), got {gamma}")
    if tail_window < 1:
        raise ConfigError("tail_window", f"must be >= 1, got {tail_window}")
    rew = dataset.rew.astype(np.float64)  # [T, n]
    starts = episode_starts(dataset.episode)  # [E + 1]
    lengths = np.diff(starts)  # [E]
    last = starts[1:] - 1  # [E] row of each episode's last step
    # r_tail per episode and agent, zero where the episode ended in a true terminal
    if tail == "episode_end":
        cum = np.vstack([np.zeros((1, rew.shape[1])), np.cumsum(rew, axis=0)])  # [T + 1, n]
        first = np.maximum(starts[1:] - tail_window, starts[:-1])  # [E]
        r_tail = (cum[starts[1:]] - cum[first]) / (starts[1:] - first)[:, None]  # [E, n]
    elif tail == "data_mean":
        r_tail = np.broadcast_to(rew.mean(axis=0), (len(lengths), rew.shape[1])).copy()  # [E, n]
    else:
        r_tail = np.zeros((len(lengths), rew.shape[1]))
    r_tail[np.asarray(dataset.terminated)[last].astype(bool)] = 0.0

    # backward recursion, all episodes at once: position k from the end of each episode
    from_end = np.repeat(starts[1:], lengths) - 1 - np.arange(len(rew))  # [T] 0 at each last row
    g = np.zeros_like(rew)  # [T, n]
    rows = last
    g[rows] = rew[rows] + gamma * r_tail / (1.0 - gamma)
    for k in range(1, int(lengths.max())):
        rows = np.flatnonzero(from_end == k)
        g[rows] = rew[rows] + gamma * g[rows + 1]
    return g.astype(np.float32)


@dataclass
class CalibrationSet:
    """A fixed subsample of the data set's rows and their Monte-Carlo returns, on the critic's device."""

    obs: torch.Tensor  # [R, n, obs_dim]
    act: torch.Tensor  # [R, n, act_dim]
    state: torch.Tensor  # [R, state_dim]
    mc: torch.Tensor  # [R, n] Monte-Carlo return per agent
    return_range: float
    """1st to 99th percentile of the Monte-Carlo returns of all rows and agents (the yardstick's spread);
    their standard deviation where that is larger (sparse rewards: fewer than 1 % of rows may differ)."""
    gamma: float
    tail: str


def calibration_rows(n_transitions: int, n_rows: int = 4096, seed: int = 0) -> np.ndarray:
    """The sorted rows :func:`calibration_set` picks: ``n_rows`` of them with a fixed seed (all of a smaller set)."""
    if n_transitions <= n_rows:
        return np.arange(n_transitions)
    return np.sort(np.random.default_rng(seed).choice(n_transitions, n_rows, replace=False))


def calibration_set(dataset, gamma: float, n_rows: int = 4096, seed: int = 0, tail: str = "episode_end",
                    device: torch.device | str = "cpu") -> CalibrationSet:
    """Pick ``n_rows`` rows (all of them in a smaller data set) with a fixed seed and compute their returns."""
    mc_all = monte_carlo_returns(dataset, gamma, tail)  # [T, n]
    lo, hi = np.percentile(mc_all, [1, 99])
    rows = calibration_rows(dataset.n_transitions, n_rows, seed)
    as_t = lambda x: torch.as_tensor(np.asarray(x)[rows], dtype=torch.float32, device=device)  # noqa: E731
    return CalibrationSet(as_t(dataset.obs), as_t(dataset.act), as_t(dataset.state), as_t(mc_all),
                          float(max(hi - lo, mc_all.std(), 1e-8)), float(gamma), tail)


@torch.no_grad()
def data_q(critic, cset: CalibrationSet, reward_scale: float = 1.0) -> torch.Tensor:
    """Q of ``critic`` (a :class:`~dom2lite.critics.TwinQ`, mean of both heads) on the set's data actions,
    in raw reward units (divided by ``reward_scale``, the factor its rewards were multiplied by): ``[R, n]``."""
    q1, q2 = critic(cset.obs, cset.act, cset.state)  # [R, n] each; joint critics see the data's joint action
    return 0.5 * (q1 + q2) / float(reward_scale)  # [R, n]


@torch.no_grad()
def calibration_metrics(critic, cset: CalibrationSet, reward_scale: float = 1.0,
                        prefix: str = "calib/") -> dict[str, float]:
    """Q of ``critic`` on the set's data actions against its returns (see :func:`data_q`)."""
    q = data_q(critic, cset, reward_scale)  # [R, n] in raw reward units
    err = q - cset.mc  # [R, n]
    qc, mc = q - q.mean(0), cset.mc - cset.mc.mean(0)  # [R, n] centred per agent
    denom = (qc.pow(2).sum(0) * mc.pow(2).sum(0)).sqrt().clamp_min(1e-12)  # [n]
    corr = (qc * mc).sum(0) / denom  # [n]
    bias = err.mean()
    return {
        f"{prefix}q_mean": float(q.mean()),
        f"{prefix}mc_mean": float(cset.mc.mean()),
        f"{prefix}bias": float(bias),
        f"{prefix}bias_frac": float(bias) / cset.return_range,
        f"{prefix}rmse": float(err.pow(2).mean().sqrt()),
        f"{prefix}corr": float(corr.mean()),
    }


@torch.no_grad()
def policy_gap(critic, act: torch.Tensor, cset: CalibrationSet, reward_scale: float = 1.0) -> float:
    """Mean over the set's rows and agents of ``Q(o, act) - Q(o, a_data)`` in raw reward units, where
    ``act [R, n, A]`` are a policy's actions at the set's observations: how far below (negative) the
    data's own actions the critic rates the policy's.

    Every TD target bootstraps from the policy's action at the next observation, so a gap ``g`` held at
    every state is passed on by every backup: Q on the data's actions then settles about
    ``g * gamma / (1 - gamma)`` below the data's returns (chapter 05 measures it on spread and tag).
    """
    q_pi = data_q(critic, replace(cset, act=act), reward_scale)  # [R, n]
    return float((q_pi - data_q(critic, cset, reward_scale)).mean())
