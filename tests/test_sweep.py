"""``python -m dom2lite sweep``: the grid, bad input, pieces that resume, skipping what is done, claims,
the ETA, failures, the results file and submitit's local executor (the cluster path)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dom2lite.cli import build_parser, main
from dom2lite.sweep.grid import Cell, TrainOptions, grid_cells, parse_shifts, parse_vary
from dom2lite.sweep.ledger import CLAIM, append_piece, cell_state, progress_line
from helpers_data import save_tiny, tiny_spread

pytest.importorskip("mpe2")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep_data")
    save_tiny(tiny_spread(episodes=12), root / "spread-expert-s0.npz")
    return root


def sweep_args(data_dir: Path, root: Path, *extra: str) -> list[str]:
    return ["sweep", "--tasks", "spread", "--algos", "bc", "--seeds", "0-1", "--profile", "smoke",
            "--steps", "20", "--eval-every", "10", "--eval-episodes", "1", "--data-dir", str(data_dir),
            "--root", str(root), "--jobs", "2", *extra]


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    monkeypatch.setenv("DOM2LITE_THREADS", "1")
    monkeypatch.setenv("DOM2LITE_DEVICE", "cpu")


def test_grid_is_the_product_with_one_folder_and_one_train_command_per_cell(tmp_path):
    cells = grid_cells(["spread", "tag"], ["expert"], ["cql", "bc"], [0, 1, 2], fractions=[0.05, 1.0],
                       augment=(False, True), vary=parse_vary(["cql_alpha=1,5"]),
                       shifts=parse_shifts(["speed=0.5,1"], ["spread", "tag"]),
                       options=TrainOptions(profile="full", steps=20000, sets=("batch_size=256",)))
    assert len(cells) == 2 * 2 * 2 * 2 * 2 * 3
    folders = {c.run_dir(tmp_path) for c in cells}
    assert len(folders) == len(cells)
    cell = next(c for c in cells if c.task == "tag" and c.data_fraction == 0.05 and c.augment and c.seed == 2
                and c.varied == (("cql_alpha", "5"),) and c.algo == "cql")
    assert cell.run_dir(tmp_path) == tmp_path / "tag-expert" / "cql-f0.05-aug-cql_alpha=5-s2"
    args = build_parser().parse_args(cell.train_command(tmp_path)[3:])  # what train itself will read
    assert (args.task, args.algo, args.seed, args.steps, args.data_fraction, args.augment) == \
        ("tag", "cql", 2, 20000, 0.05, True)
    assert args.set == ["batch_size=256", "cql_alpha=5"] and Path(args.run_dir) == cell.run_dir(tmp_path)
    assert [c[5:9] for c in cell.eval_commands(tmp_path)] == [["--shift", "speed", "--strength", "0.5"],
                                                              ["--shift", "speed", "--strength", "1"]]
    again = build_parser().parse_args(cell.sweep_command(tmp_path, [0, 2])[3:])
    assert again.seeds == [0, 2] and again.vary == ["cql_alpha=5"] and again.fractions == [0.05]


@pytest.mark.parametrize("bad, field", [
    (["--tasks", "spred"], "--tasks"),
    (["--vary", "cql_alfa=1,2"], "cql_alfa"),
    (["--vary", "cql_alpha"], "--vary"),
    (["--shift", "wind=1"], "shift"),
    (["--fractions", "0,1"], "--fractions"),
    (["--set", "seed=3"], "seed"),
])
def test_bad_input_is_refused_before_anything_runs(bad, field, tmp_path, capsys):
    argv = sweep_args(tmp_path / "no-data", tmp_path / "runs")
    argv[argv.index("--algos") + 1] = "cql"
    for flag, value in zip(bad[::2], bad[1::2]):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and field in err
    assert not (tmp_path / "runs").exists()


def _metrics(run_dir: Path) -> list[dict]:
    drop = ("eval/joint_steps_per_second",)
    return [{k: v for k, v in json.loads(line).items() if k not in drop}
            for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_a_sweep_runs_in_pieces_skips_what_is_done_and_writes_its_results(data_dir, tmp_path, capsys):
    root, out = tmp_path / "runs", tmp_path / "results.json"
    argv = sweep_args(data_dir, root, "--shift", "speed=1", "--out", str(out))
    assert main([*argv, "--stop-after", "10"]) == 0  # the first piece of every cell
    printed = capsys.readouterr().out
    assert "2 cells: 0 done" in printed and "2 interrupted" in printed and "20 steps left, ETA ~" in printed
    assert not out.exists()  # no cell done yet
    cells = [Cell("spread", "expert", "bc", s, options=TrainOptions(profile="smoke", steps=20)) for s in (0, 1)]
    assert [cell_state(c, root).step for c in cells] == [10, 10]

    assert main(argv) == 0  # the second call finishes them, then evaluates the shift
    assert "2 cells: 2 done" in capsys.readouterr().out
    run0 = root / "spread-expert" / "bc-s0"
    pieces = [json.loads(line) for line in (run0 / "sweep_pieces.jsonl").read_text().splitlines()]
    assert [(p["from_step"], p["to_step"], p["rc"]) for p in pieces] == [(0, 10, 0), (10, 20, 0)]
    assert (run0 / "eval_speed_1.json").is_file()

    # in two pieces, the run is the uninterrupted one
    straight = tmp_path / "straight"
    cmd = Cell("spread", "expert", "bc", 0, options=TrainOptions(
        profile="smoke", steps=20, eval_every=10, eval_episodes=1, data_dir=str(data_dir))).train_command(tmp_path)
    cmd[cmd.index("--run-dir") + 1] = str(straight)
    subprocess.run([sys.executable, *cmd[1:]], check=True, capture_output=True, env={**os.environ})
    assert _metrics(run0) == _metrics(straight)

    assert main(argv) == 0  # a third call starts nothing
    assert "nothing left" in capsys.readouterr().out
    assert len((run0 / "sweep_pieces.jsonl").read_text().splitlines()) == 2
    results = json.loads(out.read_text())
    entry = results["settings"]["spread-expert/bc"]
    assert entry["seeds"] == [0, 1] and entry["eval/mean"]["n"] == 2 and entry["shifted"]["speed=1"]["n"] == 2
    assert entry["command"][:4] == ["python", "-m", "dom2lite", "sweep"] and "--shift" in entry["command"]
    assert results["cells"] == {"grid": 2, "done": 2}
    assert all(r["wall_seconds"] > 0 for r in results["runs"])
    assert "dom2lite sweep --tasks spread" in results["provenance"]["command"]


def test_a_claim_is_live_only_while_its_worker_is(tmp_path):
    cell = Cell("spread", "expert", "bc", 0, options=TrainOptions(profile="smoke", steps=20))
    run_dir = cell.run_dir(tmp_path)
    run_dir.mkdir(parents=True)
    claim = run_dir / CLAIM
    assert cell_state(cell, tmp_path).state == "left"
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": os.getpid()}))
    assert cell_state(cell, tmp_path).state == "running"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    claim.write_text(json.dumps({"host": socket.gethostname(), "pid": dead.pid}))
    assert cell_state(cell, tmp_path).state == "left"  # a worker killed with its session
    claim.write_text(json.dumps({"host": "some-cluster-node", "pid": 1}))
    assert cell_state(cell, tmp_path).state == "running"  # another host: trusted while it beats
    old = time.time() - 3600
    os.utime(claim, (old, old))
    assert cell_state(cell, tmp_path).state == "left"
    assert cell_state(cell, tmp_path, queued=True).state == "queued"
    claim.unlink()
    (run_dir / "metrics.jsonl").write_text('{"step": 5}\n')  # a train started by hand is writing here
    assert cell_state(cell, tmp_path).state == "running"
    append_piece(run_dir, {"start": time.time() + 5, "seconds": 1.0, "from_step": 0, "to_step": 5, "rc": -15})
    assert cell_state(cell, tmp_path).state == "interrupted"  # written by a worker that has stopped


def test_a_cell_another_worker_holds_is_skipped_not_run_twice(tmp_path):
    # Two sweeps over one grid: the second plans a cell as "left", the first then claims it; the second's
    # worker must leave it alone (no train, no piece, the claim kept).
    from dom2lite.sweep.launch import run_cell

    cell = Cell("spread", "expert", "bc", 0, options=TrainOptions(profile="smoke", steps=20))
    run_dir = cell.run_dir(tmp_path)
    run_dir.mkdir(parents=True)
    claim = {"host": socket.gethostname(), "pid": os.getpid()}
    (run_dir / CLAIM).write_text(json.dumps(claim))
    piece = run_cell(cell, str(tmp_path))
    assert piece["skipped"] == "running" and piece["rc"] == 0
    assert json.loads((run_dir / CLAIM).read_text()) == claim
    assert not (run_dir / "sweep.log").exists() and not (run_dir / "sweep_pieces.jsonl").exists()


def test_progress_line_counts_states_and_measures_the_eta(tmp_path):
    opts = TrainOptions(profile="smoke", steps=1000)
    cells = [Cell("spread", "expert", "bc", s, options=opts) for s in range(3)]
    for cell in cells[:2]:
        cell.run_dir(tmp_path).mkdir(parents=True)
    (cells[0].run_dir(tmp_path) / "metrics.jsonl").write_text('{"step": 500}\n')
    append_piece(cells[0].run_dir(tmp_path), {"start": time.time(), "seconds": 100.0, "from_step": 0, "to_step": 500, "rc": 0})
    append_piece(cells[1].run_dir(tmp_path), {"seconds": 3.0, "from_step": 0, "to_step": 0, "rc": 1})
    states = [cell_state(c, tmp_path) for c in cells]
    assert [s.state for s in states] == ["interrupted", "failed", "left"]
    line = progress_line(states, parallel=2)
    # 2,500 steps left at 0.2 s per step (500 steps in 100 s), two at a time: 250 s
    assert "3 cells: 0 done, 0 running, 0 queued, 1 failed, 1 interrupted, 1 left" in line
    assert "2,500 steps left, ETA ~ 4 min 10 s at 2 in parallel (200 s per 1,000 steps measured)" in line


def test_a_failing_cell_is_reported_and_retried(tmp_path, capsys):
    data = tmp_path / "data"
    save_tiny(tiny_spread(episodes=12), data / "spread-expert-s0.npz")
    card = data / "spread-expert-s0.card.json"
    broken = json.loads(card.read_text())
    broken["sha256"] = "0" * 64  # train refuses a data set that does not match its card
    card.write_text(json.dumps(broken))
    argv = sweep_args(data, tmp_path / "runs")
    argv[argv.index("--seeds") + 1] = "0"
    assert main(argv) == 1
    printed = capsys.readouterr().out
    assert "exit 1: see" in printed and "1 failed" in printed
    log = (tmp_path / "runs" / "spread-expert" / "bc-s0" / "sweep.log").read_text()
    assert "sha256" in log
    save_tiny(tiny_spread(episodes=12), data / "spread-expert-s0.npz")  # repaired: the next call retries
    assert main(argv) == 0
    assert "1 cells: 1 done" in capsys.readouterr().out


def test_submitit_local_executor_runs_the_cluster_path(data_dir, tmp_path, capsys):
    pytest.importorskip("submitit")
    root = tmp_path / "runs"
    argv = sweep_args(data_dir, root, "--on", "submitit-local", "--cluster", "timeout_min=10")
    argv[argv.index("--seeds") + 1] = "0"
    assert main(argv) == 0
    assert "submitted 1 submitit-local jobs" in capsys.readouterr().out
    run0 = root / "spread-expert" / "bc-s0"
    piece = json.loads((run0 / "sweep_pieces.jsonl").read_text())
    jobs = json.loads((root / "sweep_jobs.json").read_text())
    assert piece["executor"] == "submitit-local" and piece["job_id"] == jobs[str(run0)]["job_id"]
    assert (run0 / "result.json").is_file() and not (run0 / CLAIM).exists()
    assert main(argv) == 0 and "1 cells: 1 done" in capsys.readouterr().out


@pytest.mark.parametrize("rc, state", [(130, "interrupted"), (-9, "interrupted"), (1, "failed")])
def test_a_stopped_piece_is_not_a_failure(rc, state, tmp_path):
    cell = Cell("spread", "expert", "bc", 0, options=TrainOptions(profile="smoke", steps=20))
    run_dir = cell.run_dir(tmp_path)
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.jsonl").write_text('{"step": 5}\n{"step": 6, "los')  # the last line cut by the kill
    append_piece(run_dir, {"start": time.time(), "seconds": 1.0, "from_step": 0, "to_step": 5, "rc": rc})
    assert (cell_state(cell, tmp_path).state, cell_state(cell, tmp_path).step) == (state, 5)


def test_sigterm_stops_the_cells_which_keep_their_checkpoints_and_resume(data_dir, tmp_path):
    root = tmp_path / "runs"
    argv = sweep_args(data_dir, root, "--checkpoint-every", "5")
    argv[argv.index("--steps") + 1] = "100000"
    argv[argv.index("--seeds") + 1] = "0"
    sweep = subprocess.Popen([sys.executable, "-m", "dom2lite", *argv], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env={**os.environ})
    run0 = root / "spread-expert" / "bc-s0"
    deadline = time.time() + 120
    while not list(run0.glob("ckpt_*.pt")) and time.time() < deadline:
        time.sleep(0.5)
    assert list(run0.glob("ckpt_*.pt")), "the cell never checkpointed"
    sweep.terminate()
    printed = sweep.communicate(timeout=60)[0]
    assert sweep.returncode == 130 and "(stopped)" in printed and "rerun the same command" in printed
    piece = json.loads((run0 / "sweep_pieces.jsonl").read_text())
    assert piece["rc"] < 0 and not (run0 / CLAIM).exists()
    cell = Cell("spread", "expert", "bc", 0, options=TrainOptions(profile="smoke", steps=100000))
    assert cell_state(cell, root).state == "interrupted" and cell_state(cell, root).step > 0


def test_a_missing_data_set_is_made_once_before_the_cells_start(tmp_path, capsys):
    data = tmp_path / "data"
    argv = sweep_args(data, tmp_path / "runs", "--qualities", "random")
    argv[argv.index("--steps") + 1] = "5"
    assert main(argv) == 0
    assert (data / "spread-random-s0.npz").is_file()
    captured = capsys.readouterr()
    assert captured.err.count("does not exist yet: generating it") == 1 and "2 cells: 2 done" in captured.out
