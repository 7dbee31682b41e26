"""The fast Mish matches torch's values and gradients (stacked layers are tested in test_foundation)."""

from __future__ import annotations

import torch

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
