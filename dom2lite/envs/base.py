"""The single-environment contract shared by every task wrapper.

``reset(seed) -> (obs, state)`` and ``step(act) -> (obs, state, rew, terminated, truncated)`` with
``obs [n_agents, obs_dim]`` (zeros where ``spec.obs_mask`` is False), ``state [state_dim]``, ``rew
[n_agents]`` (float32, learning agents only) and two plain bools kept apart: a time limit is a truncation,
never a termination. There is no auto-reset: once an episode has ended, further steps return the last
``obs``/``state`` again with zero reward and the same end flags, so lock-step callers can keep stepping
a finished environment. Explained in chapter 02.
"""

from __future__ import annotations

import numpy as np

from dom2lite.envs.spec import EnvSpec


def check_actions(act, shape: tuple[int, ...]) -> np.ndarray:
    """``act`` as float32 of exactly ``shape``, clipped to [-1, 1]; ValueError on a bad shape or NaN/inf."""
    act = np.asarray(act, dtype=np.float32)
    if act.shape != shape:
        raise ValueError(f"actions must have shape {shape} ([envs,] n_agents, act_dim), got {act.shape}")
    if not np.isfinite(act).all():
        raise ValueError("actions contain NaN or inf")
    return np.clip(act, -1.0, 1.0)


class TaskEnv:
    """Base class: bookkeeping of steps and episode ends; subclasses implement ``_reset`` and ``_step``.

    ``_step`` receives clipped actions ``[n_agents, act_dim]`` in [-1, 1] and returns ``(obs, state, rew,
    terminated, truncated)``; truncation at ``spec.max_steps`` is enforced here as well.
    """

    def __init__(self, spec: EnvSpec):
        self.spec = spec
        self.t = 0  # steps taken in the current episode
        self._last: tuple[np.ndarray, np.ndarray] | None = None
        self._ended: tuple[bool, bool] | None = None  # (terminated, truncated) once the episode is over

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Start an episode; the same ``seed`` gives the same episode for the same actions."""
        obs, state = self._reset(None if seed is None else int(seed))
        self.t, self._ended, self._last = 0, None, (obs, state)
        return obs, state

    def step(self, act) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool]:
        """Advance one step with ``act [n_agents, act_dim]`` in [-1, 1] (padded entries ignored)."""
        return self.step_checked(check_actions(act, (self.spec.n_agents, self.spec.act_dim)))

    def step_checked(self, act: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool]:
        """``step`` for actions already validated and clipped (the vector env checks the whole batch)."""
        if self._last is None:
            raise RuntimeError(f"{self.spec.task}: call reset() before step()")
        if self._ended is not None:  # finished: repeat the last arrays, no reward
            obs, state = self._last
            return obs.copy(), state.copy(), np.zeros(self.spec.n_agents, np.float32), *self._ended
        obs, state, rew, terminated, truncated = self._step(act)
        self.t += 1
        truncated = bool(truncated or self.t >= self.spec.max_steps) and not terminated
        self._last = (obs, state)
        if terminated or truncated:
            self._ended = (bool(terminated), truncated)
        return obs, state, rew, bool(terminated), truncated

    def render(self) -> np.ndarray | None:
        """An RGB frame ``[H, W, 3]`` uint8 when made with ``render_mode="rgb_array"``."""
        raise NotImplementedError

    def close(self) -> None:
        """Release simulator resources."""

    def _reset(self, seed: int | None) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _step(self, act: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool, bool]:
        raise NotImplementedError
