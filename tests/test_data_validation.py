"""Loading refuses every kind of bad data file with a DatasetError naming the file and the field.

Each case builds its bad file in tmp_path: the arrays are written with ``np.savez`` directly (bypassing
``OfflineDataset.save``, which refuses to write them), or a good file or card is damaged afterwards.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers_data import save_tiny, tiny_dataset

from dom2lite.data import OfflineDataset, card_path
from dom2lite.errors import DatasetError


def good_arrays() -> dict[str, np.ndarray]:
    # 3 agents, agent 2 has its last obs and act dim padded; 4 episodes of 5 steps, episode 1 ends terminated
    return tiny_dataset(n_agents=3, obs_dim=4, act_dim=3, state_dim=6, episodes=4, episode_len=5,
                        terminal_every=2).as_arrays()


def _set(arrays, key, index, value):
    arrays[key] = arrays[key].copy()
    arrays[key][index] = value


ROW_FIELDS = ("obs", "act", "rew", "next_obs", "state", "next_state", "terminated", "truncated", "episode")


def _reorder(order):
    def damage(a):
        for key in ROW_FIELDS:
            a[key] = a[key][order]
    return damage


_swap_episodes = _reorder(np.r_[0:5, 10:15, 5:10, 15:20])  # ids 0 0 0 0 0 2 2 2 2 2 1 1 1 1 1 3 ...
_split_episode = _reorder(np.r_[0:3, 5:10, 3:5, 10:20])  # ids 0 0 0 1 1 1 1 1 0 0 2 ...


def _renumber_from_one(a):
    a["episode"] = a["episode"] + 1


# (case id, how to damage the arrays, the field the error must name, words the message must contain)
ARRAY_CASES = [
    ("missing key", lambda a: a.pop("rew"), "rew", "missing key"),
    ("missing metadata", lambda a: a.pop("task"), "task", "missing key"),
    ("wrong dtype float64", lambda a: a.update(obs=a["obs"].astype(np.float64)), "obs", "dtype"),
    ("wrong dtype flags", lambda a: a.update(terminated=a["terminated"].astype(np.float32)), "terminated", "dtype"),
    ("wrong dtype episode", lambda a: a.update(episode=a["episode"].astype(np.int32)), "episode", "dtype"),
    ("wrong ndim", lambda a: a.update(rew=a["rew"][:, 0].copy()), "rew", "dims"),
    ("length differs", lambda a: a.update(next_obs=a["next_obs"][:-1].copy()), "next_obs", "lengths differ"),
    ("agent count differs", lambda a: a.update(act=np.concatenate([a["act"], a["act"][:, :1]], axis=1)), "act",
     "agent counts differ"),
    ("mask agents differ", lambda a: a.update(act_mask=a["act_mask"][:2].copy()), "act_mask", "agent counts differ"),
    ("state width differs", lambda a: a.update(next_state=a["next_state"][:, :5].copy()), "next_state", "state dims"),
    ("empty", lambda a: a.update({k: a[k][:0] for k in ROW_FIELDS}), "obs", "no transitions"),
    ("nan", lambda a: _set(a, "state", (7, 2), np.nan), "state", "NaN/inf"),
    ("inf", lambda a: _set(a, "rew", (3, 0), np.inf), "rew", "NaN/inf"),
    ("action out of bounds", lambda a: _set(a, "act", (4, 0, 1), 1.01), "act", "[-1, 1]"),
    ("action padding", lambda a: _set(a, "act", (4, 2, 2), 0.5), "act", "padded"),
    ("observation padding", lambda a: _set(a, "next_obs", (9, 2, 3), 0.5), "next_obs", "padded"),
    ("mask without a real dim", lambda a: _set(a, "obs_mask", 1, False), "obs_mask", "no real dimension"),
    ("episode not contiguous", _split_episode, "episode", "not contiguous"),
    ("episodes out of order", _swap_episodes, "episode", "numbering"),
    ("episodes numbered from 1", _renumber_from_one, "episode", "numbering"),
    ("terminal mid-episode", lambda a: _set(a, "terminated", 2, True), "terminated", "middle"),
    ("episode without an end", lambda a: _set(a, "truncated", 4, False), "truncated", "neither"),
    ("steps out of order", lambda a: _set(a, "next_obs", (12, 0, 0), 99.0), "next_obs", "consecutive"),
    ("state steps out of order", lambda a: _set(a, "next_state", (0, 0), 99.0), "next_state", "consecutive"),
    ("unknown quality", lambda a: a.update(quality=np.asarray("great")), "quality", "unknown quality"),
    ("seed not an int", lambda a: a.update(seed=np.asarray(1.5)), "seed", "integer"),
    ("future format", lambda a: a.update(format_version=np.asarray(99)), "format_version", "format"),
]


@pytest.mark.parametrize("damage,field,words", [c[1:] for c in ARRAY_CASES], ids=[c[0] for c in ARRAY_CASES])
def test_bad_arrays_fail_with_the_file_and_field_named(tmp_path, damage, field, words):
    arrays = good_arrays()
    damage(arrays)
    path = tmp_path / "bad-medium-s0.npz"
    np.savez(path, **arrays)
    with pytest.raises(DatasetError) as err:
        OfflineDataset.load(path)
    assert err.value.path == path and err.value.field == field
    assert words in str(err.value) and str(path) in str(err.value)


def test_the_good_arrays_pass(tmp_path):
    path = tmp_path / "good-medium-s0.npz"
    np.savez(path, **good_arrays())
    with pytest.raises(DatasetError) as err:  # valid arrays: only the card is missing
        OfflineDataset.load(path)
    assert err.value.field == "card"


def test_save_refuses_bad_arrays_and_writes_nothing(tmp_path):
    ds = tiny_dataset()
    ds.rew[3, 1] = np.nan
    with pytest.raises(DatasetError) as err:
        save_tiny(ds, tmp_path / "fake-medium-s0.npz")
    assert err.value.field == "rew" and list(tmp_path.iterdir()) == []


def test_validate_false_reads_without_checks(tmp_path):
    arrays = good_arrays()
    _set(arrays, "act", (0, 0, 0), 3.0)
    path = tmp_path / "loose-medium-s0.npz"
    np.savez(path, **arrays)
    ds = OfflineDataset.load(path, validate=False)
    assert ds.act[0, 0, 0] == 3.0 and ds.card is None


# --- damaged files ---------------------------------------------------------------------------------
@pytest.fixture
def saved(tmp_path):
    return save_tiny(tiny_dataset(task="spread"), tmp_path / "spread-medium-s0.npz")


def _load_error(path, **kw) -> DatasetError:
    with pytest.raises(DatasetError) as err:
        OfflineDataset.load(path, **kw)
    return err.value


@pytest.mark.parametrize("keep", [0.5, 0.98])
def test_truncated_file_is_refused(saved, keep):
    raw = saved.read_bytes()
    saved.write_bytes(raw[: int(len(raw) * keep)])
    err = _load_error(saved)
    assert err.path == saved and "truncated or corrupt" in str(err)


def test_corrupt_bytes_inside_an_array_are_refused_naming_the_array(saved):
    import zipfile

    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("obs.npy")
    raw = bytearray(saved.read_bytes())
    at = info.header_offset + 30 + len(info.filename) + 200  # inside the stored obs.npy payload
    raw[at] ^= 0xFF
    saved.write_bytes(bytes(raw))
    err = _load_error(saved)
    assert err.path == saved and err.field == "obs" and "CRC" in str(err)


def test_not_a_zip_and_missing_file_are_refused(tmp_path):
    junk = tmp_path / "junk-medium-s0.npz"
    junk.write_text("not a data set")
    assert _load_error(junk).path == junk
    missing = tmp_path / "none-medium-s0.npz"
    err = _load_error(missing)
    assert err.path == missing and "no such data file" in str(err)


# --- cards -----------------------------------------------------------------------------------------
def _edit_card(path, edit):
    card = json.loads(card_path(path).read_text())
    edit(card)
    card_path(path).write_text(json.dumps(card))


def test_missing_card_is_refused(saved):
    card_path(saved).unlink()
    err = _load_error(saved)
    assert err.path == card_path(saved) and err.field == "card" and "missing" in str(err)


def test_card_that_is_not_json_is_refused(saved):
    card_path(saved).write_text('{"task": "spread", ')
    err = _load_error(saved)
    assert err.path == card_path(saved) and err.field == "card" and "JSON" in str(err)


def test_data_changed_after_the_card_fails_on_the_digest(saved):
    ds = OfflineDataset.load(saved)
    ds.rew[0, 0] += 1.0
    np.savez(saved, **ds.as_arrays())  # a valid file, but not the one the card describes
    err = _load_error(saved)
    assert err.path == card_path(saved) and err.field == "sha256" and saved.name in str(err)


CARD_CASES = [
    ("count", lambda c: c.update(n_episodes=5), "n_episodes"),
    ("transitions", lambda c: c.update(n_transitions=21), "n_transitions"),
    ("agents", lambda c: c.update(n_agents=3), "n_agents"),
    ("identity", lambda c: c.update(quality="expert"), "quality"),
    ("seed", lambda c: c.update(seed=1), "seed"),
    ("missing key", lambda c: c.pop("reference_returns"), "reference_returns"),
    ("bad references", lambda c: c.update(reference_returns={"random": 1.0, "expert": 1.0}), "reference_returns"),
    ("return statistics", lambda c: c["returns"].update(mean=c["returns"]["mean"] + 0.5), "returns.mean"),
    ("environment version", lambda c: c["environment"].update(mpe2="0.0.1"), "environment.mpe2"),
]


@pytest.mark.parametrize("edit,field", [c[1:] for c in CARD_CASES], ids=[c[0] for c in CARD_CASES])
def test_card_that_does_not_match_the_file_is_refused(saved, edit, field):
    _edit_card(saved, edit)
    err = _load_error(saved)
    assert err.path == card_path(saved) and err.field == field


def test_environment_version_check_can_be_switched_off(saved):
    _edit_card(saved, lambda c: c["environment"].update(mpe2="0.0.1"))
    err = _load_error(saved)
    assert "mpe2 0.0.1" in str(err) and "check_versions=False" in str(err)
    assert OfflineDataset.load(saved, check_versions=False).n_episodes == 4


def test_halfcheetah_cards_pin_mujoco_and_gymnasium_robotics(tmp_path):
    path = save_tiny(tiny_dataset(task="halfcheetah"), tmp_path / "halfcheetah-expert-s0.npz")
    for name in ("mujoco", "gymnasium-robotics"):
        good = json.loads(card_path(path).read_text())
        _edit_card(path, lambda c, name=name: c["environment"].update({name: "1.0.0"}))
        assert _load_error(path).field == f"environment.{name}"
        card_path(path).write_text(json.dumps(good))
    assert OfflineDataset.load(path).task == "halfcheetah"
