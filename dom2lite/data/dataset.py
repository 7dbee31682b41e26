"""The offline data set: a fixed set of joint transitions of all agents, saved as one ``.npz`` + card.

Row ``t`` is one step of one episode: every agent's observation, (normalised) action, reward and next
observation, the global state before and after, and the two end flags kept apart: ``terminated`` (a true
terminal, no bootstrap) and ``truncated`` (a time limit, bootstrap through it). ``episode`` numbers the
episodes 0, 1, 2, ...; each episode's rows are contiguous and in time order. The team return of an
episode is ``sum_t mean_j r_t^j``.

Files are written atomically (``dom2lite.io.atomic_write``): first the data, then the card that holds the
data's sha256, so an interrupted generation leaves either no file, or a data file whose card is missing
or does not match; ``OfflineDataset.load`` refuses both.

Storage: uncompressed ``.npz`` by default. Measured on this 2-core CPU for 250k spread-sized transitions
(3 agents, obs 18, act 5, state 54; 237 MB): save 1.0 s, load with every check 0.4 s; compressed
(``compress=True``) 8.9 s to save and 1.7 s to load. Real spread rollouts compress to about 70 % of
their size, random numbers to 92 %: not worth a 4x slower load. Explained in chapter 02.
"""

from __future__ import annotations

import zipfile
import zlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from dom2lite.data.card import build_card, check_card, read_card, write_card
from dom2lite.data.paths import card_path
from dom2lite.data.validate import ARRAY_FIELDS, FORMAT_VERSION, check_keys, episode_starts, validate_arrays
from dom2lite.errors import ConfigError, DatasetError
from dom2lite.io import atomic_write

_READ_ERRORS = (zipfile.BadZipFile, zlib.error, ValueError, EOFError, OSError, KeyError)


@dataclass(eq=False)
class OfflineDataset:
    """``T`` joint transitions of ``n`` agents (numpy arrays; see ``dom2lite.data.validate.ARRAY_FIELDS``)."""

    obs: np.ndarray = field(repr=False)  # [T, n, obs_dim] float32, padding zeros
    act: np.ndarray = field(repr=False)  # [T, n, act_dim] float32 in [-1, 1], padding zeros
    rew: np.ndarray = field(repr=False)  # [T, n] float32
    next_obs: np.ndarray = field(repr=False)  # [T, n, obs_dim] float32
    state: np.ndarray = field(repr=False)  # [T, state_dim] float32
    next_state: np.ndarray = field(repr=False)  # [T, state_dim] float32
    terminated: np.ndarray = field(repr=False)  # [T] bool
    truncated: np.ndarray = field(repr=False)  # [T] bool
    episode: np.ndarray = field(repr=False)  # [T] int64: 0, 0, ..., 1, 1, ...
    obs_mask: np.ndarray = field(repr=False)  # [n, obs_dim] bool, True = real dimension
    act_mask: np.ndarray = field(repr=False)  # [n, act_dim] bool
    task: str = ""
    quality: str = ""
    seed: int = 0
    card: dict[str, Any] | None = field(default=None, repr=False)
    """The card read by ``load`` (None for a data set built in memory or cut with ``subset_episodes``)."""

    # --- sizes and episodes -------------------------------------------------------------------------
    @property
    def n_transitions(self) -> int:
        return int(self.obs.shape[0])

    @property
    def n_agents(self) -> int:
        return int(self.obs.shape[1])

    @cached_property
    def _starts(self) -> np.ndarray:  # [n_episodes + 1]
        return episode_starts(self.episode)

    @property
    def n_episodes(self) -> int:
        return len(self._starts) - 1

    def episode_slices(self) -> list[slice]:
        """The rows of each episode, in episode order."""
        s = self._starts
        return [slice(int(a), int(b)) for a, b in zip(s[:-1], s[1:])]

    def episode_lengths(self) -> np.ndarray:
        """Steps per episode. ``[n_episodes]``"""
        return np.diff(self._starts)

    def episode_returns(self) -> np.ndarray:
        """Team return of each episode: the sum over its steps of the agents' mean reward. ``[n_episodes]``"""
        team = self.rew.astype(np.float64).mean(axis=1)  # [T]
        return np.add.reduceat(team, self._starts[:-1])

    def subset_episodes(self, idx) -> "OfflineDataset":
        """A new data set holding only episodes ``idx`` (in that order), renumbered 0, 1, 2, ..."""
        idx = np.asarray(idx)
        if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
            raise ConfigError("idx", f"must be a non-empty 1-D array of episode indices, got {idx!r}")
        if idx.min() < 0 or idx.max() >= self.n_episodes or len(np.unique(idx)) != len(idx):
            raise ConfigError("idx", f"episode indices must be distinct and in [0, {self.n_episodes})")
        s = self._starts
        rows = np.concatenate([np.arange(s[i], s[i + 1]) for i in idx])  # [T']
        lengths = s[idx + 1] - s[idx]
        arrays = {k: getattr(self, k)[rows] for k in ARRAY_FIELDS if k not in ("obs_mask", "act_mask")}
        arrays["episode"] = np.repeat(np.arange(len(idx), dtype=np.int64), lengths)
        return OfflineDataset(**arrays, obs_mask=self.obs_mask.copy(), act_mask=self.act_mask.copy(),
                              task=self.task, quality=self.quality, seed=self.seed)

    def keep_fraction(self, fraction: float, seed: int = 0) -> "OfflineDataset":
        """A random ``fraction`` of the episodes (at least one), kept in their original order."""
        if not 0.0 < fraction <= 1.0:
            raise ConfigError("fraction", f"must be in (0, 1], got {fraction}")
        k = max(1, int(round(fraction * self.n_episodes)))
        chosen = np.random.default_rng(seed).choice(self.n_episodes, size=k, replace=False)
        return self.subset_episodes(np.sort(chosen))

    # --- files ----------------------------------------------------------------------------------------
    def as_arrays(self) -> dict[str, np.ndarray]:
        """Every field as it is stored in the ``.npz`` (arrays plus the metadata scalars)."""
        arrays = {k: getattr(self, k) for k in ARRAY_FIELDS}
        arrays.update(task=np.asarray(self.task), quality=np.asarray(self.quality),
                      seed=np.asarray(self.seed, dtype=np.int64), format_version=np.asarray(FORMAT_VERSION, np.int64))
        return arrays

    def validate(self, path: str | Path | None = None) -> None:
        """Run every array check (``dom2lite.data.validate``); ``DatasetError`` on the first failure."""
        validate_arrays(self.as_arrays(), path)

    def save(self, path: str | Path, card_extra: dict[str, Any], compress: bool = False,
             command: list[str] | str | None = None) -> Path:
        """Validate, write ``path`` (``.npz``) atomically, then its card beside it; return ``path``.

        ``card_extra`` must hold ``reference_returns`` and ``behaviour`` (see ``dom2lite.data.card``).
        Uncompressed is the default: it loads about 4x faster and rollouts compress only to ~70 %.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise ConfigError("path", f"a data set file ends in .npz, got {path.name!r}")
        arrays = self.as_arrays()
        validate_arrays(arrays, path)
        card_file = card_path(path)
        card_file.unlink(missing_ok=True)  # a stale card must never vouch for the new file
        writer = np.savez_compressed if compress else np.savez
        atomic_write(path, lambda fh: writer(fh, **arrays))
        write_card(build_card(self, path, card_extra, command), card_file)
        return path

    @staticmethod
    def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
        """Every member of a ``.npz`` as an array; a truncated or corrupt file is a ``DatasetError``."""
        path = Path(path)
        if not path.is_file():
            raise DatasetError(path, None, "no such data file")
        member = None
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {}
                for member in npz.files:
                    arrays[member] = npz[member]
        except _READ_ERRORS as exc:
            raise DatasetError(path, member, f"truncated or corrupt data file ({type(exc).__name__}: {exc})") from None
        return arrays

    @classmethod
    def load(cls, path: str | Path, validate: bool = True, check_versions: bool = True) -> "OfflineDataset":
        """Read a data set and its card; with ``validate`` check the arrays and the card against the file.

        ``check_versions=False`` accepts data generated with other environment package versions.
        """
        path = Path(path)
        arrays = cls.read_arrays(path)
        if validate:
            validate_arrays(arrays, path)
        else:
            check_keys(arrays, path)
        dataset = cls(**{k: arrays[k] for k in ARRAY_FIELDS}, task=str(arrays["task"]),
                      quality=str(arrays["quality"]), seed=int(arrays["seed"]))
        card_file = card_path(path)
        if validate:
            dataset.card = read_card(card_file)
            check_card(dataset.card, dataset, path, card_file, check_versions)
        elif card_file.is_file():
            dataset.card = read_card(card_file)
        return dataset

    def __repr__(self) -> str:
        return (f"OfflineDataset(task={self.task!r}, quality={self.quality!r}, seed={self.seed}, "
                f"transitions={self.n_transitions}, episodes={self.n_episodes}, agents={self.n_agents}, "
                f"obs_dim={self.obs.shape[2]}, act_dim={self.act.shape[2]}, state_dim={self.state.shape[1]})")
