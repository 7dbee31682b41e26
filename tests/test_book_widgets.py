"""The chapters with sliders execute headless, under CPU load, without stalling.

``ipywidgets.interact`` draws into an ``Output`` widget. nbclient (``jupyter execute``, ``jupyter-book
build``) plays the front end of that widget: for every output it captures it *sends* a state update to
the kernel on the shell socket, the socket on which it is at the same time waiting for the cell's
reply. When the machine is busy the reply can arrive while that send runs, and the client's asyncio poll
misses it: the kernel is idle, the client waits until the cell timeout (for ever with ``jupyter
execute``'s default). Chapters therefore draw sliders with ``dom2lite.widgets.figure_slider`` (an
``Image`` widget, nothing for the executor to send).

The load test executes each widget chapter with nbclient (the book build's executor) in the smoke
profile up to its last slider, then re-executes its widget cells with one busy loop per core beside
them, and measures for each execution how long the client needed to notice the kernel's reply. A
missed reply is seen at the end of a short cell timeout, so the test cannot hang; the busy loops are
killed whatever happens. With ``interact`` in chapter 06 it failed (two of twelve executions noticed
29.9 s late, at the 30 s timeout); with ``figure_slider`` every reply is noticed at once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
OUTPUT_WIDGET = re.compile(r"\b(interact|interactive|interactive_output|interact_manual|Output)\s*\(")
REPEATS = 8  # re-executions of each widget cell under load
STALL_S = 5.0  # a reply noticed later than this after the kernel sent it is a missed wake-up


def chapters() -> list[Path]:
    return sorted(p for p in BOOK.glob("*.md") if not p.name.startswith("_"))


def code_cells(path: Path) -> list[str]:
    import jupytext

    return [c.source for c in jupytext.read(str(path)).cells if c.cell_type == "code"]


def is_widget_cell(source: str) -> bool:
    return "ipywidgets" in source or "figure_slider" in source


def widget_chapters() -> list[Path]:
    return [p for p in chapters() if any(is_widget_cell(s) for s in code_cells(p))]


def test_no_chapter_draws_into_an_output_widget():
    offenders = [
        f"{p.name}: {m.group(0)}"
        for p in chapters()
        for src in code_cells(p)
        for m in OUTPUT_WIDGET.finditer(src)
        if "ipywidgets" in src or "widgets." in src
    ]
    assert not offenders, (
        "Output widgets (interact, interactive_output, Output) can stall a headless build under load; "
        f"use dom2lite.widgets.figure_slider instead: {offenders}"
    )


def test_there_are_widget_chapters():
    assert {p.name for p in widget_chapters()} >= {"03_score_matching.md", "06_augmentation.md"}


def _reply_lag(cell) -> float:
    """Seconds from the kernel's execute_reply (its own time stamp) to now, when the client has it."""
    sent = datetime.fromisoformat(cell.metadata["execution"]["shell.execute_reply"].replace("Z", "+00:00"))
    return (datetime.now(timezone.utc) - sent).total_seconds()


def _busy_loops(n: int) -> list[subprocess.Popen]:
    code = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]


@pytest.mark.parametrize("path", widget_chapters(), ids=lambda p: p.stem)
def test_widget_chapter_executes_under_load_without_stalling(path, monkeypatch):
    jupytext = pytest.importorskip("jupytext")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipywidgets")
    monkeypatch.setenv("DOM2LITE_PROFILE", "smoke")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

    nb = jupytext.read(str(path))
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", record_timing=True, resources={"metadata": {"path": str(BOOK)}}
    )
    lags: list[tuple[int, float]] = []
    loops: list[subprocess.Popen] = []
    start = time.monotonic()
    try:
        widget_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and is_widget_cell(c.source)]
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells[: widget_cells[-1] + 1]):  # the chapter up to its last slider
                if cell.cell_type == "code":
                    client.execute_cell(cell, index)
            loops = _busy_loops(os.cpu_count() or 2)
            # A missed reply is noticed when the poll times out; a slow cell on a busy machine is not a failure.
            client.timeout = 60
            for _ in range(REPEATS):
                for index in widget_cells:
                    client.execute_cell(nb.cells[index], index)
                    lags.append((index, _reply_lag(nb.cells[index])))
    finally:
        for proc in loops:
            proc.kill()
        for proc in loops:
            proc.wait(timeout=10)
    late = [(i, round(lag, 1)) for i, lag in lags if lag > STALL_S]
    assert not late, (
        f"{path.name}: the client noticed the kernel's reply more than {STALL_S} s late "
        f"(cell index, seconds): {late}; {len(lags)} executions in {time.monotonic() - start:.0f} s"
    )
