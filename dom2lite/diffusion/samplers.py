"""Samplers: from noise ``x_N ~ N(0, I)`` to a clean sample ``x_0``, chosen by name.

=========  ==========================================================================================
``ddpm``   ancestral sampling (Ho et al. 2020; Diffusion-QL's sampler): one Gaussian step per interval
``dpm1``   DPM-Solver-1, which is DDIM (DOM2's sampler)
``dpm2``   multistep DPM-Solver-2: the noise prediction is extrapolated linearly in ``lam``
``dpm3``   multistep DPM-Solver-3: quadratically
=========  ==========================================================================================

All four walk the same grid of steps ``N = n_0 > n_1 > ... > n_K = 0`` (:func:`time_grid`) and evaluate
the network once per interval, so ``K`` is the number of network evaluations (NFE) for every solver.

**DPM-Solver** (Lu et al. 2022). The probability-flow ODE of the diffusion has the exact solution,
from a noisier time ``s`` to a cleaner time ``t`` (``h = lam_t - lam_s > 0``):

    x_t = (alpha_t / alpha_s) x_s - alpha_t * integral_{lam_s}^{lam_t} e^{-lam} eps(x_lam, lam) dlam.

Expanding ``eps`` in a Taylor series in ``lam`` around ``lam_s`` gives

    x_t = (alpha_t / alpha_s) x_s - sum_{k < order} w_k eps^{(k)}(lam_s),
    w_k = sigma_t h^{k+1} phi_{k+1}(h),   phi_1(h) = (e^h - 1) / h,  phi_2(h) = (e^h - 1 - h) / h^2,
                                          phi_3(h) = (e^h - 1 - h - h^2 / 2) / h^3.

Order 1 keeps ``eps`` only: ``x_t = (alpha_t / alpha_s) x_s - sigma_t (e^h - 1) eps`` -- exactly DDIM.
The DPM-Solver paper's orders 2 and 3 estimate the derivatives ``eps^{(k)}`` from extra network calls
at intermediate times (*singlestep*). Here they are estimated from the previous steps' predictions by
divided differences in ``lam`` (*multistep*, the variant of the DPM-Solver code and of DPM-Solver++):
it costs one evaluation per step and evaluates the network only on grid steps, which is all a network
trained on ``N = 5`` integer steps knows. The first steps use the orders their history allows.

The last step of the default grid ends at the clean data, ``sigma = 0`` (``lam = +inf``): an
infinitely long step in ``lam``, over which no polynomial extrapolation of ``eps`` can be trusted, so
it is taken with order 1, ``x_0 = (x_s - sigma_s eps) / alpha_s``, the clean-sample prediction (as the
DPM-Solver code's ``lower_order_final``). :func:`taylor_weights` is written so that it is finite there.

Samplers work on any data ``[B, ...]`` through a callable ``eps_fn(x_n, n) -> eps`` (``n``: a ``[B]``
float tensor of steps): the toy chapters pass an analytic function, :func:`sample` passes a policy's
:class:`~dom2lite.diffusion.eps_model.EpsModel` with the observations. Nothing is detached: under
``torch.no_grad()`` sampling is cheap; without it, gradients flow through the whole chain to the
network (DOM2's Q term needs that). ``clip=True`` clips every clean-sample prediction
``x0 = (x_n - sigma_n eps) / alpha_n`` to [-1, 1] (and uses the noise it implies) and the result.
Explained in chapter 04 (DPM-Solver).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from dom2lite.diffusion.schedules import Schedule
from dom2lite.errors import ConfigError
from dom2lite.members import rng as draws

EpsFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
SOLVERS = {"ddpm": 0, "dpm1": 1, "dpm2": 2, "dpm3": 3}
ALIASES = {"ddim": "dpm1", "dpm_solver-1": "dpm1", "dpm_solver-2": "dpm2", "dpm_solver-3": "dpm3"}


def solver_name(solver: str) -> str:
    """Canonical solver name (``"DDIM"`` -> ``"dpm1"``); :class:`ConfigError` when unknown."""
    key = str(solver).strip().lower()
    key = ALIASES.get(key, key)
    if key not in SOLVERS:
        raise ConfigError("solver", f"unknown sampler {solver!r}; choose from {sorted(SOLVERS)} (or 'ddim')")
    return key


def time_grid(schedule: Schedule, n_steps: int | None = None, spacing: str = "time",
              t_end: float = 1e-3) -> list[float]:
    """The steps visited, ``n_0 = N > n_1 > ... > n_K``, ``K = n_steps`` (default ``N``).

    - ``spacing="time"`` (default): uniform in ``n`` down to ``n_K = 0``, the clean data. With
      ``K <= N`` the steps are integers of the training grid (rounded), the only ones a trained network
      knows; with ``K > N`` they are float steps in between.
    - ``spacing="lam"``: uniform in ``lam`` down to ``n_K = t_end * N`` (``t_end = 1e-3``, the DPM-Solver
      paper's end time), float steps. The sample returned is ``x`` at ``n_K``, whose noise
      ``sigma(n_K)`` is about 0.01 on the VP schedules. For noise predictions known at every time
      (the toy problems), this is where high orders pay off.
    """
    N = schedule.n_steps
    K = N if n_steps is None else n_steps
    if not isinstance(K, int) or isinstance(K, bool) or K < 1:
        raise ConfigError("n_steps", f"must be an integer >= 1, got {n_steps!r}")
    if spacing == "time":
        grid = [N * (1.0 - i / K) for i in range(K + 1)]
        return [float(round(n)) for n in grid] if K <= N else grid
    if spacing == "lam":
        if not 0.0 < t_end < 1.0:
            raise ConfigError("t_end", f"must be in (0, 1), got {t_end}")
        lam_start = schedule.lam_at(float(N)).item()
        lam_end = schedule.lam_at(t_end * N).item()
        targets = torch.linspace(lam_start, lam_end, K + 1, dtype=torch.float64)  # [K+1]
        return _invert_lam(schedule, targets, t_end * N).tolist()
    raise ConfigError("spacing", f"unknown spacing {spacing!r}; choose 'time' or 'lam'")


def _invert_lam(schedule: Schedule, lam: torch.Tensor, n_min: float) -> torch.Tensor:
    """Float steps ``n`` in ``[n_min, N]`` with ``lam(n) = lam`` (bisection; ``lam`` decreases with ``n``)."""
    lo = torch.full_like(lam, n_min)
    hi = torch.full_like(lam, float(schedule.n_steps))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        above = schedule.lam_at(mid) > lam  # still too clean: the answer is noisier
        lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
    n = 0.5 * (lo + hi)
    n[0], n[-1] = float(schedule.n_steps), n_min  # exact ends
    return n


def taylor_weights(h: float, alpha_s: float, sigma_s: float, alpha_t: float, order: int) -> list[float]:
    """``w_k = sigma_t h^{k+1} phi_{k+1}(h)`` for ``k < order``, computed as
    ``(alpha_t sigma_s / alpha_s)(1 - e^{-h} sum_{j<=k} h^j/j!)``.

    The two forms are equal (``sigma_t e^h = alpha_t sigma_s / alpha_s``); the second is finite for
    ``h = +inf`` (a step into ``sigma_t = 0``). Computed in double precision.
    """
    scale = alpha_t * sigma_s / alpha_s
    if math.isinf(h):
        return [scale] * order
    weights, partial = [], 0.0
    for k in range(order):
        partial += h**k / math.factorial(k)
        weights.append(scale * -math.expm1(-h) if k == 0 else scale * (1.0 - math.exp(-h) * partial))
    return weights


def lam_derivatives(eps_hist: list[torch.Tensor], lam_hist: list[float]) -> list[torch.Tensor]:
    """``[eps, d eps/d lam, d^2 eps/d lam^2]`` at the newest point, from the newest ``len(eps_hist)`` (1-3)
    predictions by divided differences (the derivatives of the interpolating polynomial in ``lam``)."""
    e0, l0 = eps_hist[-1], lam_hist[-1]
    if len(eps_hist) == 1:
        return [e0]
    e1, l1 = eps_hist[-2], lam_hist[-2]
    h0 = l0 - l1
    f01 = (e0 - e1) / h0  # first divided difference
    if len(eps_hist) == 2:
        return [e0, f01]
    e2, l2 = eps_hist[-3], lam_hist[-3]
    f12 = (e1 - e2) / (l1 - l2)
    f012 = (f01 - f12) / (l0 - l2)  # second divided difference
    return [e0, f01 + h0 * f012, 2.0 * f012]


def dpm_solver_step(
    x: torch.Tensor, eps_hist: list[torch.Tensor], lam_hist: list[float],
    alpha_s: float, sigma_s: float, alpha_t: float, lam_t: float,
) -> torch.Tensor:
    """One DPM-Solver step ``s -> t`` of order ``len(eps_hist)``:
    ``x_t = (alpha_t / alpha_s) x_s - sum_k w_k eps^{(k)}(lam_s)``."""
    derivs = lam_derivatives(eps_hist, lam_hist)
    weights = taylor_weights(lam_t - lam_hist[-1], alpha_s, sigma_s, alpha_t, len(derivs))
    x_t = (alpha_t / alpha_s) * x
    for w_k, d_k in zip(weights, derivs):
        x_t = x_t - w_k * d_k
    return x_t


def ddpm_step(
    x: torch.Tensor, eps: torch.Tensor, alpha_s: float, sigma_s: float, alpha_t: float, sigma_t: float,
    noise: torch.Tensor,
) -> torch.Tensor:
    """One ancestral step ``s -> t``: a draw from ``q(x_t | x_s, x0)`` with ``x0`` predicted from ``eps``.

    With ``alpha_ts = alpha_s / alpha_t`` and ``sigma_ts^2 = sigma_s^2 - alpha_ts^2 sigma_t^2`` (DDPM's
    ``beta`` when ``s = t + 1``): mean ``(x_s - sigma_ts^2 / sigma_s * eps) / alpha_ts``, standard deviation
    ``sigma_ts sigma_t / sigma_s``. Into ``sigma_t = 0`` it returns the clean-sample prediction.
    """
    alpha_ts = alpha_s / alpha_t
    sigma2_ts = sigma_s**2 - alpha_ts**2 * sigma_t**2
    mean = (x - (sigma2_ts / sigma_s) * eps) / alpha_ts
    std = math.sqrt(max(sigma2_ts, 0.0)) * sigma_t / sigma_s
    return mean + std * noise if std > 0 else mean


def solve(
    eps_fn: EpsFn,
    schedule: Schedule,
    x_T: torch.Tensor,
    solver: str = "dpm1",
    n_steps: int | None = None,
    generator: draws.Generator = None,
    clip: bool = True,
    mask: torch.Tensor | None = None,
    return_trajectory: bool = False,
    spacing: str = "time",
    scalar_steps: bool = False,
):
    """Run ``solver`` from ``x_T`` ``[B, ...]`` (noise at step ``N``) down to step 0; returns ``x_0`` ``[B, ...]``.

    ``eps_fn(x_n, n)`` gets ``n`` as a ``[B]`` tensor (float, the values of :func:`time_grid`), or as a
    Python float with ``scalar_steps=True`` (the whole batch is at the same step: a network can reuse
    per-step work, as :class:`~dom2lite.diffusion.eps_model.EpsModel` does when acting).
    ``mask`` (broadcastable to ``x_T``, e.g. ``[n_agents, act_dim]``) zeroes padded dimensions at every
    step. ``generator`` draws DDPM's noise. ``return_trajectory=True`` returns ``(x_0, traj)`` with
    ``traj`` ``[K + 1, B, ...]``: ``x`` at every grid step, noise first. ``spacing``: see :func:`time_grid`.
    """
    order = SOLVERS[solver_name(solver)]
    c = _coefficients(schedule, n_steps, spacing, order)  # Python floats along the grid, cached
    alpha, sigma, ratio, weights = c.scalars(x_T.dtype)  # the same numbers as 0-dim tensors (see _Coefficients)
    m = None if mask is None else torch.as_tensor(mask, device=x_T.device).to(x_T.dtype)

    x = x_T if m is None else x_T * m
    traj = [x]
    eps_hist: list[torch.Tensor] = []
    lam_hist: list[float] = []
    for i in range(len(c.grid) - 1):  # s = grid[i] -> t = grid[i + 1]
        eps = _predict_eps(eps_fn, x, c.grid[i], alpha[i], sigma[i], clip, scalar_steps)
        if order == 0:
            noise = _randn_like(x, generator)
            x = ddpm_step(x, eps, c.alpha[i], c.sigma[i], c.alpha[i + 1], c.sigma[i + 1], noise)
        else:
            eps_hist, lam_hist = (eps_hist + [eps])[-order:], (lam_hist + [c.lam[i]])[-order:]
            k = c.orders[i]  # as the history allows; 1 for the step into clean data
            # dpm_solver_step with its weights precomputed: x_t = (alpha_t / alpha_s) x_s - sum_k w_k eps^(k)
            x_t = ratio[i] * x
            for w_k, d_k in zip(weights[i], lam_derivatives(eps_hist[-k:], lam_hist[-k:])):
                x_t = x_t - w_k * d_k
            x = x_t
        if m is not None:
            x = x * m
        traj.append(x)
    if clip:
        x = x.clamp(-1.0, 1.0)
        traj[-1] = x
    if return_trajectory:
        return x, torch.stack(traj)
    return x


def sample(
    eps_model,
    schedule: Schedule,
    obs: torch.Tensor,
    solver: str = "dpm1",
    n_steps: int | None = None,
    generator: draws.Generator = None,
    clip: bool = True,
    mask: torch.Tensor | None = None,
    x_T: torch.Tensor | None = None,
    return_trajectory: bool = False,
    spacing: str = "time",
    scalar_steps: bool = False,
):
    """Actions ``[B, n_agents, act_dim]`` in [-1, 1] from a diffusion policy, given ``obs`` ``[B, n_agents, obs_dim]``.

    ``eps_model(a_n, obs, n)`` is an :class:`~dom2lite.diffusion.eps_model.EpsModel` (or any module with
    ``act_dim`` and that call signature); ``mask`` defaults to its ``act_mask`` (none when the model
    says it has no padded dimensions, ``padded = False``: a mask of ones changes nothing). ``x_T``
    (default: drawn from ``generator``) is the starting noise. Wrap the call in ``torch.no_grad()`` to
    act; leave the graph on to back-propagate through the chain. ``scalar_steps=True`` passes the step
    to ``eps_model`` as a number (it must accept one; :class:`EpsModel` then reuses its step embedding,
    which is faster but rounds differently from the ``[B]`` form). See :func:`solve` for the rest.
    """
    if mask is None and getattr(eps_model, "padded", True):
        mask = getattr(eps_model, "act_mask", None)
    if x_T is None:
        shape = (obs.shape[0], obs.shape[1], eps_model.act_dim)
        x_T = _randn(shape, generator, obs.device, obs.dtype)  # [B, n_agents, act_dim]

    def eps_fn(x_n: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        return eps_model(x_n, obs, n)

    return solve(eps_fn, schedule, x_T, solver, n_steps, generator, clip, mask, return_trajectory, spacing,
                 scalar_steps)


@dataclass
class _Coefficients:
    """Everything :func:`solve` needs along one grid, computed once (in double precision) per schedule,
    number of steps, spacing and solver order; index ``i`` of a per-step list is the step
    ``grid[i] -> grid[i + 1]``.

    A Python float in a tensor operation is wrapped into a tensor and converted on every call (a few
    microseconds, as much as the arithmetic itself on a batch-1 action), so :meth:`scalars` also keeps
    the coefficients as 0-dim CPU tensors of the data's dtype (usable on any device): rounded to that
    dtype exactly as the float would be, so the results are bit for bit the same.
    """

    grid: list[float]  # [K+1] steps, N -> 0
    alpha: list[float]  # [K+1]
    sigma: list[float]  # [K+1]
    lam: list[float]  # [K+1], +inf at step 0
    orders: list[int]  # [K] the DPM-Solver order of each step
    ratio: list[float]  # [K] alpha_t / alpha_s
    weights: list[list[float]]  # [K][order] taylor_weights of each step
    _scalars: dict = field(default_factory=dict)

    def scalars(self, dtype: torch.dtype) -> tuple:
        """``(alpha, sigma, ratio, weights)`` as 0-dim tensors of ``dtype``, made on first use (float32 for
        half-precision data, as PyTorch computes those with a float scalar)."""
        dtype = torch.promote_types(dtype, torch.float32)
        if dtype not in self._scalars:
            def t(v):
                return torch.tensor(v, dtype=dtype)
            with torch.inference_mode(False):  # made while acting, they must still serve a training graph
                self._scalars[dtype] = ([t(v) for v in self.alpha], [t(v) for v in self.sigma],
                                        [t(v) for v in self.ratio], [[t(w) for w in ws] for ws in self.weights])
        return self._scalars[dtype]


def _coefficients(schedule: Schedule, n_steps: int | None, spacing: str, order: int) -> _Coefficients:
    """The :class:`_Coefficients` of a grid (:func:`time_grid`) and solver order (0: DDPM), cached on the
    schedule: a policy samples with the same grid at every call."""
    cache = schedule.__dict__.setdefault("_sampler_coefficients", {})
    key = (n_steps, spacing, order)
    if key not in cache:
        grid = time_grid(schedule, n_steps, spacing)
        steps = torch.tensor(grid, dtype=torch.float64)  # [K+1]
        alpha, sigma = schedule.alpha_at(steps).tolist(), schedule.sigma_at(steps).tolist()
        lam = schedule.lam_at(steps).tolist()
        orders, ratio, weights = [], [], []
        for i in range(len(grid) - 1):
            k = 1 if sigma[i + 1] == 0.0 else min(i + 1, max(order, 1))  # the step into clean data is first order
            orders.append(k)
            ratio.append(alpha[i + 1] / alpha[i])
            weights.append(taylor_weights(lam[i + 1] - lam[i], alpha[i], sigma[i], alpha[i + 1], k))
        cache[key] = _Coefficients(grid, alpha, sigma, lam, orders, ratio, weights)
    return cache[key]


def _predict_eps(eps_fn: EpsFn, x: torch.Tensor, n: float, alpha: float, sigma: float, clip: bool,
                 scalar_step: bool = False) -> torch.Tensor:
    """``eps_fn`` at step ``n``; with ``clip``, the noise implied by the clipped prediction ``x0`` in [-1, 1]."""
    eps = eps_fn(x, n if scalar_step else torch.full((x.shape[0],), n, dtype=x.dtype, device=x.device))
    if clip:
        x0 = ((x - sigma * eps) / alpha).clamp(-1.0, 1.0)
        eps = (x - alpha * x0) / sigma
    return eps


def _randn(shape, generator: draws.Generator, device, dtype) -> torch.Tensor:
    """Noise of ``shape`` (agents on axis -2 for members' generators, as in ``[B, n_agents, act_dim]``)."""
    gen_device = draws.generator_device(generator, device)
    return draws.randn(shape, generator, -2, device=gen_device, dtype=dtype).to(device)


def _randn_like(x: torch.Tensor, generator: draws.Generator) -> torch.Tensor:
    return _randn(x.shape, generator, x.device, x.dtype)
