"""Evaluation: several episodes stepped together, one batched policy call per step.

Decentralised execution: the policy maps every agent's own observation to its action
(``[E, n_agents, obs_dim] -> [E, n_agents, act_dim]``); no agent sees another's observation.
The reported figure is the mean ± std over episodes of the team return (sum over steps of the mean
of the learners' rewards) and, when the data set card gives random and expert reference returns, the
normalised score 100 · (R − R_random) / (R_expert − R_random).

Members (the Cost appendix): ``evaluate(wide, task, members=K)`` runs K sets of the same episodes, one
per member, and asks the wide policy for all ``K * n`` agents' actions in one call per step; member k's
episodes are the ones its solo run would evaluate on.
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
    members: int = 1,
) -> EvalResult | list[EvalResult]:
    """Run ``n_episodes`` episodes in lock-step and return their team returns.

    ``seed`` seeds episode i's environment with ``seed + i``; the default keeps evaluation seeds away
    from the data-generation seeds. ``card`` (a data set card) adds normalised scores. ``members = K``:
    ``policy`` acts for K members side by side (``[E, K n, obs_dim] -> [E, K n, act_dim]``); the result
    is one ``EvalResult`` per member (its ``joint_steps_per_second`` counts its own episodes against the
    shared wall time).
    """
    from dom2lite.envs import make_vector_env

    if n_episodes < 1:
        raise ValueError(f"n_episodes must be >= 1, got {n_episodes}")
    if members < 1:
        raise ValueError(f"members must be >= 1, got {members}")
    device = resolve_device(device)
    act_fn = as_policy_fn(policy)
    venvs = []
    try:
        for _ in range(members):
            venvs.append(make_vector_env(task, n_episodes, shift=shift, shift_strength=shift_strength))
        n = venvs[0].spec.n_agents
        obs = [v.reset(seed=seed)[0] for v in venvs]  # K x [E, n_agents, obs_dim]
        total = np.zeros((members, n_episodes), dtype=np.float64)  # [K, E]
        done = np.zeros((members, n_episodes), dtype=bool)
        steps = 0
        start = time.perf_counter()
        while not done.all():
            joint = torch.as_tensor(np.concatenate(obs, axis=1), dtype=torch.float32, device=device)  # [E, K n, O]
            act = act_fn(joint).cpu().numpy()  # [E, K n, act_dim]
            for k, venv in enumerate(venvs):
                obs[k], _, rew, terminated, truncated = venv.step(act[:, k * n:(k + 1) * n])
                total[k] += np.where(done[k], 0.0, rew.mean(axis=1))
                done[k] |= terminated | truncated
            steps += 1
            if steps > venvs[0].spec.max_steps:
                raise RuntimeError(f"{task}: episodes did not end within max_steps={venvs[0].spec.max_steps}")
        elapsed = time.perf_counter() - start
    finally:
        for venv in venvs:
            close = getattr(venv, "close", None)
            if close is not None:
                close()
    results = []
    for returns in total:
        norm_mean = norm_std = None
        if card is not None:
            norm = normalised_score(returns, card)
            norm_mean, norm_std = float(norm.mean()), float(norm.std())
        results.append(EvalResult(
            returns=[float(r) for r in returns],
            mean=float(returns.mean()),
            std=float(returns.std()),
            normalised_mean=norm_mean,
            normalised_std=norm_std,
            joint_steps_per_second=steps * n_episodes / max(elapsed, 1e-9),  # this member's episodes
            task=task,
            shift=shift,
            shift_strength=shift_strength,
        ))
    return results[0] if members == 1 else results
