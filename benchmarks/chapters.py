"""Time and peak memory of each book chapter, executed the way the book build executes it.

Every chapter listed in ``book/_toc.yml`` runs in its own child process (Jupytext reads the MyST file,
nbclient executes it in a fresh ``python3`` kernel with ``book/`` as the working directory) under the
chosen ``DOM2LITE_PROFILE`` and the benchmark's thread count (``DOM2LITE_THREADS``). The child reports
the wall time of the execution and the peak resident memory of the kernel (``ru_maxrss`` of its
waited-for children, i.e. the kernel process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_CHILD = r"""
import json, resource, sys, time
import jupytext, nbclient
path, cwd, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3])
nb = jupytext.read(path)
start = time.perf_counter()
status = "ok"
try:
    nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": cwd}}).execute()
except Exception as err:  # report, do not hide: the table shows the error
    status = "error: " + (str(err).strip().splitlines() or [type(err).__name__])[-1][:200]
seconds = time.perf_counter() - start
kernel = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
print(json.dumps({"seconds": seconds, "kernel_maxrss_mb": kernel, "status": status}))
"""


def toc_files(book_dir: Path) -> list[Path]:
    """The chapter files of ``book_dir/_toc.yml`` in reading order (root first)."""
    import yaml

    toc = yaml.safe_load((book_dir / "_toc.yml").read_text())
    names: list[str] = [toc["root"]]

    def walk(entries):
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            walk(entry.get("sections"))

    for part in toc.get("parts", []):
        walk(part.get("chapters"))
    walk(toc.get("chapters"))
    out = []
    for name in names:
        path = book_dir / name
        out.append(path if path.suffix else path.with_suffix(".md"))
    return out


def run_chapter(path: Path, profile: str, threads: int = 2, timeout_s: int = 3600) -> dict:
    """Execute one chapter in a child process: ``{"seconds", "kernel_maxrss_mb", "status"}``."""
    env = dict(os.environ, DOM2LITE_PROFILE=profile, DOM2LITE_THREADS=str(threads))
    proc = subprocess.run([sys.executable, "-c", _CHILD, str(path), str(path.parent), str(timeout_s)],
                          capture_output=True, text=True, env=env, timeout=timeout_s + 120)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"seconds": float("nan"), "kernel_maxrss_mb": float("nan"), "status": f"error: {tail[:200]}"}
    return json.loads(lines[-1])


def run_chapters(book_dir: Path, profile: str = "book", threads: int = 2) -> dict[str, dict]:
    """``{chapter stem: result}`` for every chapter of the toc, run one after another."""
    results = {}
    for path in toc_files(book_dir):
        print(f"  chapter {path.name} ({profile}) ...", flush=True)
        results[path.stem] = run_chapter(path, profile, threads)
    return results
