"""Trajectory-based data augmentation: sample high-return episodes more often.

DOM2 picks thresholds R_1 < R_2 < ... < R_M on the episode return. An episode whose return passes k of
them is replicated k more times, so it appears 1 + k times in the augmented data set. Replicating and
re-weighting are the same thing: drawing a transition uniformly from the replicated set picks episode e
with probability proportional to (1 + k_e) * len_e, exactly what per-transition weights (1 + k_e) give.
The sampler therefore takes weights and never copies data; ``replicate_indices`` builds the explicit
copy only to show (and test) the equivalence.

The paper sets the thresholds per data set by hand. Where none are given we place them at quantiles of
the data set's own episode returns (default 50 %, 75 %, 90 %): the top 10 % of episodes are drawn four
times as often as the bottom half. Explained in chapter 06 (trajectory-based augmentation).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_QUANTILES = (0.5, 0.75, 0.9)


def thresholds_from_quantiles(returns: np.ndarray, quantiles: Sequence[float] = DEFAULT_QUANTILES) -> np.ndarray:
    """Return thresholds R_1 <= ... <= R_M at the given quantiles of the episode returns."""
    q = np.asarray(quantiles, dtype=np.float64)
    if q.ndim != 1 or np.any((q <= 0) | (q >= 1)) or np.any(np.diff(q) <= 0):
        raise ValueError(f"quantiles must be increasing and inside (0, 1), got {list(quantiles)}")
    return np.quantile(np.asarray(returns, dtype=np.float64), q)


def replication_counts(returns: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """1 + (number of thresholds an episode's return strictly exceeds), per episode. ``[n_episodes]``"""
    r = np.asarray(returns, dtype=np.float64)[:, None]  # [E, 1]
    t = np.asarray(thresholds, dtype=np.float64)[None, :]  # [1, M]
    if t.size and np.any(np.diff(t[0]) < 0):
        raise ValueError(f"thresholds must be non-decreasing, got {list(thresholds)}")
    return 1 + (r > t).sum(axis=1)


def transition_weights(episode_ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Per-transition sampling weights (the episode's replication count). ``episode_ids``: [T], ids 0..E-1."""
    return np.asarray(counts, dtype=np.float64)[np.asarray(episode_ids)]


def replicate_indices(episode_ids: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Transition indices of the explicitly replicated data set (each episode's indices repeated)."""
    per_transition = np.asarray(counts, dtype=np.int64)[np.asarray(episode_ids)]
    return np.repeat(np.arange(len(episode_ids)), per_transition)


def augmentation_weights(
    returns: np.ndarray,
    episode_ids: np.ndarray,
    thresholds: Sequence[float] | None = None,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> np.ndarray:
    """Per-transition weights for a data set: thresholds given, or placed at return quantiles."""
    if thresholds is None:
        thresholds = thresholds_from_quantiles(returns, quantiles)
    return transition_weights(episode_ids, replication_counts(returns, thresholds))
