"""The CQL(H) regulariser as pure functions (Kumar et al. 2020, arXiv 2006.04779; as used by OMAR).

For agent j and a state (o, here the critic's input context), CQL(H) adds to the critic loss

    cql_alpha * ( T log ∫ exp(Q(o, a) / T) da  -  E_{a ~ D}[Q(o, a)] ),

pushing Q down on every action in proportion to exp(Q / T) (the log-sum-exp is a soft maximum) and up
on the data-set actions. Where Q is high on actions the data never showed, the first term dominates
and the penalty is large; where Q is highest on the data actions, it is small.

The integral over the action box is estimated by importance sampling from a mixture of proposals:
M samples ``a_i`` with proposal log-densities ``log p_i``,

    T log ∫ exp(Q/T) da  ≈  T ( logsumexp_i( Q(o, a_i) / T - log p_i ) - log M ).

The proposals are (i) K uniform actions on agent j's real action box [-1, 1]^{d_j} — density
``2^{-d_j}``, with ``d_j`` the agent's *real* action dimensions, not the padded width — and optionally
(ii) K noisy copies of the current policy's action at o and (iii) K at the next observation o'
(evaluated at o, as in the CQL code), each with its Gaussian log-density. Deterministic actors have no
density of their own, so the policy proposals add Gaussian noise of std ``sigma`` and use that density
(OMAR's choice). Each group is its own importance-sampling estimator and the ``- log M`` averages
them. Only the uniform group is exact for the box integral: a noisy policy action that leaves the box is
clipped back onto it (as in CQL and OMAR) yet weighted by its unclipped density, which biases that
group's level; its job is to put samples where the policy goes, where an over-estimate matters most.

Two deliberate differences from the CQL reference code, both documented in chapter 05:
``- log M`` is subtracted so the estimate is a (consistent) Monte-Carlo estimate of the soft maximum —
it is a constant and does not change any gradient; and the temperature divides Q only, not the log
density (identical at the usual T = 1).
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

import math

import torch

from dom2lite.nn.reduce import logsumexp_over, mean_over


def uniform_log_density(act_mask: torch.Tensor) -> torch.Tensor:
    """Log-density of the uniform distribution on each agent's real box: ``-d_j log 2``, shape ``[n]``."""
    d = act_mask.to(torch.float32).sum(-1)  # [n]
    return -d * math.log(2.0)


def gaussian_log_density(noise: torch.Tensor, sigma: float, act_mask: torch.Tensor) -> torch.Tensor:
    """Log-density of isotropic Gaussian ``noise [..., n, A]`` with std ``sigma`` over the real dims: ``[..., n]``."""
    mask = act_mask.to(noise.dtype)  # [n, A]
    per_dim = -0.5 * (noise / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2.0 * math.pi)  # [..., n, A]
    return (per_dim * mask).sum(-1)  # [..., n]


def cql_logsumexp(
    q_rand: torch.Tensor,
    log_p_rand: torch.Tensor,
    q_pi: torch.Tensor | None = None,
    log_p_pi: torch.Tensor | None = None,
    q_pi_next: torch.Tensor | None = None,
    log_p_pi_next: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Importance-sampled soft maximum ``T log ∫ exp(Q/T) da`` per state and agent: ``[B, n]``.

    ``q_rand [K, B, n]`` with ``log_p_rand`` broadcastable to it (``[n]`` from :func:`uniform_log_density`);
    optional policy groups ``q_pi, q_pi_next [K, B, n]`` with log-densities of the same shape.
    """
    groups = [q_rand / temperature - log_p_rand]  # [K, B, n]
    for q, log_p, name in ((q_pi, log_p_pi, "q_pi"), (q_pi_next, log_p_pi_next, "q_pi_next")):
        if q is None:
            continue
        if log_p is None:
            raise ValueError(f"{name} needs its proposal log-density")
        groups.append(q / temperature - log_p)
    stacked = torch.cat(groups, dim=0)  # [M, B, n]
    return temperature * (logsumexp_over(stacked) - math.log(stacked.shape[0]))  # [B, n]


def cql_penalty(
    q_data: torch.Tensor,
    q_rand: torch.Tensor,
    log_p_rand: torch.Tensor,
    q_pi: torch.Tensor | None = None,
    log_p_pi: torch.Tensor | None = None,
    q_pi_next: torch.Tensor | None = None,
    log_p_pi_next: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> torch.Tensor:
    """CQL(H) penalty per agent, averaged over the batch: ``[n]``.

    ``mean_B( soft-max estimate of Q over actions  -  Q(o, a_data) )`` with ``q_data [B, n]``; multiply by
    ``cql_alpha`` and add to the TD loss. Gradients flow into every Q argument.
    """
    lse = cql_logsumexp(q_rand, log_p_rand, q_pi, log_p_pi, q_pi_next, log_p_pi_next, temperature)  # [B, n]
    return mean_over(lse - q_data)  # [n]
