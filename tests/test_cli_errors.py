"""The command line as a new user meets it: every bad input is one line naming the option, field or file,
with a non-zero exit and no traceback; nothing is silently accepted; a missing data set is generated.

The issue's inputs run the real ``python -m dom2lite`` in subprocesses, a few at a time (each spends
most of its ~2 s importing torch); the many more cases a newcomer meets go through the same ``main()``
in this process, which costs milliseconds each.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dom2lite.cli_values import parse_set
from dom2lite.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ["train", "--task", "spread", "--algo", "bc", "--quality", "random", "--no-progress"]

# name: (argv, extra environment, text the one-line message must contain)
ISSUE_INPUTS: dict[str, tuple[list[str], dict[str, str], str]] = {  # the issue's table, in subprocesses
    "unknown algo": (TRAIN + ["--algo", "nosuch"], {}, "(--algo)"),
    "negative steps": (TRAIN + ["--steps", "-5"], {}, "(--steps)"),
    "zero steps": (TRAIN + ["--steps", "0"], {}, "(--steps)"),
    "unknown --set field": (TRAIN + ["--set", "nosuch=1"], {}, "(nosuch)"),
    "--set of the wrong type": (TRAIN + ["--algo", "dom2", "--set", "eta=abc"], {}, "(eta): expected a number"),
    "--set out of range": (TRAIN + ["--set", "hidden=[0]"], {}, "(hidden)"),
    "zero data fraction": (TRAIN + ["--data-fraction", "0"], {}, "(--data-fraction)"),
    "data fraction above 1": (TRAIN + ["--data-fraction", "1.5"], {}, "(--data-fraction)"),
    "missing data set, --no-generate": (TRAIN + ["--quality", "expert", "--no-generate"], {},
                                        "data generate --task spread --quality expert --seed 0 --episodes 40"),
    "evaluate a folder that is not a run": (["evaluate", "{tmp}"], {}, "config.json"),
}
MORE_INPUTS: dict[str, tuple[list[str], dict[str, str], str]] = {  # more a newcomer meets, through main()
    "--set field of another algorithm": (TRAIN + ["--set", "eta=0.1"], {}, "it is one of dom2"),
    "--set bool": (TRAIN + ["--algo", "cql", "--set", "cql_policy_actions=maybe"], {}, "(cql_policy_actions)"),
    "--set int given a float": (TRAIN + ["--set", "batch_size=2.5"], {}, "(batch_size): expected an integer"),
    "--set tuple of ints": (TRAIN + ["--set", "hidden=64,x"], {}, "(hidden)"),
    "--set not finite": (TRAIN + ["--set", "actor_lr=nan"], {}, "(actor_lr)"),
    "--set unknown choice": (TRAIN + ["--set", "activation=swish"], {}, "(activation)"),
    "--set without =": (TRAIN + ["--set", "eta"], {}, "(--set)"),
    "--set seed": (TRAIN + ["--set", "seed=3"], {}, "--seed"),
    "zero eval episodes": (TRAIN + ["--eval-episodes", "0"], {}, "(--eval-episodes)"),
    "negative seed": (TRAIN + ["--seed", "-1"], {}, "(--seed)"),
    "bad device": (TRAIN + ["--device", "gpu0"], {}, "(--device)"),
    "bad DOM2LITE_DEVICE": (TRAIN, {"DOM2LITE_DEVICE": "gpu0"}, "(DOM2LITE_DEVICE)"),
    "bad DOM2LITE_PROFILE": (TRAIN, {"DOM2LITE_PROFILE": "huge"}, "(DOM2LITE_PROFILE)"),
    "bad DOM2LITE_THREADS": (TRAIN, {"DOM2LITE_THREADS": "many"}, "(DOM2LITE_THREADS)"),
    "missing required options": (["train", "--task", "spread"], {}, "(--algo)"),
    "misspelt command": (["trian"], {}, "invalid choice: 'trian'"),
    "unknown option": (TRAIN + ["--stepz", "5"], {}, "--stepz"),
    "evaluate zero episodes": (["evaluate", "{tmp}", "--episodes", "0"], {}, "(--episodes)"),
    "evaluate a folder that does not exist": (["evaluate", "{tmp}/nowhere"], {}, "nowhere"),
    "plot a folder that is not a run": (["plot", "{tmp}/nowhere"], {}, "nowhere"),
    "data card of a missing file": (["data", "card", "{tmp}/spread-expert-s9.npz"], {}, "spread-expert-s9.npz"),
    "data generate zero episodes": (["data", "generate", "--task", "spread", "--quality", "random", "--episodes", "0"],
                                    {}, "(--episodes)"),
    "data generate without a quality": (["data", "generate", "--task", "spread"], {}, "(--quality)"),
    "behaviour train zero steps": (["behaviour", "train", "--task", "spread", "--steps", "0"], {}, "(--steps)"),
    "behaviour --set of the wrong type": (["behaviour", "train", "--task", "spread", "--set", "tau=fast"], {},
                                          "(tau)"),
}


def _one_line(name: str, returncode: int, stdout: str, stderr: str, must_contain: str) -> None:
    assert returncode != 0, f"{name}: accepted (exit 0)\n{stdout}"
    assert "Traceback" not in stderr, f"{name}:\n{stderr}"
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), f"{name}: not one line:\n{stderr}"
    assert must_contain in lines[0], f"{name}: {lines[0]!r} does not name {must_contain!r}"


def _env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DOM2LITE_DEBUG"}
    env.update(DOM2LITE_PROFILE="smoke", DOM2LITE_DEVICE="cpu", DOM2LITE_THREADS="1", OMP_NUM_THREADS="1",
               DOM2LITE_DATA=str(tmp / "data"), DOM2LITE_RUNS=str(tmp / "runs"), PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


def _run(argv: list[str], tmp: Path, extra: dict[str, str] | None = None, timeout: float = 120):
    argv = [a.replace("{tmp}", str(tmp)) for a in argv]
    return subprocess.run([sys.executable, "-m", "dom2lite", *argv], cwd=ROOT, env=_env(tmp, extra or {}),
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """The issue's inputs, a --debug run and a first-use training run, two subprocesses at a time."""
    tmp = tmp_path_factory.mktemp("cli")
    jobs = {name: (argv, extra) for name, (argv, extra, _) in ISSUE_INPUTS.items()}
    jobs["--debug"] = (TRAIN + ["--algo", "dom2", "--set", "eta=abc", "--debug"], {})
    # a fresh data folder: train makes the smoke data set (a few dozen episodes) on first use
    jobs["first use"] = (["train", "--task", "spread", "--algo", "bc", "--quality", "random", "--steps", "4",
                          "--eval-every", "2", "--eval-episodes", "1", "--run-dir", "{tmp}/runs/first"], {})
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {name: pool.submit(_run, argv, tmp, extra, 300 if name == "first use" else 120)
                   for name, (argv, extra) in jobs.items()}
        results = {name: f.result() for name, f in futures.items()}
    return tmp, results


@pytest.mark.parametrize("name", list(ISSUE_INPUTS))
def test_bad_input_is_one_line_and_a_failure(name, outcomes):
    tmp, results = outcomes
    proc = results[name]
    _one_line(name, proc.returncode, proc.stdout, proc.stderr, ISSUE_INPUTS[name][2].replace("{tmp}", str(tmp)))


def test_typed_errors_exit_1_and_command_line_errors_exit_2(outcomes):
    _, results = outcomes
    assert results["--set of the wrong type"].returncode == 1
    assert results["zero steps"].returncode == 2


def test_debug_shows_the_traceback(outcomes, monkeypatch):
    proc = outcomes[1]["--debug"]
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "ConfigError" in proc.stderr
    from dom2lite.cli import main

    monkeypatch.setenv("DOM2LITE_DEBUG", "1")  # the same through the environment: the exception itself
    with pytest.raises(ConfigError, match="eta"):
        main(TRAIN + ["--algo", "dom2", "--set", "eta=abc"])


@pytest.mark.parametrize("name", list(MORE_INPUTS))
def test_more_bad_input_through_main(name, tmp_path, monkeypatch, capsys):
    from dom2lite.cli import main

    argv, extra, must_contain = MORE_INPUTS[name]
    for key, value in _env(tmp_path, extra).items():
        if key.startswith("DOM2LITE_"):
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("DOM2LITE_DEBUG", raising=False)
    try:
        code = main([a.replace("{tmp}", str(tmp_path)) for a in argv])
    except SystemExit as exc:  # argparse's exit
        code = exc.code
    out = capsys.readouterr()
    _one_line(name, code, out.out, out.err, must_contain.replace("{tmp}", str(tmp_path)))


def test_train_generates_a_missing_data_set_and_prints_progress_as_lines(outcomes):
    tmp, results = outcomes
    proc = results["first use"]
    assert proc.returncode == 0, proc.stderr
    assert (tmp / "data" / "smoke" / "spread-random-s0.npz").is_file()
    assert "does not exist yet: generating it (40 episodes, smoke profile)" in proc.stderr
    # not a terminal: whole lines every few percent, no carriage-return updates
    assert "\r" not in proc.stderr
    generation = [line for line in proc.stderr.splitlines() if line.startswith("spread random s0:")]
    assert 3 <= len(generation) <= 11 and generation[-1].startswith("spread random s0: 100%")
    assert (tmp / "runs" / "first" / "result.json").is_file()


@pytest.mark.parametrize("argv, must_contain", [
    (["evaluate", "{run}", "--shift", "nosuch"], "nosuch"),
    (["plot", "{run}", "--key", "critic_los", "--out", "{run}/c.png"], "critic_los"),
    (["train", "--task", "spread", "--algo", "bc", "--quality", "random", "--steps", "5", "--run-dir", "{run}"],
     "holds a run with"),
])
def test_bad_input_about_an_existing_run(argv, must_contain, outcomes, monkeypatch, capsys):
    from dom2lite.cli import main

    tmp, results = outcomes
    assert results["first use"].returncode == 0
    for key, value in _env(tmp, {}).items():
        if key.startswith("DOM2LITE_"):
            monkeypatch.setenv(key, value)
    code = main([a.replace("{run}", str(tmp / "runs" / "first")) for a in argv])
    out = capsys.readouterr()
    _one_line(" ".join(argv), code, out.out, out.err, must_contain)


# --- in process: the pieces ---------------------------------------------------------------------
def test_parse_set_converts_to_the_declared_types():
    from dom2lite.algos.config import CQLConfig, DOM2Config

    got = parse_set(["eta=0.5", "hidden=[64, 64]", "n_diffusion_steps=1e1", "cql_policy_actions=true",
                     "solver=ddim"], DOM2Config)
    assert got == {"eta": 0.5, "hidden": (64, 64), "n_diffusion_steps": 10, "cql_policy_actions": True,
                   "solver": "ddim"}
    assert parse_set(["hidden=32"], CQLConfig) == {"hidden": (32,)}
    with pytest.raises(ConfigError, match="n_diffusion_steps") as err:
        parse_set(["n_diffusion_steps=2.5"], DOM2Config)
    assert err.value.hint == "e.g. --set n_diffusion_steps=5"
    with pytest.raises(ConfigError) as err:
        parse_set(["etta=1"], DOM2Config)
    assert err.value.field == "etta" and "did you mean eta" in err.value.hint


def test_unexpected_exceptions_keep_their_traceback():
    from dom2lite.cli_errors import run_reporting_errors

    with pytest.raises(ZeroDivisionError):
        run_reporting_errors(lambda: 1 // 0, "python -m dom2lite", debug=False)


def test_a_bar_off_a_terminal_prints_a_line_every_few_percent(capsys):
    from dom2lite.progress import EVERY_PERCENT, LineBar, progress_bar

    bar = progress_bar(1000, "work")  # pytest captures standard error: not a terminal
    assert isinstance(bar, LineBar)
    for _ in range(1000):
        bar.update(1)
    bar.set_postfix({"loss": "0.1"}, refresh=False)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 100 // EVERY_PERCENT and lines[-1].startswith("work: 100% 1000/1000 steps")
    resumed = LineBar(10, "resumed", initial=5)  # a resumed run starts counting where it stopped
    resumed.update(5)
    resumed.close()
    assert capsys.readouterr().err.count("\n") == 1


def test_every_typed_error_has_a_one_line_report():
    from dom2lite.cli_errors import describe
    from dom2lite.errors import BackendMissing, CheckpointError, DatasetError, MissingFileError, TrainingDiverged

    cases = [
        (BackendMissing("mujoco", "halfcheetah needs MuJoCo", hint="pip install -e '.[mujoco]'"),
         "error: optional package missing (mujoco): halfcheetah needs MuJoCo; pip install -e '.[mujoco]'"),
        (DatasetError("d.npz", "obs", "has NaN"), "error: bad data set (d.npz, field obs): has NaN; check the file"),
        (CheckpointError("r/ckpt_1.pt", None, "truncated"), "error: bad checkpoint (r/ckpt_1.pt): truncated"),
        (TrainingDiverged(7, "q_max", float("inf")), "error: training diverged (q_max): inf at step 7"),
        (MissingFileError("x.npz", "gone", hint="make it"), "error: file not found (x.npz): gone; make it"),
        (FileNotFoundError(2, "No such file or directory", "y.json"), "error: file not found (y.json)"),
    ]
    for exc, start in cases:
        line = describe(exc, "python -m dom2lite")
        assert line is not None and line.startswith(start) and "\n" not in line, line
    assert describe(ValueError("a bug"), "python -m dom2lite") is None  # unexpected: keeps its traceback
