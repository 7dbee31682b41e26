"""Toy problems for the diffusion chapters: Gaussian mixtures with an exact noise prediction, the
four-mode bandit, distances between sample sets, and a small training helper.

For a mixture ``p_0 = sum_k w_k N(mu_k, s_k^2 I)`` the noised marginal at step ``n`` is again a mixture,
``p_n = sum_k w_k N(alpha_n mu_k, (alpha_n^2 s_k^2 + sigma_n^2) I)``, so the ideal noise prediction
``eps*(x, n) = -sigma_n grad log p_n(x)`` is known in closed form (:meth:`GaussianMixture.eps`). A sampler
run with ``eps*`` shows the sampler's own error, free of any learning error.
Explained in chapter 03 (score matching) and chapter 04 (DPM-Solver).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from dom2lite.device import resolve_device
from dom2lite.diffusion.eps_model import EpsModel
from dom2lite.diffusion.loss import noise_prediction_loss
from dom2lite.diffusion.samplers import EpsFn, sample
from dom2lite.diffusion.schedules import Schedule

# The four-mode bandit: one state, 2-D actions in [-1, 1]^2, data from four equally likely modes.
BANDIT_MODES = ((0.6, 0.6), (-0.6, 0.6), (-0.6, -0.6), (0.6, -0.6))
BANDIT_MODE_REWARDS = (1.0, 0.75, 0.5, 0.25)
BANDIT_STD = 0.08
BANDIT_REWARD_WIDTH = 0.2


@dataclass
class GaussianMixture:
    """``sum_k weights[k] N(means[k], stds[k]^2 I)``: ``means`` ``[K, d]``, ``stds`` ``[K]``, ``weights`` ``[K]``
    (float64; the weights are normalised)."""

    means: torch.Tensor
    stds: torch.Tensor
    weights: torch.Tensor

    def __post_init__(self):
        self.means = torch.as_tensor(self.means, dtype=torch.float64)
        if self.means.dim() == 1:
            self.means = self.means[:, None]  # [K] -> [K, 1]: a 1-D mixture
        K = self.means.shape[0]
        self.stds = torch.as_tensor(self.stds, dtype=torch.float64).expand(K).clone()
        w = torch.as_tensor(self.weights, dtype=torch.float64).expand(K)
        self.weights = w / w.sum()

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` samples ``[n, d]`` (float32)."""
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # [n]
        z = torch.randn(n, self.dim, generator=generator, dtype=torch.float64)
        return (self.means[k] + self.stds[k, None] * z).float()

    def log_prob(self, x: torch.Tensor, alpha=1.0, sigma=0.0) -> torch.Tensor:
        """``log p_n(x)`` ``[B]`` of the mixture noised with ``alpha``, ``sigma`` (numbers or ``[B]``)."""
        x, alpha, sigma = _prepare(x, alpha, sigma)
        log_r, _ = self._components(x, alpha, sigma)
        return torch.logsumexp(log_r, dim=-1)

    def _components(self, x, alpha, sigma):
        """Per-component log weight x density ``[B, K]`` and variance ``[B, K]``."""
        var = alpha[:, None] ** 2 * self.stds**2 + sigma[:, None] ** 2  # [B, K]
        diff = x[:, None, :] - alpha[:, None, None] * self.means  # [B, K, d]
        log_r = (self.weights.log() - 0.5 * self.dim * torch.log(2 * math.pi * var)
                 - 0.5 * diff.pow(2).sum(-1) / var)  # [B, K]
        return log_r, var

    def eps(self, x: torch.Tensor, alpha, sigma) -> torch.Tensor:
        """The exact noise prediction ``-sigma grad_x log p_n(x) = sigma sum_k r_k(x) (x - alpha mu_k) / v_k``
        (``r_k``: posterior responsibility of component k, ``v_k = alpha^2 s_k^2 + sigma^2``); ``[B, d]``."""
        dtype = x.dtype
        x, alpha, sigma = _prepare(x, alpha, sigma)
        log_r, var = self._components(x, alpha, sigma)
        r = torch.softmax(log_r, dim=-1)  # [B, K]
        diff = x[:, None, :] - alpha[:, None, None] * self.means  # [B, K, d]
        eps = sigma[:, None] * (r[..., None] * diff / var[..., None]).sum(1)  # [B, d]
        return eps.to(dtype)

    def eps_fn(self, schedule: Schedule) -> EpsFn:
        """``eps_fn(x [B, d], n [B]) -> [B, d]``: the exact noise prediction under ``schedule`` (any float step)."""

        def eps_fn(x: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
            return self.eps(x, schedule.alpha_at(n), schedule.sigma_at(n))

        return eps_fn

    def cdf(self, x: torch.Tensor) -> torch.Tensor:
        """CDF of a 1-D mixture at points ``x`` ``[M]`` -> ``[M]`` (float64)."""
        if self.dim != 1:
            raise ValueError("cdf is defined for 1-D mixtures only")
        z = (x.to(torch.float64)[:, None] - self.means[:, 0]) / self.stds  # [M, K]
        return (self.weights * torch.special.ndtr(z)).sum(-1)


def _prepare(x, alpha, sigma):
    x = x.to(torch.float64)
    B = x.shape[0]
    alpha = torch.as_tensor(alpha, dtype=torch.float64, device=x.device).expand(B)
    sigma = torch.as_tensor(sigma, dtype=torch.float64, device=x.device).expand(B)
    return x, alpha, sigma


def mixture_1d() -> GaussianMixture:
    """The 1-D test mixture of the chapters and tests: a narrow mode at -0.5 (weight 0.4), a wider one at 0.4."""
    return GaussianMixture(means=[-0.5, 0.4], stds=[0.08, 0.15], weights=[0.4, 0.6])


def bandit_mixture(std: float = BANDIT_STD) -> GaussianMixture:
    """The behaviour data of the four-mode bandit: equal-weight modes at ``(+-0.6, +-0.6)``."""
    return GaussianMixture(means=torch.tensor(BANDIT_MODES), stds=[std] * 4, weights=[1.0] * 4)


def bandit_reward(act: torch.Tensor) -> torch.Tensor:
    """The bandit's reward ``r(a) = sum_k r_k exp(-|a - mu_k|^2 / (2 * 0.2^2))``: a bump per mode,
    ``r_k`` = 1, 0.75, 0.5, 0.25; about zero between the modes (and at their average, the origin).
    ``act`` ``[..., 2]`` -> ``[...]``."""
    mu = torch.tensor(BANDIT_MODES, dtype=act.dtype, device=act.device)  # [4, 2]
    r = torch.tensor(BANDIT_MODE_REWARDS, dtype=act.dtype, device=act.device)  # [4]
    d2 = (act[..., None, :] - mu).pow(2).sum(-1)  # [..., 4]
    return (r * torch.exp(-d2 / (2 * BANDIT_REWARD_WIDTH**2))).sum(-1)


# ----------------------------------------------------------------------------- a Gaussian policy
def fit_gaussian(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood Gaussian of samples ``[M, d]``: ``(mean [d], cov [d, d])`` (the sample mean and
    the biased sample covariance are the MLE)."""
    mean = x.mean(0)
    centred = x - mean
    return mean, centred.T @ centred / x.shape[0]


def sample_gaussian(mean: torch.Tensor, cov: torch.Tensor, n: int,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """``n`` draws ``[n, d]`` from ``N(mean, cov)``."""
    chol = torch.linalg.cholesky(cov + 1e-9 * torch.eye(cov.shape[0], dtype=cov.dtype))
    z = torch.randn(n, mean.shape[0], generator=generator, dtype=mean.dtype)
    return mean + z @ chol.T


# ----------------------------------------------------------------------------- distances
class SlicedWasserstein:
    """Sliced 1-Wasserstein distance from sample sets ``[M, d]`` to one fixed ``reference`` ``[M', d]``.

    The 1-D Wasserstein distance of the projections on ``n_projections`` random unit directions
    (drawn once from ``seed``), averaged over the directions; in 1-D (``d = 1``) it is the ordinary
    Wasserstein-1 distance between the empirical distributions. The reference's sorted projections are
    computed once, so comparing many sample sets with the same data is cheap.
    """

    def __init__(self, reference: torch.Tensor, n_projections: int = 128, seed: int = 0,
                 generator: torch.Generator | None = None):
        reference = reference.detach().float().cpu()
        d = reference.shape[1]
        if d == 1:
            self.theta = torch.ones(1, 1)
        else:
            g = generator if generator is not None else torch.Generator().manual_seed(seed)
            theta = torch.randn(d, n_projections, generator=g)
            self.theta = theta / theta.norm(dim=0, keepdim=True)  # [d, P]
        self.ref_sorted = (reference @ self.theta).sort(0).values  # [M', P]

    def __call__(self, x: torch.Tensor) -> float:
        x_sorted = (x.detach().float().cpu() @ self.theta).sort(0).values  # [M, P]
        m = max(x_sorted.shape[0], self.ref_sorted.shape[0])
        levels = (torch.arange(m, dtype=torch.float64) + 0.5) / m  # [m] quantile levels
        return (_quantiles(x_sorted, levels) - _quantiles(self.ref_sorted, levels)).abs().mean().item()


def sliced_wasserstein(x: torch.Tensor, y: torch.Tensor, n_projections: int = 128,
                       generator: torch.Generator | None = None) -> float:
    """Sliced 1-Wasserstein distance between sample sets ``[M, d]`` and ``[M', d]`` (see :class:`SlicedWasserstein`)."""
    return SlicedWasserstein(y, n_projections, generator=generator)(x)


def _quantiles(sorted_proj: torch.Tensor, levels: torch.Tensor) -> torch.Tensor:
    """Empirical quantile function (step function) of sorted columns ``[M, P]`` at ``levels`` ``[m]``."""
    M = sorted_proj.shape[0]
    idx = (levels * M).floor().long().clamp(max=M - 1)
    return sorted_proj[idx]


def wasserstein_to_mixture_1d(x: torch.Tensor, mixture: GaussianMixture, n_grid: int = 4001) -> float:
    """Wasserstein-1 distance ``int |F_x(u) - F(u)| du`` between samples ``[M]`` / ``[M, 1]`` and a 1-D mixture."""
    x = x.detach().reshape(-1).to(torch.float64).cpu().sort().values
    lo = min(x[0].item(), (mixture.means - 6 * mixture.stds[:, None]).min().item())
    hi = max(x[-1].item(), (mixture.means + 6 * mixture.stds[:, None]).max().item())
    u = torch.linspace(lo, hi, n_grid, dtype=torch.float64)
    f_emp = torch.searchsorted(x, u, right=True).to(torch.float64) / x.numel()
    return torch.trapezoid((f_emp - mixture.cdf(u)).abs(), u).item()


def mmd(x: torch.Tensor, y: torch.Tensor, bandwidth: float = 0.1) -> float:
    """Maximum mean discrepancy with a Gaussian kernel ``exp(-|a - b|^2 / (2 bandwidth^2))`` (biased
    estimate, square root of MMD^2): 0 for identical sample sets, larger the more they differ."""
    x, y = x.detach().to(torch.float64).cpu(), y.detach().to(torch.float64).cpu()

    def k(a, b):
        return torch.exp(-torch.cdist(a, b).pow(2) / (2 * bandwidth**2)).mean()

    return math.sqrt(max((k(x, x) + k(y, y) - 2 * k(x, y)).item(), 0.0))


# ----------------------------------------------------------------------------- training on the bandit
def fit_bandit_eps_model(
    data: torch.Tensor,
    schedule: Schedule,
    steps: int = 2000,
    batch_size: int = 256,
    hidden: Sequence[int] = (128, 128, 128),
    activation: str = "mish",
    lr: float = 1e-3,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> tuple[EpsModel, list[float]]:
    """Fit an :class:`EpsModel` (one agent, no observation) to actions ``data`` ``[M, d]`` with the
    noise-prediction loss; returns the model (in eval mode) and the loss of every step."""
    device = resolve_device(device)
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EpsModel(1, 0, data.shape[1], hidden=hidden, activation=activation).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    data = data.to(device)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, data.shape[0], (batch_size,), generator=g).to(device)
        x0 = data[idx][:, None, :]  # [B, 1, d]
        obs = x0.new_zeros(batch_size, 1, 0)  # [B, 1, 0]: the bandit has one state
        loss = noise_prediction_loss(model, schedule, x0, obs, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model.eval(), losses


def sample_bandit_policy(model: EpsModel, schedule: Schedule, n: int, solver: str = "dpm1",
                         n_steps: int | None = None, generator: torch.Generator | None = None,
                         return_trajectory: bool = False):
    """``n`` actions ``[n, d]`` from a bandit diffusion policy (no gradients); with ``return_trajectory``
    also ``[K + 1, n, d]``, the samples at every step of the sampler."""
    device = next(model.parameters()).device
    obs = torch.zeros(n, 1, 0, device=device)  # [n, 1, 0]
    with torch.no_grad():
        out = sample(model, schedule, obs, solver=solver, n_steps=n_steps, generator=generator,
                     return_trajectory=return_trajectory)
    if return_trajectory:
        x, traj = out
        return x[:, 0].cpu(), traj[:, :, 0].cpu()
    return out[:, 0].cpu()
