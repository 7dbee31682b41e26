"""Analytic floating-point operation count of one DOM2 training step (matrix products only).

A linear layer ``in -> out`` costs ``2 * in * out`` FLOPs per sample forward. Backward costs the same
again for the weight gradient (``W``) and once more for the input gradient (``I``), so a full
forward + backward is 3x the forward. The count skips what autograd skips:

- no input gradient into the first layer when its input is data (the critic on data-set actions, the
  time MLP on the fixed sinusoidal features);
- no weight gradients for the critic inside the actor loss (``backward(inputs=actor_params)``): there the
  critic costs forward + input gradient, 2x.

Activations, the optimiser, the Polyak/EMA updates and the sampler's arithmetic are not counted: they
are cheap in FLOPs (but not in time, which is why they show up in the profile, not here).
Per-step totals are ``per_sample_per_agent * batch * n_agents``.
"""

from __future__ import annotations


def linear_flops(sizes: list[int]) -> list[int]:
    """Forward FLOPs per sample of each linear layer of an MLP with layer widths ``sizes``."""
    return [2 * a * b for a, b in zip(sizes[:-1], sizes[1:])]


def mlp_cost(sizes: list[int], weight_grad: bool, input_grad: bool, first_input_grad: bool) -> int:
    """Forward (+ weight gradients) (+ input gradients, the first layer's only if asked) per sample."""
    layers = linear_flops(sizes)
    total = sum(layers)
    if weight_grad:
        total += sum(layers)
    if input_grad:
        total += sum(layers) - (0 if first_input_grad else layers[0])
    return total


def dom2_step_flops(obs_dim: int = 18, act_dim: int = 5, hidden=(256, 256, 256), t_dim: int = 16,
                    n_steps: int = 5, batch: int = 256, n_agents: int = 3, cql_alpha: float = 0.0,
                    cql_n_actions: int = 10, cql_policy_actions: bool = False) -> dict[str, float]:
    """FLOPs of one ``DOM2.update`` with local critics, by part; ``"total"`` is the sum (per step)."""
    hidden = list(hidden)
    time_sizes, eps_sizes = [t_dim, 2 * t_dim, t_dim], [act_dim + obs_dim + t_dim, *hidden, act_dim]
    q_sizes = [obs_dim + act_dim, *hidden, 1]

    def eps(train: bool) -> int:  # one eps-model pass; in training the concatenated input needs its gradient
        return (mlp_cost(time_sizes, train, train, first_input_grad=False)
                + mlp_cost(eps_sizes, train, train, first_input_grad=True))

    def q(weight_grad: bool, input_grad: bool) -> int:  # one critic head
        return mlp_cost(q_sizes, weight_grad, input_grad, first_input_grad=input_grad and not weight_grad)

    parts = {
        "target_actions": n_steps * eps(False),  # EMA actor chain, no gradient
        "target_q": 2 * q(False, False),  # both target heads
        "critic": 2 * q(True, True),  # both heads on data: forward + weight grads + input grads but layer 1
        "actor_chain": n_steps * eps(True),  # chain with gradients
        "noise_loss": eps(True),
        "actor_q": q(False, True),  # head 1 on the sampled actions: forward + input gradients
    }
    if cql_alpha > 0:
        m = cql_n_actions * (3 if cql_policy_actions else 1)
        parts["cql_q"] = m * 2 * q(True, True)  # both heads on M sampled actions, with backward
        if cql_policy_actions:
            parts["cql_policy_samples"] = 2 * n_steps * eps(False)  # policy at o and o', no gradient
    scale = batch * n_agents
    out = {k: float(v * scale) for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out


def matmul_flops(n: int) -> float:
    """``2 n^3`` for an ``n x n`` by ``n x n`` product."""
    return 2.0 * n**3
