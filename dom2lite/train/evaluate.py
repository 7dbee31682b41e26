"""Evaluation: several episodes stepped together, one batched policy call per step.

Decentralised execution: the policy maps every agent's own observation to its action
(``[E, n_agents, obs_dim] -> [E, n_agents, act_dim]``); no agent sees another's observation.
The reported figure is the mean ± std over episodes of the team return (sum over steps of the mean
of the learners' rewards) and, when the data set card gives random and expert reference returns, the
normalised score 100 · (R − R_random) / (R_expert − R_random).
Explained in chapter 07 (DOM2 end to end).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from dom2lite.data.card import normalised_score
from dom2lite.device import resolve_device

PolicyFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class EvalResult:
    returns: list[float]  # one team return per episode
    mean: float
    std: float
    normalised_mean: float | None
    normalised_std: float | None
    joint_steps_per_second: float
    task: str
    shift: str | None
    shift_strength: float

    def as_dict(self, prefix: str = "eval/") -> dict:
        return {f"{prefix}{k}": v for k, v in asdict(self).items() if k != "returns"}


def as_policy_fn(policy) -> PolicyFn:
    """Accept an algorithm (anything with ``act(obs, deterministic=True)``) or a plain callable."""
    if hasattr(policy, "act"):
        return lambda obs: policy.act(obs, deterministic=True)
    if callable(policy):
        return policy
    raise TypeError(f"policy must be callable or have .act(), got {type(policy).__name__}")


@torch.no_grad()
def evaluate(
    policy,
    task: str,
    n_episodes: int = 10,
    seed: int = 10_000,
    shift: str | None = None,
    shift_strength: float = 1.0,
    card: dict | None = None,
    device: str | torch.device | None = None,
) -> EvalResult:
    """Run ``n_episodes`` episodes in lock-step and return their team returns.

    ``seed`` seeds episode i's environment with ``seed + i``; the default keeps evaluation seeds away
    from the data-generation seeds. ``card`` (a data set card) adds normalised scores.
    """
    from dom2lite.envs import make_vector_env

    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    device = resolve_device(device)
    act_fn = as_policy_fn(policy)
    venv = make_vector_env(task, n_episodes, shift=shift, shift_strength=shift_strength)
    try:
        obs, _ = venv.reset(seed=seed)  # [E, n_agents, obs_dim]
        total = np.zeros(n_episodes, dtype=np.float64)  # [E]
        done = np.zeros(n_episodes, dtype=bool)
        steps = 0
        start = time.perf_counter()
        while not done.all():
            act = act_fn(torch.as_tensor(obs, dtype=torch.float32, device=device))  # [E, n, act_dim]
            obs, _, rew, terminated, truncated = venv.step(act.cpu().numpy())
            total += np.where(done, 0.0, rew.mean(axis=1))
            done |= terminated | truncated
            steps += 1
            if steps > venv.spec.max_steps:
                raise RuntimeError(f"{task}: episodes did not end within max_steps={venv.spec.max_steps}")
        elapsed = time.perf_counter() - start
    finally:
        close = getattr(venv, "close", None)
        if close is not None:
            close()
    norm_mean = norm_std = None
    if card is not None:
        norm = normalised_score(total, card)
        norm_mean, norm_std = float(norm.mean()), float(norm.std())
    return EvalResult(
        returns=[float(r) for r in total],
        mean=float(total.mean()),
        std=float(total.std()),
        normalised_mean=norm_mean,
        normalised_std=norm_std,
        joint_steps_per_second=steps * n_episodes / max(elapsed, 1e-9),
        task=task,
        shift=shift,
        shift_strength=shift_strength,
    )
