"""The score-matching (noise-prediction) loss of a diffusion policy.

For a data action ``a_0``, a step ``n ~ U{1..N}`` and noise ``eps ~ N(0, I)``:
``a_n = alpha_n a_0 + sigma_n eps`` and ``L_d(theta) = E || eps - eps_theta(a_n, o, n) ||^2``.
Each agent draws its own step (its network is its own). Padded action dimensions are left out of
the average. Explained in chapter 03 (score matching).
"""

from __future__ import annotations

import torch

from dom2lite.diffusion.schedules import Schedule
from dom2lite.errors import ConfigError
from dom2lite.members import rng as draws
from dom2lite.nn.reduce import mean_over

REDUCTIONS = ("mean", "agent", "none")


def noise_prediction_loss(
    eps_model,
    schedule: Schedule,
    x0: torch.Tensor,
    obs: torch.Tensor,
    generator: draws.Generator = None,
    mask: torch.Tensor | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """``L_d`` for clean actions ``x0`` ``[B, n_agents, act_dim]`` (in [-1, 1]), observations ``obs``
    ``[B, n_agents, obs_dim]``.

    ``eps_model(a_n, obs, n)`` is called once with ``n`` of shape ``[B, n_agents]``. ``mask``
    ``[n_agents, act_dim]`` (bool; default: ``eps_model.act_mask`` when it has one, else all dims)
    selects the real action dimensions. ``reduction``:

    - ``"mean"``: a scalar, the average of the per-agent losses;
    - ``"agent"``: ``[n_agents]``, each agent's loss (mean over batch and its real dimensions);
    - ``"none"``: ``[B, n_agents]``, per sample and agent.

    With stacked per-agent weights, agent ``j``'s gradient comes only from its own term, so the
    ``"mean"`` loss scales each agent's gradient by ``1 / n_agents`` (Adam does not mind).
    ``generator`` draws the steps and the noise (repeatable losses for tests).
    """
    if reduction not in REDUCTIONS:
        raise ConfigError("reduction", f"unknown reduction {reduction!r}; choose from {REDUCTIONS}")
    if x0.dim() != 3:
        raise ValueError(f"x0 must be [B, n_agents, act_dim], got {tuple(x0.shape)}")
    B, n_agents, act_dim = x0.shape
    if mask is None:
        mask = getattr(eps_model, "act_mask", None)
    m = (torch.ones(n_agents, act_dim, device=x0.device, dtype=x0.dtype) if mask is None
         else torch.as_tensor(mask, device=x0.device).to(x0.dtype))  # [n_agents, act_dim]

    gen_device = draws.generator_device(generator, x0.device)
    n = draws.randint(1, schedule.n_steps + 1, (B, n_agents), generator, -1, device=gen_device)
    noise = draws.randn(x0.shape, generator, -2, device=gen_device, dtype=x0.dtype)
    n, noise = n.to(x0.device), noise.to(x0.device) * m  # [B, n_agents], [B, n_agents, act_dim]

    x_n = schedule.q_sample(x0 * m, n, noise)  # [B, n_agents, act_dim]
    eps_pred = eps_model(x_n, obs, n)  # [B, n_agents, act_dim]
    sq = (eps_pred - noise).pow(2) * m  # [B, n_agents, act_dim]
    per_sample = sq.sum(-1) / m.sum(-1).clamp_min(1.0)  # [B, n_agents]
    if reduction == "none":
        return per_sample
    per_agent = mean_over(per_sample)  # [n_agents]
    return per_agent if reduction == "agent" else per_agent.mean()
