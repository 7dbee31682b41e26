"""Sliders that redraw a figure, safe to execute headless. Explained in chapter 03.

``ipywidgets.interact`` draws into an ``Output`` widget. A headless executor (nbclient, which ``jupyter
execute`` and ``jupyter-book build`` use) plays the front end of that widget: for every output it
captures it sends a state update to the kernel on the shell socket, the socket on which it is waiting
for the cell's reply at the same moment. On a busy machine the reply can arrive while that send runs,
and the client's asyncio poll never wakes up for it: the kernel is idle and the client waits until the
cell timeout (for ever under ``jupyter execute``'s default). `figure_slider` shows the same figure
without an ``Output`` widget: a PNG in an ``Image`` widget that the sliders redraw, so the executor has
nothing to send. ``tests/test_book_widgets.py`` executes the widget chapters under CPU load.
"""

from __future__ import annotations

import io
from typing import Any, Callable


def figure_png(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes; the figure is closed (the notebook does not show it again)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def figure_slider(draw: Callable[..., Any], **controls: Any):
    """Controls above a figure that ``draw(**values)`` returns, redrawn whenever a control moves.

    ``controls`` are ipywidgets value widgets (``IntSlider``, ``FloatSlider``...) keyed by the argument
    of ``draw`` they set; ``draw`` returns a matplotlib figure and does not show it. Returns the widget
    (a ``VBox``): make it the last expression of a cell. A static page shows the figure for the
    controls' initial values.
    """
    import ipywidgets as widgets

    for name, control in controls.items():
        if not getattr(control, "description", None):
            control.description = name
    image = widgets.Image(format="png")

    def redraw(_change=None) -> None:
        image.value = figure_png(draw(**{name: c.value for name, c in controls.items()}))

    for control in controls.values():
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([*controls.values(), image])
