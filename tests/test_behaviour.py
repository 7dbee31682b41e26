"""Behaviour policies: MATD3 maths, replay buffer, rollouts, the resumable driver, snapshots, selection."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pytest
import torch

from dom2lite.behaviour import (
    MATD3,
    ReplayBuffer,
    default_config,
    load_snapshot,
    rollout_episodes,
    save_snapshot,
    select_medium,
    select_replay,
    train_behaviour,
)
from dom2lite.behaviour.matd3 import own_action_replaced, same_joint_action, smoothed_target_action, td3_target
from dom2lite.behaviour.train import read_curve, snapshot_paths
from dom2lite.errors import CheckpointError, ConfigError
from dom2lite.train.checkpoint import list_checkpoints
from dom2lite.train.runs import MetricsLog


# --- a tiny deterministic multi-agent environment with the dom2lite.envs interface --------------------
@dataclass(frozen=True)
class FakeSpec:
    task: str = "fake"
    n_agents: int = 2
    obs_dim: int = 4
    act_dim: int = 3
    state_dim: int = 8
    max_steps: int = 6
    obs_mask: np.ndarray = None
    act_mask: np.ndarray = None
    agent_names: tuple = ("a0", "a1")


FAKE = FakeSpec(obs_mask=np.ones((2, 4), bool), act_mask=np.array([[1, 1, 1], [1, 1, 0]], bool))


class FakeVectorEnv:
    """Agents move on a plane towards their own target; reward = -distance; an env whose agent 0 leaves
    the box |x| > 1.5 terminates (so early ends happen), else truncation at ``max_steps``."""

    def __init__(self, n_envs: int, spec: FakeSpec = FAKE):
        self.n_envs, self.spec = n_envs, spec

    def _obs(self):
        obs = np.concatenate([self.pos, self.target - self.pos], axis=-1).astype(np.float32)  # [E, n, 4]
        return obs, obs.reshape(self.n_envs, -1).copy()

    def reset(self, seed: int):
        rngs = [np.random.default_rng(seed + i) for i in range(self.n_envs)]
        self.pos = np.stack([r.uniform(-1, 1, (2, 2)) for r in rngs])
        self.target = np.stack([r.uniform(-1, 1, (2, 2)) for r in rngs])
        self.t = 0
        return self._obs()

    def step(self, act):
        act = np.asarray(act, np.float32)
        assert act.shape == (self.n_envs, 2, 3) and np.all(np.abs(act) <= 1.0)
        assert np.all(act[:, 1, 2] == 0.0), "padded action dims must be zero"
        self.pos = self.pos + 0.3 * act[..., :2]
        self.t += 1
        rew = -np.linalg.norm(self.target - self.pos, axis=-1).astype(np.float32)  # [E, n]
        terminated = np.abs(self.pos[:, 0, 0]) > 1.5
        truncated = np.full(self.n_envs, self.t >= self.spec.max_steps) & ~terminated
        obs, state = self._obs()
        return obs, state, rew, terminated, truncated


def fake_factory(n):
    return FakeVectorEnv(n)


def tiny_config(**kw):
    base = dict(hidden=(16, 16), batch_size=32, buffer_size=2_000, n_envs=3, start_steps=40,
                updates_per_step=0.5, snapshot_every=60, checkpoint_every=90, eval_episodes=4, total_steps=200)
    base.update(kw)
    return replace(default_config("spread"), **base)


def train_fake(tmp_path, steps=200, max_minutes=None, **kw):
    return train_behaviour("fake", seed=3, steps=steps, out=tmp_path, config=tiny_config(**kw),
                           max_minutes=max_minutes, progress=False, device="cpu",
                           venv_factory=fake_factory, spec=FAKE, command="test")


def actor_weights(run_dir):
    return load_snapshot(snapshot_paths(run_dir)[-1]).actor.state_dict()


# --- maths ------------------------------------------------------------------------------------------
def test_td3_target_bootstraps_through_truncation_only():
    rew = torch.tensor([[1.0, 2.0], [1.0, 2.0]])
    q1, q2 = torch.tensor([[5.0, 1.0], [5.0, 1.0]]), torch.tensor([[3.0, 4.0], [3.0, 4.0]])
    y = td3_target(rew, torch.tensor([0.0, 1.0]), q1, q2, gamma=0.5)
    assert torch.equal(y, torch.tensor([[1.0 + 0.5 * 3.0, 2.0 + 0.5 * 1.0], [1.0, 2.0]]))


def test_own_action_replaced_puts_the_policy_action_in_each_agents_own_slot():
    buf = torch.arange(12.0).reshape(1, 3, 4)  # [B=1, n=3, A=4]
    pol = -torch.arange(12.0).reshape(1, 3, 4) - 1
    joint = own_action_replaced(buf, pol).reshape(1, 3, 3, 4)  # [B, critic j, slot k, A]
    for j in range(3):
        for k in range(3):
            assert torch.equal(joint[0, j, k], (pol if j == k else buf)[0, k])
    same = same_joint_action(buf).reshape(1, 3, 3, 4)
    assert all(torch.equal(same[0, j], buf[0]) for j in range(3))


def test_smoothed_target_action_is_clipped_and_masked():
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    g = torch.Generator().manual_seed(0)
    a = smoothed_target_action(torch.full((500, 2, 3), 0.9), mask, policy_noise=1.0, noise_clip=0.5, generator=g)
    real = a[mask.expand(500, 2, 3).bool()]
    assert real.max() <= 1.0 and real.min() >= 0.4 - 1e-6  # 0.9 - 0.5, clipped at 1
    assert (real == 1.0).any() and (real < 0.9).any()  # the noise did act
    assert torch.all(a[:, 1, 2] == 0)


def test_actor_update_moves_each_agent_only_through_its_own_critic():
    cfg = tiny_config(policy_delay=1)
    learner = MATD3(2, 4, 3, 8, FAKE.act_mask, cfg, seed=0)
    rng = np.random.default_rng(0)
    buf = ReplayBuffer(100, 2, 4, 3, 8)
    buf.add(obs=rng.normal(size=(64, 2, 4)), act=rng.uniform(-1, 1, (64, 2, 3)) * FAKE.act_mask,
            rew=rng.normal(size=(64, 2)), next_obs=rng.normal(size=(64, 2, 4)), state=rng.normal(size=(64, 8)),
            next_state=rng.normal(size=(64, 8)), terminated=np.zeros(64))
    before = {k: v.clone() for k, v in learner.actor.state_dict().items()}
    m = learner.update(buf.sample(32, rng))
    assert {"critic_loss", "actor_loss", "q_mean"} <= set(m)
    after = learner.actor.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # the padded action dim of agent 1 is zero whatever the actor outputs
    assert np.all(learner.act(rng.normal(size=(5, 2, 4)))[:, 1, 2] == 0)


# --- replay buffer ----------------------------------------------------------------------------------
def test_replay_buffer_wraps_and_round_trips():
    buf = ReplayBuffer(5, 1, 2, 1, 2)
    for i in range(7):
        buf.add(obs=np.full((1, 1, 2), i), act=np.zeros((1, 1, 1)), rew=np.full((1, 1), i),
                next_obs=np.zeros((1, 1, 2)), state=np.zeros((1, 2)), next_state=np.zeros((1, 2)),
                terminated=np.zeros(1))
    assert len(buf) == 5 and buf.ptr == 2
    assert sorted(buf.data["rew"][:, 0].tolist()) == [2, 3, 4, 5, 6]
    other = ReplayBuffer(5, 1, 2, 1, 2)
    other.load_state_dict(buf.state_dict())
    r1, r2 = np.random.default_rng(1), np.random.default_rng(1)
    assert torch.equal(buf.sample(8, r1).rew, other.sample(8, r2).rew)
    with pytest.raises(ValueError, match="capacity"):
        ReplayBuffer(6, 1, 2, 1, 2).load_state_dict(buf.state_dict())


# --- rollouts ---------------------------------------------------------------------------------------
def test_rollout_records_episode_major_transitions_and_drops_steps_after_an_early_end():
    env = FakeVectorEnv(3)
    roll = rollout_episodes(env, None, n_episodes=7, seed=11, act_mask=FAKE.act_mask, max_steps=6,
                            rng=np.random.default_rng(0), record=True, episode_offset=100)
    tr = roll.transitions
    assert roll.returns.shape == (7,) and tr["episode"].min() == 100 and tr["episode"].max() == 106
    assert len(tr["obs"]) == roll.lengths.sum()
    for e in range(100, 107):
        rows = np.flatnonzero(tr["episode"] == e)
        assert np.all(np.diff(rows) == 1)  # contiguous
        ends = tr["terminated"][rows] | tr["truncated"][rows]
        assert ends[-1] and not ends[:-1].any()  # exactly one end, at the last row
        assert np.allclose(tr["next_obs"][rows[:-1]], tr["obs"][rows[1:]])  # consecutive steps chain
        assert np.isclose(tr["rew"][rows].mean(axis=1).sum(), roll.returns[e - 100])
    assert np.all(tr["act"][:, 1, 2] == 0) and np.all(np.abs(tr["act"]) <= 1)
    # the same call gives the same episodes; another seed gives others
    again = rollout_episodes(FakeVectorEnv(3), None, 7, 11, FAKE.act_mask, 6, rng=np.random.default_rng(0))
    assert np.array_equal(again.returns, roll.returns)
    other = rollout_episodes(FakeVectorEnv(3), None, 7, 12, FAKE.act_mask, 6, rng=np.random.default_rng(0))
    assert not np.array_equal(other.returns, roll.returns)


def test_rollout_needs_an_rng_for_noise():
    with pytest.raises(ValueError, match="rng"):
        rollout_episodes(FakeVectorEnv(2), lambda o: np.zeros((2, 2, 3)), 2, 0, FAKE.act_mask, 6, noise_std=0.1)


# --- training driver --------------------------------------------------------------------------------
def test_training_is_deterministic_for_a_seed(tmp_path):
    a = train_fake(tmp_path / "a")
    b = train_fake(tmp_path / "b")
    assert a.done and a.step >= 200
    wa, wb = actor_weights(a.run_dir), actor_weights(b.run_dir)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert a.curve == b.curve
    c = train_behaviour("fake", seed=4, steps=200, out=tmp_path / "c", config=tiny_config(), progress=False,
                        venv_factory=fake_factory, spec=FAKE)
    wc = actor_weights(c.run_dir)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa)


def test_resume_from_checkpoint_equals_an_uninterrupted_run(tmp_path):
    full = train_fake(tmp_path / "full", steps=240)
    # piece 1 stops at once after its first batch of episodes (max_minutes=0), writing a checkpoint
    part = train_fake(tmp_path / "piece", steps=240, max_minutes=0)
    assert not part.done and 0 < part.step < 240
    part = train_fake(tmp_path / "piece", steps=120)  # piece 2: a shorter target, finished
    assert part.done
    part = train_fake(tmp_path / "piece", steps=240)  # piece 3: continue to the full length
    assert part.done and part.step == full.step
    wf, wp = actor_weights(full.run_dir), actor_weights(part.run_dir)
    assert all(torch.equal(wf[k], wp[k]) for k in wf)
    full_curve = dict(full.curve)
    assert all(full_curve[s] == r for s, r in part.curve if s in full_curve)
    # the metrics log of the pieces has each evaluation once, as an uninterrupted run would
    evals = [r["step"] for r in MetricsLog(part.run_dir).read() if "eval/return_mean" in r]
    assert len(evals) == len(set(evals)) == len(part.curve)


def test_a_killed_piece_is_redone_from_the_previous_checkpoint(tmp_path):
    first = train_fake(tmp_path, steps=240)
    weights, curve = actor_weights(first.run_dir), first.curve
    ckpts = list_checkpoints(first.run_dir)
    assert len(ckpts) == 2  # the newest two are kept
    ckpts[-1].unlink()  # as if the piece had been killed before writing its last checkpoint
    again = train_fake(tmp_path, steps=240)
    assert again.step == first.step and again.curve == curve
    assert all(torch.equal(weights[k], actor_weights(again.run_dir)[k]) for k in weights)
    evals = [r["step"] for r in MetricsLog(again.run_dir).read() if "eval/return_mean" in r]
    assert evals == [s for s, _ in curve]


def test_snapshots_cover_start_and_end_and_round_trip(tmp_path):
    out = train_fake(tmp_path)
    steps = [s for s, _ in out.curve]
    assert steps[0] == 0 and steps[-1] == out.step and steps == sorted(steps)
    pol = load_snapshot(snapshot_paths(out.run_dir)[-1])
    obs = np.random.default_rng(0).normal(size=(5, 2, 4)).astype(np.float32)
    act = pol(obs)
    assert act.shape == (5, 2, 3) and np.all(act[:, 1, 2] == 0) and np.all(np.abs(act) <= 1)
    path = tmp_path / "copy.pt"
    save_snapshot(path, pol.actor, pol.act_mask_np, **{k: pol.meta[k] for k in
                                                      ("task", "hidden", "activation", "step", "eval_return")})
    again = load_snapshot(path)
    assert np.array_equal(again(obs), act) and again.step == pol.step and again.eval_return == pol.eval_return
    assert read_curve(out.run_dir) == out.curve


def test_corrupt_snapshot_and_changed_config_raise_typed_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(CheckpointError):
        load_snapshot(bad)
    train_fake(tmp_path, steps=60)
    with pytest.raises(ConfigError, match="hidden"):
        train_fake(tmp_path, steps=60, hidden=(8,))


# --- quality selection ------------------------------------------------------------------------------
def test_select_medium_picks_the_return_closest_to_halfway_earliest_on_ties():
    assert select_medium([-100, -80, -60, -40], random_return=-100, expert_return=-20) == 2
    assert select_medium([-100, -70, -50], random_return=-100, expert_return=-20) == 1  # -70 and -50 tie
    with pytest.raises(ValueError):
        select_medium([], -1, 0)


def test_select_replay_spreads_snapshots_evenly_up_to_medium():
    steps = list(range(0, 110, 10))
    idx = select_replay(steps, medium_index=8, k=5)
    assert idx == [0, 2, 4, 6, 8]
    assert select_replay(steps, medium_index=2, k=5) == [0, 1, 2]
    assert select_replay(steps, medium_index=0, k=5) == [0]


# --- command line -----------------------------------------------------------------------------------
def test_behaviour_cli_parses_its_subcommands():
    import argparse

    from dom2lite.behaviour.cli import _parse_set, register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    a = parser.parse_args(["behaviour", "train", "--task", "spread", "--seed", "1", "--steps", "500",
                           "--max-minutes", "2", "--set", "hidden=[32, 32]", "--set", "exploration_std=0.2"])
    assert (a.task, a.seed, a.steps, a.max_minutes) == ("spread", 1, 500, 2.0)
    overrides = _parse_set(a.set)
    assert overrides == {"hidden": (32, 32), "exploration_std": 0.2}
    assert default_config("spread", **overrides).hidden == (32, 32)
    with pytest.raises(ConfigError, match="nonsense"):
        default_config("spread", nonsense=1)
    e = parser.parse_args(["behaviour", "export", "--task", "tag"])
    assert (e.task, e.seed, e.n_replay) == ("tag", 0, 5)
    with pytest.raises(SystemExit):
        parser.parse_args(["behaviour", "train", "--task", "pong"])
