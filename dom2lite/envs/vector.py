"""``VectorEnv``: ``E`` copies of a task stepped in lock-step (a plain Python loop, no processes).

Arrays gain a leading ``[E]`` axis; environment ``i`` is reset with ``seed + i``. There is no auto-reset:
every environment's episode ends after ``spec.max_steps`` (or earlier when terminated) and the caller
resets all of them together; a finished environment keeps returning its last arrays with zero reward
(see ``envs/base.py``), so callers mask finished ones with their own ``alive`` flags.
Explained in chapter 02.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dom2lite.envs.base import TaskEnv, check_actions


class VectorEnv:
    """Lock-step batch of ``TaskEnv`` s. Outputs are fresh arrays on every call (safe to keep)."""

    def __init__(self, envs: Sequence[TaskEnv]):
        if not envs:
            raise ValueError("VectorEnv needs at least one environment")
        self.envs = list(envs)
        self.spec = self.envs[0].spec
        self.n_envs = len(self.envs)

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``obs [E, n_agents, obs_dim]``, ``state [E, state_dim]`` (float32); env ``i`` gets ``seed + i``."""
        spec = self.spec
        obs = np.empty((self.n_envs, spec.n_agents, spec.obs_dim), dtype=np.float32)
        state = np.empty((self.n_envs, spec.state_dim), dtype=np.float32)
        for i, env in enumerate(self.envs):
            obs[i], state[i] = env.reset(None if seed is None else int(seed) + i)
        return obs, state

    def step(self, act) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``act [E, n_agents, act_dim]`` in [-1, 1] -> ``obs, state, rew [E, n_agents], terminated [E],
        truncated [E]`` (bool, kept apart)."""
        spec = self.spec
        act = check_actions(act, (self.n_envs, spec.n_agents, spec.act_dim))  # [E, n, act_dim]
        obs = np.empty((self.n_envs, spec.n_agents, spec.obs_dim), dtype=np.float32)
        state = np.empty((self.n_envs, spec.state_dim), dtype=np.float32)
        rew = np.empty((self.n_envs, spec.n_agents), dtype=np.float32)
        terminated = np.empty(self.n_envs, dtype=bool)
        truncated = np.empty(self.n_envs, dtype=bool)
        for i, env in enumerate(self.envs):
            obs[i], state[i], rew[i], terminated[i], truncated[i] = env.step_checked(act[i])
        return obs, state, rew, terminated, truncated

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def __enter__(self) -> VectorEnv:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __len__(self) -> int:
        return self.n_envs
