"""DOM2's own pieces: the Q term reaches the actor through the sampling chain, the EMA actor, acting."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from dom2lite.algos import config_for, make_algo
from dom2lite.data.batch import Batch
from dom2lite.errors import ConfigError

N, O, A, S, B = 2, 5, 3, 7, 32
SPEC = types.SimpleNamespace(n_agents=N, obs_dim=O, act_dim=A, state_dim=S, act_mask=np.ones((N, A), bool))


def batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(obs=torch.randn(B, N, O, generator=g), act=torch.rand(B, N, A, generator=g) * 2 - 1,
                 rew=torch.randn(B, N, generator=g), next_obs=torch.randn(B, N, O, generator=g),
                 state=torch.randn(B, S, generator=g), next_state=torch.randn(B, S, generator=g),
                 terminated=torch.zeros(B))


def dom2(**kw):
    base = dict(hidden=(16, 16), n_diffusion_steps=3, cql_n_actions=2, seed=0)
    return make_algo("dom2", SPEC, config_for("dom2", "spread", **{**base, **kw}), "cpu")


def actor_grads(algo) -> torch.Tensor:
    b = batch()
    pi = algo.policy(b.obs)
    loss, _ = algo.actor_loss(b, pi)
    algo.actor.zero_grad()
    loss.sum().backward()
    return torch.cat([p.grad.flatten() for p in algo.actor.parameters()])


def test_q_term_backpropagates_through_the_sampling_chain():
    plain, guided = dom2(eta=0.0), dom2(eta=1.0)
    g0, g1 = actor_grads(plain), actor_grads(guided)
    assert torch.isfinite(g1).all()
    assert not torch.allclose(g0, g1), "eta > 0 must change the actor's gradient"
    # the Q term alone: gradient through the N-step chain into every layer of the noise network
    guided.actor.zero_grad()
    b = batch()
    q = guided.critic.q1(b.obs, guided.policy(b.obs), b.state, others=b.act)
    q.mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in guided.actor.net.parameters())


def test_ema_actor_is_a_copy_before_ema_start_and_lags_after():
    algo = dom2(ema_start=4, ema_every=2, ema_decay=0.9)
    for step in range(2):
        algo.update(batch(step))  # update 2 is an EMA step before ema_start: a plain copy
    assert all(torch.equal(p, q) for p, q in zip(algo.actor.parameters(), algo.actor_target.parameters()))
    before = [p.clone() for p in algo.actor_target.parameters()]
    algo.update(batch(10))  # update 3: not an EMA step
    assert all(torch.equal(p, q) for p, q in zip(before, algo.actor_target.parameters()))
    algo.update(batch(11))  # update 4 = ema_start: theta_ema <- 0.9 theta_ema + 0.1 theta
    for old, ema, new in zip(before, algo.actor_target.parameters(), algo.actor.parameters()):
        torch.testing.assert_close(ema, 0.9 * old + 0.1 * new)


def test_deterministic_acting_is_a_function_of_the_observation():
    algo = dom2()
    obs = batch().obs
    gen_state = algo.generator.get_state()
    a1, a2 = algo.act(obs), algo.act(obs)
    assert torch.equal(a1, a2) and torch.equal(algo.generator.get_state(), gen_state)
    s1, s2 = algo.act(obs, deterministic=False), algo.act(obs, deterministic=False)
    assert not torch.equal(s1, s2)
    assert a1.abs().max() <= 1.0


@pytest.mark.parametrize("field,value", [("n_diffusion_steps", 0), ("ema_decay", 1.0), ("eta", -1.0),
                                         ("solver", "euler"), ("schedule", "sigmoid")])
def test_bad_config_names_the_field(field, value):
    with pytest.raises(ConfigError, match=field if field not in ("solver", "schedule") else "solver|schedule"):
        dom2(**{field: value})


@pytest.mark.parametrize("solver", ["ddpm", "dpm1", "dpm2", "dpm3"])
@pytest.mark.parametrize("schedule", ["vp", "linear", "cosine"])
def test_every_solver_and_schedule_trains(solver, schedule):
    algo = dom2(solver=solver, schedule=schedule)
    metrics = algo.update(batch())
    assert all(np.isfinite(v) for v in metrics.values())


def test_acting_first_neither_breaks_nor_changes_training():
    """``act`` runs in inference mode; the coefficient tables it caches must still serve training graphs."""
    acted, fresh = dom2(), dom2()
    acted.act(batch().obs)
    m1, m2 = acted.update(batch(1)), fresh.update(batch(1))
    assert m1 == m2
    assert all(torch.equal(p, q) for p, q in zip(acted.actor.parameters(), fresh.actor.parameters()))
    out = acted.act(batch().obs)
    assert not out.is_inference() and not out.requires_grad
    out.mul_(0.5)  # an ordinary tensor: callers may change it in place
