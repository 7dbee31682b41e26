"""Sphinx extension: the built book reads well in a browser with no network.

MathJax: the book typesets its maths with a copy of its own.
Sphinx's default ``mathjax_path`` fetches MathJax from a CDN when a page is viewed, so a reader without
network (or a book served offline) sees raw ``\\(\\epsilon_{\\theta_j}\\)``. This extension takes MathJax 3
from the ``django-static-mathjax`` package (installed with the ``book`` extra; despite its name it is
only MathJax's files and needs no Django), copies the parts the ``tex-mml-chtml`` component loads into
``_build/html/_static/mathjax/`` and points ``mathjax_path`` at that copy.

Scripts: Jupyter Book adds sphinx-thebe's inline settings twice, and the second ``const THEBE_JS_URL``
is a ``SyntaxError`` in every page's console; each page keeps one copy of an inline script.
Loaded by ``_config.yml`` (``sphinx: local_extensions``); ``.ci/check_book_browser.py`` checks the result.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path

from sphinx.errors import ExtensionError

COMPONENT = "tex-mml-chtml.js"
"""MathJax's combined TeX + MathML input, CommonHTML output component (the one Sphinx uses from the CDN)."""
PARTS = ("a11y", "adaptors", "input", "output", "sre", "ui")
"""Folders the component loads from at view time (TeX extensions, fonts, the menu, accessibility)."""


def mathjax_dir() -> Path:
    """The ``es5`` folder of the installed MathJax (``mathjax/static/mathjax/es5``)."""
    spec = importlib.util.find_spec("mathjax")
    folder = None if spec is None or spec.origin is None else Path(spec.origin).parent / "static/mathjax/es5"
    if folder is None or not (folder / COMPONENT).is_file():
        raise ExtensionError("offline_book: MathJax is not installed; install the book extra "
                             "(pip install -e '.[book]', which brings django-static-mathjax)")
    return folder


def _use_local_copy(app, config) -> None:
    mathjax_dir()  # fail at the start of the build, not after executing every chapter
    config.mathjax_path = f"mathjax/{COMPONENT}"  # relative: served from _static/ of the built book


def _copy(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    source, target = mathjax_dir(), Path(app.outdir) / "_static" / "mathjax"
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source / COMPONENT, target / COMPONENT)
    for part in PARTS:
        shutil.copytree(source / part, target / part, dirs_exist_ok=True)


INLINE_SCRIPT = re.compile(r"[ \t]*<script>[^<]*</script>\n")


def _one_copy_of_each_inline_script(html: str) -> str:
    """Drop the second and later copies of an identical inline ``<script>...</script>`` line."""
    seen: set[str] = set()

    def keep_first(match: re.Match) -> str:
        text = match.group(0).strip()
        if text in seen:
            return ""
        seen.add(text)
        return match.group(0)

    return INLINE_SCRIPT.sub(keep_first, html)


def _dedupe_pages(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).glob("*.html"):
        html = page.read_text(encoding="utf-8")
        fixed = _one_copy_of_each_inline_script(html)
        if fixed != html:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("config-inited", _use_local_copy)
    app.connect("build-finished", _dedupe_pages)
    app.connect("build-finished", _copy)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
