"""A tqdm progress bar that can be switched off (tests, logs) without changing the calling code."""

from __future__ import annotations


class _NoBar:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool = True, initial: int = 0, unit: str = "step"):
    """``tqdm(total, initial, desc)`` when ``enabled``, else an object with the same no-op methods."""
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, dynamic_ncols=True)
