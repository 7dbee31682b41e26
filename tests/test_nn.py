"""Building blocks: the fast Mish matches torch's, stacked per-agent layers equal separate ones."""

from __future__ import annotations

import torch

from dom2lite.nn import AgentMLP
from dom2lite.nn.mish import mish


def test_fast_mish_matches_torch_values_and_gradients():
    x = torch.linspace(-40.0, 40.0, 20_001)
    torch.testing.assert_close(mish(x), torch.nn.functional.mish(x), atol=2e-6, rtol=1e-5)
    x = torch.randn(64, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(mish, (x,))
    a = torch.randn(257, requires_grad=True)
    b = a.detach().clone().requires_grad_(True)
    mish(a).pow(2).sum().backward()
    torch.nn.functional.mish(b).pow(2).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-4)


def test_agent_mlp_equals_one_network_per_agent():
    torch.manual_seed(0)
    net = AgentMLP(3, 4, 2, hidden=(8, 8), activation="mish")
    x = torch.randn(5, 3, 4)  # [B, n_agents, in]
    out = net(x)  # [B, n_agents, out]
    for j in range(3):
        h = x[:, j]
        layers = [m for m in net.net if hasattr(m, "weight")]
        for i, layer in enumerate(layers):
            h = h @ layer.weight[j] + layer.bias[j]
            if i < len(layers) - 1:
                h = torch.nn.functional.mish(h)
        torch.testing.assert_close(out[:, j], h, atol=1e-5, rtol=1e-5)
