"""What a metrics row says about the steps since the row before: the window's mean, not one mini-batch.

A run logs every ``log_every`` steps. Logging only the update of that one step made a logged curve a
sample of single mini-batches, and one unlucky batch (DOM2 on spread-medium, chapter 07: one logged
TD error tens of times the others) could decide the ``td_growth`` verdict of chapter 05. ``LogWindow`` instead sums every
step's metrics and gives, at a log step, each metric's mean over the steps of the window that reported
it (actor metrics come only on the steps that update the actor), the minimum of ``q_min`` and the
maximum of ``q_max``. Its state goes into the checkpoints, so a run continued from a checkpoint that
falls inside a window logs exactly what an uninterrupted run logs.
Explained in chapter 05 (conservatism).
"""

from __future__ import annotations

from typing import Any

EXTREMES = {"q_min": min, "q_max": max}
"""Metrics whose window value is the extreme over the window, not the mean (the guards' quantities)."""


class LogWindow:
    """Accumulates one run's per-step metrics between two log steps."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, metrics: dict[str, float]) -> None:
        for key, value in metrics.items():
            value = float(value)
            if key in EXTREMES:
                self.sums[key] = EXTREMES[key](self.sums[key], value) if key in self.sums else value
            else:
                self.sums[key] = self.sums.get(key, 0.0) + value
            self.counts[key] = self.counts.get(key, 0) + 1

    def flush(self) -> dict[str, float]:
        """The window's row (in the order the metrics first came), and a fresh window."""
        row = {k: v if k in EXTREMES else v / self.counts[k] for k, v in self.sums.items()}
        self.sums, self.counts = {}, {}
        return row

    def state_dict(self) -> dict[str, Any]:
        return {"sums": dict(self.sums), "counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Continue a window from a checkpoint (``None``: a checkpoint from before windows, start empty)."""
        state = state or {"sums": {}, "counts": {}}
        self.sums, self.counts = dict(state["sums"]), dict(state["counts"])
