"""The data set a chapter needs, generated on first use from the shipped behaviour policies.

A fresh clone holds no data (data sets are regenerated, never committed or downloaded). Chapters call
``ensure_dataset("spread", "expert")``: the file is loaded when it exists and generated otherwise.
Each profile has its own folder and sizes, so a small file never shadows a full-size one:

- ``smoke``: ``<data dir>/smoke/``, a few dozen episodes (seconds to make);
- ``book``: ``<data dir>/book/``, about 25k transitions per MPE data set (10 HalfCheetah episodes),
  seconds to a minute each — a book-profile run of 3,000 steps x 256 samples still sees every
  transition about 30 times;
- ``full``: ``<data dir>/``, the documented defaults of :mod:`dom2lite.data.generate` (100k transitions;
  ``python -m dom2lite data generate --all`` makes all 16 ahead of time).

A file made from behaviour policies that are no longer the shipped ones (the card records each policy
file's sha256 and the reference returns) is stale and is generated again.
Explained in chapter 02 (the offline multi-agent setting).
"""

from __future__ import annotations

from pathlib import Path

from dom2lite.data.paths import dataset_path, default_data_dir
from dom2lite.profiles import Profile, current_profile

EPISODES = {  # per profile; None = the defaults of dom2lite.data.generate
    Profile.SMOKE: {"spread": 40, "tag": 40, "world": 24, "halfcheetah": 2},
    Profile.BOOK: {"spread": 1000, "tag": 1000, "world": 400, "halfcheetah": 10},
    Profile.FULL: None,
}


def profile_data_dir(profile: Profile | str | None = None, root: str | Path | None = None) -> Path:
    """``<root>/smoke``, ``<root>/book`` or ``<root>`` by profile (root: ``default_data_dir()``)."""
    root = Path(root) if root is not None else default_data_dir()
    p = current_profile() if profile is None else Profile(profile)
    return root if p is Profile.FULL else root / p.value


def profile_episodes(task: str, profile: Profile | str | None = None) -> int | None:
    """Episodes of a ``task`` data set in ``profile`` (None: the full-size defaults of ``generate``)."""
    p = current_profile() if profile is None else Profile(profile)
    return None if EPISODES[p] is None else EPISODES[p][task]


def generate_command(task: str, quality: str, seed: int, profile: Profile | str | None = None,
                     folder: str | Path | None = None) -> str:
    """The ``python -m dom2lite data generate ...`` line that makes the data set ``ensure_dataset`` would."""
    episodes = profile_episodes(task, profile)
    folder = profile_data_dir(profile) if folder is None else Path(folder)
    return (f"python -m dom2lite data generate --task {task} --quality {quality} --seed {seed}"
            + ("" if episodes is None else f" --episodes {episodes}") + f" --out {folder}")


def made_from_shipped_policies(path: str | Path, task: str) -> bool:
    """True when the card of ``path`` names the shipped behaviour files of ``task`` (same sha256) and
    the same reference returns; False for a stale file or an unreadable card."""
    from dom2lite.behaviour.export import sha256
    from dom2lite.behaviour.policy import shipped_dir, shipped_provenance
    from dom2lite.data.card import read_card
    from dom2lite.data.paths import card_path
    from dom2lite.errors import DatasetError

    try:
        card = read_card(card_path(path))
    except (DatasetError, OSError):
        return False
    if card.get("reference_returns") != shipped_provenance(task)["reference_returns"]:
        return False
    for policy in card.get("behaviour", {}).get("policies", []):
        if "sha256" in policy:
            file = shipped_dir(task) / policy["file"]
            if not file.is_file() or sha256(file) != policy["sha256"]:
                return False
    return True


def ensure_dataset(task: str, quality: str, seed: int = 0, profile: Profile | str | None = None,
                   root: str | Path | None = None, progress: bool = True) -> Path:
    """The path of the ``(task, quality, seed)`` data set of this profile, generating it if missing."""
    from dom2lite.data.generate import generate_dataset

    p = current_profile() if profile is None else Profile(profile)
    folder = profile_data_dir(p, root)
    path = dataset_path(task, quality, seed, folder)
    if not path.is_file() or not made_from_shipped_policies(path, task):
        episodes = profile_episodes(task, p)
        path = generate_dataset(task, quality, seed, episodes=episodes, out=folder, progress=progress,
                                command=f"ensure_dataset({task!r}, {quality!r}, {seed}, profile={p.value!r})")
    return path


def generate_if_missing(task: str, quality: str, seed: int, profile: Profile | str | None, folder: str | Path,
                        progress: bool = True, refuse: bool = False) -> Path:
    """The data set's path in ``folder``, generated at the profile's size when it is not there (what
    ``train`` and ``sweep`` do before they start); ``refuse``: raise ``MissingFileError`` naming the
    command that makes it instead."""
    import sys

    from dom2lite.data.generate import generate_dataset
    from dom2lite.errors import MissingFileError

    path = dataset_path(task, quality, seed, folder)
    if path.is_file():
        return path
    command = generate_command(task, quality, seed, profile, folder)
    if refuse:
        raise MissingFileError(path, "the data set does not exist yet",
                               hint=f"make it with: {command} (or leave out --no-generate)")
    p = current_profile() if profile is None else Profile(profile)
    episodes = profile_episodes(task, p)
    size = "the default size" if episodes is None else f"{episodes} episodes"
    print(f"{path} does not exist yet: generating it ({size}, {p.value} profile)", file=sys.stderr, flush=True)
    generate_dataset(task, quality, seed, episodes=episodes, out=folder, progress=progress, command=command.split())
    return path
