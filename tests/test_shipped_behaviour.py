"""The behaviour policies shipped in dom2lite/assets/behaviour agree with their provenance and its rules."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dom2lite.behaviour.export import MEDIUM_RULE, REFERENCE_EPISODES, sha256
from dom2lite.behaviour.policy import load_shipped, shipped_dir, shipped_provenance
from dom2lite.behaviour.select import halfway_return, select_medium
from dom2lite.envs import TASKS


@pytest.mark.parametrize("task", TASKS)
def test_shipped_files_match_their_provenance(task):
    prov = shipped_provenance(task)
    folder = shipped_dir(task)
    assert sorted(prov["sha256"]) == sorted(p.name for p in folder.glob("*.pt"))
    for name, digest in prov["sha256"].items():
        assert sha256(folder / name) == digest, f"{task}/{name} differs from its provenance"
    pol = prov["policies"]
    assert load_shipped(task, "expert").step == pol["expert"]["step"] == prov["training"]["steps"]
    assert load_shipped(task, "medium").step == pol["medium"]["step"]
    assert prov["export"]["git_commit"] and not prov["export"]["git_commit"].endswith("-dirty")


@pytest.mark.parametrize("task", TASKS)
def test_shipped_medium_follows_the_measured_rule(task):
    prov = shipped_provenance(task)
    assert prov["medium_rule"] == MEDIUM_RULE and prov["reference_episodes"] == REFERENCE_EPISODES[task]
    refs, measured = prov["reference_returns"], prov["measured_curve"]
    assert [s for s, _ in measured] == [s for s, _ in prov["curve"]]
    assert measured[-1][1] == refs["expert"]
    idx = select_medium([r for _, r in measured[:-1]], refs["random"], refs["expert"])
    assert prov["policies"]["medium"]["step"] == measured[idx][0]
    # medium sits near half-way: within a quarter of the random-to-expert range
    span = refs["expert"] - refs["random"]
    assert span > 0
    assert abs(prov["policies"]["medium"]["measured_return"] - halfway_return(refs["random"], refs["expert"])) < 0.25 * span
    steps = [r["step"] for r in prov["policies"]["replay"]]
    assert steps == sorted(set(steps)) and steps[-1] == prov["policies"]["medium"]["step"]


def test_behaviour_show_prints_the_measured_curve(capsys):
    from dom2lite.cli import main

    assert main(["behaviour", "show", "--task", "world"]) == 0
    shown = json.loads(capsys.readouterr().out)
    prov = shipped_provenance("world")
    assert shown["measured_curve"] == prov["measured_curve"]
    assert shown["policies"]["medium"]["step"] == prov["policies"]["medium"]["step"]
    assert np.isfinite(shown["reference_returns"]["expert"])
