"""How big a chapter's computations are: one switch for the whole project.

``DOM2LITE_PROFILE`` = ``smoke`` | ``book`` | ``full``:

- ``smoke``: seconds per chapter; what the tests and ``pytest --nbval book`` run.
- ``book``: real but CPU-sized results; what ``jupyter-book build book`` runs (the default).
- ``full``: the paper-sized budgets, for the command line and GPUs.

Explained in the introduction (book/index.md).
"""

from __future__ import annotations

import enum
import os
from typing import TypeVar

from dom2lite.errors import ConfigError

ENV_VAR = "DOM2LITE_PROFILE"
T = TypeVar("T")


class Profile(str, enum.Enum):
    SMOKE = "smoke"
    BOOK = "book"
    FULL = "full"


class ProfileError(ConfigError):
    """Raised when ``DOM2LITE_PROFILE`` holds an unknown value (a ``ConfigError`` naming the variable)."""

    def __init__(self, message: str):
        super().__init__(ENV_VAR, message, hint=f"set {ENV_VAR} to smoke, book or full, or unset it")


def current_profile(default: Profile | str = Profile.BOOK) -> Profile:
    """The active profile, read from ``DOM2LITE_PROFILE`` (``book`` when unset)."""
    raw = os.environ.get(ENV_VAR, "").strip().lower() or Profile(default).value
    try:
        return Profile(raw)
    except ValueError:
        allowed = ", ".join(p.value for p in Profile)
        raise ProfileError(f"{ENV_VAR}={raw!r} is not a profile; use one of: {allowed}") from None


def pick(smoke: T, book: T, full: T, profile: Profile | str | None = None) -> T:
    """Choose a value by profile: ``steps = pick(smoke=50, book=5_000, full=300_000)``."""
    p = current_profile() if profile is None else Profile(profile)
    return {Profile.SMOKE: smoke, Profile.BOOK: book, Profile.FULL: full}[p]
