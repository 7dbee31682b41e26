"""Chapters' data on first use: generated when missing, reused when current, regenerated when stale."""

from __future__ import annotations

import json

import pytest

from dom2lite.data.dataset import OfflineDataset
from dom2lite.data.ensure import ensure_dataset, made_from_shipped_policies, profile_data_dir
from dom2lite.data.paths import card_path

pytest.importorskip("mpe2")


def test_generated_once_then_reused_then_regenerated_when_stale(tmp_path):
    path = ensure_dataset("spread", "medium", profile="smoke", root=tmp_path, progress=False)
    assert path.parent == profile_data_dir("smoke", tmp_path) == tmp_path / "smoke"
    assert made_from_shipped_policies(path, "spread")
    ds = OfflineDataset.load(path)
    assert ds.n_episodes == 40 and ds.quality == "medium"

    stamp = path.stat().st_mtime_ns
    assert ensure_dataset("spread", "medium", profile="smoke", root=tmp_path, progress=False) == path
    assert path.stat().st_mtime_ns == stamp  # reused, not rewritten

    card_file = card_path(path)
    card = json.loads(card_file.read_text())
    card["behaviour"]["policies"][0]["sha256"] = "0" * 64  # as if made from other behaviour weights
    card_file.write_text(json.dumps(card))
    assert not made_from_shipped_policies(path, "spread")
    ensure_dataset("spread", "medium", profile="smoke", root=tmp_path, progress=False)
    assert made_from_shipped_policies(path, "spread")
    OfflineDataset.load(path)  # the regenerated file matches its new card
