"""Exporting behaviour snapshots and generating data sets from them (fake environment, tiny sizes)."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
from test_behaviour import FAKE, fake_factory, train_fake

from dom2lite.behaviour.export import export_behaviour, sha256
from dom2lite.behaviour.select import halfway_return
from dom2lite.data.generate import QUALITIES, add_generate_parser, behaviour_plan, generate_dataset
from dom2lite.errors import ConfigError


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny trained run exported to a private assets folder (never the package's own)."""
    root = tmp_path_factory.mktemp("gen")
    train_fake(root, steps=420)
    assets = root / "assets"
    prov = export_behaviour("fake", seed=3, out=root, dest=assets / "fake", n_replay=3, reference_episodes=12,
                            venv_factory=fake_factory, spec=FAKE, command="test export")
    return root, assets, prov


def test_export_writes_policies_and_provenance(shipped):
    root, assets, prov = shipped
    folder = assets / "fake"
    assert json.loads((folder / "provenance.json").read_text()) == json.loads(json.dumps(prov))
    assert set(prov["reference_returns"]) == {"random", "expert"}
    pol = prov["policies"]
    steps = [s for s, _ in prov["curve"]]
    assert pol["expert"]["step"] == steps[-1] == prov["training"]["steps"]
    # medium is the non-final snapshot whose measured return is closest to half-way
    target = halfway_return(prov["reference_returns"]["random"], prov["reference_returns"]["expert"])
    measured = prov["measured_curve"]
    assert [s for s, _ in measured] == steps and measured[-1][1] == prov["reference_returns"]["expert"]
    gaps = [abs(r - target) for _, r in measured[:-1]]
    assert pol["medium"]["step"] == measured[int(np.argmin(gaps))][0]
    assert pol["medium"]["return_mean"] == pol["medium"]["measured_return"] == min(measured[:-1],
                                                                                  key=lambda m: abs(m[1] - target))[1]
    replay_steps = [r["step"] for r in pol["replay"]]
    assert replay_steps == sorted(set(replay_steps)) and replay_steps[0] == 0
    assert replay_steps[-1] == pol["medium"]["step"] and pol["replay"][-1]["file"] == "medium.pt"
    for name, digest in prov["sha256"].items():
        assert sha256(folder / name) == digest
    assert prov["training"]["command"] == "test" and prov["training"]["pieces"]


def test_export_at_a_final_step_ignores_later_snapshots(shipped, tmp_path):
    root, _, prov = shipped
    steps = [s for s, _ in prov["curve"]]
    cut = steps[len(steps) // 2]
    early = export_behaviour("fake", seed=3, out=root, dest=tmp_path / "fake", n_replay=2, reference_episodes=4,
                             venv_factory=fake_factory, spec=FAKE, final_step=cut)
    assert early["policies"]["expert"]["step"] == early["training"]["steps"] == cut
    assert [s for s, _ in early["curve"]] == [s for s in steps if s <= cut]
    assert all(p["step"] <= cut for p in early["training"]["pieces"])
    with pytest.raises(ConfigError, match="final_step"):
        export_behaviour("fake", seed=3, out=root, dest=tmp_path / "x", venv_factory=fake_factory, spec=FAKE,
                         final_step=cut + 1)


def test_medium_replay_plan_splits_episodes_over_snapshots_in_order(shipped):
    _, assets, prov = shipped
    plan = behaviour_plan("fake", "medium-replay", 10, assets, prov)
    assert sum(p["episodes"] for p in plan) == 10
    assert [p["policy"].step for p in plan] == [r["step"] for r in prov["policies"]["replay"]]
    assert max(p["episodes"] for p in plan) - min(p["episodes"] for p in plan) <= 1
    assert behaviour_plan("fake", "random", 4, assets, prov)[0]["policy"] is None


@pytest.mark.parametrize("quality", QUALITIES)
def test_generate_writes_a_valid_dataset_with_references(shipped, tmp_path, quality):
    from dom2lite.data.dataset import OfflineDataset

    _, assets, prov = shipped
    kw = dict(episodes=7, out=tmp_path, assets=assets, progress=False, venv_factory=fake_factory, spec=FAKE)
    path = generate_dataset("fake", quality, seed=5, **kw)
    assert path.name == f"fake-{quality}-s5.npz"
    ds = OfflineDataset.load(path)
    card = json.loads(path.with_name(f"fake-{quality}-s5.card.json").read_text())
    assert card["reference_returns"] == prov["reference_returns"]
    assert card["behaviour"]["quality"] == quality
    measured = dict(map(tuple, prov["measured_curve"]))
    for pol in card["behaviour"]["policies"]:
        if quality != "random":
            assert pol["measured_return"] == measured[pol["step"]]
    assert ds.task == "fake" and ds.quality == quality and ds.seed == 5
    assert len(np.unique(ds.episode)) == 7
    assert ds.obs.shape[1:] == (2, 4) and ds.act.shape[1:] == (2, 3)
    assert np.all(np.abs(ds.act) <= 1.0) and np.all(ds.act[:, 1, 2] == 0)
    assert np.all(ds.truncated | ds.terminated | (np.diff(ds.episode, append=-1) == 0))
    # same seed, same data; another seed, other data
    again = OfflineDataset.load(generate_dataset("fake", quality, seed=5, **{**kw, "out": tmp_path / "b"}))
    assert np.array_equal(again.obs, ds.obs) and np.array_equal(again.act, ds.act)
    other = OfflineDataset.load(generate_dataset("fake", quality, seed=6, **{**kw, "out": tmp_path / "c"}))
    assert not np.array_equal(other.obs, ds.obs)


def test_generate_parser_accepts_the_documented_command():
    parser = argparse.ArgumentParser()
    add_generate_parser(parser.add_subparsers())
    args = parser.parse_args(["generate", "--task", "spread", "--quality", "expert", "--seed", "0"])
    assert (args.task, args.quality, args.seed, args.all) == ("spread", "expert", 0, False)
    assert parser.parse_args(["generate", "--all"]).all
    with pytest.raises(SystemExit):
        parser.parse_args(["generate", "--task", "spread", "--quality", "excellent"])
