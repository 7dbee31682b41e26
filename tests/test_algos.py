"""The algorithm harness every offline algorithm goes through (d3rlpy-style), plus configs and pieces.

For each registered algorithm: a few updates on a tiny synthetic data set give finite float metrics;
actions have the right shape, lie in [-1, 1] with padded dims exactly 0, and depend on the agent's own
observation only; save -> load into a differently seeded instance gives identical actions and an
identical next update; same seed -> identical weights, other seed -> different ones.
Algorithms registered but not importable yet (DOM2 before chapter 07 lands) are skipped.
"""

from __future__ import annotations

import dataclasses
import io
import json
import types

import numpy as np
import pytest
import torch

from dom2lite.algos import ALGOS, CALIBRATED, algo_class, canonical_name, config_for, make_algo
from dom2lite.algos.zeroth_order import zeroth_order_search
from dom2lite.data.batch import Batch
from dom2lite.errors import CheckpointError, ConfigError

N, O, A, S, B = 3, 6, 4, 10, 16
MASK = np.ones((N, A), dtype=bool)
MASK[2, 2:] = False  # agent 2 has a smaller action space (like world's lead adversary vs the others)
SPEC = types.SimpleNamespace(n_agents=N, obs_dim=O, act_dim=A, state_dim=S, act_mask=MASK)

# Tiny sizes for the harness, applied to whichever of these fields an algorithm's config has.
TINY = dict(hidden=(16, 16), cql_n_actions=3, omar_n_samples=4, omar_n_elites=2, omar_iters=2,
            n_diffusion_steps=2, batch_size=B, policy_delay=2)


def make_batch(seed: int) -> Batch:
    g = torch.Generator().manual_seed(seed)
    mask = torch.as_tensor(MASK, dtype=torch.float32)
    return Batch(
        obs=torch.randn(B, N, O, generator=g),
        act=(torch.rand(B, N, A, generator=g) * 2 - 1) * mask,
        rew=torch.randn(B, N, generator=g),
        next_obs=torch.randn(B, N, O, generator=g),
        state=torch.randn(B, S, generator=g),
        next_state=torch.randn(B, S, generator=g),
        terminated=(torch.rand(B, generator=g) < 0.2).float(),
    )


def available():
    names = []
    for name in ALGOS:
        try:
            algo_class(name)
        except ConfigError:
            names.append(pytest.param(name, marks=pytest.mark.skip(reason=f"{name} not importable yet")))
            continue
        names.append(name)
    return names


def tiny(name: str, seed: int = 0, **extra):
    cls = algo_class(name)
    known = {f.name for f in dataclasses.fields(cls.config_class)}
    values = {k: v for k, v in {**TINY, **extra}.items() if k in known}
    return make_algo(name, SPEC, config_for(name, "spread", seed=seed, **values), device="cpu")


def params(algo) -> torch.Tensor:
    """Every parameter, target copies included (they are submodules)."""
    return torch.cat([p.detach().flatten() for p in algo.parameters()])


def roundtrip(state):
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    return torch.load(buffer, weights_only=True)


@pytest.mark.parametrize("name", available())
def test_harness(name):
    algo = tiny(name)
    before = params(algo)
    for step in range(3):
        metrics = algo.update(make_batch(step))
        assert metrics and all(type(v) is float and np.isfinite(v) for v in metrics.values()), metrics
    if any(k.startswith("q_") for k in metrics):
        assert metrics["q_min"] <= metrics["q_mean"] <= metrics["q_max"]
    assert not torch.equal(params(algo), before)

    obs = make_batch(10).obs
    act = algo.act(obs)
    assert act.shape == (B, N, A) and act.dtype == torch.float32
    assert act.abs().max() <= 1.0
    assert torch.equal(act[:, 2, 2:], torch.zeros(B, 2))  # padded dims exactly 0
    assert algo.act(obs[0]).shape == (1, N, A)  # a single joint observation
    with pytest.raises(ValueError, match="expects obs"):
        algo.act(torch.zeros(B, N, O + 1))

    # decentralised execution: agent 0's action ignores the other agents' observations
    obs2 = obs.clone()
    obs2[:, 1:] = torch.randn(B, N - 1, O)
    assert torch.equal(algo.act(obs2)[:, 0], act[:, 0])

    # save -> load into a fresh instance built from another seed: identical actions and next update
    state = roundtrip(algo.state_dict())
    clone = tiny(name, seed=123)
    assert not torch.equal(clone.act(obs), act)
    clone.load_state_dict(state)
    assert torch.equal(clone.act(obs), act)
    m1, m2 = algo.update(make_batch(5)), clone.update(make_batch(5))
    assert m1 == m2 and torch.equal(params(algo), params(clone))
    json.dumps(dataclasses.asdict(algo.config))  # the config goes into run folders


@pytest.mark.parametrize("name", available())
def test_same_seed_same_weights(name):
    runs = []
    for seed in (7, 7, 8):
        torch.manual_seed(seed * 31)  # the global random state must not matter
        algo = tiny(name, seed=seed)
        for step in range(4):
            algo.update(make_batch(step))
        runs.append(params(algo))
    assert torch.equal(runs[0], runs[1])
    assert not torch.equal(runs[0], runs[2])


def test_state_of_another_algorithm_is_refused():
    with pytest.raises(CheckpointError, match="algo"):
        tiny("omar").load_state_dict(tiny("cql").state_dict())


@pytest.mark.parametrize("critic_input", ["local", "state", "joint"])
@pytest.mark.parametrize("policy_actions", [False, True])
def test_cql_runs_with_every_critic_input(critic_input, policy_actions):
    algo = tiny("cql", critic_input=critic_input, cql_policy_actions=policy_actions, twin_layout="separate")
    for step in range(2):
        metrics = algo.update(make_batch(step))
    assert np.isfinite(metrics["cql_penalty"]) and np.isfinite(metrics["actor_loss"])


def test_cql_pushes_random_action_q_below_data_q():
    # One fixed batch, zero rewards, terminal: the TD part pulls Q toward 0 everywhere it is fitted;
    # the CQL part must make unseen (random) actions look worse than the data actions.
    batch = make_batch(0)
    batch = dataclasses.replace(batch, rew=torch.zeros(B, N), terminated=torch.ones(B))
    algo = tiny("cql", cql_lagrange=False, cql_alpha=1.0, cql_n_actions=8, policy_delay=1, critic_lr=0.01)
    for _ in range(60):
        metrics = algo.update(batch)
    assert metrics["q_rand_mean"] < metrics["q_mean"] - 0.5


@pytest.mark.parametrize("target, direction", [(-50.0, 1), (50.0, -1)])
def test_cql_lagrange_weight_follows_the_gap(target, direction):
    # A target far below any gap reached: the weight must rise toward its bound; far above: fall toward 0.
    algo = tiny("cql", cql_lagrange=True, cql_alpha=2.0, cql_target_gap=target, policy_delay=1, critic_lr=0.05)
    first = algo.update(make_batch(0))["cql_alpha"]
    for step in range(1, 40):
        last = algo.update(make_batch(step))["cql_alpha"]
    assert 0.0 <= last <= 2.0
    assert (last - first) * direction > 0.02
    fixed = tiny("cql", cql_lagrange=False, cql_alpha=2.0).update(make_batch(0))["cql_alpha"]
    assert fixed == 2.0


def test_cql_hinge_stops_the_push_on_states_already_apart():
    """With ``cql_hinge`` a state whose gap is below the limit (T d log 2 + target) adds nothing; one above
    it gets exactly the push it gets without the hinge (the data action's Q raised by alpha / B)."""
    batch = make_batch(0)
    grads = {}
    for hinge in (False, True):
        algo = tiny("cql", cql_lagrange=False, cql_alpha=2.0, cql_hinge=hinge, cql_target_gap=-1.0)
        q1 = torch.zeros(B, N)
        q1[: B // 2] = 1e3  # data actions far above every sampled action: those states' gap is about -1e3
        q1.requires_grad_(True)
        q2 = q1.detach().clone().requires_grad_(True)
        pen, metrics = algo.critic_penalty(batch, q1, q2)
        pen.sum().backward()
        grads[hinge] = q1.grad
        assert metrics["cql_penalty"] < -400  # the logged gap is the raw one either way
    assert torch.all(grads[True][: B // 2] == 0) and torch.all(grads[False][: B // 2] == -2.0 / B)
    assert torch.equal(grads[True][B // 2 :], grads[False][B // 2 :])


def test_bc_learns_a_mapping():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(O, A, generator=g) * 0.3
    obs = torch.randn(64, N, O, generator=g)
    act = torch.tanh(obs @ w) * torch.as_tensor(MASK, dtype=torch.float32)
    batch = Batch(obs, act, torch.zeros(64, N), obs, torch.zeros(64, S), torch.zeros(64, S), torch.zeros(64))
    algo = make_algo("bc", SPEC, config_for("bc", "halfcheetah", hidden=(32, 32), actor_lr=3e-3), "cpu")
    first = algo.update(batch)["bc_loss"]
    for _ in range(150):
        last = algo.update(batch)["bc_loss"]
    assert last < 0.1 * first


def test_td3bc_delays_actor_and_normalises_q():
    algo = tiny("td3bc")
    m1 = algo.update(make_batch(0))
    assert "actor_loss" not in m1  # policy_delay 2: no actor step yet
    m2 = algo.update(make_batch(1))
    assert "actor_loss" in m2 and m2["lambda"] > 0


@pytest.mark.parametrize("update", ["softmax", "elites"])
def test_zeroth_order_search_finds_the_peak(update):
    peak = torch.tensor([0.6, -0.3, 0.2, 0.0])  # agent 2 has 2 real dims; the padded ones stay 0
    mask = torch.as_tensor(MASK)

    def q_fn(cand):  # [S, B, n, A] -> [S, B, n]
        return -((cand - peak * mask) ** 2).sum(-1) * 10.0

    def search(iters):
        g = torch.Generator().manual_seed(0)
        return zeroth_order_search(q_fn, torch.zeros(5, N, A), 1.0, mask, iters=iters, n_samples=200,
                                   n_elites=10, update=update, generator=g)

    start_q = q_fn(torch.zeros(1, 5, N, A))[0]  # Q at the initial mean: about -4.9 for agents 0, 1
    one, one_q = search(1)
    best, best_q = search(6)
    assert best.shape == (5, N, A) and best_q.shape == (5, N)
    assert torch.equal(best[:, 2, 2:], torch.zeros(5, 2))  # padded dims stay 0
    assert torch.allclose(best_q, q_fn(best.unsqueeze(0))[0])  # the reported Q is the action's Q
    assert best_q.mean() > one_q.mean() > start_q.mean()  # iterating refines the search
    # the elite (CEM) refit contracts onto the peak; the softmax refit keeps a wide spread (OMAR on MPE)
    tol = 0.05 if update == "elites" else 0.3
    assert (best - peak * mask).abs().max() < tol


def test_zeroth_order_softmax_temperature_is_in_units_of_q():
    # the same landscape at a tenth of the scale searches differently at temperature 1, and at
    # temperature 0.1 exactly as temperature 1 does on the full scale: only Q / T matters
    peak = torch.tensor([0.6, -0.3, 0.2, 0.0])
    mask = torch.as_tensor(MASK)

    def search(scale, temperature):
        q_fn = lambda cand: -((cand - peak * mask) ** 2).sum(-1) * scale  # noqa: E731
        g = torch.Generator().manual_seed(0)
        return zeroth_order_search(q_fn, torch.zeros(5, N, A), 1.0, mask, iters=4, n_samples=200,
                                   n_elites=10, update="softmax", generator=g, temperature=temperature)

    full, _ = search(10.0, 1.0)
    small_t1, _ = search(1.0, 1.0)
    small_t01, _ = search(1.0, 0.1)
    assert not torch.allclose(small_t1, full, atol=1e-2)
    assert torch.allclose(small_t01, full, atol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        search(1.0, 0.0)


def test_omar_search_started_at_the_policy_stays_local():
    # a search that starts at the policy's action with a tiny std can only return (almost) that action,
    # so the regression toward the better one is (almost) zero; from N(0, 2^2) it is not
    local = tiny("omar", omar_coe=1.0, policy_delay=1, omar_start="policy", omar_sigma=1e-4)
    wide = tiny("omar", omar_coe=1.0, policy_delay=1, omar_start="fixed", omar_sigma=2.0)
    assert local.update(make_batch(0))["omar_mimic"] < 1e-6
    assert wide.update(make_batch(0))["omar_mimic"] > 1e-3
    with pytest.raises(ConfigError, match="omar_start"):
        tiny("omar", omar_start="data")


def test_omar_loss_mixes_regression_and_q():
    # omar_coe = 1: the actor loss is the regression toward the searched action alone
    algo = tiny("omar", omar_coe=1.0, policy_delay=1, act_reg=0.0, omar_n_samples=16)
    metrics = algo.update(make_batch(0))
    assert metrics["actor_loss"] == pytest.approx(metrics["omar_mimic"], rel=1e-6)
    assert 0.0 <= metrics["omar_search_better"] <= 1.0
    # omar_coe = 0 (and no CQL): exactly MA-CQL's update; the search only draws numbers nobody uses
    runs = []
    for name, extra in (("omar", dict(omar_coe=0.0)), ("cql", dict(cql_actor_bc=0.0))):  # OMAR's MA-CQL
        algo = tiny(name, cql_alpha=0.0, policy_delay=1, **extra)
        for step in range(3):
            algo.update(make_batch(step))
        runs.append(params(algo))
    assert torch.equal(runs[0], runs[1])


def test_cql_actor_bc_is_td3bc_actor_loss():
    # With no CQL penalty and TD3's smoothing and delay, MA-CQL with cql_actor_bc = 0.4 is MA-TD3+BC
    # with alpha 2.5, update for update; with 0 its actor maximises Q alone (no behaviour-cloning metric).
    same = dict(critic_lr=1e-3, actor_lr=1e-3, act_reg=0.0, policy_noise=0.2, noise_clip=0.5, policy_delay=2)
    runs = []
    for name, extra in (("cql", dict(cql_alpha=0.0, cql_lagrange=False, cql_actor_bc=0.4)), ("td3bc", dict(bc_alpha=2.5))):
        algo = tiny(name, **same, **extra)
        metrics = [algo.update(make_batch(step)) for step in range(4)]
        runs.append(params(algo))
    assert "bc_loss" in metrics[-1]
    assert torch.equal(runs[0], runs[1])
    plain = tiny("cql", **same, cql_alpha=0.0, cql_lagrange=False, cql_actor_bc=0.0)
    assert "bc_loss" not in [plain.update(make_batch(step)) for step in range(2)][-1]
    for name in ("omar", "dom2"):  # their actors have their own losses
        with pytest.raises(ConfigError) as info:
            config_for(name, "spread", cql_actor_bc=0.4)
        assert info.value.field == "cql_actor_bc"


# ---------------------------------------------------------------------------------------- configs
def test_presets_per_dataset_and_overrides():
    cfg = config_for("omar", "tag", "medium")
    assert (cfg.hidden, cfg.gamma, cfg.actor_lr, cfg.batch_size) == ((64, 64), 0.95, 1e-3, 256)
    assert (cfg.omar_coe, cfg.cql_alpha, cfg.omar_update, cfg.cql_policy_actions) == (0.7, 5.0, "softmax", True)
    assert (cfg.cql_temp, cfg.omar_temp, cfg.cql_target_gap) == (0.1, 0.1, -0.75)
    assert (cfg.omar_start, cfg.omar_sigma) == ("policy", 0.3)
    hc = config_for("MA-CQL", "halfcheetah", "expert", seed=4)
    assert (hc.cql_alpha, hc.gamma, hc.cql_policy_actions, hc.seed) == (5.0, 0.99, True, 4)
    assert not hasattr(hc, "omar_coe")
    assert config_for("ma-td3+bc", "world").bc_alpha == 2.5
    assert config_for("omar", "spread", "random", cql_alpha=2.0).cql_alpha == 2.0  # overrides win
    assert canonical_name("MA-TD3+BC") == "td3bc" and canonical_name("OMAR") == "omar"


def test_calibrated_departures_apply_to_one_data_set_and_algorithm():
    # OMAR on world-medium departs from OMAR's table (omar_coe 0.1) as CALIBRATED records; nothing else moves
    cfg = config_for("omar", "world", "medium")
    assert (cfg.omar_coe, cfg.cql_hinge, cfg.cql_alpha) == (0.9, True, 0.5)
    assert CALIBRATED[("world", "medium", "omar")] == dict(omar_coe=0.9, cql_hinge=True)
    expert = config_for("omar", "world", "expert")
    assert (expert.omar_coe, expert.cql_hinge) == (0.9, False)
    assert config_for("omar", "world").cql_hinge is False  # no quality: no per-data-set values
    assert config_for("cql", "world", "medium").cql_hinge is False  # another algorithm on the same data
    table = config_for("omar", "world", "medium", omar_coe=0.1, cql_hinge=False)  # OMAR's own form: overrides win
    assert (table.omar_coe, table.cql_hinge) == (0.1, False)


@pytest.mark.parametrize("bad, field", [
    (dict(not_a_field=1), "not_a_field"),
    (dict(gamma=1.5), "gamma"),
    (dict(critic_input="global"), "critic_input"),
    (dict(critic_norm="batch"), "critic_norm"),
    (dict(omar_n_elites=50), "omar_n_elites"),
    (dict(hidden=()), "hidden"),
    (dict(cql_alpha=-1.0), "cql_alpha"),
    (dict(cql_actor_bc=-0.1), "cql_actor_bc"),
])
def test_bad_config_names_the_field(bad, field):
    with pytest.raises(ConfigError) as info:
        config_for("omar", "spread", **bad)
    assert info.value.field == field


def test_unknown_names_and_specs():
    with pytest.raises(ConfigError, match="algo"):
        make_algo("sac", SPEC)
    with pytest.raises(ConfigError, match="task"):
        config_for("cql", "hopper")
    with pytest.raises(ConfigError, match="quality"):
        config_for("cql", "spread", "great")
    bad_spec = types.SimpleNamespace(**{**vars(SPEC), "act_mask": np.ones((N, A + 1), bool)})
    with pytest.raises(ConfigError, match="act_mask"):
        make_algo("bc", bad_spec)
    algo = make_algo("bc", SPEC, {"hidden": [8], "seed": 2}, "cpu")  # a dict config, as read from JSON
    assert algo.config.hidden == (8,) and algo.config.seed == 2


class BatchSampler:
    """Synthetic batches from its own generator (stands in for the data-set sampler)."""

    def __init__(self, seed: int):
        self.gen = torch.Generator().manual_seed(seed)

    def sample(self, batch_size: int) -> Batch:
        return make_batch(int(torch.randint(0, 10_000, (1,), generator=self.gen)))

    def state_dict(self):
        return {"gen": self.gen.get_state()}

    def load_state_dict(self, state):
        self.gen.set_state(state["gen"])


@pytest.mark.parametrize("name", ["td3bc", "omar"])
def test_training_loop_in_pieces_is_bit_identical(name, tmp_path):
    from dom2lite.train.trainer import FitSchedule, fit

    schedule = FitSchedule(steps=6, log_every=1, eval_every=100, checkpoint_every=100)
    whole = tiny(name)
    log_whole = fit(whole, BatchSampler(0), B, schedule, tmp_path / "whole", progress=False)
    first = tiny(name)
    fit(first, BatchSampler(0), B, schedule, tmp_path / "pieces", progress=False, stop_after=2)
    second = tiny(name, seed=99)  # a new process: everything must come from the checkpoint
    log_pieces = fit(second, BatchSampler(5), B, schedule, tmp_path / "pieces", progress=False)
    assert torch.equal(params(whole), params(second))
    assert log_whole == log_pieces
