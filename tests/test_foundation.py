"""Profiles, seeding, thread pinning, device choice, atomic writes, per-agent batched MLPs."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

import dom2lite
from dom2lite.io import atomic_write, atomic_write_json
from dom2lite.nn import AgentLinear, AgentMLP
from dom2lite.profiles import Profile, ProfileError, current_profile, pick


def test_profile_switch(monkeypatch):
    monkeypatch.setenv("DOM2LITE_PROFILE", "full")
    assert current_profile() is Profile.FULL
    assert pick(smoke=1, book=2, full=3) == 3
    monkeypatch.setenv("DOM2LITE_PROFILE", "smoke")
    assert pick(smoke=1, book=2, full=3) == 1
    monkeypatch.delenv("DOM2LITE_PROFILE")
    assert current_profile() is Profile.BOOK  # the default
    assert pick(1, 2, 3, profile="smoke") == 1


def test_bad_profile_names_the_variable(monkeypatch):
    monkeypatch.setenv("DOM2LITE_PROFILE", "huge")
    with pytest.raises(ProfileError, match="DOM2LITE_PROFILE"):
        current_profile()


def test_seed_everything_repeats_and_rejects_bad_seeds():
    dom2lite.seed_everything(3)
    a = (torch.rand(4), np.random.rand(2))
    rng = dom2lite.seed_everything(3)
    b = (torch.rand(4), np.random.rand(2))
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert isinstance(rng, np.random.Generator)
    with pytest.raises(ValueError, match="seed"):
        dom2lite.seed_everything(-1)


def test_pin_threads(monkeypatch):
    before = torch.get_num_threads()
    try:
        assert dom2lite.pin_threads(1) == 1
        monkeypatch.setenv("DOM2LITE_THREADS", "2")
        assert dom2lite.pin_threads() == 2
        with pytest.raises(ValueError):
            dom2lite.pin_threads(0)
    finally:
        torch.set_num_threads(before)


def test_resolve_device(monkeypatch):
    monkeypatch.delenv("DOM2LITE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert dom2lite.resolve_device().type == expected
    monkeypatch.setenv("DOM2LITE_DEVICE", "cpu")
    assert dom2lite.resolve_device() == torch.device("cpu")
    assert dom2lite.resolve_device(torch.device("cpu")) == torch.device("cpu")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA is not available"):
            dom2lite.resolve_device("cuda")


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "sub" / "result.json"
    atomic_write_json(path, {"a": 1})

    def broken(fh):
        fh.write(b'{"a": ')
        raise KeyboardInterrupt  # an interruption half-way through the write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, broken)
    assert path.read_text().strip().startswith("{") and '"a": 1' in path.read_text()
    assert os.listdir(path.parent) == ["result.json"]  # no temporary file left behind


def test_agent_linear_equals_a_loop_of_linears():
    torch.manual_seed(0)
    layer = AgentLinear(3, 4, 5)
    x = torch.randn(3, 7, 4)  # [n_agents, B, in]
    y = layer(x)  # [n_agents, B, out]
    for j in range(3):
        ref = x[j] @ layer.weight[j] + layer.bias[j]
        torch.testing.assert_close(y[j], ref)


def test_agent_mlp_agents_are_independent():
    torch.manual_seed(0)
    mlp = AgentMLP(3, 6, 2, hidden=(16, 16), activation="silu")
    x = torch.randn(10, 3, 6)  # [B, n_agents, obs_dim]
    y = mlp(x)
    assert y.shape == (10, 3, 2)
    x2 = x.clone()
    x2[:, 1] += 1.0  # change agent 1's input only
    y2 = mlp(x2)
    assert torch.equal(y[:, 0], y2[:, 0]) and torch.equal(y[:, 2], y2[:, 2])
    assert not torch.allclose(y[:, 1], y2[:, 1])
    # gradients reach each agent's own weights only
    y[:, 0].sum().backward()
    first = mlp.net[0].weight.grad
    assert first[0].abs().sum() > 0 and first[1].abs().sum() == 0 and first[2].abs().sum() == 0


def test_agent_mlp_rejects_wrong_shapes():
    mlp = AgentMLP(3, 6, 2, hidden=(8,))
    with pytest.raises(ValueError, match=r"\[B, 3, 6\]"):
        mlp(torch.randn(4, 2, 6))
    with pytest.raises(ValueError, match="unknown activation"):
        AgentMLP(3, 6, 2, activation="swishy")
