"""Where a stored run departs from today's presets: the fields of its ``algo_config`` that differ from what
``python -m dom2lite train --profile full`` would use now for its algorithm, task, quality and seed.

Results files outlive presets. When a preset changes (chapter 05 records why each one is what it is), the
runs stored before it no longer show what the command line trains, and a results table that picks runs by
file name would go on showing them. Picking them by their departures instead keeps a table honest: a
run of the current preset departs in nothing (or only in what the caller allows, e.g. a batch narrowed
for a CPU); a variant departs in the fields that make it one.

A field added to a config class after a run was stored is absent from its ``algo_config``; the run had
the behaviour that came before the field, which is the field's default (the rule ``train`` itself follows
when it resumes such a run: ``dom2lite.train.experiment.with_added_defaults``).
"""

from __future__ import annotations

import json
from typing import Any

from dom2lite.errors import FileFieldError


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))  # tuples as lists, as the run's config.json stores them


def departures(run: dict[str, Any], profile: str = "full") -> dict[str, Any]:
    """``{field: the run's value}`` for every field of ``run["algo_config"]`` that differs from today's
    preset for the run's algorithm, task, quality and seed under ``profile`` (the seed itself never
    counts). A run without an ``algo_config`` is an error naming the run's folder."""
    from dom2lite.algos import algo_class
    from dom2lite.train.experiment import resolve_run_config, with_added_defaults

    stored = run.get("algo_config")
    if not isinstance(stored, dict):
        raise FileFieldError(run.get("run_dir"), "algo_config", "the run records no algo_config to compare")
    _, config, _ = resolve_run_config(run["algo"], run["task"], run["quality"], run["seed"], profile=profile)
    now = _plain(config.to_dict())
    had = with_added_defaults(stored, _plain(algo_class(run["algo"]).config_class().to_dict()))
    return {k: had.get(k) for k in sorted(now) if k != "seed" and had.get(k) != now[k]}

