"""Checking a data set's arrays: every failure is a ``DatasetError`` naming the file and the field.

A data set is a set of named arrays whose shapes share symbols: ``T`` transitions, ``n`` agents and the
feature sizes ``obs_dim``, ``act_dim``, ``state_dim``. ``ARRAY_FIELDS`` is that schema. The checks run in
order, so the first message is the most basic thing that is wrong: a missing key, a wrong dtype, a wrong
number of dimensions, lengths or agent counts that differ between fields, NaN or inf, actions outside
[-1, 1] or non-zero padding, broken episodes (ids not contiguous, a terminal flag in the middle, an end
without a flag, a ``next_obs`` that is not the following step's ``obs``).
Explained in chapter 02 (the offline multi-agent setting).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from dom2lite.data.paths import QUALITIES
from dom2lite.errors import DatasetError

FORMAT_VERSION = 1
"""Bumped whenever the set of fields or their meaning changes."""

ARRAY_FIELDS: dict[str, tuple[type, tuple[str, ...]]] = {
    "obs": (np.float32, ("T", "n", "obs_dim")),
    "act": (np.float32, ("T", "n", "act_dim")),  # normalised to [-1, 1], padding zeros
    "rew": (np.float32, ("T", "n")),
    "next_obs": (np.float32, ("T", "n", "obs_dim")),
    "state": (np.float32, ("T", "state_dim")),
    "next_state": (np.float32, ("T", "state_dim")),
    "terminated": (np.bool_, ("T",)),  # a true terminal (no bootstrap)
    "truncated": (np.bool_, ("T",)),  # a time limit (bootstrap through it)
    "episode": (np.int64, ("T",)),  # 0, 0, ..., 1, 1, ...: contiguous, numbered in order
    "obs_mask": (np.bool_, ("n", "obs_dim")),  # True = a real (not padded) dimension
    "act_mask": (np.bool_, ("n", "act_dim")),
}
"""Every array of a data set: its dtype and its shape in symbols."""

META_FIELDS = ("task", "quality", "seed", "format_version")
"""Scalars stored in the file beside the arrays."""

SYMBOL_SOURCE = {"T": "obs", "n": "obs", "obs_dim": "obs", "act_dim": "act", "state_dim": "state"}
"""Which field fixes each shape symbol (the others must agree with it)."""

ACTION_TOLERANCE = 1e-6
"""How far outside [-1, 1] an action may be (float rounding) before it is an error."""

_SYMBOL_WORDS = {"T": "transitions (lengths differ between fields)", "n": "agents (agent counts differ between fields)",
                 "obs_dim": "observation dims", "act_dim": "action dims", "state_dim": "state dims"}


def _fail(path: str | Path | None, field: str | None, message: str) -> DatasetError:
    return DatasetError(path, field, message)


def check_keys(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> None:
    """Every array and metadata field is present."""
    for key in (*ARRAY_FIELDS, *META_FIELDS):
        if key not in arrays:
            raise _fail(path, key, "missing key")


def check_metadata(arrays: Mapping, path: str | Path | None = None) -> None:
    """``task`` a non-empty string, ``quality`` one of QUALITIES, ``seed`` an integer, known format."""
    for key in ("task", "quality"):
        value = np.asarray(arrays[key])
        if value.ndim != 0 or value.dtype.kind != "U" or not str(value):
            raise _fail(path, key, f"must be a non-empty string scalar, got dtype {value.dtype} shape {value.shape}")
    if str(np.asarray(arrays["quality"])) not in QUALITIES:
        raise _fail(path, "quality", f"unknown quality {str(np.asarray(arrays['quality']))!r}; one of {QUALITIES}")
    for key in ("seed", "format_version"):
        value = np.asarray(arrays[key])
        if value.ndim != 0 or value.dtype.kind not in "iu":
            raise _fail(path, key, f"must be an integer scalar, got dtype {value.dtype} shape {value.shape}")
    version = int(np.asarray(arrays["format_version"]))
    if version != FORMAT_VERSION:
        raise _fail(path, "format_version", f"file has format {version}, this dom2lite reads {FORMAT_VERSION}")


def check_dtypes(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> None:
    """Each array has exactly its schema dtype (no silent casts)."""
    for key, (dtype, _) in ARRAY_FIELDS.items():
        got = np.asarray(arrays[key]).dtype
        if got != np.dtype(dtype):
            raise _fail(path, key, f"wrong dtype: expected {np.dtype(dtype)}, got {got}")


def check_shapes(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> dict[str, int]:
    """Each array has its schema's number of dimensions and sizes that agree; returns the sizes."""
    for key, (_, symbols) in ARRAY_FIELDS.items():
        shape = np.shape(arrays[key])
        if len(shape) != len(symbols):
            raise _fail(path, key, f"wrong shape {shape}: expected {len(symbols)} dims [{', '.join(symbols)}]")
    sizes: dict[str, int] = {}
    for symbol, source in SYMBOL_SOURCE.items():
        sizes[symbol] = int(np.shape(arrays[source])[ARRAY_FIELDS[source][1].index(symbol)])
    if sizes["T"] < 1:
        raise _fail(path, "obs", "the data set holds no transitions")
    for key, (_, symbols) in ARRAY_FIELDS.items():
        shape = np.shape(arrays[key])
        for axis, symbol in enumerate(symbols):
            if shape[axis] != sizes[symbol]:
                raise _fail(path, key, f"shape {shape} has {shape[axis]} {_SYMBOL_WORDS[symbol]} on axis {axis}, "
                                       f"but {SYMBOL_SOURCE[symbol]} has {sizes[symbol]}")
    return sizes


def check_masks(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> None:
    """Every agent has at least one real observation and action dimension."""
    for key in ("obs_mask", "act_mask"):
        empty = np.flatnonzero(~np.asarray(arrays[key]).any(axis=1))
        if empty.size:
            raise _fail(path, key, f"agent {int(empty[0])} has no real dimension (all False)")


def check_finite(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> None:
    """No NaN or inf in any float array."""
    for key, (dtype, _) in ARRAY_FIELDS.items():
        if dtype is np.float32:
            bad = ~np.isfinite(arrays[key])
            if bad.any():
                row = int(np.argwhere(bad)[0][0])
                raise _fail(path, key, f"{int(bad.sum())} NaN/inf values (first at transition {row})")


def check_actions(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> None:
    """Actions lie in [-1, 1] (within ``ACTION_TOLERANCE``) and are exactly zero on padded dims."""
    act = arrays["act"]  # [T, n, act_dim]
    worst = float(np.abs(act).max())
    if worst > 1.0 + ACTION_TOLERANCE:
        row = int(np.argwhere(np.abs(act) > 1.0 + ACTION_TOLERANCE)[0][0])
        raise _fail(path, "act", f"actions must be normalised to [-1, 1]; |act| reaches {worst:g} "
                                 f"(first at transition {row})")
    for key, mask_key in (("act", "act_mask"), ("obs", "obs_mask"), ("next_obs", "obs_mask")):
        pad = ~np.asarray(arrays[mask_key])  # [n, dim]
        if pad.any():
            padded = arrays[key][:, pad]  # [T, n_padded]
            if np.any(padded != 0):
                row = int(np.argwhere(padded != 0)[0][0])
                raise _fail(path, key, f"non-zero value on a padded dimension ({mask_key} is False), "
                                       f"first at transition {row}")


def episode_starts(episode: np.ndarray) -> np.ndarray:
    """Row index where each episode starts, plus the total length at the end. ``[n_episodes + 1]``"""
    episode = np.asarray(episode)
    change = np.flatnonzero(episode[1:] != episode[:-1]) + 1
    return np.concatenate([[0], change, [len(episode)]]).astype(np.int64)


def check_episodes(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> None:
    """Episode ids run 0, 1, 2, ... with each episode's rows contiguous; flags mark exactly the last step.

    Within an episode, ``next_obs[t]`` must equal ``obs[t + 1]`` (and the same for the state): the rows
    are the steps of one trajectory in time order.
    """
    episode = arrays["episode"]  # [T]
    starts = episode_starts(episode)
    run_ids = episode[starts[:-1]]  # the id of each run of equal ids
    _, first_run = np.unique(run_ids, return_index=True)
    if len(first_run) != len(run_ids):  # an id that comes back after other episodes
        again = int(np.setdiff1d(np.arange(len(run_ids)), first_run)[0])
        raise _fail(path, "episode", f"episode {int(run_ids[again])} is not contiguous: it appears again at "
                                     f"transition {int(starts[again])} after other episodes")
    wrong = np.flatnonzero(run_ids != np.arange(len(run_ids)))
    if wrong.size:
        k = int(wrong[0])
        raise _fail(path, "episode", f"episode id {int(run_ids[k])} at transition {int(starts[k])} breaks the "
                                     f"numbering 0, 1, 2, ... (expected {k}): episodes are numbered in order")
    last = starts[1:] - 1  # [E] last row of each episode
    is_last = np.zeros(len(episode), dtype=bool)
    is_last[last] = True
    for key in ("terminated", "truncated"):
        middle = np.flatnonzero(arrays[key] & ~is_last)
        if middle.size:
            raise _fail(path, key, f"set at transition {int(middle[0])} in the middle of episode "
                                   f"{int(episode[middle[0]])}; it may only mark an episode's last step")
    unflagged = np.flatnonzero(~(arrays["terminated"][last] | arrays["truncated"][last]))
    if unflagged.size:
        row = int(last[unflagged[0]])
        raise _fail(path, "truncated", f"episode {int(episode[row])} ends at transition {row} with neither "
                                       "terminated nor truncated (an incomplete episode)")
    same = ~is_last[:-1]  # row t and t + 1 belong to the same episode
    for key, nxt in (("obs", "next_obs"), ("state", "next_state")):
        differ = np.flatnonzero(same & np.any((arrays[nxt][:-1] != arrays[key][1:]).reshape(len(same), -1), axis=1))
        if differ.size:
            raise _fail(path, nxt, f"{nxt}[{int(differ[0])}] is not {key}[{int(differ[0]) + 1}] inside episode "
                                   f"{int(episode[differ[0]])}: rows are not consecutive steps")


def validate_arrays(arrays: Mapping[str, np.ndarray], path: str | Path | None = None) -> dict[str, int]:
    """Run every check on a mapping of arrays (a loaded ``.npz`` or a data set's fields); return the sizes."""
    check_keys(arrays, path)
    check_metadata(arrays, path)
    check_dtypes(arrays, path)
    sizes = check_shapes(arrays, path)
    check_masks(arrays, path)
    check_finite(arrays, path)
    check_actions(arrays, path)
    check_episodes(arrays, path)
    return sizes
