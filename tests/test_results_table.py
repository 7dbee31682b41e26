"""``dom2lite.sweep.table``: results files as mean ± std tables with the best in bold and one command per cell."""

from __future__ import annotations

import json

import pytest

from dom2lite.errors import FileFieldError
from dom2lite.sweep.table import (calibration_command, coverage, data_means, markdown, read_reevaluations, read_runs,
                                  score_table)


def run(algo, seed, score, task="spread", quality="expert", finished=True, batch=256):
    command = (f"python -m dom2lite train --task {task} --quality {quality} --algo {algo} --seed {seed} "
               f"--profile full --steps 20000 --checkpoint-every 1000 --set batch_size={batch} --set lr=0.1")
    return {"task": task, "quality": quality, "algo": algo, "seed": seed, "steps": 20000, "finished": finished,
            "run_dir": f"runs/{task}-{quality}/{algo}-s{seed}",
            "eval/normalised_mean": score, "command": command}


def write(path, runs):
    path.write_text(json.dumps({"runs": runs}))
    return path


def test_cells_are_means_over_seeds_of_finished_runs_only(tmp_path):
    a = write(tmp_path / "a.json", [run("cql", 0, 80.0), run("cql", 1, 90.0), run("cql", 2, 5.0, finished=False)])
    b = write(tmp_path / "b.json", [run("dom2", 0, 70.0), run("cql", 0, 40.0, quality="medium")])
    table = score_table(read_runs([a, b, tmp_path / "missing.json"]))
    assert list(table) == ["spread-expert", "spread-medium"]
    cell = table["spread-expert"]["cql"]
    assert (cell.mean, cell.std, cell.seeds) == (85.0, 5.0, (0, 1))  # the unfinished seed 2 is left out
    assert cell.text() == "85.0 ± 5.0"
    assert table["spread-expert"]["dom2"].seeds == (0,)


def test_command_reproduces_the_cell_as_it_was_trained():
    command = calibration_command(run("omar", 0, 1.0, task="tag", quality="medium"), [2, 0, 1])
    assert command == "DOM2LITE_BATCH=256 DOM2LITE_CKPT=1000 bash experiments/calibration.sh tag medium omar 0-2 20000"
    plain = dict(run("bc", 0, 1.0), command="python -m dom2lite train --task spread --algo bc --seed 0")
    assert calibration_command(plain, [0, 2]) == "bash experiments/calibration.sh spread expert bc 0,2 20000"
    assert calibration_command(dict(plain, torch_threads=1), [0]) == "bash experiments/calibration.sh spread expert bc 0 20000"
    two = calibration_command(dict(run("dom2", 0, 1.0), torch_threads=2), [0])
    assert two.startswith("DOM2LITE_THREADS=2 DOM2LITE_BATCH=256 DOM2LITE_CKPT=1000 bash")
    mixed = score_table([run("dom2", 0, 1.0), dict(run("dom2", 1, 1.0), torch_threads=2)])  # seed 0: not recorded
    assert mixed["spread-expert"]["dom2"].command.startswith("DOM2LITE_THREADS=2 ")


def test_markdown_bolds_the_best_mean_and_marks_missing_seeds():
    runs = [run("cql", s, 80.0 + s) for s in range(3)] + [run("omar", 0, 95.0)] + [run("bc", 0, 1.0, quality="medium")]
    text = markdown(score_table(runs), ["cql", "omar", "dom2"]).splitlines()
    assert text[0] == "| data set | MA-CQL | OMAR | DOM2 |"
    assert text[2] == "| spread-expert | 81.0 ± 0.8 | **95.0 ± 0.0** (1 seed) | – |"
    assert text[3] == "| spread-medium | – | – | – |"  # BC is not a column; nothing to bold
    lower = markdown(score_table(runs), ["cql", "omar"], best="min").splitlines()
    assert lower[2].startswith("| spread-expert | **81.0 ± 0.8** |")
    assert "**" not in markdown(score_table(runs), ["cql", "omar"], best=None)


def test_data_column_and_coverage_of_the_whole_grid():
    runs = [dict(run("cql", s, 50.0), data_normalised_mean=47.25) for s in range(2)] + [run("omar", 0, 60.0)]
    text = markdown(score_table(runs), ["cql", "omar"], data=data_means(runs)).splitlines()
    assert text[0] == "| data set | data | MA-CQL | OMAR |" and text[1] == "|---|---|---|---|"
    assert text[2] == "| spread-expert | 47.2 | 50.0 ± 0.0 | **60.0 ± 0.0** (1 seed) |"
    grid = coverage(runs, ["spread", "tag"], ["expert"], ["cql", "omar", "bc"])
    assert grid == {"spread-expert": {"cql": 2, "omar": 1, "bc": 0}, "tag-expert": {"cql": 0, "omar": 0, "bc": 0}}


def test_reevaluations_replace_the_metric_and_runs_without_one_drop_out(tmp_path):
    own = write(tmp_path / "own.json", [
        {"run_dir": "runs/spread-expert/cql-s0", "episodes": 200, "team_normalised": 96.0},
        {"run_dir": "runs/spread-expert/cql-s1", "episodes": 20, "team_normalised": 1.0},
        # a variant of the same task, algorithm and seed: its own folder, so it cannot stand in for the preset's
        {"run_dir": "runs/spread-expert/cql-cql_actor_bc=0.4-s1", "episodes": 200, "team_normalised": 99.0}])
    values = read_reevaluations([own])
    assert values == {"runs/spread-expert/cql-s0": 96.0, "runs/spread-expert/cql-cql_actor_bc=0.4-s1": 99.0}
    table = score_table([run("cql", 0, 80.0), run("cql", 1, 90.0)], values=values)
    assert table["spread-expert"]["cql"].seeds == (0,) and table["spread-expert"]["cql"].mean == 96.0
    again = write(tmp_path / "again.json", [{"run_dir": "runs/spread-expert/cql-s0", "episodes": 200,
                                             "team_normalised": 95.0}])
    with pytest.raises(FileFieldError, match=r"again\.json.*cql-s0 is re-evaluated in .*own\.json"):
        read_reevaluations([own, again])


def test_bad_files_and_duplicate_seeds_are_named(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"settings": {}}))
    with pytest.raises(FileFieldError, match="bad.json"):
        read_runs([bad])
    a = write(tmp_path / "a.json", [run("cql", 0, 1.0)])
    b = write(tmp_path / "b.json", [run("cql", 0, 2.0)])
    with pytest.raises(FileFieldError, match=r"b\.json.*runs/spread-expert/cql-s0 is stored in .*a\.json"):
        read_runs([a, b])
    c = write(tmp_path / "c.json", [dict(run("cql", 0, 3.0), run_dir="runs/spread-expert/cql-variant-s0")])
    assert len(read_runs([a, c])) == 2  # one seed in two folders: for the columns to tell apart
    with pytest.raises(FileFieldError, match="spread-expert/cql"):
        score_table([run("cql", 0, 1.0), run("cql", 0, 2.0)])


def stored_run(algo="cql", seed=0, task="tag", quality="expert", score=50.0, **changes):
    """A run as ``summarise`` stores it, its algo_config today's full-profile preset with ``changes``."""
    from dom2lite.train.experiment import resolve_run_config

    _, config, _ = resolve_run_config(algo, task, quality, seed, profile="full")
    algo_config = json.loads(json.dumps({**config.to_dict(), **changes}))
    return dict(run(algo, seed, score, task=task, quality=quality, batch=algo_config["batch_size"]),
                algo_config=algo_config, torch_threads=1)


def test_departures_name_the_fields_a_run_changed_from_todays_preset():
    from dom2lite.sweep.departures import departures

    assert departures(stored_run()) == {}
    assert departures(stored_run(seed=4)) == {}  # the seed is not a departure
    assert departures(stored_run(batch_size=1024, cql_hinge=True)) == {"batch_size": 1024, "cql_hinge": True}
    assert departures(stored_run(batch_size=1024)) == {"batch_size": 1024}  # OMAR's batch is one too
    old = stored_run(cql_hinge=True)
    del old["algo_config"]["cql_hinge"]  # stored before the field existed: it had the default (off)
    assert departures(old) == {}
    with pytest.raises(FileFieldError) as info:
        departures({**run("cql", 0, 1.0), "algo_config": None})
    assert info.value.field == "algo_config"


def test_preset_columns_put_todays_preset_and_named_variants_in_columns_of_their_own():
    from dom2lite.sweep.table import preset_columns

    preset = [stored_run(seed=s, score=80.0 + s, batch_size=1024) for s in range(2)]
    variant = [dict(stored_run(seed=s, score=10.0, batch_size=1024, cql_hinge=True), run_dir=f"v{s}") for s in range(2)]
    other = [dict(stored_run(seed=0, score=0.0, cql_temp=9.0, batch_size=1024), run_dir="x")]
    picked = preset_columns(preset + variant + other, {"MA-CQL, hinge": ("cql", {"cql_hinge": True})},
                            allowed=("batch_size",))
    assert [(r["column"], r["seed"]) for r in picked] == [("cql", 0), ("cql", 1), ("MA-CQL, hinge", 0), ("MA-CQL, hinge", 1)]
    table = score_table(picked)["tag-expert"]
    assert table["cql"].mean == 80.5 and table["MA-CQL, hinge"].mean == 10.0
    assert table["cql"].command == "DOM2LITE_BATCH=1024 DOM2LITE_CKPT=1000 bash experiments/calibration.sh tag expert cql 0-1 20000"
    hinge = shlex_split(table["MA-CQL, hinge"].command)
    assert hinge[:3] == ["DOM2LITE_THREADS=1", "python", "-m"] and "sweep" in hinge
    assert hinge[hinge.index("--vary") + 1] == "cql_hinge=true" and hinge[hinge.index("--seeds") + 1] == "0,1"
    assert hinge[hinge.index("--set") + 1] == "batch_size=1024"
    assert hinge[-2:] == ["--out", "results/calibration/tag-expert-cql-cql_hinge=true.json"]
    assert coverage(picked, ["tag"], ["expert"], ["cql", "MA-CQL, hinge"]) == {"tag-expert": {"cql": 2, "MA-CQL, hinge": 2}}
    assert preset_columns(preset + variant + other) == []  # batch 1,024 is a departure unless allowed
    with pytest.raises(FileFieldError) as info:
        preset_columns(preset + [dict(preset[0], run_dir="elsewhere")], allowed=("batch_size",))
    assert info.value.field == "seed" and "tag/expert/cql/0" in str(info.value)


def shlex_split(text):
    import shlex

    return shlex.split(text)


def test_a_cell_trained_outside_the_script_is_reproduced_by_its_own_command():
    from dom2lite.sweep.table import preset_columns

    own = "runs/calibration/tag-expert/cql-cql_actor_bc=0.4-s1"
    bc = dict(stored_run(seed=1, batch_size=256), run_dir=own,
              command=f"python -m dom2lite train --task tag --quality expert --algo cql --seed 1 --profile full "
                      f"--steps 20000 --set batch_size=256 --set cql_actor_bc=0.4 --run-dir {own} --no-progress")
    cell = score_table(preset_columns([bc], allowed=("batch_size",)))["tag-expert"]["cql"]
    assert cell.command == (
        'for seed in 1; do DOM2LITE_THREADS=1 python -m dom2lite train --task tag --quality expert --algo cql '
        '--seed "$seed" --profile full --steps 20000 --set batch_size=256 --set cql_actor_bc=0.4 '
        '--run-dir "runs/calibration/tag-expert/cql-cql_actor_bc=0.4-s$seed" --no-progress; done')
