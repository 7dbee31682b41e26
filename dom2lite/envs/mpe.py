"""The MPE tasks (``spread``, ``tag``, ``world``) on mpe2, continuous actions, 25-step episodes.

We drive mpe2's unwrapped AEC environment (``raw_env``) directly: each step gives every agent its action
in mpe2's order and reads every observation once, which is about twice as fast as the PettingZoo
parallel wrapper and gives the same dynamics. Learners' actions arrive in [-1, 1] and are mapped to
mpe2's Box(0, 1) by ``a = (x + 1) / 2``; scripted agents (``envs/scripted.py``) act on their own
observations. The global state is mpe2's ``state()``: all agents' observations concatenated (scripted
agents included). Episodes end by truncation after 25 steps. Explained in chapter 02.
"""

from __future__ import annotations

import importlib

import numpy as np

from dom2lite.envs.base import TaskEnv
from dom2lite.envs.scripted import SCRIPTED
from dom2lite.envs.shifts import ActiveShift
from dom2lite.envs.spec import EnvSpec


class MPEEnv(TaskEnv):
    """One mpe2 environment behind the ``TaskEnv`` contract (see ``envs/base.py``)."""

    def __init__(self, spec: EnvSpec, shift: ActiveShift | None = None, render_mode: str | None = None):
        super().__init__(spec)
        module = importlib.import_module(spec.env_id)  # e.g. mpe2.simple_spread_v3
        self._aec = module.raw_env(max_cycles=spec.max_steps, continuous_actions=True, render_mode=render_mode)
        self._names = list(self._aec.possible_agents)
        self._learner_idx = [self._names.index(name) for name in spec.agent_names]
        scripted = SCRIPTED.get(spec.task, {})
        self._scripted = [(self._names.index(name), scripted[name]) for name in spec.scripted_agents]
        self._check_spaces()
        world = self._aec.world
        self._learners = [world.agents[i] for i in self._learner_idx]
        self._shift = shift
        if shift is not None:
            shift.on_make(world, self._learners)
        self._rng = np.random.default_rng()
        self._all_obs: list[np.ndarray] = []

    def _check_spaces(self) -> None:
        spec, aec = self.spec, self._aec
        obs_dims = tuple(aec.observation_space(n).shape[0] for n in spec.agent_names)
        act_dims = tuple(aec.action_space(n).shape[0] for n in spec.agent_names)
        state_dim = aec.state_space.shape[0]
        if (obs_dims, act_dims, state_dim) != (spec.obs_dims, spec.act_dims, spec.state_dim):
            raise RuntimeError(
                f"{spec.env_id} changed its spaces: obs {obs_dims}, act {act_dims}, state {state_dim}; "
                f"dom2lite expects {spec.obs_dims}, {spec.act_dims}, {spec.state_dim} ({spec.env_version})")

    def _reset(self, seed):
        self._aec.reset(seed=seed)
        # the scripted agents' own stream, derived from the episode seed
        self._rng = np.random.default_rng(None if seed is None else [seed, 0x5C])
        if self._shift is not None:
            self._shift.on_reset(self._aec.world, self._learners)
        return self._observe()

    def _step(self, act):
        native = (act + 1.0) * 0.5  # [n_agents, act_dim] in [0, 1]
        actions: list = [None] * len(self._names)
        for j, i in enumerate(self._learner_idx):
            actions[i] = native[j, : self.spec.act_dims[j]]
        for i, policy in self._scripted:
            actions[i] = policy(self._all_obs[i], self._rng)
        for action in actions:  # mpe2 steps the world after the last agent's action
            self._aec.step(action)
        rewards = self._aec.rewards
        rew = np.array([rewards[self._names[i]] for i in self._learner_idx], dtype=np.float32)  # [n]
        first = self._names[0]
        obs, state = self._observe()
        return obs, state, rew, bool(self._aec.terminations[first]), bool(self._aec.truncations[first])

    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        """Learners' padded observations ``[n, obs_dim]`` and the state ``[state_dim]`` (all agents)."""
        self._all_obs = [self._aec.observe(name) for name in self._names]
        obs = np.zeros((self.spec.n_agents, self.spec.obs_dim), dtype=np.float32)
        for j, i in enumerate(self._learner_idx):
            obs[j, : self.spec.obs_dims[j]] = self._all_obs[i]
        return obs, np.concatenate(self._all_obs).astype(np.float32, copy=False)

    def render(self):
        return self._aec.render()

    def close(self):
        # pygame.quit() (mpe2's close) would shut pygame down for every env in the process: only
        # environments that render own a display surface worth closing.
        if self._aec.render_mode is not None:
            self._aec.close()
