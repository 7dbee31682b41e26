"""OMAR's zeroth-order action search: improve on the policy's action using only Q evaluations.

For every state and agent, start from a Gaussian ``N(mu_0, sigma_0^2)`` on the action box and repeat
``iters`` times: sample ``S`` actions (clipped to [-1, 1]), score them with the critic, and refit the
Gaussian. Two refits, as in OMAR's code:

- ``"softmax"`` (MPE): ``mu = sum_i softmax(Q / T)_i a_i`` and ``sigma = sqrt(mean_i (a_i - mu)^2)`` — a
  Q-weighted average, like MPPI. The temperature ``T`` is in units of Q (OMAR's code: 1), so how sharply
  the refit prefers the best candidates depends on the scale of the rewards (chapter 05);
- ``"elites"`` (HalfCheetah): ``mu, sigma`` = mean and std of the top-``k`` actions (cross-entropy
  method), the elites being carried into the next iteration's candidate set.

The result is the best action of the last iteration's candidates and its Q. The search needs no
gradient of Q with respect to the action, so it can escape the local optima that trap the actor's
gradient ascent on a conservative (bumpy) Q; that is OMAR's "actor rectification".
All ``S`` candidates of all states and agents are scored in one batched critic call.
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from dom2lite.members import rng as draws
from dom2lite.nn.reduce import mean_over, softmax_over, std_over, sum_over

QFn = Callable[[torch.Tensor], torch.Tensor]  # [S, B, n, A] -> [S, B, n]


@torch.no_grad()
def zeroth_order_search(
    q_fn: QFn,
    mu: torch.Tensor,
    sigma: torch.Tensor | float,
    act_mask: torch.Tensor,
    iters: int = 3,
    n_samples: int = 10,
    n_elites: int = 5,
    update: str = "softmax",
    generator: draws.Generator = None,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Search for high-Q actions: ``mu [B, n, A]`` initial means -> ``(best_act [B, n, A], best_q [B, n])``.

    ``q_fn`` maps candidates ``[S, B, n, A]`` to Q ``[S, B, n]``. Padded dims (``act_mask`` False) stay 0.
    """
    if update not in ("softmax", "elites"):
        raise ValueError(f"update must be 'softmax' or 'elites', got {update!r}")
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    mask = act_mask.to(mu.dtype)  # [n, A]
    mu = mu * mask
    sigma = torch.as_tensor(sigma, dtype=mu.dtype, device=mu.device).expand_as(mu)  # [B, n, A]
    elite_act = elite_q = None
    for _ in range(iters):
        eps = draws.randn((n_samples, *mu.shape), generator, -2, device=mu.device, dtype=mu.dtype)  # [S, B, n, A]
        cand = ((mu + sigma * eps).clamp(-1.0, 1.0)) * mask  # [S, B, n, A]
        q = q_fn(cand)  # [S, B, n]
        if update == "softmax":
            w = softmax_over(q / temperature).unsqueeze(-1)  # [S, B, n, 1]
            mu = sum_over(w * cand)  # [B, n, A]
            sigma = mean_over((cand - mu) ** 2).sqrt()  # [B, n, A]
        else:
            if elite_act is not None:
                cand = torch.cat([cand, elite_act], dim=0)  # [S + k, B, n, A]
                q = torch.cat([q, elite_q], dim=0)  # [S + k, B, n]
            elite_q, idx = q.topk(n_elites, dim=0)  # [k, B, n]
            elite_act = cand.gather(0, idx.unsqueeze(-1).expand(-1, -1, -1, cand.shape[-1]))  # [k, B, n, A]
            mu, sigma = mean_over(elite_act), std_over(elite_act, correction=1 if n_elites > 1 else 0)  # [B, n, A]
    best_q, best = q.max(dim=0)  # [B, n]
    best_act = cand.gather(0, best.unsqueeze(0).unsqueeze(-1).expand(1, -1, -1, cand.shape[-1])).squeeze(0)
    return best_act, best_q  # [B, n, A], [B, n]
