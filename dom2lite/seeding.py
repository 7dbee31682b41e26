"""Repeatable runs: seeding every random-number generator and pinning CPU threads.

Same seed and same thread count on the CPU give bit-identical results; 1 and 2 threads differ
(floating-point sums are split differently). Explained in the introduction (book/index.md).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> np.random.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return a fresh numpy ``Generator``.

    Environments are seeded separately through their ``reset(seed=...)``.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return np.random.default_rng(seed)


def pin_threads(n_threads: int | None = None) -> int:
    """Fix torch's intra-op thread count (default: ``DOM2LITE_THREADS`` or all cores).

    Returns the number of threads in force. Call it before the first heavy torch op.
    """
    from dom2lite.errors import ConfigError  # a ValueError

    field = "n_threads" if n_threads is not None else "DOM2LITE_THREADS"
    if n_threads is None:
        raw = os.environ.get("DOM2LITE_THREADS", "").strip() or str(os.cpu_count() or 1)
        try:
            n_threads = int(raw)
        except ValueError:
            raise ConfigError(field, f"must be an integer, got {raw!r}",
                              hint="set DOM2LITE_THREADS=1 (or unset it)") from None
    if n_threads < 1:
        raise ConfigError(field, f"must be >= 1, got {n_threads}")
    torch.set_num_threads(n_threads)
    return torch.get_num_threads()
