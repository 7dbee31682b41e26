"""The CQL(H) penalty: its value on Q functions with known integrals, its sign and scale, its gradient."""

from __future__ import annotations

import math

import pytest
import torch

from dom2lite.critics.cql import cql_logsumexp, cql_penalty, gaussian_log_density, uniform_log_density
from dom2lite.critics.cql_samples import sample_noisy_actions, sample_uniform_actions
from dom2lite.critics.toy import fit_toy_q, q_on_grid, toy_dataset

MASK = torch.tensor([[True, True, True, True], [True, True, False, False]])  # agent 1 has 2 real dims


def test_uniform_density_uses_real_dims():
    assert torch.allclose(uniform_log_density(MASK), torch.tensor([-4 * math.log(2), -2 * math.log(2)]))


@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_flat_q_gives_box_volume(temperature):
    # Q = c everywhere: T log ∫ exp(c/T) da = c + T d log 2, so the penalty is exactly T d_j log 2.
    k, b, c = 7, 5, 3.2
    q_rand = torch.full((k, b, 2), c)
    q_data = torch.full((b, 2), c)
    pen = cql_penalty(q_data, q_rand, uniform_log_density(MASK), temperature=temperature)
    assert torch.allclose(pen, temperature * torch.tensor([4 * math.log(2), 2 * math.log(2)]), atol=1e-5)


def test_monte_carlo_estimate_matches_closed_form():
    # 1-D, Q(a) = c a on [-1, 1]: log ∫ exp(c a) da = log(2 sinh(c) / c).
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(1, 1, dtype=torch.bool)
    acts = sample_uniform_actions(20_000, 1, mask, g)  # [K, 1, 1, 1]
    for c in (0.5, 2.0, 5.0):
        est = cql_logsumexp(c * acts[..., 0], uniform_log_density(mask))
        assert est.item() == pytest.approx(math.log(2 * math.sinh(c) / c), abs=0.03)


def test_small_temperature_tends_to_hard_max():
    q_rand = torch.tensor([[[0.0]], [[2.0]], [[-1.0]]])  # [K=3, B=1, n=1]
    est = cql_logsumexp(q_rand, torch.tensor([-math.log(2)]), temperature=0.01)
    assert est.item() == pytest.approx(2.0, abs=0.05)


def test_sign_and_scale():
    log_p = uniform_log_density(MASK)
    k, b = 10, 4
    ood_high = cql_penalty(torch.zeros(b, 2), torch.full((k, b, 2), 5.0), log_p)
    data_high = cql_penalty(torch.full((b, 2), 5.0), torch.zeros(k, b, 2), log_p)
    assert (ood_high > 0).all() and (ood_high > data_high).all()
    assert torch.allclose(ood_high - data_high, torch.full((2,), 10.0), atol=1e-5)
    # shift-equivariance: raising OOD Q by delta raises the penalty by delta; raising data Q lowers it
    q_rand = torch.randn(k, b, 2, generator=torch.Generator().manual_seed(1))
    q_data = torch.randn(b, 2, generator=torch.Generator().manual_seed(2))
    base = cql_penalty(q_data, q_rand, log_p)
    assert torch.allclose(cql_penalty(q_data, q_rand + 1.5, log_p), base + 1.5, atol=1e-5)
    assert torch.allclose(cql_penalty(q_data + 1.5, q_rand, log_p), base - 1.5, atol=1e-5)


def test_gradient_pushes_ood_q_down_and_data_q_up():
    k, b = 6, 3
    q_rand = torch.randn(k, b, 2, generator=torch.Generator().manual_seed(3)).requires_grad_()
    q_data = torch.zeros(b, 2, requires_grad=True)
    cql_penalty(q_data, q_rand, uniform_log_density(MASK)).sum().backward()
    # descent direction: -grad. d pen / d q_rand = softmax weights / B >= 0, summing to 1/B over samples
    assert (q_rand.grad > 0).all()
    assert torch.allclose(q_rand.grad.sum(0), torch.full((b, 2), 1.0 / b), atol=1e-6)
    assert torch.equal(q_rand.grad.argmax(0), q_rand.detach().argmax(0))  # the highest Q is pushed hardest
    assert torch.allclose(q_data.grad, torch.full((b, 2), -1.0 / b))


def test_policy_groups_enter_with_their_densities():
    k, b = 4, 2
    q_rand, q_pi, q_next = torch.zeros(k, b, 2), torch.zeros(k, b, 2), torch.zeros(k, b, 2)
    lp = torch.full((k, b, 2), 1.0)
    est = cql_logsumexp(q_rand, uniform_log_density(MASK), q_pi, lp, q_next, lp)
    # M = 3K terms: K of exp(-log p_u) = 2^d and 2K of exp(-1); minus log M
    expect = torch.log((k * 2.0 ** torch.tensor([4.0, 2.0]) + 2 * k * math.exp(-1.0)) / (3 * k))
    assert torch.allclose(est, expect.expand(b, 2), atol=1e-5)
    with pytest.raises(ValueError, match="q_pi needs"):
        cql_logsumexp(q_rand, uniform_log_density(MASK), q_pi=q_pi)


def test_samples_respect_box_mask_and_generator():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    u1, u2 = sample_uniform_actions(8, 3, MASK, g1), sample_uniform_actions(8, 3, MASK, g2)
    assert u1.shape == (8, 3, 2, 4) and torch.equal(u1, u2)
    assert u1.abs().max() <= 1 and (u1[:, :, 1, 2:] == 0).all()
    act = torch.full((3, 2, 4), 0.95) * MASK
    noisy, _ = sample_noisy_actions(act, 8, 0.3, MASK, g1)
    assert noisy.shape == (8, 3, 2, 4) and noisy.abs().max() <= 1  # clipped to the box
    assert (noisy[:, :, 1, 2:] == 0).all()
    small, log_p = sample_noisy_actions(torch.zeros(3, 2, 4), 8, 0.05, MASK, g1)  # 20 sigma from the edge
    ref = torch.distributions.Normal(0.0, 0.05).log_prob(small)  # [K, B, n, A]
    assert torch.allclose(log_p, (ref * MASK).sum(-1), atol=1e-4)
    assert torch.allclose(gaussian_log_density(torch.zeros(1, 2, 4), 1.0, MASK),
                          torch.tensor([[-2 * math.log(2 * math.pi), -math.log(2 * math.pi)]]), atol=1e-6)


def test_toy_bandit_cql_keeps_argmax_near_data():
    act, rew = toy_dataset(128, data_mean=-0.4, data_std=0.15, seed=0)
    plain, _ = fit_toy_q(act, rew, cql_alpha=0.0, steps=250, hidden=32, seed=0)
    cons, _ = fit_toy_q(act, rew, cql_alpha=1.0, steps=250, hidden=32, seed=0)
    grid, q_plain = q_on_grid(plain)
    _, q_cons = q_on_grid(cons)
    far = grid > 0.4  # no data out here (data mean -0.4, std 0.15)
    assert q_cons[far].max() < q_plain[far].max() - 1.0
    assert abs(grid[q_cons.argmax()].item() - (-0.4)) < 0.4
