"""The environment layer: four tasks behind one lock-step, [-1, 1]-action interface.

    spec = env_spec("spread")
    venv = make_vector_env("spread", n_envs=8)            # venv.spec is spec
    obs, state = venv.reset(seed=0)                       # [E, n, obs_dim], [E, state_dim]
    obs, state, rew, terminated, truncated = venv.step(act)   # act [E, n, act_dim] in [-1, 1]

| task | simulator | learners (obs, act) | scripted | state | steps |
|---|---|---|---|---|---|
| spread | mpe2 simple_spread_v3 | 3 agents (18, 5) | - | 54 | 25 |
| tag | mpe2 simple_tag_v3 | 3 predators (16, 5) | prey | 62 | 25 |
| world | mpe2 simple_world_comm_v3 | leader (34, 9) + 3 predators (34, 5) | 2 foragers | 192 | 25 |
| halfcheetah | gymnasium-robotics MaMuJoCo 2x3 | 2 legs (12, 3) | - | 17 | 1000 |

Specs are static (building them imports no simulator); each wrapper checks the real spaces against
them. Importing this package or using an MPE task never imports MuJoCo. Explained in chapter 02.
"""

from __future__ import annotations

import operator

from dom2lite.envs.base import TaskEnv
from dom2lite.envs.shifts import list_shifts, resolve_shift
from dom2lite.envs.spec import EnvSpec
from dom2lite.envs.vector import VectorEnv
from dom2lite.errors import ConfigError

MPE = ("mpe2",)
MUJOCO = ("gymnasium-robotics", "gymnasium", "mujoco")

_SPECS = {spec.task: spec for spec in (
    EnvSpec("spread", "mpe2.simple_spread_v3", ("agent_0", "agent_1", "agent_2"), (18,) * 3, (5,) * 3, 54, 25,
            (0.0, 1.0), packages=MPE,
            learners="3 cooperative agents cover 3 landmarks; shared distance reward plus collision penalties"),
    EnvSpec("tag", "mpe2.simple_tag_v3", ("adversary_0", "adversary_1", "adversary_2"), (16,) * 3, (5,) * 3,
            62, 25, (0.0, 1.0), scripted_agents=("agent_0",), packages=MPE,
            learners="3 predators chase a scripted prey; each gets +10 per predator-prey contact"),
    EnvSpec("world", "mpe2.simple_world_comm_v3",
            ("leadadversary_0", "adversary_0", "adversary_1", "adversary_2"), (34,) * 4, (9, 5, 5, 5), 192, 25,
            (0.0, 1.0), scripted_agents=("agent_0", "agent_1"), packages=MPE,
            learners="a leader (4-D message) and 3 predators chase 2 scripted foragers; +5 per contact, "
                     "-0.1 x distance to the nearest forager"),
    EnvSpec("halfcheetah", "gymnasium_robotics.mamujoco_v1:HalfCheetah-2x3", ("agent_0", "agent_1"),
            (12, 12), (3, 3), 17, 1000, (-1.0, 1.0), packages=MUJOCO,
            learners="back leg and front leg of HalfCheetah-v5 (agent_obsk=1); shared forward-speed reward"),
)}

TASKS: tuple[str, ...] = tuple(_SPECS)
"""Task names, in the book's order."""


def list_tasks() -> dict[str, str]:
    """Task names with one-line descriptions of who learns."""
    return {task: spec.learners for task, spec in _SPECS.items()}


def env_spec(task: str) -> EnvSpec:
    """The static ``EnvSpec`` of ``task`` (no simulator is imported)."""
    if task not in _SPECS:
        raise ConfigError("task", f"unknown task {task!r}; choose from {TASKS}")
    return _SPECS[task]


def make_env(task: str, shift: str | None = None, shift_strength: float = 1.0,
             render_mode: str | None = None) -> TaskEnv:
    """One environment of ``task`` (optionally shifted, see ``list_shifts(task)``).

    ``render_mode="rgb_array"`` makes ``env.render()`` return ``[H, W, 3]`` uint8 frames.
    """
    spec = env_spec(task)
    active = resolve_shift(task, shift, shift_strength)
    if render_mode not in (None, "rgb_array", "human"):
        raise ConfigError("render_mode", f"must be None, 'rgb_array' or 'human', got {render_mode!r}")
    if task == "halfcheetah":
        from dom2lite.envs.mamujoco import MaMuJoCoEnv  # imports MuJoCo

        return MaMuJoCoEnv(spec, active, render_mode)
    from dom2lite.envs.mpe import MPEEnv

    return MPEEnv(spec, active, render_mode)


def make_vector_env(task: str, n_envs: int, shift: str | None = None, shift_strength: float = 1.0) -> VectorEnv:
    """``n_envs`` environments of ``task`` stepped in lock-step; ``venv.spec`` is ``env_spec(task)``."""
    env_spec(task)
    resolve_shift(task, shift, shift_strength)  # fail before building anything
    try:
        count = operator.index(n_envs)
    except TypeError:
        count = 0
    if count < 1:
        raise ConfigError("n_envs", f"must be a positive integer, got {n_envs!r}")
    return VectorEnv([make_env(task, shift, shift_strength) for _ in range(count)])


__all__ = ["TASKS", "EnvSpec", "TaskEnv", "VectorEnv", "env_spec", "list_shifts", "list_tasks", "make_env",
           "make_vector_env"]
