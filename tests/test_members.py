"""Seeds as a batch dimension: K members in one process train, evaluate, save and resume as K solo runs."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dom2lite.algos import config_for, make_algo
from dom2lite.cli_values import seed_list
from dom2lite.data.sampler import TransitionSampler
from dom2lite.errors import CheckpointError, ConfigError
from dom2lite.members import rng as draws
from dom2lite.members.algo import member_state_dict, stack_batches, stack_members
from dom2lite.members.rng import MemberGenerators
from dom2lite.members.stack import stack_tensor
from dom2lite.train.checkpoint import list_checkpoints, load_checkpoint_file
from dom2lite.train.experiment import dataset_spec
from helpers_data import save_tiny, tiny_dataset, tiny_spread

SEEDS = [0, 1, 2]
ALGOS = ["bc", "td3bc", "cql", "omar", "dom2"]


@pytest.fixture(scope="module")
def tiny():
    """3 agents, the last one padded (a smaller action and observation), terminals in every third episode."""
    return tiny_dataset(n_agents=3, obs_dim=6, act_dim=3, state_dim=7, episodes=10, episode_len=8, terminal_every=3)


def build(name, dataset, seed, **fields):
    cfg = config_for(name, "spread", "medium", seed=seed, hidden=(16, 16), batch_size=32, **fields)
    algo = make_algo(name, dataset_spec(dataset), cfg, "cpu")
    if hasattr(algo, "set_reward_scale"):  # a per-member reward scale and critic start, as runs have them
        algo.set_reward_scale(0.5 + 0.1 * seed)
        algo.start_q_at(torch.full((3,), -1.0 - seed))
    return algo


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b)) + 1e-7


# ------------------------------------------------------------------------------------------ random draws
def test_member_draws_are_each_members_solo_draws():
    gens = MemberGenerators.seeded([3, 4])
    solo = [torch.Generator().manual_seed(s) for s in (3, 4)]
    wide = draws.randn((5, 2 * 3, 4), gens, -2)  # [B, K n, A]
    assert torch.equal(wide, torch.cat([torch.randn(5, 3, 4, generator=g) for g in solo], dim=1))
    wide = draws.rand((2, 5, 2 * 3, 4), gens, 2)  # [M, B, K n, A]
    assert torch.equal(wide, torch.cat([torch.rand(2, 5, 3, 4, generator=g) for g in solo], dim=2))
    wide = draws.randint(1, 6, (5, 2 * 3), gens, -1)  # [B, K n]
    assert torch.equal(wide, torch.cat([torch.randint(1, 6, (5, 3), generator=g) for g in solo], dim=1))
    plain = torch.Generator().manual_seed(9)
    assert torch.equal(draws.randn((5, 3), plain, -1), torch.randn(5, 3, generator=torch.Generator().manual_seed(9)))
    with pytest.raises(ValueError, match="does not hold 2 members"):
        draws.randn((5, 3), gens, -1)


# ------------------------------------------------------------------------------------------ stacking
@pytest.mark.parametrize("name", ALGOS)
def test_stacking_round_trip_returns_every_members_state(name, tiny):
    solos = [build(name, tiny, s) for s in SEEDS]
    for solo in solos:  # optimiser moments and counters exist only after a few updates
        sampler = TransitionSampler(tiny, "cpu", seed=solo.config.seed)
        for _ in range(3):
            solo.update(sampler.sample(32))
    wide = stack_members(solos)
    assert wide.members == 3 and wide.n_agents == 9
    for k, solo in enumerate(solos):
        got, want = member_state_dict(wide, k), solo.state_dict()
        assert got["modules"].keys() == want["modules"].keys()
        for key in want["modules"]:
            assert torch.equal(got["modules"][key], want["modules"][key]), key
        for opt in want["optimisers"]:
            for i, entry in want["optimisers"][opt]["state"].items():
                for field, value in entry.items():
                    assert torch.equal(torch.as_tensor(got["optimisers"][opt]["state"][i][field]),
                                       torch.as_tensor(value)), (opt, i, field)
        assert torch.equal(got["generator"], want["generator"]) and got["updates"] == want["updates"]
        fresh = build(name, tiny, solo.config.seed)
        fresh.load_state_dict(got)  # an ordinary solo checkpoint


def test_members_must_differ_only_in_their_seed(tiny):
    with pytest.raises(ConfigError, match="eta"):
        stack_members([build("dom2", tiny, 0), build("dom2", tiny, 1, eta=0.5)])
    with pytest.raises(ConfigError, match="distinct seeds"):
        stack_members([build("bc", tiny, 0), build("bc", tiny, 0)])
    with pytest.raises(ConfigError, match="share an algorithm"):
        stack_members([build("cql", tiny, 0), build("omar", tiny, 1)])
    a, b = build("bc", tiny, 0), build("bc", tiny, 1)
    a.update(TransitionSampler(tiny, "cpu", seed=0).sample(32))
    with pytest.raises(ConfigError, match="different steps"):
        stack_members([a, b])


# ------------------------------------------------------------------------------------------ training
CASES = [(name, "local", 200) for name in ALGOS] + [
    (name, ci, 60) for name in ("td3bc", "cql", "omar", "dom2") for ci in ("state", "joint")]


@pytest.mark.parametrize("name,critic_input,steps", CASES, ids=[f"{n}-{c}" for n, c, _ in CASES])
def test_members_train_exactly_as_their_solo_runs(name, critic_input, steps, tiny):
    """Every member's logged losses equal its solo run's to a relative 1e-5 over ``steps`` steps (measured
    on this CPU: bit for bit), and so do its weights."""
    fields = {} if name == "bc" else {"critic_input": critic_input}
    solo_logs, solo_states = [], []
    for seed in SEEDS:
        algo, sampler = build(name, tiny, seed, **fields), TransitionSampler(tiny, "cpu", seed=seed)
        solo_logs.append([algo.update(sampler.sample(32)) for _ in range(steps)])
        solo_states.append(algo.state_dict()["modules"])
    wide = stack_members([build(name, tiny, s, **fields) for s in SEEDS])
    samplers = [TransitionSampler(tiny, "cpu", seed=s) for s in SEEDS]
    wide_logs = [wide.update(stack_batches([s.sample(32) for s in samplers])) for _ in range(steps)]
    for k in range(len(SEEDS)):
        for step, (want, got) in enumerate(zip(solo_logs[k], (row[k] for row in wide_logs))):
            assert got.keys() == want.keys()
            bad = {key: (got[key], want[key]) for key in want if not close(got[key], want[key])}
            assert not bad, f"member {k} differs from its solo run at step {step}: {bad}"
        modules = member_state_dict(wide, k)["modules"]
        for key, value in solo_states[k].items():
            torch.testing.assert_close(modules[key], value, rtol=1e-5, atol=1e-6)


def test_members_act_as_their_solo_runs(tiny):
    solos = [build("dom2", tiny, s) for s in SEEDS]
    obs = torch.randn(4, 3, 6)
    want = torch.cat([s.act(obs) for s in solos], dim=1)  # [B, K n, A]
    wide = stack_members(solos)
    assert torch.equal(wide.act(obs.repeat(1, 3, 1)), want)


# ------------------------------------------------------------------------------------------ runs
ENV = {**os.environ, "DOM2LITE_THREADS": "1", "OMP_NUM_THREADS": "1", "DOM2LITE_DEVICE": "cpu"}
STEPS = 30


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    pytest.importorskip("mpe2")
    root = tmp_path_factory.mktemp("data")
    save_tiny(tiny_spread(episodes=12), root / "spread-expert-s0.npz")
    return root


def train_command(data_dir: Path, run_dir: str, *seeds: str, algo: str = "dom2") -> list[str]:
    return [sys.executable, "-m", "dom2lite", "train", "--task", "spread", "--algo", algo, "--profile", "smoke",
            "--data-dir", str(data_dir), "--run-dir", run_dir, "--steps", str(STEPS), "--checkpoint-every", "5",
            "--eval-every", "10", "--eval-episodes", "2", "--set", "n_diffusion_steps=2", "--no-progress", *seeds]


def rows(run_dir: Path) -> list[dict]:
    out = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    for row in out:
        row.pop("eval/joint_steps_per_second", None)  # wall-clock speed, the only thing allowed to differ
    return out


def final_modules(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint_file(list_checkpoints(run_dir)[-1])["algo"]["modules"]


@pytest.fixture(scope="module")
def solo_runs(data_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("solo")
    for seed in (0, 1):
        subprocess.run(train_command(data_dir, str(root / f"s{seed}"), "--seed", str(seed)), env=ENV, check=True,
                       capture_output=True, timeout=300)
    return root


def test_members_write_the_run_folders_of_their_solo_runs(data_dir, solo_runs, tmp_path):
    """Metrics (losses, evaluation returns, calibration) and final weights equal the solo runs'."""
    out = subprocess.run(train_command(data_dir, str(tmp_path / "m{seed}"), "--seeds", "0-1"), env=ENV, check=True,
                         capture_output=True, text=True, timeout=300)
    assert "seed 1: finished" in out.stdout
    for seed in (0, 1):
        member, solo = tmp_path / f"m{seed}", solo_runs / f"s{seed}"
        assert rows(member) == rows(solo)
        assert any("eval/mean" in r and "calib/bias" in r for r in rows(member))
        a, b = final_modules(member), final_modules(solo)
        assert all(torch.equal(a[key], b[key]) for key in b)
        config = json.loads((member / "config.json").read_text())
        assert config["seed"] == seed and config["members"]["seeds"] == [0, 1]
        for name in ("evaluate", "plot"):  # an ordinary run folder to the other commands
            extra = ["--episodes", "1"] if name == "evaluate" else ["--out", str(tmp_path / "c.png")]
            subprocess.run([sys.executable, "-m", "dom2lite", name, str(member), *extra], env=ENV, check=True,
                           capture_output=True, timeout=300)


def test_sigkill_resumes_every_member(data_dir, solo_runs, tmp_path):
    template = str(tmp_path / "m{seed}")
    proc = subprocess.Popen(train_command(data_dir, template, "--seeds", "0-1"), env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if all(len(list_checkpoints(tmp_path / f"m{s}")) >= 1 for s in (0, 1)):
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "m1" / "result.json").exists(), "the run finished before the kill"
    # as if the kill fell between the two members' checkpoint writes: member 1 is one checkpoint behind
    newest = list_checkpoints(tmp_path / "m1")
    if len(newest) == 2:
        newest[-1].unlink()
    subprocess.run(train_command(data_dir, template, "--seeds", "0-1"), env=ENV, check=True, capture_output=True,
                   timeout=300)
    for seed in (0, 1):
        assert rows(tmp_path / f"m{seed}") == rows(solo_runs / f"s{seed}")


def test_a_member_folder_continues_as_a_solo_run(data_dir, solo_runs, tmp_path):
    subprocess.run([*train_command(data_dir, str(tmp_path / "m{seed}"), "--seeds", "0-1"), "--stop-after", "12"],
                   env=ENV, check=True, capture_output=True, timeout=300)
    subprocess.run(train_command(data_dir, str(tmp_path / "m1"), "--seed", "1"), env=ENV, check=True,
                   capture_output=True, timeout=300)
    assert rows(tmp_path / "m1") == rows(solo_runs / "s1")
    # the members are now 18 steps apart: resuming them together is refused, naming both folders
    out = subprocess.run(train_command(data_dir, str(tmp_path / "m{seed}"), "--seeds", "0-1"), env=ENV,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "at different steps" in out.stderr and "m0 at step 12" in out.stderr and "m1 at step 30" in out.stderr
    # a single seed with a template is one member folder named by its seed
    subprocess.run([*train_command(data_dir, str(tmp_path / "one{seed}"), "--seeds", "1"), "--stop-after", "5"],
                   env=ENV, check=True, capture_output=True, timeout=300)
    assert (tmp_path / "one1" / "config.json").is_file()


def test_seed_lists():
    assert seed_list("0-4") == [0, 1, 2, 3, 4]
    assert seed_list("0,2, 7") == [0, 2, 7]
    assert seed_list("0-2,9") == [0, 1, 2, 9]
    for bad in ("3-1", "0,0", "a", "-1", "0-"):
        with pytest.raises(argparse.ArgumentTypeError):
            seed_list(bad)


@pytest.mark.parametrize("args,message", [
    (["--seed", "1", "--seeds", "0-2"], "--seed or --seeds, not both"),
    (["--seeds", "0-2", "--run-dir", "runs/x"], "names no {seed}"),
    (["--seeds", "2-0"], "runs backwards"),
])
def test_bad_seed_options_are_one_line_errors(args, message, data_dir):
    out = subprocess.run([sys.executable, "-m", "dom2lite", "train", "--task", "spread", "--algo", "bc",
                          "--data-dir", str(data_dir), "--profile", "smoke", *args], env=ENV, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert message in out.stderr


def test_values_members_share_must_agree():
    with pytest.raises(CheckpointError, match="differs from member 0"):
        stack_tensor([torch.zeros(3), torch.ones(3)], torch.Size([3]), 3, "schedule")
    assert torch.equal(stack_tensor([torch.zeros(()), torch.ones(())], torch.Size([2]), 3), torch.tensor([0.0, 1.0]))
