"""End-to-end training runs: the command line, run folders, resume after SIGKILL, refusing mixed runs."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from dom2lite.errors import ConfigError
from dom2lite.train.checkpoint import list_checkpoints, load_checkpoint_file
from dom2lite.train.experiment import train_run
from helpers_data import save_tiny, tiny_spread

pytest.importorskip("mpe2")
STEPS = 40


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """A small synthetic data set with the shapes of spread (3 agents, obs 18, act 5, state 54)."""
    root = tmp_path_factory.mktemp("data")
    save_tiny(tiny_spread(episodes=12), root / "spread-expert-s0.npz")
    return root


def train_command(data_dir: Path, run_dir: Path, algo: str = "dom2") -> list[str]:
    return [sys.executable, "-m", "dom2lite", "train", "--task", "spread", "--algo", algo, "--profile", "smoke",
            "--data-dir", str(data_dir), "--run-dir", str(run_dir), "--steps", str(STEPS), "--checkpoint-every", "3",
            "--eval-every", "1000", "--eval-episodes", "1", "--set", "n_diffusion_steps=2", "--set", "hidden=[32,32]",
            "--no-progress"]


def final_modules(run_dir: Path) -> dict[str, torch.Tensor]:
    last = list_checkpoints(run_dir)[-1]
    assert last.name == f"ckpt_{STEPS:08d}.pt"
    return load_checkpoint_file(last)["algo"]["modules"]


ENV = {**os.environ, "DOM2LITE_THREADS": "1", "OMP_NUM_THREADS": "1", "DOM2LITE_DEVICE": "cpu"}


def test_sigkill_then_resume_gives_identical_weights(data_dir, tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    subprocess.run(train_command(data_dir, straight), env=ENV, check=True, capture_output=True, timeout=300)

    kill_at = random.Random().randint(4, STEPS - 8)  # a random step, after at least one checkpoint
    proc = subprocess.Popen(train_command(data_dir, killed), env=ENV, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    metrics = killed / "metrics.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()] if metrics.exists() else []
        if rows and rows[-1]["step"] >= kill_at:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list_checkpoints(killed), "killed before the first checkpoint"
    assert not (killed / "result.json").exists(), f"the run finished before the kill at step {kill_at}"

    subprocess.run(train_command(data_dir, killed), env=ENV, check=True, capture_output=True, timeout=300)
    a, b = final_modules(straight), final_modules(killed)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after resuming from a kill at step {kill_at}"
    finals = [json.loads((d / "result.json").read_text())["final_eval"] for d in (killed, straight)]
    for final in finals:
        final.pop("eval/joint_steps_per_second")  # wall-clock speed, the only thing allowed to differ
    assert finals[0] == finals[1]


def test_run_folder_refuses_another_configuration(data_dir, tmp_path):
    run = tmp_path / "run"
    kw = dict(data_dir=data_dir, run_dir=run, steps=4, eval_every=100, eval_episodes=1, profile="smoke",
              progress=False, device="cpu")
    result = train_run("spread", "bc", "expert", 0, **kw)
    assert result.finished and result.final_eval is not None
    config = json.loads((run / "config.json").read_text())
    assert config["algo"] == "bc" and config["algo_config"]["hidden"] == [32, 32]  # the smoke budget
    assert config["provenance"]["git_commit"]
    assert config["provenance"]["torch_threads"] == torch.get_num_threads()  # CPU results repeat at this count
    # ... on this kind of processor: the instruction set torch's kernels use is recorded beside the model
    assert config["provenance"]["cpu"]["capability"] == torch.backends.cpu.get_cpu_capability()
    assert config["provenance"]["cpu"]["model"]
    with pytest.raises(ConfigError, match="cql_alpha|algo"):
        train_run("spread", "cql", "expert", 0, **kw)


def test_a_field_added_since_a_run_started_resumes_at_its_default_only(data_dir, tmp_path):
    # A run whose config.json predates a field (here: cql_actor_bc) resumes when the field keeps its
    # default (the behaviour the run had) and is refused when it is set to something else, as today's
    # MA-CQL preset sets it (0.4): a preset that changed since does not silently continue an old run.
    run = tmp_path / "run"
    kw = dict(data_dir=data_dir, run_dir=run, steps=4, checkpoint_every=2, eval_every=100, eval_episodes=1,
              profile="smoke", progress=False, device="cpu")
    old = {"cql_actor_bc": 0.0}  # the field's default: the behaviour before it existed
    assert not train_run("spread", "cql", "expert", 0, stop_after=2, overrides=old, **kw).finished
    path = run / "config.json"
    config = json.loads(path.read_text())
    del config["algo_config"]["cql_actor_bc"]
    path.write_text(json.dumps(config))
    for refused in ({"cql_actor_bc": 0.4}, None):
        with pytest.raises(ConfigError, match="algo_config"):
            train_run("spread", "cql", "expert", 0, overrides=refused, **kw)
    assert train_run("spread", "cql", "expert", 0, overrides=old, **kw).finished


def test_command_line_wins_over_presets(data_dir, tmp_path):
    result = train_run("spread", "cql", "expert", 1, data_dir=data_dir, run_dir=tmp_path / "r", steps=2,
                       eval_episodes=1, profile="smoke", progress=False, device="cpu",
                       overrides={"cql_alpha": 0.25, "hidden": [8]})
    config = json.loads((result.run_dir / "config.json").read_text())["algo_config"]
    assert config["cql_alpha"] == 0.25 and config["hidden"] == [8] and config["seed"] == 1


def test_missing_data_set_names_the_command_that_makes_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="data generate --task spread --quality medium"):
        train_run("spread", "bc", "medium", 0, data_dir=tmp_path, profile="smoke", progress=False)


@pytest.fixture(scope="module")
def smoke_data(tmp_path_factory):
    """Smoke-size random data sets of every task, made by the package's own generator."""
    from dom2lite.data.ensure import ensure_dataset

    root = tmp_path_factory.mktemp("smoke_data")
    for task in ("spread", "tag", "world", "halfcheetah"):
        if task == "halfcheetah":
            pytest.importorskip("gymnasium_robotics")
        ensure_dataset(task, "random", profile="smoke", root=root, progress=False)
    return root / "smoke"


@pytest.mark.parametrize("task", ["spread", "tag", "world", "halfcheetah"])
def test_every_algorithm_trains_on_every_task_from_the_command_line(task, smoke_data, tmp_path):
    from dom2lite.cli import main

    for algo in ("bc", "td3bc", "cql", "omar", "dom2"):
        run = tmp_path / algo
        argv = ["train", "--task", task, "--algo", algo, "--quality", "random", "--profile", "smoke",
                "--data-dir", str(smoke_data), "--run-dir", str(run), "--steps", "2", "--eval-episodes", "1",
                "--no-progress", "--device", "cpu"]
        if algo == "dom2":
            argv += ["--set", "n_diffusion_steps=2"]
        assert main(argv) == 0
        final = json.loads((run / "result.json").read_text())["final_eval"]
        assert np.isfinite(final["eval/mean"]) and final["eval/task"] == task
        # the same as two members in one process: member 0 logs exactly what the solo run logged
        members = ["--seeds", "0-1", "--run-dir", str(tmp_path / f"{algo}-m{{seed}}")]
        assert main([*argv[:argv.index("--run-dir")], *argv[argv.index("--run-dir") + 2:], *members]) == 0
        logged = [[{k: v for k, v in json.loads(line).items() if k != "eval/joint_steps_per_second"}
                   for line in (d / "metrics.jsonl").read_text().splitlines()] for d in (run, tmp_path / f"{algo}-m0")]
        assert logged[0] == logged[1], f"{task}/{algo}: member 0 differs from the solo run"
