"""Which snapshot is which quality: pure rules on the returns of a training run's snapshots.

- expert: the final snapshot (the policy at the end of training, never the best one seen).
- medium: among the snapshots before the final one, the one whose return is closest to the half-way
  return ``R_random + 0.5 (R_expert - R_random)``; ties go to the earliest. Export passes returns
  measured on the reference episodes, not the training curve's few noisy ones.
- medium-replay: ``k`` snapshots from the first (step 0, the untrained actor) up to the medium one,
  chosen nearest to evenly spaced training steps, so equal numbers of episodes from each mimic a
  replay buffer recorded while training up to medium level.
Explained in chapter 02.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def halfway_return(random_return: float, expert_return: float, fraction: float = 0.5) -> float:
    """``R_random + fraction (R_expert - R_random)``."""
    return float(random_return + fraction * (expert_return - random_return))


def select_medium(returns: Sequence[float], random_return: float, expert_return: float,
                  fraction: float = 0.5) -> int:
    """Index of the medium snapshot among ``returns`` (every snapshot but the final, in step order)."""
    if len(returns) == 0:
        raise ValueError("select_medium needs at least one snapshot before the final one")
    target = halfway_return(random_return, expert_return, fraction)
    gaps = np.abs(np.asarray(returns, dtype=np.float64) - target)
    return int(np.argmin(gaps))  # argmin returns the first of equal gaps


def select_replay(steps: Sequence[int], medium_index: int, k: int) -> list[int]:
    """Indices of up to ``k`` snapshots spread evenly in training steps over ``[steps[0], steps[medium]]``.

    Always includes the first and the medium snapshot; indices are increasing and distinct.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    steps_arr = np.asarray(steps[: medium_index + 1], dtype=np.float64)
    if k == 1 or medium_index == 0:
        return [medium_index]
    targets = np.linspace(steps_arr[0], steps_arr[-1], k)
    chosen = sorted({int(np.argmin(np.abs(steps_arr - t))) for t in targets})
    return chosen
