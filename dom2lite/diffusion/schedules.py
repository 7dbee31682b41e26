"""Noise schedules for a diffusion over actions with few steps: q(a_n | a_0) = N(alpha_n a_0, sigma_n^2 I).

A schedule fixes, for the integer steps ``n = 0, 1, ..., N``, the signal scale ``alpha_n``, the noise
scale ``sigma_n`` and the half log-SNR ``lam_n = log alpha_n - log sigma_n``. Step ``n = 0`` is the
clean data, exactly: ``alpha_0 = 1``, ``sigma_0 = 0``, ``lam_0 = +inf`` (as in DDPM and Diffusion-QL;
the training loss only uses ``n >= 1`` and the samplers handle the final step into ``sigma = 0``).
Every schedule is variance preserving: ``alpha_n^2 + sigma_n^2 = 1`` and ``alpha_bar_n = alpha_n^2``.

The schedules are also defined *between* the integer steps (a float ``n``), so that a sampler can use
more steps than the training grid when the noise prediction is known for every time (the toy
problems): :class:`VPSchedule` is exactly the continuous VP-SDE at ``t = n / N``; the others
interpolate ``log alpha_bar`` linearly between neighbouring steps (what the DPM-Solver code does for
discrete-time models).

All tables are float64 CPU tensors of length ``N + 1``; :meth:`Schedule.q_sample`,
:meth:`Schedule.eps_to_x0` and :meth:`Schedule.x0_to_eps` work on any device and dtype.
Explained in chapter 03 (score matching) and chapter 04 (DPM-Solver).
"""

from __future__ import annotations

import math

import torch

from dom2lite.errors import ConfigError


class Schedule:
    """A variance-preserving noise schedule over ``n = 0..N``; subclasses define ``alpha_bar``.

    Tables (float64, ``[N + 1]``, index ``n``): ``beta`` (``beta[0] = 0``), ``alpha_bar``, ``alpha``,
    ``sigma``, ``lam``. Subclasses set ``self.alpha_bar`` in ``__init__`` and call ``_finish()``.
    """

    name = "base"

    def __init__(self, n_steps: int):
        if not isinstance(n_steps, int) or isinstance(n_steps, bool) or n_steps < 1:
            raise ConfigError("n_diffusion_steps", f"must be an integer >= 1, got {n_steps!r}")
        self.n_steps = n_steps
        self._cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def _finish(self, alpha_bar: torch.Tensor) -> None:
        """Derive every table from ``alpha_bar`` [N+1] (with ``alpha_bar[0] = 1``)."""
        alpha_bar = alpha_bar.to(torch.float64)
        self.alpha_bar = alpha_bar  # [N+1]
        self.beta = torch.cat([alpha_bar.new_zeros(1), 1.0 - alpha_bar[1:] / alpha_bar[:-1]])  # [N+1]
        self.alpha = alpha_bar.sqrt()  # [N+1]
        self.sigma = (1.0 - alpha_bar).clamp_min(0.0).sqrt()  # [N+1]
        self.lam = self.alpha.log() - self.sigma.log()  # [N+1]; lam[0] = +inf
        if not bool((self.lam[1:] < self.lam[:-1]).all()):
            raise ConfigError("schedule", f"{self.name}: noise must grow with n (lam decreasing)")

    # ----------------------------------------------------------------- values at any (float) step
    def log_alpha_bar_at(self, n: torch.Tensor) -> torch.Tensor:
        """``log alpha_bar`` at float steps ``n`` in [0, N]: linear interpolation between integers."""
        n = n.to(torch.float64).clamp(0.0, float(self.n_steps))
        table = self.alpha_bar.log().to(n.device)  # [N+1]
        lo = n.floor().long().clamp(max=self.n_steps - 1)  # [...]
        frac = n - lo.to(torch.float64)
        return table[lo] + frac * (table[lo + 1] - table[lo])

    def alpha_at(self, n) -> torch.Tensor:
        """``alpha`` at step(s) ``n`` (int or float, tensor or number), float64."""
        return (0.5 * self.log_alpha_bar_at(_as_tensor(n))).exp()

    def sigma_at(self, n) -> torch.Tensor:
        """``sigma`` at step(s) ``n``, float64 (``sqrt(1 - alpha_bar)``, computed without cancellation)."""
        return (-torch.expm1(self.log_alpha_bar_at(_as_tensor(n)))).clamp_min(0.0).sqrt()

    def lam_at(self, n) -> torch.Tensor:
        """Half log-SNR ``lam = log alpha - log sigma`` at step(s) ``n``, float64 (``+inf`` at n = 0)."""
        return self.alpha_at(n).log() - self.sigma_at(n).log()

    def _coefficients(self, n, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha_n, sigma_n)`` in ``like``'s dtype and device, shaped to broadcast against ``like``.

        ``n`` is a number, ``[B]`` or ``[B, n_agents]``; integer steps read the tables, float steps use
        :meth:`alpha_at`/:meth:`sigma_at`.
        """
        n = _as_tensor(n, like.device)
        if n.dtype in (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
            key = (like.device, like.dtype)
            if key not in self._cache:
                with torch.inference_mode(False):  # a table made while acting must still serve training graphs
                    self._cache[key] = (self.alpha.to(like.device, like.dtype),
                                        self.sigma.to(like.device, like.dtype))
            alpha_tab, sigma_tab = self._cache[key]
            alpha, sigma = alpha_tab[n], sigma_tab[n]
        else:
            alpha, sigma = self.alpha_at(n).to(like.dtype), self.sigma_at(n).to(like.dtype)
        extra = like.dim() - alpha.dim()
        if extra < 0:
            raise ValueError(f"step tensor of shape {tuple(n.shape)} has more dims than data {tuple(like.shape)}")
        shape = tuple(alpha.shape) + (1,) * extra
        return alpha.reshape(shape), sigma.reshape(shape)

    # ----------------------------------------------------------------- the forward process
    def q_sample(self, x0: torch.Tensor, n, noise: torch.Tensor) -> torch.Tensor:
        """Forward noising ``x_n = alpha_n x0 + sigma_n noise`` (``x0``, ``noise``: ``[B, ...]``; ``n``: ``[B]``,
        ``[B, n_agents]`` or a number)."""
        alpha, sigma = self._coefficients(n, x0)
        return alpha * x0 + sigma * noise

    def eps_to_x0(self, x_n: torch.Tensor, n, eps: torch.Tensor) -> torch.Tensor:
        """The clean sample implied by a noise prediction: ``x0 = (x_n - sigma_n eps) / alpha_n``."""
        alpha, sigma = self._coefficients(n, x_n)
        return (x_n - sigma * eps) / alpha

    def x0_to_eps(self, x_n: torch.Tensor, n, x0: torch.Tensor) -> torch.Tensor:
        """The noise implied by a clean-sample prediction: ``eps = (x_n - alpha_n x0) / sigma_n`` (n >= 1)."""
        alpha, sigma = self._coefficients(n, x_n)
        return (x_n - alpha * x0) / sigma

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n_steps={self.n_steps}, alpha_N={self.alpha[-1].item():.4f}, "
                f"sigma_1={self.sigma[1].item():.4f})")


class VPSchedule(Schedule):
    """Diffusion-QL's discretised variance-preserving SDE (the default of DOM2).

    ``beta(t) = beta_min + (beta_max - beta_min) t`` on ``t in [0, 1]``, sampled at ``t = n / N``:
    ``b_i = 1 - exp(-beta_min / N - 0.5 (beta_max - beta_min) (2 i - 1) / N^2)`` for ``i = 1..N``, so
    ``alpha_bar_n = prod_{i <= n} (1 - b_i) = exp(-beta_min t - 0.5 (beta_max - beta_min) t^2)``.
    Between integer steps the same closed form holds, so a float ``n`` is the continuous VP-SDE
    (with ``beta_max = 20`` it is the VP-SDE of Song et al. and of the DPM-Solver paper).
    """

    name = "vp"

    def __init__(self, n_steps: int, beta_min: float = 0.1, beta_max: float = 10.0):
        super().__init__(n_steps)
        if not 0.0 <= beta_min < beta_max:
            raise ConfigError("beta_max", f"need 0 <= beta_min < beta_max, got {beta_min}, {beta_max}")
        self.beta_min, self.beta_max = float(beta_min), float(beta_max)
        i = torch.arange(1, n_steps + 1, dtype=torch.float64)  # [N]
        b = 1.0 - torch.exp(-beta_min / n_steps - 0.5 * (beta_max - beta_min) * (2 * i - 1) / n_steps**2)
        self._finish(torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1.0 - b, 0)]))

    def log_alpha_bar_at(self, n: torch.Tensor) -> torch.Tensor:
        t = n.to(torch.float64).clamp(0.0, float(self.n_steps)) / self.n_steps
        return -(self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2)


class LinearSchedule(Schedule):
    """DDPM's linear schedule (``beta`` from ``beta_start`` to ``beta_end`` over ``ref_steps`` = 1000 steps),
    read at ``N`` evenly spaced points of that chain, as DDIM does when it samples with fewer steps.

    ``alpha_bar_n = alpha_bar^DDPM(n ref_steps / N)`` (``log alpha_bar`` interpolated linearly when
    ``ref_steps / N`` is not an integer). With ``N = ref_steps`` it is exactly DDPM's schedule.
    (Using the 1000-step betas directly with ``N = 5`` would hardly add any noise.)
    """

    name = "linear"

    def __init__(self, n_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02, ref_steps: int = 1000):
        super().__init__(n_steps)
        if not 0.0 < beta_start <= beta_end < 1.0:
            raise ConfigError("beta_end", f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        ref_beta = torch.linspace(beta_start, beta_end, ref_steps, dtype=torch.float64)  # [ref]
        ref_log_ab = torch.cat([torch.zeros(1, dtype=torch.float64), torch.cumsum(torch.log1p(-ref_beta), 0)])
        pos = torch.arange(n_steps + 1, dtype=torch.float64) * ref_steps / n_steps  # [N+1] in [0, ref]
        lo = pos.floor().long().clamp(max=ref_steps - 1)
        log_ab = ref_log_ab[lo] + (pos - lo) * (ref_log_ab[lo + 1] - ref_log_ab[lo])
        self._finish(log_ab.exp())


class CosineSchedule(Schedule):
    """The cosine schedule of Nichol & Dhariwal (2021): ``alpha_bar(t) = f(t) / f(0)``,
    ``f(t) = cos^2((t + s) / (1 + s) * pi / 2)`` at ``t = n / N``, each ``beta`` capped at ``max_beta``
    (without the cap ``alpha_bar_N = 0`` and ``lam_N = -inf``)."""

    name = "cosine"

    def __init__(self, n_steps: int, s: float = 0.008, max_beta: float = 0.999):
        super().__init__(n_steps)
        t = torch.arange(n_steps + 1, dtype=torch.float64) / n_steps  # [N+1]
        f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
        beta = (1.0 - f[1:] / f[:-1]).clamp(max=max_beta)  # [N]
        self._finish(torch.cat([torch.ones(1, dtype=torch.float64), torch.cumprod(1.0 - beta, 0)]))


SCHEDULES: dict[str, type[Schedule]] = {"vp": VPSchedule, "linear": LinearSchedule, "cosine": CosineSchedule}


def make_schedule(name: str, n_steps: int, **kwargs) -> Schedule:
    """A schedule by name: ``"vp"`` (Diffusion-QL's, the default), ``"linear"``, ``"cosine"``."""
    try:
        cls = SCHEDULES[str(name).lower()]
    except KeyError:
        raise ConfigError("schedule", f"unknown noise schedule {name!r}; choose from {sorted(SCHEDULES)}") from None
    return cls(n_steps, **kwargs)


def _as_tensor(n, device: torch.device | None = None) -> torch.Tensor:
    if isinstance(n, torch.Tensor):
        return n if device is None else n.to(device)
    return torch.as_tensor(n, device=device)
