"""The own-policy check: Q(o_0, pi(o_0)) against the discounted return the policy earned (chapter 05)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dom2lite.algos import config_for, make_algo
from dom2lite.envs import env_spec
from dom2lite.train.evaluate import evaluate
from dom2lite.train.own_value import discounted_from_start, own_value


def test_discounted_return_with_tail_and_terminal():
    gamma = 0.5
    rew = np.array([[[1.0], [1.0]], [[2.0], [4.0]], [[0.0], [8.0]]])  # [T=3, E=2, n=1]
    alive = np.array([[True, True], [True, True], [False, True]])  # episode 0 ends after 2 steps
    terminated = np.array([True, False])
    got = discounted_from_start(rew, alive, terminated, gamma, tail_window=2)  # [E, n]
    # episode 0: terminal, no tail: 1 + 0.5 * 2; episode 1: tail = mean(4, 8) / (1 - 0.5) = 12
    assert got[0, 0] == pytest.approx(1 + 0.5 * 2)
    assert got[1, 0] == pytest.approx(1 + 0.5 * 4 + 0.25 * 8 + 0.125 * 12)


def test_own_value_rolls_out_the_episodes_evaluate_reports():
    spec = env_spec("spread")
    algo = make_algo("td3bc", spec, config_for("td3bc", "spread", hidden=(16, 16)), device="cpu")
    algo.set_reward_scale(2.0)
    checked = own_value(algo, "spread", n_episodes=3, seed=123)
    assert checked.team_return == pytest.approx(evaluate(algo, "spread", n_episodes=3, seed=123).mean, rel=1e-6)
    from dom2lite.envs import make_vector_env

    with make_vector_env("spread", 3) as venv:
        obs, state = venv.reset(seed=123)
    o = torch.as_tensor(obs)
    q1, q2 = algo.critic(o, algo.act(o), torch.as_tensor(state))
    assert checked.q_start == pytest.approx(float((q1 + q2).detach().mean()) / 2 / 2.0, rel=1e-5)  # raw units
    assert checked.return_start < 0  # spread's rewards are negative distances
    assert checked.gap == pytest.approx(checked.q_start - checked.return_start)


def test_own_value_needs_a_critic():
    algo = make_algo("bc", env_spec("spread"), config_for("bc", "spread", hidden=(16, 16)), device="cpu")
    with pytest.raises(ValueError, match="no critic"):
        own_value(algo, "spread", n_episodes=1)
