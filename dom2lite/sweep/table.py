"""Stored results files as the Results chapter's tables: one row per data set, one column per algorithm,
mean ± std over seeds, the best mean of each row in bold, and the one command that reproduces each cell.

The inputs are the files ``python -m dom2lite summarise`` writes (``{"runs": [...]}``, each run with its
``task``, ``quality``, ``algo``, ``seed``, ``command`` and final metrics) and, optionally, the
re-evaluations ``experiments/own_value.py`` writes (``team_normalised`` over ``episodes`` other episodes).
Only finished runs count; a cell with fewer seeds than another says so through its ``seeds``.

A table's columns are algorithms as today's presets define them: :func:`preset_columns` picks, from any
number of files, the runs that depart from the presets in nothing but what the caller allows
(:mod:`dom2lite.sweep.departures`), and puts a named variant (a preset with some fields changed) in a
column of its own; a run picked that way carries its column in ``column``.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np

from dom2lite.errors import FileFieldError
from dom2lite.sweep.departures import departures

NAMES = {"dom2": "DOM2", "cql": "MA-CQL", "omar": "OMAR", "td3bc": "MA-TD3+BC", "bc": "BC"}


@dataclass(frozen=True)
class Cell:
    """One algorithm on one data set: a metric over its seeds."""

    mean: float
    std: float
    seeds: tuple[int, ...]
    command: str

    def text(self, digits: int = 1) -> str:
        return f"{self.mean:.{digits}f} ± {self.std:.{digits}f}"


def read_runs(paths: Iterable[str | Path]) -> list[dict]:
    """Every finished run of the given results files (a missing file is skipped; a file without
    ``runs``, or a run folder stored in two files, is an error naming the file). Runs of one seed in
    different folders (a preset's and a variant's) are all returned: :func:`preset_columns` or
    :func:`score_table` tell them apart or refuse them."""
    runs, seen = [], {}
    for path in map(Path, paths):
        if not path.is_file():
            continue
        content = json.loads(path.read_text())
        if not isinstance(content, dict) or not isinstance(content.get("runs"), list):
            raise FileFieldError(path, "runs", "not a results file (no list of runs)")
        for r in content["runs"]:
            if not r.get("finished"):
                continue
            key = r["run_dir"]
            if key in seen:
                raise FileFieldError(path, "runs", f"{key} is stored in {seen[key]} too")
            seen[key] = path
            runs.append(r)
    return runs


def preset_columns(runs: Iterable[dict], variants: dict[str, tuple[str, dict]] | None = None,
                   allowed: tuple[str, ...] = ()) -> list[dict]:
    """The runs of today's presets, each in its algorithm's column, and the runs of each variant
    (``{column: (algo, {field: value})}``: the preset with those fields changed) in the variant's column;
    every run that departs otherwise is left out. Departures in ``allowed`` (e.g. ``batch_size``, narrowed
    for a CPU) are ignored. Returns copies of the runs with ``column`` set; a seed of one data set stored
    twice in a column (from two files) is an error naming the column."""
    wanted = {(algo, tuple(sorted(fields.items()))): column for column, (algo, fields) in (variants or {}).items()}
    out, seen = [], {}
    for run in runs:
        off = {k: v for k, v in departures(run).items() if k not in allowed}
        column = run["algo"] if not off else wanted.get((run["algo"], tuple(sorted(off.items()))))
        if column is None:
            continue
        key = (run["task"], run["quality"], column, run["seed"])
        if key in seen:
            raise FileFieldError(run.get("run_dir"), "seed", f"{'/'.join(map(str, key))} is stored twice (also "
                                                             f"{seen[key]})")
        seen[key] = run.get("run_dir")
        out.append(dict(run, column=column, variant=dict(off)))
    return out


def read_reevaluations(paths: Iterable[str | Path], episodes: int = 200) -> dict[str, float]:
    """``run_dir -> team_normalised`` of the re-evaluations over ``episodes`` episodes. Keyed by the run's
    folder, not its setting: a variant (``cql-cql_actor_bc=0.4-s0``) shares task, algorithm and seed with
    the preset's run. A folder re-evaluated in two files is an error naming the second."""
    out, seen = {}, {}
    for path in map(Path, paths):
        if path.is_file():
            for r in json.loads(path.read_text())["runs"]:
                if r.get("episodes") == episodes:
                    if r["run_dir"] in seen:
                        raise FileFieldError(path, "runs", f"{r['run_dir']} is re-evaluated in {seen[r['run_dir']]} too")
                    seen[r["run_dir"]] = path
                    out[r["run_dir"]] = r["team_normalised"]
    return out


def _seed_range(seeds: list[int]) -> str:
    seeds = sorted(seeds)
    if len(seeds) > 1 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(map(str, seeds))


def calibration_command(run: dict, seeds: list[int]) -> str:
    """The ``experiments/calibration.sh`` call that trains ``run``'s setting for ``seeds`` as ``run`` was
    trained: its batch size and checkpoint interval read from the run's own command, and its torch thread
    count where the run recorded one other than the script's default of 1 (a CPU run repeats bit for bit
    only at the same count)."""
    words = shlex.split(run["command"])
    threads = run.get("torch_threads")
    env = [f"DOM2LITE_THREADS={threads}"] if threads not in (None, 1) else []
    for flag, var in (("--set", "DOM2LITE_BATCH"), ("--checkpoint-every", "DOM2LITE_CKPT")):
        for i, word in enumerate(words[:-1]):
            value = words[i + 1]
            if word == flag and (flag != "--set" or value.startswith("batch_size=")):
                env.append(f"{var}={value.split('=')[-1]}")
    return " ".join(env + ["bash experiments/calibration.sh", run["task"], run["quality"], run["algo"],
                           _seed_range(seeds), str(run["steps"])])


def train_loop_command(run: dict, seeds: list[int]) -> str:
    """A shell loop of ``run``'s own ``train`` command over ``seeds``, for a cell trained outside
    ``experiments/calibration.sh`` (its folders not named ``{algo}-s{seed}``): the seed and the folder's
    ``-s{seed}`` follow the loop, everything else is as recorded, with the thread count where recorded."""
    words = shlex.split(run["command"])
    seed = str(run["seed"])
    out = []
    for i, word in enumerate(words):
        if i and words[i - 1] == "--seed":
            out.append('"$seed"')
        elif i and words[i - 1] == "--run-dir" and word.endswith(f"-s{seed}"):
            out.append(f'"{word[:-len(seed)]}$seed"')
        else:
            out.append(shlex.quote(word))
    threads = run.get("torch_threads")
    env = f"DOM2LITE_THREADS={threads} " if threads is not None else ""
    return f"for seed in {' '.join(map(str, sorted(seeds)))}; do {env}{' '.join(out)}; done"


def variant_command(run: dict, seeds: list[int]) -> str:
    """The ``sweep`` that trains a variant column's cell (``run["variant"]``: the fields it changes from
    the preset, as ``--vary``) for ``seeds`` as ``run`` was trained (its batch size, checkpoint interval
    and thread count); its folders are named by the variant, beside the preset's
    (``runs/calibration/tag-expert/cql-cql_actor_bc=0.0-s0``), and its results file after the setting."""
    from dom2lite.sweep.grid import Cell as GridCell, TrainOptions

    words = shlex.split(run["command"])
    after = {w: words[i + 1] for i, w in enumerate(words[:-1]) if w in ("--checkpoint-every", "--eval-every",
                                                                        "--eval-episodes")}
    sets = tuple(words[i + 1] for i, w in enumerate(words[:-1]) if w == "--set" and words[i + 1].startswith("batch_size="))
    options = TrainOptions(profile="full", steps=run["steps"], eval_every=int(after.get("--eval-every", 2500)),
                           eval_episodes=int(after.get("--eval-episodes", 20)), sets=sets,
                           checkpoint_every=int(after["--checkpoint-every"]) if "--checkpoint-every" in after else None)
    varied = tuple((k, json.dumps(v)) for k, v in sorted(run["variant"].items()))
    cell = GridCell(run["task"], run["quality"], run["algo"], seeds[0], varied=varied, options=options)
    threads = run.get("torch_threads")  # a sweep shares the cores out unless told: say it where recorded
    env = [f"DOM2LITE_THREADS={threads}"] if threads is not None else []
    out = f"results/calibration/{cell.setting.replace('/', '-')}.json"  # tag-expert-cql-cql_actor_bc=0.0.json
    return " ".join(env + [shlex.join([*cell.sweep_command("runs/calibration", sorted(seeds)), "--out", out])])


def score_table(runs: list[dict], key: str = "eval/normalised_mean",
                values: dict[str, float] | None = None) -> dict[str, dict[str, Cell]]:
    """``{"spread-expert": {"cql": Cell, ...}, ...}``: ``key`` of each run (or, with ``values``, the
    entry of the run's folder there, e.g. a 200-episode re-evaluation; runs without one are left out)
    over seeds."""
    grouped: dict[str, dict[str, list[tuple[int, float, dict]]]] = {}
    for run in runs:
        if values is None:
            value = run.get(key)
        else:
            value = values.get(run["run_dir"])
        if value is None:
            continue
        row = grouped.setdefault(f"{run['task']}-{run['quality']}", {}).setdefault(run.get("column", run["algo"]), [])
        row.append((run["seed"], float(value), run))
    table = {}
    for name, by_algo in grouped.items():
        table[name] = {}
        for algo, entries in by_algo.items():
            seeds = [s for s, _, _ in entries]
            if len(set(seeds)) != len(seeds):
                raise FileFieldError(None, "seed", f"{name}/{algo}: a seed given twice ({sorted(seeds)})")
            x = np.array([v for _, v, _ in entries])
            # the command from a run that recorded its thread count, where one did (older summaries did not)
            like = next((r for _, _, r in entries if r.get("torch_threads") is not None), entries[0][2])
            if like.get("variant"):
                command = variant_command(like, seeds)
            elif Path(like["run_dir"]).name == f"{like['algo']}-s{like['seed']}":
                command = calibration_command(like, seeds)  # the script's own folders
            else:
                command = train_loop_command(like, seeds)
            table[name][algo] = Cell(float(x.mean()), float(x.std()), tuple(sorted(seeds)), command)
    return table


def data_means(runs: list[dict]) -> dict[str, float]:
    """``{"spread-expert": the data set's own normalised mean, ...}`` as the runs recorded it."""
    return {f"{r['task']}-{r['quality']}": r["data_normalised_mean"] for r in runs if "data_normalised_mean" in r}


def coverage(runs: list[dict], tasks, qualities, algos) -> dict[str, dict[str, int]]:
    """``{"spread-expert": {"dom2": number of finished seeds, ...}, ...}`` over the whole grid (0: not run)."""
    count = {f"{t}-{q}": {a: 0 for a in algos} for t in tasks for q in qualities}
    for r in runs:
        row = count.get(f"{r['task']}-{r['quality']}")
        column = r.get("column", r["algo"])
        if row is not None and column in row:
            row[column] += 1
    return count


def markdown(table: dict[str, dict[str, Cell]], algos: list[str], digits: int = 1,
             best: str | None = "max", data: dict[str, float] | None = None) -> str:
    """The table as Markdown: rows in ``table``'s order, the best mean of each row in bold (``best``:
    ``"max"``, ``"min"`` or None for no bold; only in a row of more than one cell), a cell with fewer
    seeds than the row's most marked with its seed count; with ``data`` (:func:`data_means`), a first
    column with the data set's own score."""
    if best not in ("max", "min", None):
        raise ValueError(f"best must be 'max', 'min' or None, not {best!r}")
    lines = ["| data set | " + ("data | " if data else "") + " | ".join(NAMES.get(a, a) for a in algos) + " |",
             "|---|" + "---|" * (len(algos) + bool(data))]
    for name, row in table.items():
        means = {a: c.mean for a, c in row.items() if a in algos}
        top = {"max": max, "min": min}[best](means, key=means.get) if best and len(means) > 1 else None
        most = max((len(c.seeds) for c in row.values()), default=0)
        cells = []
        for algo in algos:
            cell = row.get(algo)
            if cell is None:
                cells.append("–")
                continue
            text = cell.text(digits)
            text = f"**{text}**" if algo == top else text
            cells.append(text + (f" ({len(cell.seeds)} seed{'s' * (len(cell.seeds) > 1)})"
                                 if len(cell.seeds) < most else ""))
        if data:
            cells.insert(0, f"{data[name]:.{digits}f}" if name in data else "–")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
