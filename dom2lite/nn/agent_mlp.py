"""Per-agent networks with stacked weights: one batched matrix product per layer for all agents.

Every agent owns its own parameters (decentralised execution needs nothing else), but a Python loop
over agents costs a kernel launch per agent per layer; stacking the weights as ``[n_agents, in, out]``
and calling ``torch.baddbmm`` once evaluates all agents together. Explained in chapter 03.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from dom2lite.nn.mish import Mish

_ACTIVATIONS = {"mish": Mish, "silu": nn.SiLU, "relu": nn.ReLU, "tanh": nn.Tanh}


def make_activation(name: str) -> nn.Module:
    """An activation module by name: ``mish`` | ``silu`` | ``relu`` | ``tanh``."""
    try:
        return _ACTIVATIONS[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(_ACTIVATIONS)}") from None


class _AgentMajorGrad(torch.autograd.Function):
    """Identity forward; backward hands on the gradient as a contiguous agent-major tensor."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        return grad.contiguous()


def agent_major_grad(x: torch.Tensor) -> torch.Tensor:
    """Mark an agent-major network output ``[n, B, out]`` that callers transpose to ``[B, n, out]``.

    The gradient then reaches the last layer as a contiguous ``[n, B, out]`` tensor instead of a
    transposed view of ``[B, n, out]``. The bias gradient is a sum over the batch. In the transposed
    layout, PyTorch vectorises that sum across all ``n * out`` outputs together, so its rounding depends on
    how many agents there are. In the contiguous layout each agent's sum is computed on its own. Members
    (K runs side by side on the agent axis, the Cost appendix) then get exactly their solo runs' gradients.
    A no-op without autograd."""
    return _AgentMajorGrad.apply(x) if x.requires_grad and torch.is_grad_enabled() else x


class AgentLinear(nn.Module):
    """``n_agents`` independent linear layers applied in one call.

    Input ``[n_agents, B, in_features]`` -> output ``[n_agents, B, out_features]`` (agent-major, so the
    batched product needs no copy). Each agent's slice is initialised like ``nn.Linear``.
    """

    def __init__(self, n_agents: int, in_features: int, out_features: int):
        super().__init__()
        self.n_agents, self.in_features, self.out_features = n_agents, in_features, out_features
        self.weight = nn.Parameter(torch.empty(n_agents, in_features, out_features))  # [n, in, out]
        self.bias = nn.Parameter(torch.empty(n_agents, 1, out_features))  # [n, 1, out]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_features)  # nn.Linear's default (kaiming_uniform, a=sqrt(5))
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: [n, B, in]
        return torch.baddbmm(self.bias, x, self.weight)  # [n, B, out]

    def extra_repr(self) -> str:
        return f"n_agents={self.n_agents}, in={self.in_features}, out={self.out_features}"


NORMS = ("none", "layer")


class AgentMLP(nn.Module):
    """An MLP per agent, all agents in one batched call.

    ``norm="layer"`` puts a layer normalisation (no learned scale or shift) between every hidden linear
    layer and its activation: each hidden vector then has mean 0 and unit variance whatever the input,
    so the output is bounded by the last layer's weights (a critic with it cannot extrapolate to far
    values on inputs unlike its data; measured on a DOM2 critic in chapter 07).

    ``forward(x)`` takes ``[B, n_agents, in_dim]`` and returns ``[B, n_agents, out_dim]``;
    ``forward_agent_major`` skips the two transposes for callers that already hold ``[n_agents, B, in]``.
    """

    def __init__(
        self,
        n_agents: int,
        in_dim: int,
        out_dim: int,
        hidden: Sequence[int] = (256, 256, 256),
        activation: str = "mish",
        out_activation: str | None = None,
        norm: str = "none",
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"unknown norm {norm!r}; choose from {NORMS}")
        dims = [in_dim, *hidden, out_dim]
        layers: list[nn.Module] = []
        for i, (d_in, d_out) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(AgentLinear(n_agents, d_in, d_out))
            if i < len(dims) - 2:
                if norm == "layer":  # per row and agent over the features; no parameters of its own
                    layers.append(nn.LayerNorm(d_out, elementwise_affine=False))
                layers.append(make_activation(activation))
        if out_activation is not None:
            layers.append(make_activation(out_activation))
        self.net = nn.Sequential(*layers)
        self.n_agents, self.in_dim, self.out_dim = n_agents, in_dim, out_dim

    def forward_agent_major(self, x: torch.Tensor) -> torch.Tensor:  # [n, B, in] -> [n, B, out]
        return self.net(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [B, n, in] -> [B, n, out]
        if x.dim() != 3 or x.shape[1] != self.n_agents or x.shape[2] != self.in_dim:
            raise ValueError(
                f"AgentMLP expects [B, {self.n_agents}, {self.in_dim}], got {tuple(x.shape)}"
            )
        return agent_major_grad(self.net(x.transpose(0, 1))).transpose(0, 1)
