"""The acting shortcuts (Cost appendix) give the numbers of the plain paths: bit for bit where training
uses them, to float rounding where only acting does, and a cached step embedding never goes stale."""

import types

import numpy as np
import pytest
import torch

from dom2lite.diffusion import EpsModel, VPSchedule, sample, solve
from dom2lite.diffusion.samplers import dpm_solver_step, time_grid
from dom2lite.nn.mish import mish

N_AGENTS, OBS, ACT = 3, 4, 2


def _plain_mish(x):  # the formula as first written: out of place, Python constants
    s = torch.sigmoid(x)
    u2 = (1.0 - s).square()
    t = (1.0 - u2) / (1.0 + u2)
    return x * t, t, s


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_mish_in_place_paths_are_bit_identical(dtype):
    x = (torch.randn(3, 37, 64, generator=torch.Generator().manual_seed(0)) * 8).to(dtype)
    y_ref, t, s = _plain_mish(x)
    with torch.no_grad():
        assert torch.equal(mish(x), y_ref)  # no-grad path
    xg = x.clone().requires_grad_()
    y = mish(xg)
    assert torch.equal(y.detach(), y_ref)  # autograd path, forward
    g = torch.randn_like(x)
    y.backward(g)
    assert torch.equal(xg.grad, g * (t + x * (1.0 - t * t) * s))  # backward as first written


def _wiggly(x, n):
    return torch.sin(1.3 * x + 0.2 * n[:, None, None]) + 0.3 * x


@pytest.mark.parametrize("solver", ["dpm1", "dpm2"])
def test_precomputed_coefficients_equal_dpm_solver_step(solver):
    """solve's cached weights reproduce the readable one-step function exactly."""
    s, order = VPSchedule(5), int(solver[-1])
    x = torch.randn(8, N_AGENTS, ACT, generator=torch.Generator().manual_seed(1)) * 2
    grid = time_grid(s, 5)
    alpha, sigma, lam = (getattr(s, f"{k}_at")(torch.tensor(grid, dtype=torch.float64)).tolist()
                         for k in ("alpha", "sigma", "lam"))
    ref, eps_hist, lam_hist = x, [], []
    for i in range(len(grid) - 1):
        eps = _wiggly(ref, torch.full((8,), grid[i]))
        eps_hist, lam_hist = (eps_hist + [eps])[-order:], (lam_hist + [lam[i]])[-order:]
        k = 1 if sigma[i + 1] == 0.0 else len(eps_hist)
        ref = dpm_solver_step(ref, eps_hist[-k:], lam_hist[-k:], alpha[i], sigma[i], alpha[i + 1], lam[i + 1])
    assert torch.equal(solve(_wiggly, s, x, solver, clip=False), ref)


def _model(mask=None) -> EpsModel:
    torch.manual_seed(0)
    return EpsModel(N_AGENTS, OBS, ACT, hidden=(16, 16), act_mask=mask)


def test_scalar_steps_reuse_the_step_embedding_until_the_weights_change():
    model = _model()
    assert not model.padded
    g = torch.Generator().manual_seed(2)
    act, obs = torch.randn(5, N_AGENTS, ACT, generator=g), torch.randn(5, N_AGENTS, OBS, generator=g)
    with torch.no_grad():
        per_row = model(act, obs, torch.full((5,), 3.0))
        cached = model(act, obs, 3.0)
        torch.testing.assert_close(cached, per_row, rtol=1e-5, atol=1e-6)  # rounding only
        emb = model._step_embedding(3.0, torch.float32, act.device)
        assert model._step_embedding(3.0, torch.float32, act.device) is emb  # a hit
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(act, obs, torch.full((5,), 3.0)).pow(2).sum().backward()  # grad on: the per-row path
    opt.step()
    with torch.no_grad():
        fresh = model._step_embedding(3.0, torch.float32, act.device)
        assert fresh is not emb and not torch.equal(fresh, emb)  # the update invalidated it
        model._temb_cache.clear()
        assert torch.equal(model._step_embedding(3.0, torch.float32, act.device), fresh)
        x_T = torch.randn(5, N_AGENTS, ACT, generator=g)
        torch.testing.assert_close(sample(model, VPSchedule(5), obs, x_T=x_T, scalar_steps=True),
                                   sample(model, VPSchedule(5), obs, x_T=x_T), rtol=1e-5, atol=1e-5)


def test_padded_model_still_masks():
    mask = torch.ones(N_AGENTS, ACT, dtype=torch.bool)
    mask[2, 1] = False
    model = _model(mask)
    assert model.padded
    with torch.no_grad():
        out = model(torch.randn(4, N_AGENTS, ACT), torch.randn(4, N_AGENTS, OBS), 2.0)
        a = sample(model, VPSchedule(5), torch.randn(4, N_AGENTS, OBS), scalar_steps=True)
    assert (out[:, 2, 1] == 0).all() and (a[:, 2, 1] == 0).all()


def test_dom2_act_follows_training_updates():
    from dom2lite.algos import config_for, make_algo
    from dom2lite.data.batch import Batch

    spec = types.SimpleNamespace(n_agents=N_AGENTS, obs_dim=OBS, act_dim=ACT, state_dim=3 * OBS,
                                 act_mask=np.ones((N_AGENTS, ACT), bool))
    cfg = config_for("dom2", "spread", "medium", hidden=(16, 16), batch_size=8, n_diffusion_steps=5, ema_every=1)
    algo = make_algo("dom2", spec, cfg, "cpu")
    g = torch.Generator().manual_seed(3)
    obs = torch.randn(4, N_AGENTS, OBS, generator=g)
    algo.act(obs)
    cpu = torch.device("cpu")
    emb_before = algo.actor_target._step_embedding(5.0, torch.float32, cpu)  # cached by act
    batch = Batch(obs=torch.randn(8, N_AGENTS, OBS, generator=g), act=torch.rand(8, N_AGENTS, ACT, generator=g) * 2 - 1,
                  rew=torch.randn(8, N_AGENTS, generator=g), next_obs=torch.randn(8, N_AGENTS, OBS, generator=g),
                  state=torch.randn(8, 3 * OBS, generator=g), next_state=torch.randn(8, 3 * OBS, generator=g),
                  terminated=torch.zeros(8))
    algo.update(batch)  # moves the EMA actor, whose step embeddings act() had cached
    after = algo.act(obs)
    assert not torch.equal(algo.actor_target._step_embedding(5.0, torch.float32, cpu), emb_before)
    algo.actor_target._temb_cache.clear()
    assert torch.equal(algo.act(obs), after)
