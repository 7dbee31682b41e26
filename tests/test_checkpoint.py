"""Checkpoints: atomic, pruned, corrupt files rejected with a typed error and skipped for the previous."""

import random

import numpy as np
import pytest
import torch

from dom2lite.errors import CheckpointError
from dom2lite.train.checkpoint import (
    list_checkpoints,
    load_checkpoint_file,
    load_latest_checkpoint,
    save_checkpoint,
    set_global_rng_state,
)


def test_round_trip_restores_random_states(tmp_path):
    net = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path, 5, {"net": net.state_dict()})
    expected = (random.random(), np.random.rand(), torch.rand(2))
    body = load_latest_checkpoint(tmp_path)
    assert body["step"] == 5
    set_global_rng_state(body["rng"])
    again = (random.random(), np.random.rand(), torch.rand(2))
    assert expected[0] == again[0] and expected[1] == again[1] and torch.equal(expected[2], again[2])
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(body["net"])
    assert torch.equal(fresh.weight, net.weight)


def test_keeps_the_newest_two(tmp_path):
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, step, {})
    assert [p.name for p in list_checkpoints(tmp_path)] == ["ckpt_00000002.pt", "ckpt_00000003.pt"]


def test_truncated_checkpoint_falls_back_to_previous(tmp_path):
    save_checkpoint(tmp_path, 10, {"x": torch.ones(4)})
    newest = save_checkpoint(tmp_path, 20, {"x": torch.zeros(4)})
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # a torn write (what atomic writes prevent)
    with pytest.raises(CheckpointError, match="unreadable") as info:
        load_checkpoint_file(newest)
    assert info.value.path == newest
    warnings = []
    body = load_latest_checkpoint(tmp_path, warn=warnings.append)
    assert body["step"] == 10 and torch.equal(body["x"], torch.ones(4))
    assert warnings and "ckpt_00000020.pt" in warnings[0]


def test_foreign_file_is_rejected(tmp_path):
    path = tmp_path / "ckpt_00000001.pt"
    torch.save({"hello": 1}, path)
    with pytest.raises(CheckpointError, match="format_version"):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointError):
        load_latest_checkpoint(tmp_path, warn=lambda m: None)
