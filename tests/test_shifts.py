"""Shifted environments: names, typed errors, real changes of the dynamics, strength 0 = no shift."""

from __future__ import annotations

import numpy as np
import pytest

from dom2lite.envs import list_shifts, make_env, make_vector_env
from dom2lite.envs.shifts import resolve_shift
from dom2lite.errors import ConfigError


def rollout(env, seed=3, steps=6):
    rng = np.random.default_rng(0)
    obs = [env.reset(seed=seed)[0]]
    for _ in range(steps):
        act = rng.uniform(-1, 1, (env.spec.n_agents, env.spec.act_dim)).astype(np.float32)
        obs.append(env.step(act)[0])
    return np.stack(obs)  # [steps + 1, n, obs_dim]


def test_every_task_lists_its_shifts_with_descriptions():
    for task in ("spread", "tag", "world"):
        assert set(list_shifts(task)) == {"speed", "damping", "size", "landmarks"}
    assert set(list_shifts("halfcheetah")) == {"mass", "friction", "damping"}
    assert all(isinstance(d, str) and d for d in list_shifts("spread").values())


def test_unknown_shift_task_or_strength_raise_config_errors():
    for kwargs, field in [({"shift": "gravity"}, "shift"), ({"shift": "mass"}, "shift"),
                          ({"shift": "speed", "shift_strength": -1.0}, "shift_strength"),
                          ({"shift": "speed", "shift_strength": float("nan")}, "shift_strength")]:
        with pytest.raises(ConfigError) as err:
            make_vector_env("spread", 1, **kwargs)
        assert err.value.field == field
    with pytest.raises(ConfigError) as err:
        list_shifts("pong")
    assert err.value.field == "task"
    assert resolve_shift("tag", None) is None and resolve_shift("tag", "none") is None
    assert resolve_shift("tag", "speed", 2.0).factor == pytest.approx(0.36)


@pytest.mark.parametrize("task", ["spread", "tag", "world"])
def test_mpe_shifts_change_the_dynamics_and_strength_zero_changes_nothing(task):
    # a full episode: the size shift acts through collisions only
    base = rollout(make_env(task), steps=25)
    for shift in list_shifts(task):
        np.testing.assert_array_equal(rollout(make_env(task, shift, 0.0), steps=25), base)
        assert not np.array_equal(rollout(make_env(task, shift), steps=25), base), shift


def test_mpe_shifts_apply_once_and_survive_resets():
    env = make_env("tag", "speed")
    for seed in (0, 1, 0):
        rollout(env, seed, steps=2)
        world = env._aec.world
        assert [a.accel for a in world.agents] == pytest.approx([1.8, 1.8, 1.8, 4.0])  # prey unchanged
        assert [a.max_speed for a in world.agents] == pytest.approx([0.6, 0.6, 0.6, 1.3])
    plain, far = make_env("spread"), make_env("spread", "landmarks", 2.0)
    for seed in (5, 6):
        plain.reset(seed=seed)
        far.reset(seed=seed)
        for a, b in zip(plain._aec.world.landmarks, far._aec.world.landmarks):
            np.testing.assert_allclose(b.state.p_pos, a.state.p_pos * 2.25)
    damped = make_env("spread", "damping", 5.0)  # 0.25 * 32 would reverse velocities: capped
    assert damped._aec.world.damping == pytest.approx(0.95)


def test_vector_env_passes_the_shift_to_every_env():
    venv = make_vector_env("spread", 2, shift="size", shift_strength=2.0)
    assert all(a.size == pytest.approx(0.15 * 2.25) for env in venv.envs for a in env._aec.world.agents)


def test_halfcheetah_shifts_change_the_dynamics_and_strength_zero_changes_nothing():
    pytest.importorskip("gymnasium_robotics")
    base = rollout(make_env("halfcheetah"), steps=4)
    for shift in list_shifts("halfcheetah"):
        np.testing.assert_array_equal(rollout(make_env("halfcheetah", shift, 0.0), steps=4), base)
        assert not np.array_equal(rollout(make_env("halfcheetah", shift), steps=4), base), shift
    env = make_env("halfcheetah", "mass")
    model = env._env.single_agent_env.unwrapped.model
    plain = make_env("halfcheetah")._env.single_agent_env.unwrapped.model
    np.testing.assert_allclose(model.body_mass, plain.body_mass * 1.5)
    rollout(env, 1, 2)
    np.testing.assert_allclose(model.body_mass, plain.body_mass * 1.5)  # resets keep it
