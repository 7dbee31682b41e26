"""The benchmark's yardstick does the same maths as dom2lite, its FLOP count adds up, its report works.

Timings are not tested here (they belong to ``benchmarks/bench_dom2.py``); these checks are small and fast.
"""

import json
import types

import numpy as np
import pytest
import torch

from benchmarks.bench_dom2 import main
from benchmarks.chapters import toc_files
from benchmarks.compare import compare, target_status
from benchmarks.flops import dom2_step_flops, mlp_cost
from benchmarks.reference_dom2 import ReferenceDOM2
from dom2lite.algos import config_for, make_algo
from dom2lite.diffusion import noise_prediction_loss, sample

N_AGENTS, OBS, ACT, HIDDEN = 3, 18, 5, (32, 32)


@pytest.fixture(scope="module")
def pair():
    """A small dom2lite DOM2 and a reference whose per-agent networks hold dom2lite's weights."""
    spec = types.SimpleNamespace(n_agents=N_AGENTS, obs_dim=OBS, act_dim=ACT, state_dim=54,
                                 act_mask=np.ones((N_AGENTS, ACT), bool))
    cfg = config_for("dom2", "spread", "medium", cql_alpha=0.0, hidden=HIDDEN)
    algo = make_algo("dom2", spec, cfg, "cpu")
    ref = ReferenceDOM2(N_AGENTS, OBS, ACT, HIDDEN, cfg.n_diffusion_steps)

    def copy_stack(agent_mlp, sequential, j):  # AgentLinear slice j -> the nn.Linear layers of one agent
        stacked = [m for m in agent_mlp.net if hasattr(m, "weight")]
        plain = [m for m in sequential if isinstance(m, torch.nn.Linear)]
        assert len(stacked) == len(plain)
        with torch.no_grad():
            for s, p in zip(stacked, plain):
                p.weight.copy_(s.weight[j].T)
                p.bias.copy_(s.bias[j, 0])

    for j, ag in enumerate(ref.agents):
        copy_stack(algo.actor.time_mlp, ag.actor.model.time_mlp, j)
        copy_stack(algo.actor.net, ag.actor.model.mid, j)
        copy_stack(algo.critic.net, ag.critic.q1_model, j)  # stacked heads: agents 0..n-1 are head 1
        copy_stack(algo.critic.net, ag.critic.q2_model, N_AGENTS + j)
    return algo, ref


def test_reference_samples_the_same_actions(pair):
    algo, ref = pair
    g = torch.Generator().manual_seed(0)
    obs, x_T = torch.randn(64, N_AGENTS, OBS, generator=g), torch.randn(64, N_AGENTS, ACT, generator=g)
    with torch.no_grad():
        ours = sample(algo.actor, algo.schedule, obs, solver="dpm1", x_T=x_T)  # [B, n, A]
        theirs = torch.stack([ag.actor.sample(obs[:, j], x=x_T[:, j]) for j, ag in enumerate(ref.agents)], 1)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_reference_noise_loss_and_critics_match(pair):
    algo, ref = pair
    g = torch.Generator().manual_seed(1)
    obs, act = torch.randn(64, N_AGENTS, OBS, generator=g), torch.rand(64, N_AGENTS, ACT, generator=g) * 2 - 1
    with torch.no_grad():
        ours = noise_prediction_loss(algo.actor, algo.schedule, act, obs, torch.Generator().manual_seed(5),
                                     reduction="agent")  # [n]
        g2 = torch.Generator().manual_seed(5)  # the same draws, in the same order
        steps = torch.randint(1, algo.schedule.n_steps + 1, (64, N_AGENTS), generator=g2)
        noise = torch.randn(act.shape, generator=g2)
        theirs = torch.stack([ag.actor.loss(act[:, j], obs[:, j], steps[:, j], noise[:, j])
                              for j, ag in enumerate(ref.agents)])
        q1, q2 = algo.critic(obs, act)  # [B, n]
        r1, r2 = zip(*(ag.critic(obs[:, j], act[:, j]) for j, ag in enumerate(ref.agents)))
    assert torch.allclose(ours, theirs, atol=1e-5)
    assert torch.allclose(q1, torch.stack(r1, 1), atol=1e-5) and torch.allclose(q2, torch.stack(r2, 1), atol=1e-5)


def test_reference_update_runs_and_moves_weights(pair):
    from benchmarks.bench_dom2 import make_batch

    ref = ReferenceDOM2(N_AGENTS, OBS, ACT, HIDDEN, 5, ema_start=0, ema_every=1)
    before = [p.clone() for p in ref.agents[0].ema_actor.parameters()]
    logs = ref.update(make_batch())
    assert np.isfinite(logs["critic_loss"]) and np.isfinite(logs["actor_loss"])
    assert any(not torch.equal(a, b) for a, b in zip(before, ref.agents[0].ema_actor.parameters()))
    assert ref.act(torch.randn(2, N_AGENTS, OBS)).shape == (2, N_AGENTS, ACT)


def test_flop_count_by_hand():
    # one layer 4 -> 3: forward 24; + weight grads 48; + input grads 72; first-layer input grad skipped: 48
    assert mlp_cost([4, 3], False, False, False) == 24
    assert mlp_cost([4, 3], True, True, True) == 72
    assert mlp_cost([4, 3], True, True, False) == 48
    f = dom2_step_flops(hidden=(256, 256, 256), batch=1, n_agents=1)
    eps_fwd = 2 * (16 * 32 + 32 * 16) + 2 * (39 * 256 + 2 * 256 * 256 + 256 * 5)
    assert f["target_actions"] == 5 * eps_fwd
    assert f["total"] == sum(v for k, v in f.items() if k != "total")
    g = dom2_step_flops(hidden=(256, 256, 256), batch=256, n_agents=3)
    assert 6e9 < g["total"] < 8e9  # the figure the README quotes
    cql = dom2_step_flops(cql_alpha=1.0, cql_n_actions=10, cql_policy_actions=True)
    assert cql["cql_q"] == 30 * g["critic"] and "cql_policy_samples" in cql


def test_compare_flags_regressions_by_direction():
    now = {"step_ms": 12.0, "eval_steps_per_s": 800.0, "step_ms_reference": 30.0, "act_b1_ms": 1.0}
    before = {"step_ms": 10.0, "eval_steps_per_s": 1000.0, "step_ms_reference": 20.0, "act_b1_ms": 1.05}
    out = compare(now, before)
    assert out["step_ms"]["regression"] and out["eval_steps_per_s"]["regression"]
    assert not out["act_b1_ms"]["regression"]
    assert not out["step_ms_reference"]["regression"]  # the yardstick's own figure is shown, not flagged
    assert target_status("step_speedup", 2.5) == "PASS" and target_status("act_b1_ms", 1.2) == "FAIL"
    assert target_status("step_ms", 3.0) == ""


def test_toc_lists_existing_chapters():
    from pathlib import Path

    files = toc_files(Path(__file__).resolve().parent.parent / "book")
    assert files[0].name == "index.md" and all(f.exists() for f in files)


def test_main_writes_json_and_compares(tmp_path, capsys):
    out = tmp_path / "latest.json"
    result = main(["--quick", "--only", "act", "--threads", "1", "--out", str(out),
                   "--compare", str(tmp_path / "no.json")])
    stored = json.loads(out.read_text())
    assert stored["metrics"]["act_b1_ms"] == result["metrics"]["act_b1_ms"] > 0
    assert stored["machine"]["threads"] == 1 and "git_commit" in stored["provenance"]
    assert stored["targets"]["act_b1_ms"]["status"] in ("PASS", "FAIL")
    (tmp_path / "prev.json").write_text(json.dumps({"metrics": {"act_b1_ms": 1e-6}}))
    main(["--quick", "--only", "act", "--threads", "1", "--out", "", "--compare", str(tmp_path / "prev.json")])
    assert "REGRESSION" in capsys.readouterr().out
