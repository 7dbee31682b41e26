"""``halfcheetah``: multi-agent MuJoCo HalfCheetah 2x3 (gymnasium-robotics ``mamujoco_v1``).

Agent 0 drives the back leg (bthigh, bshin, bfoot), agent 1 the front leg (fthigh, fshin, ffoot);
each sees its own joints and their neighbours (``agent_obsk=1``, 12 numbers) and both receive the
same team reward. The global state is Gymnasium's ``HalfCheetah-v5`` observation (17 numbers).
Actions are Box(-1, 1) already, so they pass through unchanged. HalfCheetah-v5 never terminates;
episodes end by truncation after 1000 steps.

MuJoCo is imported here only, when a HalfCheetah env is built: MPE use never loads it.
Explained in chapter 02.
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np

from dom2lite.envs.base import TaskEnv
from dom2lite.envs.shifts import ActiveShift
from dom2lite.envs.spec import EnvSpec


def import_mamujoco():
    """Import mujoco and gymnasium-robotics' ``mamujoco_v1`` quietly; clear message when missing.

    Sets ``MUJOCO_GL=egl`` (headless rendering) unless already set, and silences MuJoCo's user warnings
    (HalfCheetah's deprecated ``settotalmass`` attribute, which would also write ``MUJOCO_LOG.TXT``).
    """
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        import mujoco

        mujoco.set_mju_user_warning(lambda msg: None)
        with contextlib.redirect_stderr(io.StringIO()):  # an import-time notice about Adroit envs
            from gymnasium_robotics import mamujoco_v1
    except ImportError as err:
        from dom2lite.errors import BackendMissing  # an ImportError naming the package and the install line

        raise BackendMissing(err.name or "mujoco", f"the halfcheetah task needs MuJoCo and Gymnasium-Robotics ({err})",
                             hint="pip install -e '.[mujoco]' (or: pip install 'mujoco>=3' 'gymnasium-robotics>=1.4')"
                             ) from err
    return mujoco, mamujoco_v1


class MaMuJoCoEnv(TaskEnv):
    """One HalfCheetah 2x3 environment behind the ``TaskEnv`` contract (see ``envs/base.py``)."""

    def __init__(self, spec: EnvSpec, shift: ActiveShift | None = None, render_mode: str | None = None):
        super().__init__(spec)
        mujoco, mamujoco_v1 = import_mamujoco()
        self._env = mamujoco_v1.parallel_env("HalfCheetah", "2x3", agent_obsk=1, render_mode=render_mode)
        self._names = list(self._env.possible_agents)
        self._check_spaces()
        if shift is not None:
            sim = self._env.single_agent_env.unwrapped
            shift.on_make(sim.model)
            mujoco.mj_setConst(sim.model, sim.data)  # refresh constants derived from masses etc.

    def _check_spaces(self) -> None:
        spec, env = self.spec, self._env
        obs_dims = tuple(env.observation_space(n).shape[0] for n in self._names)
        act_dims = tuple(env.action_space(n).shape[0] for n in self._names)
        state_dim = env.state().shape[0]
        if (obs_dims, act_dims, state_dim) != (spec.obs_dims, spec.act_dims, spec.state_dim):
            raise RuntimeError(
                f"{spec.env_id} changed its spaces: obs {obs_dims}, act {act_dims}, state {state_dim}; "
                f"dom2lite expects {spec.obs_dims}, {spec.act_dims}, {spec.state_dim} ({spec.env_version})")

    def _reset(self, seed):
        obs, _ = self._env.reset(seed=seed)
        return self._arrays(obs)

    def _step(self, act):
        actions = {name: act[j] for j, name in enumerate(self._names)}  # [act_dim] each, in [-1, 1]
        obs, rew, terminated, truncated, _ = self._env.step(actions)
        first = self._names[0]
        rew = np.array([rew[name] for name in self._names], dtype=np.float32)  # [n]
        return (*self._arrays(obs), rew, bool(terminated[first]), bool(truncated[first]))

    def _arrays(self, obs: dict) -> tuple[np.ndarray, np.ndarray]:
        obs = np.stack([obs[name] for name in self._names]).astype(np.float32)  # [n, obs_dim]
        return obs, self._env.state().astype(np.float32)  # [state_dim]

    def render(self):
        return self._env.render()

    def close(self):
        self._env.close()
