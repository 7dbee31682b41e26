"""Rolling a policy out in a lock-step vector environment: evaluation returns and recorded transitions.

One function serves three uses: evaluating a snapshot (deterministic actor, fixed seeds), measuring the
random reference return, and recording a data set (with small Gaussian action noise). Episode ``k`` of a
call is reset with seed ``seed + k``, so the same call gives the same episodes. A team's episode return
is ``sum_t mean_j r_t^j`` (the learners' mean reward, summed over the episode).
Explained in chapter 02.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Policy = Callable[[np.ndarray], np.ndarray]
"""``obs [E, n_agents, obs_dim] -> act [E, n_agents, act_dim]`` in [-1, 1]."""

TRANSITION_FIELDS = ("obs", "act", "rew", "next_obs", "state", "next_state", "terminated", "truncated", "episode")


@dataclass
class Rollout:
    """Episode returns and lengths; ``transitions`` (episode-major, time-ordered) when recorded."""

    returns: np.ndarray  # [n_episodes] team return
    lengths: np.ndarray  # [n_episodes] steps
    transitions: dict[str, np.ndarray] | None = None

    @property
    def mean_return(self) -> float:
        return float(self.returns.mean())


def noisy_actions(
    act: np.ndarray, act_mask: np.ndarray, noise_std: float, rng: np.random.Generator | None
) -> np.ndarray:
    """``clip(act + N(0, noise_std^2), -1, 1)`` with padded dims kept at zero."""
    if noise_std > 0:
        act = act + noise_std * rng.standard_normal(act.shape).astype(np.float32)
    return (np.clip(act, -1.0, 1.0) * act_mask).astype(np.float32)


def random_actions(shape: tuple[int, ...], act_mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform actions in [-1, 1] on the real dims (the ``random`` quality and the warm-up phase)."""
    return (rng.uniform(-1.0, 1.0, size=shape) * act_mask).astype(np.float32)


def rollout_episodes(
    venv,
    policy: Policy | None,
    n_episodes: int,
    seed: int,
    act_mask: np.ndarray,
    max_steps: int,
    noise_std: float = 0.0,
    rng: np.random.Generator | None = None,
    record: bool = False,
    episode_offset: int = 0,
    on_step: Callable[[int], None] | None = None,
) -> Rollout:
    """Run ``n_episodes`` episodes of ``policy`` (``None``: uniform random actions) in ``venv``.

    Episodes run ``E`` at a time in lock-step (``E`` = the vector env's size); an env that finishes early
    is stepped on but its transitions are dropped until the whole batch has finished. ``rng`` draws the
    action noise and random actions (required when either is used). ``on_step(k)`` is told how many
    transitions were just kept (for a progress bar). Recorded episodes are numbered from
    ``episode_offset``.
    """
    if (policy is None or noise_std > 0) and rng is None:
        raise ValueError("rollout_episodes needs an rng for random actions or action noise")
    act_mask = np.asarray(act_mask, dtype=np.float32)  # [n, A]
    returns, lengths, chunks = [], [], []
    done_eps = 0
    while done_eps < n_episodes:
        obs, state = venv.reset(seed=int(seed + done_eps))  # [E, n, obs_dim], [E, state_dim]
        n_envs = obs.shape[0]
        keep = min(n_envs, n_episodes - done_eps)  # envs whose episodes count in this batch
        alive = np.zeros(n_envs, dtype=bool)
        alive[:keep] = True
        ep_return = np.zeros(n_envs, dtype=np.float64)
        ep_len = np.zeros(n_envs, dtype=np.int64)
        steps: list[dict[str, np.ndarray]] = []
        for _ in range(max_steps):
            shape = (n_envs, *act_mask.shape)
            if policy is None:
                act = random_actions(shape, act_mask, rng)
            else:
                act = noisy_actions(np.asarray(policy(obs), dtype=np.float32), act_mask, noise_std, rng)
            next_obs, next_state, rew, terminated, truncated = venv.step(act)
            terminated, truncated = np.asarray(terminated, bool), np.asarray(truncated, bool)
            ep_return += np.where(alive, rew.mean(axis=-1), 0.0)
            ep_len += alive
            if record:
                steps.append({"obs": obs, "act": act, "rew": rew, "next_obs": next_obs, "state": state,
                              "next_state": next_state, "terminated": terminated, "truncated": truncated,
                              "alive": alive.copy()})
            if on_step is not None:
                on_step(int(alive.sum()))
            alive &= ~(terminated | truncated)
            if not alive.any():
                break
            obs, state = next_obs, next_state
        returns.append(ep_return[:keep])
        lengths.append(ep_len[:keep])
        if record:
            chunks.append(_episode_major(steps, keep, episode_offset + done_eps))
        done_eps += keep
    transitions = None
    if record:
        transitions = {k: np.concatenate([c[k] for c in chunks]) for k in TRANSITION_FIELDS}
    return Rollout(np.concatenate(returns), np.concatenate(lengths), transitions)


def _episode_major(steps: list[dict[str, np.ndarray]], keep: int, first_episode: int) -> dict[str, np.ndarray]:
    """Turn per-step ``[E, ...]`` records into episode-major rows, dropping steps after an env finished."""
    stacked = {k: np.stack([s[k] for s in steps], axis=1) for k in steps[0]}  # [E, T, ...]
    out: dict[str, list[np.ndarray]] = {k: [] for k in TRANSITION_FIELDS}
    for e in range(keep):
        valid = stacked["alive"][e]  # [T]
        for k in TRANSITION_FIELDS[:-1]:
            out[k].append(stacked[k][e][valid])
        out["episode"].append(np.full(int(valid.sum()), first_episode + e, dtype=np.int64))
    dtypes = {"terminated": bool, "truncated": bool, "episode": np.int64}
    return {k: np.concatenate(v).astype(dtypes.get(k, np.float32)) for k, v in out.items()}
