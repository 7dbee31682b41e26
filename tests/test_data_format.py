"""The offline data set format: save/load round trips, the card, episodes, atomic writes, the sampler, the CLI."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pytest
import torch
from helpers_data import REFERENCE_RETURNS, save_tiny, tiny_dataset

import dom2lite.data.dataset as dataset_module
from dom2lite.augment import augmentation_weights
from dom2lite.data import (
    QUALITIES,
    Batch,
    OfflineDataset,
    TransitionSampler,
    card_path,
    dataset_path,
    default_data_dir,
    normalised_score,
)
from dom2lite.data.card import file_sha256
from dom2lite.data.cli import register
from dom2lite.data.validate import ARRAY_FIELDS
from dom2lite.errors import ConfigError, DatasetError


@pytest.fixture
def ds():
    return tiny_dataset(n_agents=3, obs_dim=4, act_dim=3, state_dim=5, episodes=6, episode_len=4, seed=1,
                        terminal_every=3)


# --- files and cards -------------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True])
def test_save_load_round_trip_keeps_every_field_and_dtype(ds, tmp_path, compress):
    path = save_tiny(ds, tmp_path / "fake-medium-s1.npz", compress=compress)
    back = OfflineDataset.load(path)
    for key, (dtype, _) in ARRAY_FIELDS.items():
        assert getattr(back, key).dtype == np.dtype(dtype)
        assert np.array_equal(getattr(back, key), getattr(ds, key)), key
    assert (back.task, back.quality, back.seed) == ("fake", "medium", 1)
    assert back.card == json.loads(card_path(path).read_text())


def test_card_records_digest_counts_returns_references_and_provenance(ds, tmp_path):
    path = save_tiny(ds, tmp_path / "fake-medium-s1.npz")
    card = json.loads((tmp_path / "fake-medium-s1.card.json").read_text())
    assert card["sha256"] == file_sha256(path) and card["bytes"] == path.stat().st_size
    assert card["file"] == path.name
    assert (card["n_transitions"], card["n_episodes"], card["n_agents"]) == (24, 6, 3)
    assert (card["obs_dim"], card["act_dim"], card["state_dim"]) == (4, 3, 5)
    returns = ds.episode_returns()
    assert card["returns"] == pytest.approx({"mean": returns.mean(), "std": returns.std(),
                                             "min": returns.min(), "max": returns.max()})
    assert card["reference_returns"] == REFERENCE_RETURNS
    assert card["behaviour"]["name"] == "synthetic"
    assert card["provenance"]["command"] == "pytest" and "numpy" in card["provenance"]["versions"]
    assert card["environment"] == {}  # "fake" has no environment package to pin
    assert card["normalised_return_mean"] == pytest.approx(normalised_score(returns.mean(), card))


def test_card_pins_the_environment_packages_of_the_task(tmp_path):
    from dom2lite.provenance import package_versions

    mpe = OfflineDataset.load(save_tiny(tiny_dataset(task="spread"), tmp_path / "spread-medium-s0.npz"))
    assert mpe.card["environment"] == package_versions(("mpe2",))
    hc = OfflineDataset.load(save_tiny(tiny_dataset(task="halfcheetah"), tmp_path / "halfcheetah-medium-s0.npz"))
    assert hc.card["environment"] == package_versions(("gymnasium-robotics", "mujoco"))


def test_save_requires_references_and_behaviour_and_refuses_to_overwrite_computed_keys(ds, tmp_path):
    with pytest.raises(ConfigError) as err:
        ds.save(tmp_path / "a.npz", card_extra={"behaviour": {}})
    assert err.value.field == "card_extra.reference_returns"
    with pytest.raises(ConfigError) as err:
        ds.save(tmp_path / "b.npz", card_extra={"reference_returns": REFERENCE_RETURNS, "behaviour": {},
                                                "sha256": "x"})
    assert err.value.field == "card_extra.sha256"
    with pytest.raises(DatasetError) as err:
        ds.save(tmp_path / "c.npz", card_extra={"reference_returns": {"random": 1.0, "expert": 1.0}, "behaviour": {}})
    assert err.value.field == "reference_returns"
    with pytest.raises(ConfigError):
        save_tiny(ds, tmp_path / "d.pt")


def test_normalised_score_maps_random_to_0_and_expert_to_100():
    card = {"reference_returns": {"random": -20.0, "expert": 5.0}}
    assert normalised_score(-20.0, card) == 0.0 and normalised_score(5.0, card) == 100.0
    assert normalised_score(np.array([-7.5]), card) == pytest.approx([50.0])
    with pytest.raises(DatasetError) as err:
        normalised_score(1.0, {"reference_returns": {"random": 0.0}})
    assert err.value.field == "reference_returns"


def test_interrupted_data_write_leaves_no_file_and_no_temporary(ds, tmp_path, monkeypatch):
    def half_then_crash(fh, **arrays):
        fh.write(b"PK\x03\x04 half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(dataset_module.np, "savez", half_then_crash)
    with pytest.raises(KeyboardInterrupt):
        save_tiny(ds, tmp_path / "fake-medium-s1.npz")
    assert list(tmp_path.iterdir()) == []


def test_interrupted_card_write_leaves_a_file_that_load_refuses(ds, tmp_path, monkeypatch):
    path = save_tiny(ds, tmp_path / "fake-medium-s1.npz")  # a complete older version
    monkeypatch.setattr(dataset_module, "write_card", lambda card, file: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        save_tiny(ds.subset_episodes([0, 1]), path)
    with pytest.raises(DatasetError) as err:  # the old card was removed before the new data went in
        OfflineDataset.load(path)
    assert err.value.field == "card" and err.value.path == card_path(path)


# --- episodes --------------------------------------------------------------------------------------
def test_episode_returns_are_sums_of_the_team_mean_reward(ds):
    assert ds.n_episodes == 6 and ds.n_transitions == 24
    slices = ds.episode_slices()
    assert [(s.start, s.stop) for s in slices] == [(4 * e, 4 * e + 4) for e in range(6)]
    expected = [sum(float(np.mean(ds.rew[t].astype(np.float64))) for t in range(s.start, s.stop)) for s in slices]
    assert ds.episode_returns() == pytest.approx(expected)


def test_subset_episodes_keeps_whole_episodes_renumbered_and_valid(ds):
    sub = ds.subset_episodes(np.array([4, 1]))
    assert sub.n_episodes == 2 and sub.n_transitions == 8
    assert np.array_equal(sub.episode, [0, 0, 0, 0, 1, 1, 1, 1])
    assert np.array_equal(sub.obs[:4], ds.obs[16:20]) and np.array_equal(sub.rew[4:], ds.rew[4:8])
    assert sub.episode_returns() == pytest.approx(ds.episode_returns()[[4, 1]])
    sub.validate()
    with pytest.raises(ConfigError):
        ds.subset_episodes([1, 1])
    with pytest.raises(ConfigError):
        ds.subset_episodes([6])


def test_keep_fraction_is_deterministic_for_a_seed(ds):
    a, b = ds.keep_fraction(0.5, seed=3), ds.keep_fraction(0.5, seed=3)
    assert a.n_episodes == 3 and np.array_equal(a.obs, b.obs)
    assert ds.keep_fraction(0.01).n_episodes == 1 and ds.keep_fraction(1.0).n_transitions == ds.n_transitions
    firsts = [int(np.flatnonzero((ds.obs == a.obs[s.start]).all(axis=(1, 2)))[0]) // 4 for s in a.episode_slices()]
    assert firsts == sorted(set(firsts))  # whole original episodes, in their original order
    picks = {tuple(ds.keep_fraction(0.5, seed=s).episode_returns().round(6)) for s in range(6)}
    assert len(picks) > 1  # the seed decides which episodes are kept
    a.validate()
    with pytest.raises(ConfigError):
        ds.keep_fraction(0.0)


# --- paths -----------------------------------------------------------------------------------------
def test_default_paths_follow_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("DOM2LITE_DATA", str(tmp_path))
    assert default_data_dir() == tmp_path
    assert dataset_path("spread", "medium-replay", 2) == tmp_path / "spread-medium-replay-s2.npz"
    assert card_path(tmp_path / "x-expert-s0.npz") == tmp_path / "x-expert-s0.card.json"
    monkeypatch.delenv("DOM2LITE_DATA")
    assert default_data_dir().name == "data"
    assert QUALITIES == ("random", "medium-replay", "medium", "expert")


# --- sampler ---------------------------------------------------------------------------------------
def test_sampler_returns_the_rows_it_drew_as_float_tensors(ds):
    sampler = TransitionSampler(ds, "cpu", seed=0)
    idx = sampler.sample_indices(64)
    batch = sampler.gather(idx)
    assert isinstance(batch, Batch) and batch.size == 64 and batch.n_agents == 3
    assert batch.obs.shape == (64, 3, 4) and batch.act.shape == (64, 3, 3) and batch.rew.shape == (64, 3)
    assert batch.state.shape == (64, 5) and batch.terminated.shape == (64,)
    assert all(t.dtype == torch.float32 and t.is_contiguous() for t in vars(batch).values())
    rows = idx.numpy()
    assert np.array_equal(batch.next_obs.numpy(), ds.next_obs[rows])
    assert np.array_equal(batch.next_state.numpy(), ds.next_state[rows])
    assert np.array_equal(batch.terminated.numpy(), ds.terminated[rows].astype(np.float32))
    assert batch.terminated.sum() > 0  # episodes 2 and 5 end in a terminal


def test_sampler_is_reproducible_and_resumes_from_its_state(ds):
    a, b = TransitionSampler(ds, "cpu", seed=7), TransitionSampler(ds, "cpu", seed=7)
    assert all(torch.equal(a.sample(32).obs, b.sample(32).obs) for _ in range(3))
    assert not torch.equal(TransitionSampler(ds, "cpu", seed=8).sample_indices(32), a.sample_indices(32))
    state = a.state_dict()
    ahead = [a.sample(16).rew for _ in range(3)]
    c = TransitionSampler(ds, "cpu", seed=123)
    c.load_state_dict(state)
    assert all(torch.equal(x, c.sample(16).rew) for x in ahead)
    with pytest.raises(ConfigError):
        TransitionSampler(ds.subset_episodes([0]), "cpu").load_state_dict(state)


def test_sampler_can_share_a_generator(ds):
    gen = torch.Generator().manual_seed(5)
    sampler = TransitionSampler(ds, "cpu", seed=gen)
    first = sampler.sample_indices(10)
    gen.manual_seed(5)
    assert torch.equal(sampler.sample_indices(10), first)


def test_weighted_sampling_follows_the_weights(ds):
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.5, 3.0, ds.n_transitions)
    weights[[0, 5, 23]] = 0.0
    sampler = TransitionSampler(ds, "cpu", seed=1, weights=weights)
    n = 200_000
    counts = np.bincount(sampler.sample_indices(n).numpy(), minlength=ds.n_transitions)
    assert counts[[0, 5, 23]].sum() == 0
    expected = n * weights / weights.sum()
    chi2 = float(((counts - expected) ** 2 / np.where(expected > 0, expected, 1)).sum())
    assert chi2 < 60  # 20 degrees of freedom: the 1e-6 quantile is about 60
    sampler.set_weights(None)
    assert not sampler.weighted and sampler.sample_indices(50_000).unique().numel() == ds.n_transitions


def test_augmentation_weights_make_high_return_episodes_more_frequent(ds):
    returns = ds.episode_returns()
    weights = augmentation_weights(returns, ds.episode)
    sampler = TransitionSampler(ds, "cpu", seed=2, weights=weights)
    drawn = ds.episode[sampler.sample_indices(60_000).numpy()]
    share = np.bincount(drawn, minlength=ds.n_episodes) / len(drawn)
    assert share[np.argmax(returns)] > 1.5 * share[np.argmin(returns)]


def test_sampler_rejects_bad_weights(ds):
    for bad in (np.ones(3), -np.ones(ds.n_transitions), np.zeros(ds.n_transitions),
                np.full(ds.n_transitions, np.nan)):
        with pytest.raises(ConfigError) as err:
            TransitionSampler(ds, "cpu", weights=bad)
        assert err.value.field == "weights"


# --- command line ----------------------------------------------------------------------------------
def _cli(argv):
    from dom2lite.cli import main  # the real entry point: typed errors become one line and exit status 1

    return main(argv)


def test_cli_card_prints_the_card_and_validates(ds, tmp_path, capsys):
    path = save_tiny(ds, tmp_path / "fake-medium-s1.npz")
    assert _cli(["data", "card", str(path)]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[: out.rindex("}") + 1])["sha256"] == file_sha256(path)
    assert "OK:" in out and "24 transitions" in out
    assert _cli(["data", "card", str(card_path(path))]) == 0  # the card's own path works too
    capsys.readouterr()
    card = json.loads(card_path(path).read_text())
    card["n_episodes"] = 7
    card_path(path).write_text(json.dumps(card))
    assert _cli(["data", "card", str(path)]) == 1
    err = capsys.readouterr().err
    assert "n_episodes" in err and str(card_path(path)) in err


def test_cli_card_fails_cleanly_without_a_card(tmp_path, capsys):
    np.savez(tmp_path / "x-medium-s0.npz", a=np.zeros(1))
    assert _cli(["data", "card", str(tmp_path / "x-medium-s0.npz")]) == 1
    assert "card" in capsys.readouterr().err


def test_cli_has_the_generate_subcommand():
    parser = argparse.ArgumentParser(prog="dom2lite")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["data", "generate", "--task", "spread", "--quality", "expert"])
    assert args.task == "spread" and callable(args.func)
