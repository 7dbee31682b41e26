"""Noise schedules, the noise-prediction network, its loss and the toy problems (dom2lite.diffusion)."""

from __future__ import annotations

import math

import pytest
import torch

from dom2lite.diffusion import (
    CosineSchedule,
    EpsModel,
    LinearSchedule,
    VPSchedule,
    make_schedule,
    noise_prediction_loss,
    sinusoidal_embedding,
)
from dom2lite.diffusion.toy import (
    GaussianMixture,
    bandit_mixture,
    bandit_reward,
    fit_bandit_eps_model,
    fit_gaussian,
    mixture_1d,
    mmd,
    sample_bandit_policy,
    sample_gaussian,
    sliced_wasserstein,
    wasserstein_to_mixture_1d,
)
from dom2lite.errors import ConfigError

SCHEDULES = [VPSchedule(5), VPSchedule(10, beta_max=20.0), LinearSchedule(5), CosineSchedule(8)]
N_AGENTS, OBS, ACT = 3, 4, 3
MASK = torch.ones(N_AGENTS, ACT, dtype=torch.bool)
MASK[2, 1:] = False  # agent 2 has a 1-D action space


# ----------------------------------------------------------------------------- schedules
def test_vp_betas_follow_diffusion_ql():
    N, b_min, b_max = 5, 0.1, 10.0
    s = VPSchedule(N)
    for i in range(1, N + 1):
        b = 1 - math.exp(-b_min / N - 0.5 * (b_max - b_min) * (2 * i - 1) / N**2)
        assert s.beta[i].item() == pytest.approx(b, rel=1e-12)
    assert torch.allclose(s.alpha_bar[1:], torch.cumprod(1 - s.beta[1:], 0))


@pytest.mark.parametrize("s", SCHEDULES, ids=lambda s: repr(s))
def test_schedule_tables(s):
    N = s.n_steps
    for name in ("alpha", "sigma", "lam", "alpha_bar", "beta"):
        t = getattr(s, name)
        assert t.shape == (N + 1,) and t.dtype == torch.float64
    assert s.alpha[0] == 1 and s.sigma[0] == 0 and math.isinf(s.lam[0].item())
    assert torch.allclose(s.alpha**2 + s.sigma**2, torch.ones(N + 1, dtype=torch.float64))
    assert torch.allclose(s.alpha_bar, s.alpha**2)
    assert bool((s.lam[1:] < s.lam[:-1]).all()) and torch.isfinite(s.lam[1:]).all()
    assert torch.allclose(s.lam[1:], s.alpha[1:].log() - s.sigma[1:].log())
    # values between the steps agree with the tables at the integers and are monotone in between
    n = torch.arange(N + 1, dtype=torch.float64)
    assert torch.allclose(s.alpha_at(n), s.alpha) and torch.allclose(s.sigma_at(n), s.sigma)
    fine = s.lam_at(torch.linspace(0.01, N, 200, dtype=torch.float64))
    assert bool((fine[1:] < fine[:-1]).all())


def test_make_schedule_by_name_and_errors():
    assert isinstance(make_schedule("VP", 5), VPSchedule)
    assert isinstance(make_schedule("cosine", 5), CosineSchedule)
    assert make_schedule("vp", 5, beta_max=20.0).beta_max == 20.0
    with pytest.raises(ConfigError) as err:
        make_schedule("sigmoid", 5)
    assert err.value.field == "schedule"
    with pytest.raises(ConfigError, match="n_diffusion_steps"):
        VPSchedule(0)


@pytest.mark.parametrize("s", SCHEDULES, ids=lambda s: repr(s))
def test_q_sample_moments(s):
    g = torch.Generator().manual_seed(0)
    B = 40_000
    x0 = torch.tensor([0.7, -0.3])  # [2]
    for n in (1, s.n_steps // 2, s.n_steps):
        noise = torch.randn(B, 2, generator=g)
        x_n = s.q_sample(x0.expand(B, 2), torch.full((B,), n), noise)  # [B, 2]
        alpha, sigma = s.alpha[n].item(), s.sigma[n].item()
        assert torch.allclose(x_n.mean(0), alpha * x0, atol=4 * sigma / math.sqrt(B) + 1e-6)
        assert torch.allclose(x_n.std(0), torch.full((2,), sigma), rtol=0.02)


def test_eps_x0_round_trip_for_int_float_and_per_agent_steps():
    s = VPSchedule(5)
    g = torch.Generator().manual_seed(1)
    x0 = torch.rand(7, N_AGENTS, ACT, generator=g) * 2 - 1  # [B, n, A]
    eps = torch.randn(7, N_AGENTS, ACT, generator=g)
    for n in (torch.randint(1, 6, (7,), generator=g), torch.randint(1, 6, (7, N_AGENTS), generator=g),
              torch.rand(7, generator=g) * 4.5 + 0.5, 3):
        x_n = s.q_sample(x0, n, eps)
        assert torch.allclose(s.eps_to_x0(x_n, n, eps), x0, atol=1e-5)
        assert torch.allclose(s.x0_to_eps(x_n, n, x0), eps, atol=1e-4)
    # integer steps and the same steps as floats give the same coefficients
    n = torch.randint(1, 6, (7, N_AGENTS), generator=g)
    assert torch.allclose(s.q_sample(x0, n, eps), s.q_sample(x0, n.float(), eps), atol=1e-6)


# ----------------------------------------------------------------------------- network and loss
def _model(**kw) -> EpsModel:
    torch.manual_seed(0)
    return EpsModel(N_AGENTS, OBS, ACT, hidden=(32, 32), act_mask=MASK, **kw)


def test_eps_model_shapes_mask_and_step_forms():
    model = _model()
    g = torch.Generator().manual_seed(2)
    act, obs = torch.randn(6, N_AGENTS, ACT, generator=g), torch.randn(6, N_AGENTS, OBS, generator=g)
    out = model(act, obs, torch.full((6,), 3))
    assert out.shape == (6, N_AGENTS, ACT) and out.dtype == torch.float32
    assert (out[:, 2, 1:] == 0).all() and (out[:, :2] != 0).all()
    assert torch.allclose(out, model(act, obs, 3))
    assert torch.allclose(out, model(act, obs, torch.full((6, N_AGENTS), 3.0)))
    assert model.double()(act.double(), obs.double(), 3).dtype == torch.float64
    assert sinusoidal_embedding(torch.tensor([0.0, 2.5]), 16).shape == (2, 16)


def test_eps_model_agents_are_independent():
    model = _model()
    g = torch.Generator().manual_seed(3)
    act, obs = torch.randn(4, N_AGENTS, ACT, generator=g), torch.randn(4, N_AGENTS, OBS, generator=g)
    n = torch.randint(1, 6, (4, N_AGENTS), generator=g)
    base = model(act, obs, n)
    act2, obs2, n2 = act.clone(), obs.clone(), n.clone()
    act2[:, 1] += 1.0
    obs2[:, 1] -= 1.0
    n2[:, 1] = 5 - n2[:, 1] + 1
    other = model(act2, obs2, n2)
    assert torch.equal(base[:, [0, 2]], other[:, [0, 2]]) and not torch.allclose(base[:, 1], other[:, 1])


def test_eps_model_dropout_and_bad_config():
    model = _model(dropout=0.5)
    assert any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    act, obs = torch.randn(8, N_AGENTS, ACT), torch.randn(8, N_AGENTS, OBS)
    model.eval()
    assert torch.equal(model(act, obs, 2), model(act, obs, 2))
    model.train()
    assert not torch.equal(model(act, obs, 2), model(act, obs, 2))
    with pytest.raises(ConfigError, match="act_mask"):
        EpsModel(N_AGENTS, OBS, ACT, act_mask=torch.ones(2, ACT, dtype=torch.bool))
    with pytest.raises(ConfigError, match="dropout"):
        EpsModel(N_AGENTS, OBS, ACT, dropout=1.5)
    with pytest.raises(ValueError):
        model(torch.randn(8, 2, ACT), obs, 2)


def test_loss_reductions_determinism_and_gradients():
    model, s = _model(), VPSchedule(5)
    g = torch.Generator().manual_seed(4)
    x0 = (torch.rand(16, N_AGENTS, ACT, generator=g) * 2 - 1) * MASK
    obs = torch.randn(16, N_AGENTS, OBS, generator=g)
    loss = noise_prediction_loss(model, s, x0, obs, generator=torch.Generator().manual_seed(0))
    again = noise_prediction_loss(model, s, x0, obs, generator=torch.Generator().manual_seed(0))
    assert loss.dim() == 0 and torch.equal(loss, again)
    per_agent = noise_prediction_loss(model, s, x0, obs, generator=torch.Generator().manual_seed(0), reduction="agent")
    per_sample = noise_prediction_loss(model, s, x0, obs, generator=torch.Generator().manual_seed(0), reduction="none")
    assert per_agent.shape == (N_AGENTS,) and per_sample.shape == (16, N_AGENTS)
    assert torch.allclose(per_agent.mean(), loss) and torch.allclose(per_sample.mean(0), per_agent)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    with pytest.raises(ConfigError, match="reduction"):
        noise_prediction_loss(model, s, x0, obs, reduction="sum")


def test_loss_ignores_padded_dims():
    """A model that is perfect on the real dims has zero loss whatever it outputs on padded ones."""
    s = VPSchedule(5)
    g = torch.Generator().manual_seed(5)
    x0 = (torch.rand(32, N_AGENTS, ACT, generator=g) * 2 - 1) * MASK
    obs = torch.zeros(32, N_AGENTS, OBS)

    def oracle(x_n, obs, n):  # the true noise on real dims, garbage on padded dims
        eps = s.x0_to_eps(x_n, n, x0)
        return torch.where(MASK, eps, torch.full_like(eps, 7.0))

    loss = noise_prediction_loss(oracle, s, x0, obs, mask=MASK, reduction="agent")
    assert torch.allclose(loss, torch.zeros(N_AGENTS), atol=1e-8)


# ----------------------------------------------------------------------------- toy problems
def test_mixture_eps_is_minus_sigma_times_the_score():
    mix = bandit_mixture()
    s = VPSchedule(5)
    x = torch.randn(20, 2, dtype=torch.float64, requires_grad=True)
    n = torch.rand(20, dtype=torch.float64) * 4.9 + 0.1
    alpha, sigma = s.alpha_at(n), s.sigma_at(n)
    (score,) = torch.autograd.grad(mix.log_prob(x, alpha, sigma).sum(), x)
    assert torch.allclose(mix.eps(x.detach(), alpha, sigma), -sigma[:, None] * score, atol=1e-10)
    assert torch.allclose(mix.eps_fn(s)(x.detach(), n), -sigma[:, None] * score, atol=1e-10)


def test_mixture_sampling_cdf_and_distances():
    g = torch.Generator().manual_seed(6)
    mix = mixture_1d()
    x = mix.sample(20_000, g)
    assert x.shape == (20_000, 1)
    assert x.mean().item() == pytest.approx((mix.weights * mix.means[:, 0]).sum().item(), abs=0.01)
    assert wasserstein_to_mixture_1d(x, mix) < 0.01
    assert wasserstein_to_mixture_1d(x + 0.1, mix) == pytest.approx(0.1, abs=0.01)
    y = mix.sample(20_000, g)
    assert sliced_wasserstein(x, y) < 0.01 and sliced_wasserstein(x, y + 0.2) == pytest.approx(0.2, abs=0.01)
    b = bandit_mixture()
    u, v = b.sample(2000, g), b.sample(1500, g)
    assert sliced_wasserstein(u, v, generator=g) < 0.03 < sliced_wasserstein(u, v * 0.5, generator=g)
    assert mmd(u, v) < 0.05 < mmd(u, v * 0.5)
    one = GaussianMixture(means=[[0.0, 0.0]], stds=[1.0], weights=[1.0])
    assert one.log_prob(torch.zeros(1, 2)).item() == pytest.approx(-math.log(2 * math.pi))


def test_bandit_reward_and_gaussian_fit():
    modes = torch.tensor([[0.6, 0.6], [-0.6, 0.6], [-0.6, -0.6], [0.6, -0.6]])
    assert torch.allclose(bandit_reward(modes), torch.tensor([1.0, 0.75, 0.5, 0.25]), atol=1e-3)
    assert bandit_reward(torch.zeros(2)).item() < 0.01
    g = torch.Generator().manual_seed(7)
    data = bandit_mixture().sample(4000, g)
    mean, cov = fit_gaussian(data)
    assert torch.allclose(mean, data.mean(0)) and torch.allclose(cov, torch.cov(data.T, correction=0), atol=1e-6)
    draws = sample_gaussian(mean, cov, 4000, g)
    assert draws.shape == (4000, 2) and bandit_reward(draws).mean() < 0.5 * bandit_reward(data).mean()


def test_fit_bandit_eps_model_learns():
    g = torch.Generator().manual_seed(8)
    data = bandit_mixture().sample(2000, g)
    s = VPSchedule(5)
    model, losses = fit_bandit_eps_model(data, s, steps=150, batch_size=128, hidden=(32, 32), lr=3e-3, device="cpu")
    assert len(losses) == 150 and sum(losses[-20:]) / 20 < 0.8 * sum(losses[:20]) / 20
    x, traj = sample_bandit_policy(model, s, 64, generator=g, return_trajectory=True)
    assert x.shape == (64, 2) and traj.shape == (6, 64, 2) and x.abs().max() <= 1.0
    again, _ = fit_bandit_eps_model(data, s, steps=150, batch_size=128, hidden=(32, 32), lr=3e-3, device="cpu")
    assert all(torch.equal(p, q) for p, q in zip(model.parameters(), again.parameters()))
