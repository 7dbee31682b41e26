"""Where data sets live and what their files are called.

One data set is one ``(task, quality, seed)``: ``{task}-{quality}-s{seed}.npz`` with its card
``{task}-{quality}-s{seed}.card.json`` beside it. The folder is ``$DOM2LITE_DATA`` when set, else
``data/`` at the root of the dom2lite checkout (or of the working directory for an installed package).
Explained in chapter 02 (the offline multi-agent setting).
"""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "DOM2LITE_DATA"
QUALITIES = ("random", "medium-replay", "medium", "expert")
"""The four data qualities of OMAR and DOM2, from worst to best behaviour policy."""
CARD_SUFFIX = ".card.json"


def _checkout_root() -> Path | None:
    """The repository root when dom2lite runs from a source checkout (editable install), else None."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "dom2lite").is_dir() else None


def default_data_dir() -> Path:
    """``$DOM2LITE_DATA``, else ``<checkout root>/data``, else ``./data``."""
    env = os.environ.get(DATA_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return (_checkout_root() or Path.cwd()) / "data"


def dataset_stem(task: str, quality: str, seed: int) -> str:
    """``spread-expert-s0``: the file name of a data set without its extension."""
    return f"{task}-{quality}-s{int(seed)}"


def dataset_path(task: str, quality: str, seed: int = 0, root: str | Path | None = None) -> Path:
    """The ``.npz`` file of a data set in ``root`` (default: ``default_data_dir()``)."""
    folder = Path(root) if root is not None else default_data_dir()
    return folder / f"{dataset_stem(task, quality, seed)}.npz"


def card_path(data_path: str | Path) -> Path:
    """The card beside a data file: ``x.npz`` -> ``x.card.json`` (a card path is returned as is)."""
    path = Path(data_path)
    if path.name.endswith(CARD_SUFFIX):
        return path
    return path.with_name(f"{path.stem if path.suffix == '.npz' else path.name}{CARD_SUFFIX}")


def data_path_of_card(card: str | Path) -> Path:
    """The data file a card describes: ``x.card.json`` -> ``x.npz`` (a data path is returned as is)."""
    path = Path(card)
    if not path.name.endswith(CARD_SUFFIX):
        return path
    return path.with_name(path.name[: -len(CARD_SUFFIX)] + ".npz")
