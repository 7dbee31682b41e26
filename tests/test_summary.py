"""Calibration through the command line: logged by training, printed by evaluate, plotted by plot, and
summed up over seeds by summarise (settings that differ in more than the seed stay apart)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dom2lite.train.curves import setting_labels
from dom2lite.train.runs import MetricsLog, read_config
from dom2lite.train.summary import summarise, td_growth
from helpers_data import save_tiny, tiny_spread

pytest.importorskip("mpe2")
STEPS = 6


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """MA-CQL, two settings (fixed weight and Lagrangian) x two seeds, a few smoke steps each."""
    from dom2lite.cli import main

    root = tmp_path_factory.mktemp("summary")
    save_tiny(tiny_spread(episodes=8), root / "data" / "spread-expert-s0.npz")
    out = {}
    for lagrange in (False, True):
        for seed in (0, 1):
            run = root / f"cql-{lagrange}-s{seed}"
            argv = ["train", "--task", "spread", "--algo", "cql", "--profile", "smoke", "--data-dir",
                    str(root / "data"), "--run-dir", str(run), "--steps", str(STEPS), "--eval-every", "3",
                    "--eval-episodes", "1", "--seed", str(seed), "--set", "hidden=[16,16]",
                    "--set", f"cql_lagrange={lagrange}", "--no-progress", "--device", "cpu"]
            assert main(argv) == 0
            out[lagrange, seed] = run
    return out


def test_every_evaluation_logs_the_calibration(runs):
    for run in runs.values():
        rows = [r for r in MetricsLog(run).read() if "eval/mean" in r]
        assert [r["step"] for r in rows] == [3, 6]
        for r in rows:
            assert np.isfinite([r["calib/bias"], r["calib/corr"], r["calib/rmse"]]).all()
            assert r["calib/bias"] == pytest.approx(r["calib/q_mean"] - r["calib/mc_mean"], abs=1e-5)


def test_evaluate_prints_the_calibration(runs, capsys):
    from dom2lite.cli import main

    run = runs[True, 0]
    assert main(["evaluate", str(run), "--episodes", "1", "--device", "cpu"]) == 0
    printed = json.loads(capsys.readouterr().out)
    last = [r for r in MetricsLog(run).read() if "calib/bias" in r][-1]
    assert printed["calibration"]["bias"] == pytest.approx(last["calib/bias"], rel=1e-5, abs=1e-6)
    own = printed["own_value"]  # the critic against the policy's own episode
    assert own["gap"] == pytest.approx(own["q_start"] - own["return_start"])
    assert main(["evaluate", str(run), "--episodes", "1", "--device", "cpu", "--no-calibration"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "calibration" not in out and "own_value" not in out


def test_summarise_keeps_settings_apart_and_averages_seeds(runs, tmp_path, capsys):
    from dom2lite.cli import main

    out = tmp_path / "summary.json"
    assert main(["summarise", *map(str, runs.values()), "--out", str(out)]) == 0
    written = json.loads(out.read_text())
    assert written["provenance"]["command"].startswith("python -m dom2lite summarise ")
    import torch
    assert all(r["torch_threads"] == torch.get_num_threads() for r in written["runs"])  # as each run trained
    settings = written["settings"]
    assert sorted(settings) == ["spread-expert/cql [cql_lagrange=False]", "spread-expert/cql [cql_lagrange=True]"]
    for lagrange in (False, True):
        entry = settings[f"spread-expert/cql [cql_lagrange={lagrange}]"]
        assert entry["seeds"] == [0, 1] and entry["finished"]
        finals = [[r for r in MetricsLog(runs[lagrange, s]).read() if "calib/bias" in r][-1]["calib/bias"]
                  for s in (0, 1)]
        assert entry["calib/bias"]["mean"] == pytest.approx(np.mean(finals))
        assert entry["calib/bias"]["std"] == pytest.approx(np.std(finals))
    card = json.loads((runs[True, 0].parent / "data" / "spread-expert-s0.card.json").read_text())
    assert all(r["data_normalised_mean"] == pytest.approx(card["normalised_return_mean"]) for r in written["runs"])
    curve = written["runs"][0]["curve"]
    assert 1 <= len(curve["cql_alpha"]) <= 2  # the weight, averaged over the logged steps between evaluations
    assert curve["step"] == [3, 6] and len(curve["calib/bias"]) == 2 and 1 <= len(curve["td_loss"]) <= 2
    assert "cql_lagrange=True" in capsys.readouterr().out


def test_plot_labels_and_default_panels(runs, tmp_path, capsys):
    from dom2lite.cli import main

    labels = setting_labels([read_config(r) for r in runs.values()])
    assert len(set(labels)) == 2 and all("cql_lagrange=" in label for label in labels)
    assert main(["plot", *map(str, runs.values()), "--out", str(tmp_path / "c.png")]) == 0
    assert (tmp_path / "c.png").stat().st_size > 0


def test_until_summarises_as_of_a_step(runs):
    first = summarise(list(runs.values()), until=3)
    assert all(r["last_eval_step"] == 3 and not r["finished"] for r in first["runs"])
    assert all(r["curve"]["step"] == [3] for r in first["runs"])
    assert all(e["last_eval_step"] == 3 for e in first["settings"].values())


def test_keep_from_carries_runs_whose_folders_are_gone(runs, tmp_path, capsys):
    from dom2lite.cli import main

    first = tmp_path / "first.json"
    assert main(["summarise", str(runs[True, 0]), str(runs[False, 0]), "--out", str(first)]) == 0
    stored = json.loads(first.read_text())
    # another sitting: only seed 1 of each setting is here, the seed-0 folders are gone
    second = tmp_path / "second.json"
    assert main(["summarise", str(runs[True, 1]), str(runs[False, 1]), "--keep-from", str(first),
                 "--out", str(second)]) == 0
    merged = json.loads(second.read_text())
    assert sorted((r["setting"], r["seed"]) for r in merged["runs"]) == sorted(
        (r["setting"], s) for r in stored["runs"] for s in (0, 1))
    assert all(e["seeds"] == [0, 1] and e["eval/mean"]["n"] == 2 for e in merged["settings"].values())
    assert merged["kept_from"]["runs"] == sorted(str(runs[k, 0]) for k in (True, False))
    kept = {r["run_dir"]: r for r in merged["runs"]}
    assert all(kept[r["run_dir"]] == r for r in stored["runs"])  # as they were stored
    # a folder given again replaces its stored summary rather than counting twice
    again = summarise([runs[True, 0]], keep=stored["runs"])
    assert sorted(r["run_dir"] for r in again["runs"]) == sorted(r["run_dir"] for r in stored["runs"])
    assert main(["summarise", str(runs[True, 1]), "--keep-from", str(tmp_path / "missing.json")]) == 0
    capsys.readouterr()


def test_keep_from_refuses_a_file_that_is_not_a_summary(runs, tmp_path, capsys):
    from dom2lite.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"runs": [{"seed": 0}]}))
    assert main(["summarise", str(runs[True, 1]), "--keep-from", str(bad)]) != 0
    assert "bad.json" in capsys.readouterr().err
    assert main(["summarise", str(runs[True, 1]), "--keep-from", str(bad), "--until", "3"]) != 0
    assert "--until" in capsys.readouterr().err


def test_td_growth_reads_the_last_half():
    rows = [{"step": i, "td_loss": v} for i, v in enumerate([9, 9, 1, 1, 1, 1, 2, 2])]
    assert td_growth(rows) == pytest.approx(2.0)  # last quarter (2, 2) over the quarter before (1, 1)
    assert td_growth(rows[:3]) is None


def test_curve_averages_the_learned_weight_and_td_error_between_evaluations():
    from dom2lite.train.summary import eval_curve

    rows = [{"step": 1, "td_loss": 4.0, "cql_alpha": 1.0}, {"step": 2, "td_loss": 2.0, "cql_alpha": 3.0},
            {"step": 2, "eval/mean": -5.0}, {"step": 3, "td_loss": 1.0}, {"step": 4, "eval/mean": -4.0}]
    curve = eval_curve(rows)
    assert curve["step"] == [2, 4] and curve["td_loss"] == [3.0, 1.0]
    assert curve["cql_alpha"] == [2.0]  # no weight logged since the first evaluation: nothing appended


def test_own_value_script_writes_every_run_with_provenance(runs, tmp_path):
    import runpy
    from pathlib import Path

    from dom2lite.data.card import reference_returns
    from dom2lite.train.restore import run_card

    script = Path(__file__).resolve().parents[1] / "experiments" / "own_value.py"
    own_value_main = runpy.run_path(str(script))["main"]
    out = tmp_path / "own.json"
    assert own_value_main([str(runs[True, 0]), str(runs[False, 1]), "--episodes", "1", "--out", str(out)]) == 0
    stored = json.loads(out.read_text())
    assert [r["seed"] for r in stored["runs"]] == [0, 1]
    for r in stored["runs"]:
        assert r["gap"] == pytest.approx(r["q_start"] - r["return_start"])
        assert 0.0 <= r["action_at_edge"] <= 1.0 and r["step"] == STEPS
        assert r["policy_gap_compounded"] == pytest.approx(r["policy_gap"] * 0.95 / 0.05 / r["return_range"])
        lo, hi = reference_returns(run_card(r["run_dir"]))  # the team return on the data's 0-100 scale
        assert r["episodes"] == 1 and r["team_normalised"] == pytest.approx(100 * (r["team_return"] - lo) / (hi - lo))
    assert "git_commit" in stored["provenance"]
    # another sitting re-checks seed 0 only; seed 1's row is kept from the file, seed 0's replaced
    assert own_value_main([str(runs[True, 0]), "--episodes", "1", "--out", str(out), "--keep-from", str(out)]) == 0
    again = json.loads(out.read_text())
    assert [r["run_dir"] for r in again["runs"]] == [r["run_dir"] for r in stored["runs"]]
    assert again["runs"][1] == stored["runs"][1] and again["kept_from"]["runs"] == [str(runs[False, 1])]


def test_own_value_script_re_evaluates_a_run_without_a_critic(runs, tmp_path):
    import runpy
    from pathlib import Path

    from dom2lite.cli import main
    from dom2lite.train.evaluate import evaluate
    from dom2lite.train.restore import load_policy

    data_dir = Path(runs[True, 0]).parent / "data"
    bc = tmp_path / "bc-s0"
    assert main(["train", "--task", "spread", "--algo", "bc", "--profile", "smoke", "--data-dir", str(data_dir),
                 "--run-dir", str(bc), "--steps", "4", "--eval-every", "4", "--eval-episodes", "1", "--seed", "0",
                 "--set", "hidden=[16,16]", "--no-progress", "--device", "cpu"]) == 0
    script = Path(__file__).resolve().parents[1] / "experiments" / "own_value.py"
    out = tmp_path / "own.json"
    assert runpy.run_path(str(script))["main"]([str(bc), str(runs[True, 0]), "--episodes", "2", "--out", str(out)]) == 0
    no_critic, critic = json.loads(out.read_text())["runs"]
    assert no_critic["algo"] == "bc" and no_critic["episodes"] == 2 and no_critic["step"] == 4
    assert no_critic["q_start"] is None and no_critic["policy_gap"] is None and no_critic["team_normalised"] is not None
    # the episodes a critic's run is re-evaluated on, the same evaluate() reports
    assert no_critic["team_return"] == pytest.approx(evaluate(load_policy(bc), "spread", n_episodes=2, seed=10_000).mean)
    assert critic["team_return"] == pytest.approx(evaluate(load_policy(runs[True, 0]), "spread", n_episodes=2,
                                                           seed=10_000).mean, rel=1e-6)
    assert set(no_critic) == set(critic)  # one schema: the critic's fields are there, None


def test_q_tail_script_reads_every_transition_of_both_heads(runs, tmp_path):
    import runpy
    from pathlib import Path

    import torch

    from dom2lite.critics.calibration import monte_carlo_returns
    from dom2lite.train.restore import load_policy, training_data

    script = Path(__file__).resolve().parents[1] / "experiments" / "q_tail.py"
    out = tmp_path / "tail.json"
    assert runpy.run_path(str(script))["main"]([str(runs[True, 0]), "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["runs"]
    data = training_data(runs[True, 0])
    algo = load_policy(runs[True, 0])
    with torch.no_grad():
        q1, q2 = algo.critic(*(torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in (data.obs, data.act, data.state)))
    q = (torch.minimum(q1, q2) / float(algo.reward_scale)).numpy()  # [T, n] the smaller head, raw units
    mc = monte_carlo_returns(data, algo.config.gamma)
    lo, hi = np.percentile(mc, [1, 99])
    assert row["transitions"] == data.n_transitions and row["step"] == STEPS
    assert row["q_min"] == pytest.approx(float(q.min()), rel=1e-5)
    assert row["q_percentiles"]["50"] == pytest.approx(float(np.percentile(q, 50)), rel=1e-5)
    assert row["floor"] == pytest.approx(float(mc.min() - (hi - lo)), rel=1e-5)
    assert row["far_below"] == int((q < row["floor"]).any(-1).sum())
    assert row["q_max"] == pytest.approx(float(q.max()), rel=1e-5) and row["mc_max"] == pytest.approx(float(mc.max()))
    assert row["above_max"] == int((q > mc.max()).any(-1).sum())  # the upper tail: rated above every return
    assert row["q_percentiles"]["100"] == pytest.approx(row["q_max"], rel=1e-5)
    far = q < row["floor"]
    assert row["far_by_agent"] == far.sum(0).tolist() and sum(row["far_by_head"]) == int(far.sum())
    assert row["far_in_calibration_set"] <= row["far_below"]
    assert (row["far_heads_median"] is None) == (row["far_target_median"] is None) == (row["far_below"] == 0)
    # another sitting checks seed 1 only and keeps seed 0's row from the file, as it was stored
    assert runpy.run_path(str(script))["main"]([str(runs[False, 1]), "--out", str(out), "--keep-from", str(out)]) == 0
    both = json.loads(out.read_text())
    assert [r["seed"] for r in both["runs"]] == [0, 1] and both["runs"][0] == row
    assert both["kept_from"]["runs"] == [str(runs[True, 0])]


def test_q_tail_tells_a_head_that_left_its_target(runs, tmp_path, monkeypatch):
    """Head 2 of agent 0 pushed 1,000 below the rest: every one of that agent's values is far, all in head 2,
    while head 1 and the TD target (from the unshifted target critic) stay where they were."""
    import runpy
    from pathlib import Path

    import torch

    import dom2lite.train.restore as restore

    load = restore.load_policy

    def shifted(run_dir, device=None):
        algo = load(run_dir, device)
        last = algo.critic._last_layers()[0]  # stacked heads: slots [head 1 of every agent, head 2 of every agent]
        with torch.no_grad():
            last.bias[algo.critic.n_agents] -= 1000.0 * float(algo.reward_scale)  # head 2, agent 0
        return algo

    monkeypatch.setattr(restore, "load_policy", shifted)
    script = Path(__file__).resolve().parents[1] / "experiments" / "q_tail.py"
    out = tmp_path / "tail.json"
    assert runpy.run_path(str(script))["main"]([str(runs[True, 0]), "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["runs"]
    assert row["far_by_agent"][0] == row["transitions"] and sum(row["far_by_agent"][1:]) == 0
    assert row["far_by_head"] == [0, row["transitions"]] and row["head_gap_far"] > 900
    h1, h2 = row["far_heads_median"]
    assert h2 < h1 - 900 and abs(row["far_target_median"] - h1) < 100  # head 1 near its target; head 2 far below



def test_critic_branches_replays_the_same_batches_and_changes_one_thing(runs, tmp_path):
    """Two unchanged branches from one checkpoint are identical (same batches, same state); a branch
    without CQL departs from them; the watched slot is the one with the checkpoint's lowest Q."""
    import runpy
    from pathlib import Path

    import torch

    from dom2lite.train.restore import load_policy, training_data

    run = runs[True, 0]
    (ckpt,) = sorted(Path(run).glob("ckpt_*.pt"))[-1:]
    script = Path(__file__).resolve().parents[1] / "experiments" / "critic_branches.py"
    out = tmp_path / "branches.json"
    argv = [str(run), "--checkpoint", str(ckpt), "--steps", "4", "--every", "2", "--rows", "8",
            "--branch", "", "--branch", "", "--branch", "cql_alpha=0", "--out", str(out)]
    assert runpy.run_path(str(script))["main"](argv) == 0
    result = json.loads(out.read_text())["result"]
    same, again, no_cql = (b["trace"] for b in result["branches"])
    assert [t["step"] for t in same] == [0, 2, 4] and same == again
    assert no_cql[0] == same[0] and no_cql[-1]["tail_q"] != same[-1]["tail_q"]
    algo, data = load_policy(run), training_data(run)
    with torch.no_grad():
        q = torch.stack(algo.critic(*(torch.as_tensor(np.asarray(x), dtype=torch.float32)
                                      for x in (data.obs, data.act, data.state))))  # [2, T, n]
    head, _, agent = np.unravel_index(int(q.argmin()), q.shape)
    assert result["slot"] == {"head": int(head) + 1, "agent": int(agent)} and result["step"] == STEPS
