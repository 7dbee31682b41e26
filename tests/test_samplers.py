"""Samplers (dom2lite.diffusion.samplers): DDIM identity, convergence on an exact mixture, policy use."""

from __future__ import annotations

import math

import pytest
import torch

from dom2lite.diffusion import EpsModel, VPSchedule, make_schedule, sample, solve, time_grid
from dom2lite.diffusion.samplers import solver_name, taylor_weights
from dom2lite.diffusion.toy import GaussianMixture, mixture_1d, wasserstein_to_mixture_1d
from dom2lite.errors import ConfigError

SOLVERS = ("ddpm", "dpm1", "dpm2", "dpm3")
N_AGENTS, OBS, ACT = 3, 4, 3
MASK = torch.ones(N_AGENTS, ACT, dtype=torch.bool)
MASK[1, 2] = False


def _model() -> EpsModel:
    torch.manual_seed(0)
    return EpsModel(N_AGENTS, OBS, ACT, hidden=(32, 32), act_mask=MASK)


def _wiggly_eps(x: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
    """A smooth, nonlinear stand-in for a network: any eps_fn(x [B, ...], n [B]) works."""
    n = n.reshape(-1, *([1] * (x.dim() - 1)))
    return torch.sin(1.3 * x + 0.2 * n) + 0.3 * x


def _ddim(eps_fn, schedule, x, steps):
    """DDIM (eta = 0) written from its own paper: predict x0, then re-noise it deterministically to the next step."""
    for s, t in zip(steps[:-1], steps[1:]):
        a_s, s_s = schedule.alpha[s].item(), schedule.sigma[s].item()
        a_t, s_t = schedule.alpha[t].item(), schedule.sigma[t].item()
        eps = eps_fn(x, torch.full((x.shape[0],), float(s)))
        x0 = (x - s_s * eps) / a_s
        x = a_t * x0 + s_t * eps
    return x


# ----------------------------------------------------------------------------- the maths
@pytest.mark.parametrize("name,N,K", [("vp", 5, 5), ("vp", 10, 4), ("cosine", 8, 3), ("linear", 6, 6)])
def test_dpm_solver_1_is_ddim(name, N, K):
    s = make_schedule(name, N)
    x_T = torch.randn(64, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    steps = [int(n) for n in time_grid(s, K)]
    ours = solve(_wiggly_eps, s, x_T, "dpm1", n_steps=K, clip=False)
    assert torch.allclose(ours, _ddim(_wiggly_eps, s, x_T, steps), atol=1e-10)
    assert torch.allclose(solve(_wiggly_eps, s, x_T, "ddim", n_steps=K, clip=False), ours)


def test_taylor_weights():
    a_s, s_s, a_t = 0.6, 0.8, 0.9
    s_t = math.sqrt(1 - a_t**2)
    h = math.log(a_t / s_t) - math.log(a_s / s_s)
    w = taylor_weights(h, a_s, s_s, a_t, 3)
    phi = [(math.exp(h) - 1) / h, (math.exp(h) - 1 - h) / h**2, (math.exp(h) - 1 - h - h**2 / 2) / h**3]
    for k in range(3):
        assert w[k] == pytest.approx(s_t * h ** (k + 1) * phi[k], rel=1e-10)
    assert w[0] == pytest.approx(a_t * s_s / a_s - s_t, rel=1e-12)  # DDIM's coefficient
    assert taylor_weights(math.inf, a_s, s_s, 1.0, 3) == [pytest.approx(s_s / a_s)] * 3  # the step into sigma = 0


def test_time_grids():
    s = VPSchedule(10)
    assert time_grid(s) == [float(n) for n in range(10, -1, -1)]
    g4 = time_grid(s, 4)
    assert g4[0] == 10 and g4[-1] == 0 and all(n == int(n) for n in g4) and g4 == sorted(g4, reverse=True)
    g25 = time_grid(s, 25)
    assert len(g25) == 26 and g25[1] == pytest.approx(9.6)
    lam = s.lam_at(torch.tensor(time_grid(s, 7, spacing="lam"), dtype=torch.float64))
    assert torch.allclose(lam.diff(), lam.diff()[0].expand(7), rtol=1e-6)  # uniform in lam
    assert time_grid(s, 7, spacing="lam")[-1] == pytest.approx(1e-2)  # t_end * N
    for bad in (dict(n_steps=0), dict(n_steps=2.5), dict(spacing="log")):
        with pytest.raises(ConfigError):
            time_grid(s, **bad)
    with pytest.raises(ConfigError, match="solver"):
        solver_name("euler")


# ----------------------------------------------------------------------------- accuracy on the exact 1-D mixture
MIX = mixture_1d()
CONT = VPSchedule(5, beta_max=20.0)  # float steps = the continuous VP-SDE
X_T = torch.randn(3000, 1, generator=torch.Generator().manual_seed(1), dtype=torch.float64)


def _w1(solver, K, spacing="lam", seed=2):
    x = solve(MIX.eps_fn(CONT), CONT, X_T, solver, n_steps=K, clip=False, spacing=spacing,
              generator=torch.Generator().manual_seed(seed))
    return wasserstein_to_mixture_1d(x, MIX)


@pytest.mark.parametrize("solver", SOLVERS)
def test_samples_approach_the_mixture_as_steps_grow(solver):
    d = [_w1(solver, K) for K in (2, 8, 64)]
    assert d[0] > d[1] > d[2] and d[2] < 0.02, d
    if solver != "ddpm":
        assert _w1(solver, 64, spacing="time") < 0.03  # uniform steps down to the clean data converge too


def test_higher_orders_are_closer_at_few_steps():
    for K in (4, 6):
        d1, d2, d3 = (_w1(s, K) for s in ("dpm1", "dpm2", "dpm3"))
        assert d3 < d2 < d1 and d3 < 0.5 * d1, (K, d1, d2, d3)


def test_convergence_orders():
    """Doubling the steps divides the path error (against a fine solution) by ~2, ~4, >= 8 for orders 1, 2, 3.

    A smooth mixture (wide modes): with narrow modes the asymptotic rates show only at many more steps.
    """
    x_T = X_T[:500]
    eps = GaussianMixture(means=[-0.5, 0.4], stds=[0.3, 0.4], weights=[0.4, 0.6]).eps_fn(CONT)
    ref = solve(eps, CONT, x_T, "dpm3", n_steps=640, clip=False, spacing="lam")
    for solver, low in (("dpm1", 1.7), ("dpm2", 3.2), ("dpm3", 6.0)):
        err = [(solve(eps, CONT, x_T, solver, n_steps=K, clip=False, spacing="lam") - ref).abs().mean().item()
               for K in (20, 40)]
        assert err[0] / err[1] > low, (solver, err)


# ----------------------------------------------------------------------------- policies
@pytest.mark.parametrize("solver", SOLVERS)
def test_sample_shapes_bounds_mask_and_trajectory(solver):
    model, s = _model(), VPSchedule(5)
    obs = torch.randn(8, N_AGENTS, OBS, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        act, traj = sample(model, s, obs, solver=solver, generator=torch.Generator().manual_seed(4),
                           return_trajectory=True)
    assert act.shape == (8, N_AGENTS, ACT) and act.dtype == torch.float32
    assert act.abs().max() <= 1.0 and (act[:, 1, 2] == 0).all()
    assert traj.shape == (6, 8, N_AGENTS, ACT) and torch.equal(traj[-1], act) and (traj[:, :, 1, 2] == 0).all()
    # a plain eps_fn that knows nothing of the mask: padded dims are still zero
    x = solve(_wiggly_eps, s, torch.randn(8, N_AGENTS, ACT) * 3, solver, mask=MASK,
              generator=torch.Generator().manual_seed(0))
    assert (x[:, 1, 2] == 0).all() and x.abs().max() <= 1.0


def test_gradients_flow_through_the_chain():
    model, s = _model(), VPSchedule(5)
    obs = torch.randn(16, N_AGENTS, OBS)
    act = sample(model, s, obs, solver="dpm1", generator=torch.Generator().manual_seed(5), clip=True)
    act.pow(2).sum().backward()
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values()), [k for k, g in grads.items() if g is None]
    model.zero_grad()
    with torch.no_grad():
        assert not sample(model, s, obs).requires_grad


def test_determinism_with_a_generator():
    model, s = _model(), VPSchedule(5)
    obs = torch.randn(8, N_AGENTS, OBS)
    with torch.no_grad():
        a = sample(model, s, obs, solver="ddpm", generator=torch.Generator().manual_seed(6))
        b = sample(model, s, obs, solver="ddpm", generator=torch.Generator().manual_seed(6))
        c = sample(model, s, obs, solver="ddpm", generator=torch.Generator().manual_seed(7))
        x_T = torch.randn(8, N_AGENTS, ACT)
        d1 = sample(model, s, obs, solver="dpm2", x_T=x_T)
        d2 = sample(model, s, obs, solver="dpm2", x_T=x_T, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b) and not torch.equal(a, c) and torch.equal(d1, d2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_sampling_on_cuda_with_a_cpu_generator():
    model, s = _model().cuda(), VPSchedule(5)
    obs = torch.randn(8, N_AGENTS, OBS, device="cuda")
    for solver in SOLVERS:
        act = sample(model, s, obs, solver=solver, generator=torch.Generator().manual_seed(0))
        assert act.device.type == "cuda" and act.abs().max() <= 1.0
