"""Progress bars for long loops (training, data generation, behaviour training): one helper for all.

``progress_bar(total, desc)`` is a tqdm bar when its output is a terminal. Anywhere else (a log file,
CI, a notebook cell) hundreds of carriage-return updates would pile up, so it prints one plain line
every ``every`` percent instead (``spread expert s0:  40% 1000/2500 steps, 3.1 s, ~4.6 s left``).
``enabled=False`` returns an object with the same methods that prints nothing.
Used by `fit` (chapter 07), data generation and behaviour training (chapter 02).
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

EVERY_PERCENT = 10
"""A non-terminal bar prints a line each time this many more percent are done (and at the end)."""


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        pass

    def close(self) -> None:
        pass


def _seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 60 else f"{int(s // 60)} min {int(s % 60):02d} s"


class LineBar:
    """The non-terminal bar: tqdm's ``update`` / ``set_postfix`` / ``close``, printed as a few whole lines."""

    def __init__(self, total: int, desc: str, initial: int = 0, unit: str = "step", every: int = EVERY_PERCENT,
                 file: TextIO | None = None):
        self.total, self.desc, self.unit, self.every = max(int(total), 0), desc, unit, max(int(every), 1)
        self.n = self.start = int(initial)
        self.file = file
        self.postfix = ""
        self.t0 = time.monotonic()
        self.next_percent = (self._percent() // self.every + 1) * self.every
        self.closed = False
        self.printed_at = -1

    def _percent(self) -> int:
        return 100 if self.total == 0 else int(100 * self.n / self.total)

    def _print(self) -> None:
        elapsed = time.monotonic() - self.t0
        done = self.n - self.start
        left = ""
        if 0 < done and self.n < self.total:
            left = f", ~{_seconds(elapsed / done * (self.total - self.n))} left"
        unit = self.unit if self.total == 1 else f"{self.unit}s"
        line = (f"{self.desc}: {self._percent():3d}% {self.n}/{self.total} {unit}, {_seconds(elapsed)}{left}"
                f"{self.postfix}")
        print(line, file=self.file or sys.stderr, flush=True)
        self.printed_at = self.n

    def update(self, n: int = 1) -> None:
        self.n += n
        if self._percent() >= self.next_percent:
            self._print()
            self.next_percent = (self._percent() // self.every + 1) * self.every

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        values = {**(ordered_dict or {}), **kwargs}
        self.postfix = "".join(f", {k}={v}" for k, v in values.items())

    def close(self) -> None:
        if not self.closed and self.printed_at != self.n:  # the last state, unless just printed
            self._print()
        self.closed = True


def is_terminal(stream: TextIO | None = None) -> bool:
    """True when ``stream`` (default: standard error, where bars go) is an interactive terminal."""
    stream = stream or sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or replaced streams
        return False


def progress_bar(total: int, desc: str, enabled: bool = True, initial: int = 0, unit: str = "step"):
    """A tqdm bar on a terminal, a :class:`LineBar` elsewhere, a silent stand-in when not ``enabled``."""
    if not enabled:
        return _NoBar()
    if not is_terminal():
        return LineBar(total, desc, initial=initial, unit=unit)
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True)
