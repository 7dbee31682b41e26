"""Twin critics: input switch, batched many-action calls, layouts, targets, per-agent clipping."""

from __future__ import annotations

import pytest
import torch

from dom2lite.algos.grad import clip_grad_norm_per_agent
from dom2lite.critics.targets import frozen_copy, polyak_update, td_target
from dom2lite.critics.twin_q import TwinQ, critic_in_dim, own_slot_joint_action
from dom2lite.errors import ConfigError

N, O, A, S, B = 3, 5, 2, 7, 6


def _data(seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(B, N, O, generator=g), torch.rand(B, N, A, generator=g) * 2 - 1,
            torch.randn(B, S, generator=g), torch.rand(B, N, A, generator=g) * 2 - 1)


def _critic(critic_input, layout="stacked", seed=0, norm="none"):
    torch.manual_seed(seed)
    return TwinQ(N, O, A, S, critic_input, hidden=(16, 16), activation="relu", layout=layout, norm=norm)


@pytest.mark.parametrize("critic_input", ["local", "state", "joint"])
@pytest.mark.parametrize("layout", ["stacked", "separate"])
@pytest.mark.parametrize("norm", ["none", "layer"])
def test_shapes_heads_and_many_agree(critic_input, layout, norm):
    q = _critic(critic_input, layout, norm=norm)
    obs, act, state, others = _data()
    q1, q2 = q(obs, act, state, others)
    assert q1.shape == q2.shape == (B, N) and not torch.equal(q1, q2)
    assert torch.allclose(q.q1(obs, act, state, others), q1, atol=1e-6)
    acts = torch.rand(4, B, N, A) * 2 - 1  # [M, B, n, A]
    m1, m2 = q.many(obs, acts, state, others)
    assert m1.shape == (4, B, N)
    for i in range(4):  # one batched call == M separate calls
        r1, r2 = q(obs, acts[i], state, others)
        assert torch.allclose(m1[i], r1, atol=1e-5) and torch.allclose(m2[i], r2, atol=1e-5)
    assert torch.allclose(q.many_q1(obs, acts, state, others), m1, atol=1e-6)


def test_layouts_compute_the_same_function():
    stacked, separate = _critic("joint", "stacked"), _critic("joint", "separate", seed=1)
    with torch.no_grad():
        for ls, l1, l2 in zip(stacked.net.net, separate.net1.net, separate.net2.net):
            if hasattr(ls, "weight"):
                l1.weight.copy_(ls.weight[:N]), l1.bias.copy_(ls.bias[:N])
                l2.weight.copy_(ls.weight[N:]), l2.bias.copy_(ls.bias[N:])
    obs, act, state, _ = _data()
    for a, b in zip(stacked(obs, act, state), separate(obs, act, state)):
        assert torch.allclose(a, b, atol=1e-6)


def test_layer_norm_bounds_the_critic_on_far_inputs():
    obs, act, _, _ = _data()
    plain, normed = _critic("local"), _critic("local", norm="layer")  # the same weights: a norm has none
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), normed.parameters()))
    last = normed.net.net[-1]  # [2n, 16, 1]: |Q - b| <= sum |w| max relu(LN(h)) <= sum |w| sqrt(16)
    bound = (last.weight.abs().sum(1).squeeze(-1) * 4.0 + last.bias.abs().reshape(-1)).detach()  # [2n]
    with torch.no_grad():
        for far in (1.0, 1e3, 1e6):
            q = torch.cat(normed(obs * far, act), dim=1)  # [B, 2n]
            assert (q.abs() <= bound).all()
        near, away = torch.cat(plain(obs, act), 1), torch.cat(plain(obs * 1e3, act), 1)
    assert away.abs().max() > 50 * near.abs().max()  # without the norm a ReLU critic grows with its input


def test_input_switch_sees_what_it_should():
    obs, act, state, _ = _data()
    obs2 = obs.clone()
    obs2[:, 2] += 1.0  # change agent 2's observation only
    state2 = state + 1.0
    local, joint, glob = _critic("local"), _critic("joint"), _critic("state")
    d_local = local(obs2, act, state)[0] - local(obs, act, state)[0]
    assert torch.equal(d_local[:, :2], torch.zeros(B, 2)) and (d_local[:, 2] != 0).all()
    d_joint = joint(obs2, act, state)[0] - joint(obs, act, state)[0]
    assert (d_joint != 0).all()  # every centralised critic sees agent 2's observation
    assert torch.equal(glob(obs2, act, state)[0], glob(obs, act, state)[0])  # state critics ignore obs
    assert (glob(obs, act, state2)[0] != glob(obs, act, state)[0]).all()
    assert critic_in_dim("local", N, O, A, S) == O + A
    assert critic_in_dim("state", N, O, A, S) == S + A
    assert critic_in_dim("joint", N, O, A, S) == N * (O + A)


def test_joint_action_puts_own_action_in_own_slot():
    act = torch.arange(B * N * A, dtype=torch.float32).reshape(B, N, A).requires_grad_()
    others = -torch.ones(B, N, A)
    joint = own_slot_joint_action(act, others).reshape(B, N, N, A)  # [B, row, slot, A]
    for j in range(N):
        for k in range(N):
            expect = act[:, j] if j == k else others[:, k]
            assert torch.equal(joint[:, j, k], expect)
    joint[:, 1].sum().backward()  # row 1 depends on agent 1's action only
    assert act.grad[:, 1].eq(1).all() and act.grad[:, [0, 2]].eq(0).all()


def test_td_target_bootstraps_through_truncation_not_termination():
    rew = torch.tensor([[1.0, 2.0], [1.0, 2.0]])
    q1n, q2n = torch.tensor([[5.0, 3.0], [5.0, 3.0]]), torch.tensor([[4.0, 6.0], [4.0, 6.0]])
    y = td_target(rew, torch.tensor([0.0, 1.0]), q1n, q2n, gamma=0.5)
    assert torch.equal(y[0], torch.tensor([1.0 + 0.5 * 4.0, 2.0 + 0.5 * 3.0]))  # min of the heads
    assert torch.equal(y[1], rew[1])  # terminal: no bootstrap


def test_polyak_and_frozen_copy():
    src = _critic("local")
    tgt = frozen_copy(src)
    assert all(not p.requires_grad for p in tgt.parameters())
    before = [p.clone() for p in tgt.parameters()]
    with torch.no_grad():
        for p in src.parameters():
            p.add_(1.0)
    polyak_update(tgt, src, 0.25)
    for b, t in zip(before, tgt.parameters()):
        assert torch.allclose(t, b + 0.25, atol=1e-6)
    polyak_update(tgt, src, 1.0)
    for s, t in zip(src.parameters(), tgt.parameters()):
        assert torch.equal(s, t)


def test_bad_switch_values_raise_config_errors():
    with pytest.raises(ConfigError, match="critic_input"):
        TwinQ(N, O, A, S, "global")
    with pytest.raises(ConfigError, match="twin_layout"):
        TwinQ(N, O, A, S, "local", layout="interleaved")
    with pytest.raises(ValueError, match="norm"):
        TwinQ(N, O, A, S, "local", norm="batch")
    with pytest.raises(ValueError, match="global state"):
        _critic("state")(*_data()[:2])


@pytest.mark.parametrize("layout", ["stacked", "separate"])
def test_per_agent_clipping_leaves_other_agents_alone(layout):
    q = _critic("local", layout)
    obs, act, state, _ = _data()
    q1, q2 = q(obs, act, state)
    (q1[:, 0].sum() * 1e4 + q1[:, 1].sum() * 1e-4 + q2[:, 1].sum() * 1e-4).backward()
    grads = [p.grad.clone() for p in q.parameters()]
    norms = clip_grad_norm_per_agent(q.parameters(), N, max_norm=1.0)
    assert norms.shape == (N,) and norms[0] > 1.0 and norms[1] < 1.0 and norms[2] == 0
    after = clip_grad_norm_per_agent(q.parameters(), N, max_norm=0.0)  # 0 = measure only
    assert after[0] == pytest.approx(1.0, rel=1e-4)
    # agent 1's gradient is untouched; agent 0's is scaled down
    for g0, p in zip(grads, q.parameters()):
        k = p.shape[0] // N
        idx1 = [1 + i * N for i in range(k)]
        assert torch.equal(p.grad[idx1], g0[idx1])
