"""Trajectory-based augmentation: replication and weighting give the same sampling distribution."""

import numpy as np
import pytest

from dom2lite.augment import (
    augmentation_weights,
    replicate_indices,
    replication_counts,
    thresholds_from_quantiles,
    transition_weights,
)


def _episodes(rng, n_episodes=40):
    lengths = rng.integers(3, 9, size=n_episodes)
    episode_ids = np.repeat(np.arange(n_episodes), lengths)  # [T]
    returns = rng.normal(size=n_episodes) * 10  # [E]
    return episode_ids, returns


def test_counts_follow_the_thresholds():
    counts = replication_counts(np.array([-5.0, 0.5, 1.5, 9.0]), thresholds=[0.0, 1.0, 2.0])
    assert counts.tolist() == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="non-decreasing"):
        replication_counts(np.array([0.0]), thresholds=[2.0, 1.0])


def test_quantile_thresholds():
    t = thresholds_from_quantiles(np.arange(101.0), (0.5, 0.9))
    np.testing.assert_allclose(t, [50.0, 90.0])
    with pytest.raises(ValueError, match="quantiles"):
        thresholds_from_quantiles(np.arange(5.0), (0.9, 0.5))


def test_weighting_equals_replication_exactly():
    rng = np.random.default_rng(0)
    episode_ids, returns = _episodes(rng)
    counts = replication_counts(returns, thresholds_from_quantiles(returns))
    # probability of each episode under weighted sampling of the original transitions
    w = transition_weights(episode_ids, counts)
    p_weighted = np.bincount(episode_ids, weights=w) / w.sum()
    # ... and under uniform sampling of the explicitly replicated data set
    idx = replicate_indices(episode_ids, counts)
    p_replicated = np.bincount(episode_ids[idx], minlength=len(returns)) / len(idx)
    np.testing.assert_allclose(p_weighted, p_replicated, rtol=1e-12)
    # the augmentation really favours high returns
    assert p_weighted[np.argmax(returns)] / (episode_ids == np.argmax(returns)).sum() > (
        p_weighted[np.argmin(returns)] / (episode_ids == np.argmin(returns)).sum()
    )


def test_sampled_frequencies_agree():
    rng = np.random.default_rng(1)
    episode_ids, returns = _episodes(rng)
    w = augmentation_weights(returns, episode_ids)
    idx = replicate_indices(episode_ids, replication_counts(returns, thresholds_from_quantiles(returns)))
    n = 200_000
    draws_w = episode_ids[rng.choice(len(w), size=n, p=w / w.sum())]
    draws_r = episode_ids[idx[rng.integers(0, len(idx), size=n)]]
    f_w = np.bincount(draws_w, minlength=len(returns)) / n
    f_r = np.bincount(draws_r, minlength=len(returns)) / n
    assert np.abs(f_w - f_r).max() < 0.01  # same distribution up to sampling noise
