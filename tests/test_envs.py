"""The environment layer: specs, shapes, action mapping, seeding, episode ends, lazy MuJoCo, scripted agents."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from dom2lite.envs import TASKS, env_spec, list_tasks, make_env, make_vector_env
from dom2lite.envs.scripted import direction_to_action, tag_prey, world_forager
from dom2lite.errors import ConfigError

MPE_TASKS = ("spread", "tag", "world")
DIMS = {  # n_agents, obs_dim, act_dim, state_dim, max_steps, act_dims
    "spread": (3, 18, 5, 54, 25, (5, 5, 5)),
    "tag": (3, 16, 5, 62, 25, (5, 5, 5)),
    "world": (4, 34, 9, 192, 25, (9, 5, 5, 5)),
    "halfcheetah": (2, 12, 3, 17, 1000, (3, 3)),
}


def random_acts(spec, rng, lead=()):
    return rng.uniform(-1, 1, (*lead, spec.n_agents, spec.act_dim)).astype(np.float32)


def rollout(env, seed, steps, act_seed=0):
    rng = np.random.default_rng(act_seed)
    obs = [env.reset(seed=seed)[0]]
    for _ in range(steps):
        obs.append(env.step(random_acts(env.spec, rng))[0])
    return np.stack(obs)  # [steps + 1, n, obs_dim]


def test_specs_have_the_documented_dims_and_masks():
    assert TASKS == ("spread", "tag", "world", "halfcheetah") and set(list_tasks()) == set(TASKS)
    for task, (n, obs_dim, act_dim, state_dim, max_steps, act_dims) in DIMS.items():
        spec = env_spec(task)
        assert (spec.n_agents, spec.obs_dim, spec.act_dim, spec.state_dim, spec.max_steps) == (
            n, obs_dim, act_dim, state_dim, max_steps)
        assert spec.obs_mask.shape == (n, obs_dim) and spec.obs_mask.all()
        assert spec.act_mask.dtype == bool and tuple(spec.act_mask.sum(1)) == act_dims
        assert len(spec.agent_names) == n and spec.to_dict()["act_mask"] == spec.act_mask.tolist()
    assert env_spec("world").act_mask[1:, 5:].sum() == 0  # predators' padded message dims
    assert env_spec("tag").scripted_agents == ("agent_0",) and "mpe2==" in env_spec("tag").env_version


@pytest.mark.parametrize("task", MPE_TASKS)
def test_vector_reset_and_step_shapes_and_dtypes(task):
    spec = env_spec(task)
    venv = make_vector_env(task, 2)
    assert venv.spec is spec and len(venv) == 2
    obs, state = venv.reset(seed=0)
    assert obs.shape == (2, spec.n_agents, spec.obs_dim) and obs.dtype == np.float32
    assert state.shape == (2, spec.state_dim) and state.dtype == np.float32
    out = venv.step(random_acts(spec, np.random.default_rng(0), (2,)))
    obs2, state2, rew, terminated, truncated = out
    assert obs2.shape == obs.shape and state2.shape == state.shape
    assert rew.shape == (2, spec.n_agents) and rew.dtype == np.float32
    assert terminated.dtype == bool and truncated.dtype == bool and terminated.shape == (2,)
    assert not np.array_equal(obs, obs2)
    venv.close()


def test_state_is_the_simulators_state_and_obs_its_observations():
    env = make_env("tag")
    obs, state = env.reset(seed=4)
    env.step(np.zeros((3, 5), np.float32))
    obs, state, *_ = env.step(np.zeros((3, 5), np.float32))
    np.testing.assert_array_equal(state, env._aec.state())
    np.testing.assert_array_equal(obs[1], env._aec.observe("adversary_1"))


def test_actions_map_from_minus_one_one_to_mpe_zero_one_like_the_parallel_env():
    from mpe2 import simple_spread_v3

    ref = simple_spread_v3.parallel_env(max_cycles=25, continuous_actions=True)
    ref_obs, _ = ref.reset(seed=7)
    env = make_env("spread")
    obs, _ = env.reset(seed=7)
    rng = np.random.default_rng(1)
    for _ in range(5):
        act = random_acts(env.spec, rng)
        obs, state, rew, *_ = env.step(act)
        ref_obs, ref_rew, *_ = ref.step({f"agent_{j}": (act[j] + 1) / 2 for j in range(3)})
        for j in range(3):
            np.testing.assert_allclose(obs[j], ref_obs[f"agent_{j}"], rtol=0, atol=1e-6)
            assert rew[j] == pytest.approx(ref_rew[f"agent_{j}"], abs=1e-6)
        np.testing.assert_allclose(state, ref.state(), atol=1e-6)
    # out-of-range actions are clipped to [-1, 1], i.e. to mpe2's [0, 1]
    a, b = make_env("spread"), make_env("spread")
    a.reset(seed=2)
    b.reset(seed=2)
    big = np.full((3, 5), 5.0, np.float32)
    np.testing.assert_array_equal(a.step(big)[0], b.step(np.ones((3, 5), np.float32))[0])


def test_padded_action_dims_are_ignored():
    a, b = make_env("world"), make_env("world")
    a.reset(seed=3)
    b.reset(seed=3)
    act = random_acts(a.spec, np.random.default_rng(0))
    other = act.copy()
    other[~a.spec.act_mask] = 0.7
    for _ in range(3):
        np.testing.assert_array_equal(a.step(act)[0], b.step(other)[0])


@pytest.mark.parametrize("task", ["tag", "world"])
def test_same_seed_same_episode_and_other_seed_differs(task):
    env = make_env(task)
    first, again = rollout(env, 11, 8), rollout(env, 11, 8)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, rollout(env, 12, 8))
    assert not np.array_equal(first, rollout(make_env(task), 11, 8, act_seed=1))


def test_vector_env_seeds_env_i_with_seed_plus_i():
    venv = make_vector_env("tag", 3)
    obs, state = venv.reset(seed=20)
    single_obs, single_state = make_env("tag").reset(seed=22)
    np.testing.assert_array_equal(obs[2], single_obs)
    np.testing.assert_array_equal(state[2], single_state)


def test_mpe_episode_truncates_at_25_steps_and_a_finished_env_repeats_itself():
    env = make_env("spread")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for t in range(1, 26):
        obs, state, rew, terminated, truncated = env.step(random_acts(env.spec, rng))
        assert terminated is False and truncated is (t == 25)
    again = env.step(random_acts(env.spec, rng))  # no crash, no reward, same arrays and flags
    np.testing.assert_array_equal(again[0], obs)
    np.testing.assert_array_equal(again[1], state)
    assert not again[2].any() and again[3:] == (False, True)
    env.reset(seed=0)
    assert env.step(random_acts(env.spec, rng))[4] is False  # reset clears the end


def test_vector_env_reports_truncation_for_every_env_together():
    venv = make_vector_env("spread", 3)
    venv.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(24):
        *_, terminated, truncated = venv.step(random_acts(venv.spec, rng, (3,)))
        assert not terminated.any() and not truncated.any()
    *_, terminated, truncated = venv.step(random_acts(venv.spec, rng, (3,)))
    assert truncated.all() and not terminated.any()


def test_bad_inputs_raise_typed_errors():
    with pytest.raises(ConfigError) as err:
        env_spec("pong")
    assert err.value.field == "task"
    with pytest.raises(ConfigError):
        make_env("spreadd")
    with pytest.raises(ConfigError) as err:
        make_vector_env("spread", 0)
    assert err.value.field == "n_envs"
    env = make_env("spread")
    with pytest.raises(RuntimeError, match="reset"):
        env.step(np.zeros((3, 5)))
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.full((3, 5), np.nan))


def test_mpe_renders_an_rgb_frame():
    env = make_env("spread", render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0
    env.close()


def test_mpe_never_imports_mujoco():
    code = (
        "import sys, numpy as np\n"
        "import dom2lite.envs as E\n"
        "E.env_spec('halfcheetah'); E.list_shifts('halfcheetah')\n"
        "v = E.make_vector_env('tag', 2, shift='speed'); v.reset(seed=0); v.step(np.zeros((2, 3, 5)))\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('mujoco', 'gymnasium_robotics')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_scripted_prey_flees_and_forager_forages():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(direction_to_action(np.array([1.0, 0.0])), [0, 0, 1, 0, 0])
    np.testing.assert_array_equal(direction_to_action(np.array([0.0, -2.0])), [0, 0, 0, 1, 0])
    prey_obs = np.zeros(14, np.float32)
    prey_obs[4:8] = 5.0  # obstacles far away
    prey_obs[8:14] = [0.3, 0.0, 0.4, 0.1, 0.5, -0.1]  # every predator to the right
    act = tag_prey(prey_obs, rng)
    assert act[1] > act[2]  # pushes towards -x
    forager_obs = np.zeros(28, np.float32)
    forager_obs[4:6] = 5.0
    forager_obs[6:10] = [0.0, 0.6, 0.0, -0.2]  # nearest food below
    forager_obs[14:22] = [0.0, 0.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0]  # hidden leader, distant predators
    act = world_forager(forager_obs, rng)
    assert act[3] > act[4]  # heads towards -y
    forager_obs[16:18] = [0.0, -0.1]  # a predator right on the way: flee to +y instead
    act = world_forager(forager_obs, rng)
    assert act[4] > act[3]


def test_halfcheetah_steps_and_renders():
    pytest.importorskip("gymnasium_robotics")
    spec = env_spec("halfcheetah")
    env = make_env("halfcheetah", render_mode="rgb_array")
    obs, state = env.reset(seed=0)
    assert obs.shape == (2, 12) and state.shape == (17,) and obs.dtype == state.dtype == np.float32
    rng = np.random.default_rng(0)
    for _ in range(3):
        obs, state, rew, terminated, truncated = env.step(random_acts(spec, rng))
    assert rew.shape == (2,) and rew[0] == rew[1] and terminated is False and truncated is False
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[2] == 3 and frame.dtype == np.uint8 and frame.std() > 0
    env.close()
    again = make_env("halfcheetah")
    np.testing.assert_array_equal(rollout(again, 5, 4), rollout(again, 5, 4))
