"""Let `pytest --nbval book` execute the Jupytext chapters.

nbval only collects ``.ipynb`` files, and the chapters are MyST Markdown text files with no stored
outputs. This hook reads each chapter with Jupytext and hands the notebook to nbval's own collector, so
every code cell becomes a test item that fails when the cell raises. Chapters run in the ``smoke``
profile unless ``DOM2LITE_PROFILE`` says otherwise.
"""

from __future__ import annotations

import os
from collections import defaultdict

import pytest

os.environ.setdefault("DOM2LITE_PROFILE", "smoke")
os.environ.setdefault("MPLBACKEND", "Agg")


def _is_chapter(path) -> bool:
    if path.suffix != ".md" or path.name.startswith(("_", ".")) or path.name.upper() == "README.MD":
        return False
    with open(path, encoding="utf-8") as fh:
        head = fh.read(400)
    return head.startswith("---") and "jupytext:" in head


def pytest_collect_file(file_path, parent):
    if not (parent.config.option.nbval or parent.config.option.nbval_lax):
        return None
    if _is_chapter(file_path):
        return JupytextNotebook.from_parent(parent, path=file_path)
    return None


try:
    import jupytext
    from nbval.plugin import IPyNbCell, IPyNbFile, find_metadata_tags
except ImportError:  # nbval or jupytext missing: plain `pytest` still works
    JupytextNotebook = None
else:

    class JupytextNotebook(IPyNbFile):
        """A Jupytext chapter seen by nbval: every code cell must run (there are no outputs to compare)."""

        def collect(self):
            self.nb = jupytext.read(str(self.path))
            code_cells = [c for c in self.nb.cells if c.cell_type == "code"]
            for cell_num, cell in enumerate(code_cells):
                options = defaultdict(bool, find_metadata_tags(cell.metadata))
                options["check"] = False  # text chapters store no outputs
                yield IPyNbCell.from_parent(
                    self, name=f"Cell {cell_num}", cell_num=cell_num, cell=cell, options=options
                )

# Never collect executed copies that a build may leave under book/, nor an .ipynb converted from a
# chapter (it would run the same document twice, and a stale copy at that).
collect_ignore_glob = ["_build/*", ".jupyter_cache/*", "*.ipynb"]
