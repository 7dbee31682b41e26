"""The book's guards: every chapter is in the table of contents, and a failing cell fails both
`pytest --nbval` and `jupyter-book build`. The broken chapters are built in tmp_path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---
"""


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [ch["file"] for ch in part["chapters"]]
    return files


def chapter(body_cells: list[str], title: str = "A chapter") -> str:
    cells = "\n".join(f"```{{code-cell}} ipython3\n{src}\n```\n" for src in body_cells)
    return f"{HEADER}\n# {title}\n\nSome text.\n\n{cells}"


def test_toc_and_chapters_agree():
    listed = toc_files()
    for name in listed:
        assert (ROOT / "book" / f"{name}.md").exists(), f"_toc.yml lists {name} but book/{name}.md is missing"
    on_disk = sorted(p.stem for p in (ROOT / "book").glob("*.md") if not p.name.startswith("_"))
    assert sorted(listed) == on_disk, "every chapter in book/ must be in _toc.yml and vice versa"
    assert (ROOT / "book" / "_toc.yml").resolve() == (ROOT / "_toc.yml").resolve()


def _nbval(book_dir: Path) -> subprocess.CompletedProcess:
    shutil.copy(ROOT / "book" / "conftest.py", book_dir / "conftest.py")
    env = {**os.environ, "DOM2LITE_PROFILE": "smoke"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q", str(book_dir)],
        capture_output=True, text=True, cwd=book_dir, env=env, timeout=300,
    )


def test_nbval_runs_a_good_chapter_and_fails_a_broken_one(tmp_path):
    good = tmp_path / "good"
    good.mkdir()
    (good / "ok.md").write_text(chapter(["x = 1 + 1", "assert x == 2"]))
    res = _nbval(good)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout

    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.md").write_text(chapter(["x = 1", "raise RuntimeError('deliberately broken')"]))
    res = _nbval(bad)
    assert res.returncode != 0
    assert "1 failed" in res.stdout and "deliberately broken" in res.stdout


def test_nbval_ignores_an_ipynb_converted_next_to_a_chapter(tmp_path):
    book = tmp_path / "book"
    book.mkdir()
    (book / "ok.md").write_text(chapter(["x = 1 + 1", "assert x == 2"]))
    jupytext = pytest.importorskip("jupytext")
    jupytext.write(jupytext.read(str(book / "ok.md")), str(book / "ok.ipynb"))  # what `jupytext --to ipynb` leaves
    res = _nbval(book)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "2 passed" in res.stdout, res.stdout  # the chapter's two cells, once


def test_config_excludes_converted_notebooks():
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert "*.ipynb" in config["exclude_patterns"]
    assert config["sphinx"]["config"]["nb_merge_streams"] is True


def test_book_build_fails_on_a_broken_cell(tmp_path):
    jb = BIN / "jupyter-book"
    if not jb.exists():
        pytest.skip("jupyter-book is not installed (install the 'book' extra)")
    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    shutil.copytree(ROOT / "book" / "_ext", tmp_path / "book" / "_ext")  # the config's local Sphinx extension
    (tmp_path / "book" / "_toc.yml").write_text("format: jb-book\nroot: intro\nchapters:\n  - file: broken\n")
    (tmp_path / "book" / "intro.md").write_text(chapter(["print('hello')"], title="Intro"))
    (tmp_path / "book" / "broken.md").write_text(chapter(["raise ValueError('deliberately broken')"]))
    env = {**os.environ, "DOM2LITE_PROFILE": "smoke"}
    res = subprocess.run(
        [str(jb), "build", "book"], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600
    )
    assert res.returncode != 0, res.stdout[-2000:]
    assert "deliberately broken" in res.stdout + res.stderr
