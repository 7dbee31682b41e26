"""Check a built book: index.html exists and links every chapter of _toc.yml."""

import sys
from pathlib import Path

import yaml

html = Path(sys.argv[1])
root = Path(__file__).resolve().parents[1]
toc = yaml.safe_load((root / "_toc.yml").read_text())
files = [toc["root"]] + [ch["file"] for part in toc.get("parts", []) for ch in part["chapters"]]
index = (html / "index.html").read_text(encoding="utf-8")
# index.html is the root page itself (root: index), whose navigation links every chapter
missing = [f for f in files if not (html / f"{f}.html").exists() or (f != toc["root"] and f'href="{f}.html"' not in index)]
if missing:
    sys.exit(f"built book at {html} lacks these chapters of _toc.yml: {missing}")
print(f"book OK: {len(files)} chapters built and linked from index.html")
