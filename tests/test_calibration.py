"""The calibration diagnostic: Monte-Carlo returns with their tail, and critics on a bandit with known Q.

The bandit: one agent, two contexts, a 1-D action, every step a true terminal, reward
``r(o, a) = 1 - (a - a*(o))^2``; the data's actions lie close to ``a*(o)``. The true Q of a data
action is its reward. A critic trained with ``cql_alpha = 0`` must recover it; with CQL, actions the
data never shows must come out lower while the data actions stay within the stated tolerance:
in the sampled CQL(H) estimate the data action is never among the samples, so its Q is pushed up by
a constant ``alpha`` per head until the squared TD error balances it, ``Q - r = alpha / 2`` (in a
bootstrapped task the same shift compounds to ``alpha / (2 (1 - gamma))``: chapter 05).
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from dom2lite.algos import config_for, make_algo
from dom2lite.critics.calibration import calibration_metrics, calibration_set, monte_carlo_returns, policy_gap
from dom2lite.data.dataset import OfflineDataset
from dom2lite.data.sampler import TransitionSampler
from dom2lite.errors import ConfigError
from tests.helpers_data import tiny_dataset


def with_rewards(ds: OfflineDataset, rew: np.ndarray) -> OfflineDataset:
    ds.rew = rew.astype(np.float32)
    return ds


def test_constant_reward_with_tail_is_the_infinite_sum():
    ds = tiny_dataset(n_agents=2, episodes=3, episode_len=5)
    ds = with_rewards(ds, np.full_like(ds.rew, -0.5))
    for tail in ("episode_end", "data_mean"):
        g = monte_carlo_returns(ds, 0.9, tail)  # [T, n]
        assert np.allclose(g, -0.5 / (1 - 0.9), atol=1e-5)
    none = monte_carlo_returns(ds, 0.9, "none")
    k = np.tile(np.arange(5)[::-1], 3)  # steps left after each row
    assert np.allclose(none[:, 0], -0.5 * (1 - 0.9 ** (k + 1)) / (1 - 0.9), atol=1e-5)


def test_terminal_ends_the_sum_and_tail_uses_the_episode_end():
    ds = tiny_dataset(n_agents=1, episodes=2, episode_len=4, terminal_every=2)  # episode 1 ends in a terminal
    rew = np.array([1, 2, 3, 4, 1, 2, 3, 4], np.float32)[:, None]
    ds = with_rewards(ds, rew)
    g = monte_carlo_returns(ds, 0.5, "episode_end", tail_window=2)
    tail = 3.5 / (1 - 0.5)  # mean of the last two rewards, continued forever
    assert g[3, 0] == pytest.approx(4 + 0.5 * tail)
    assert g[0, 0] == pytest.approx(1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4 + 0.0625 * tail)
    assert g[7, 0] == pytest.approx(4.0)  # a true terminal: no tail
    assert g[4, 0] == pytest.approx(1 + 0.5 * 2 + 0.25 * 3 + 0.125 * 4)
    with pytest.raises(ConfigError, match="tail"):
        monte_carlo_returns(ds, 0.5, "forever")


# ------------------------------------------------------------------------------------------ the bandit
SPEC = types.SimpleNamespace(n_agents=1, obs_dim=2, act_dim=1, state_dim=2, act_mask=np.ones((1, 1), bool))
A_STAR = np.array([0.5, -0.3])  # the best action of each context


def bandit(n: int = 512, seed: int = 0) -> OfflineDataset:
    rng = np.random.default_rng(seed)
    ctx = rng.integers(0, 2, n)
    obs = np.eye(2, dtype=np.float32)[ctx][:, None, :]  # [T, 1, 2] one-hot context
    act = (A_STAR[ctx] + 0.1 * rng.standard_normal(n)).clip(-1, 1).astype(np.float32)[:, None, None]  # [T, 1, 1]
    rew = (1.0 - (act[:, 0, 0] - A_STAR[ctx]) ** 2).astype(np.float32)[:, None]  # [T, 1]
    ones = np.ones(n, bool)
    return OfflineDataset(obs=obs, act=act, rew=rew, next_obs=obs, state=obs[:, 0], next_state=obs[:, 0],
                          terminated=ones, truncated=~ones, episode=np.arange(n), obs_mask=np.ones((1, 2), bool),
                          act_mask=np.ones((1, 1), bool), task="bandit", quality="expert")


def train_critic(cql_alpha: float, steps: int = 400):
    ds = bandit()
    cfg = config_for("cql", "spread", hidden=(32, 32), batch_size=128, critic_lr=3e-3, actor_lr=3e-3,
                     cql_alpha=cql_alpha, cql_n_actions=10, grad_clip=0.0, seed=0)
    algo = make_algo("cql", SPEC, cfg, device="cpu")
    sampler = TransitionSampler(ds, "cpu", seed=0)
    for _ in range(steps):
        algo.update(sampler.sample(128))
    return algo, ds


def q_at(algo, ctx: int, a: float) -> float:
    obs = torch.eye(2)[ctx].reshape(1, 1, 2)
    q1, q2 = algo.critic(obs, torch.tensor([[[float(a)]]], dtype=torch.float32), obs[:, 0])
    return float(0.5 * (q1 + q2).detach())


@pytest.fixture(scope="module")
def critics():
    return {alpha: train_critic(alpha) for alpha in (0.0, 0.5)}


def test_plain_critic_recovers_the_true_values(critics):
    algo, ds = critics[0.0]
    cset = calibration_set(ds, gamma=0.95)  # terminal every step: the return is the reward
    m = calibration_metrics(algo.critic, cset)
    assert abs(m["calib/bias"]) < 0.03 and m["calib/rmse"] < 0.05
    for ctx in (0, 1):  # and the value at each context's best action
        assert q_at(algo, ctx, A_STAR[ctx]) == pytest.approx(1.0, abs=0.05)


def test_cql_lowers_unseen_actions_and_keeps_data_values_within_alpha_over_two(critics):
    plain, ds = critics[0.0]
    cons, _ = critics[0.5]
    unseen = [(0, -1.0), (1, 1.0)]  # far from each context's data
    for ctx, a in unseen:
        assert q_at(cons, ctx, a) < q_at(plain, ctx, a) - 0.5
    tol = 0.5 / 2 + 0.05  # the constant push alpha / 2, and a little fitting error
    m = calibration_metrics(cons.critic, calibration_set(ds, gamma=0.95))
    assert abs(m["calib/bias"]) <= tol
    for ctx in (0, 1):
        assert abs(q_at(cons, ctx, A_STAR[ctx]) - 1.0) <= tol


def test_policy_gap_is_the_value_lost_by_the_policy_action():
    def critic(obs, act, state):  # twin heads of a known Q: q1 = -sum a^2, q2 = q1 - 1 (their mean: q1 - 0.5)
        q1 = -act.pow(2).sum(-1)  # [R, n]
        return q1, q1 - 1.0

    cset = calibration_set(bandit(), gamma=0.95)
    data = -cset.act.pow(2).sum(-1) - 0.5  # [R, 1] the twin mean on the data's actions
    for act in (torch.zeros_like(cset.act), cset.act + 0.3, -cset.act):
        expected = float((-act.pow(2).sum(-1) - 0.5 - data).mean())
        assert policy_gap(critic, act, cset) == pytest.approx(expected, abs=1e-6)
    assert policy_gap(critic, cset.act, cset) == 0.0
    assert policy_gap(critic, cset.act + 0.3, cset, reward_scale=2.0) == pytest.approx(
        policy_gap(critic, cset.act + 0.3, cset) / 2, rel=1e-6)
    assert policy_gap(critic, torch.zeros_like(cset.act), cset) > 0 > policy_gap(critic, cset.act + 0.3, cset)


def test_reward_scale_is_reported_back_in_raw_units(critics):
    algo, ds = critics[0.0]
    cset = calibration_set(ds, gamma=0.95)
    raw = calibration_metrics(algo.critic, cset)
    scaled = calibration_metrics(algo.critic, cset, reward_scale=2.0)
    assert scaled["calib/q_mean"] == pytest.approx(raw["calib/q_mean"] / 2, rel=1e-6)
    assert scaled["calib/corr"] == pytest.approx(raw["calib/corr"], abs=1e-6)



@pytest.mark.parametrize("layout", ["stacked", "separate"])
def test_critics_start_at_the_given_return(layout):
    """``start_q_at`` shifts both heads and the targets by the value per agent (in the critic's units)."""
    from dom2lite.envs import env_spec

    spec = env_spec("spread")
    cfg = config_for("cql", "spread", hidden=(16, 16), twin_layout=layout, seed=0)
    fresh, shifted = make_algo("cql", spec, cfg, device="cpu"), make_algo("cql", spec, cfg, device="cpu")
    shifted.set_reward_scale(0.5)
    start = torch.tensor([-14.0, -12.0, -10.0])  # [n] raw units
    shifted.start_q_at(start)
    g = torch.Generator().manual_seed(0)
    obs = torch.randn(64, 3, spec.obs_dim, generator=g)  # [B, n, O]
    act = torch.rand(64, 3, spec.act_dim, generator=g) * 2 - 1  # [B, n, A]
    for critic, before in ((shifted.critic, fresh.critic), (shifted.critic_target, fresh.critic_target)):
        for q, q0 in zip(critic(obs, act), before(obs, act)):  # each head [B, n]
            assert torch.allclose(q - q0, (0.5 * start).expand_as(q), atol=1e-5)
