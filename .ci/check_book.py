"""Check a built book: index.html exists and links every chapter of _toc.yml, and no Markdown table that a
cell displayed was left as raw text (a delimiter row ``|---|``, which the HTML writer turns into ``|—|``, in
a page's text means the table was not rendered)."""

import re
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
DELIMITER_ROW = re.compile(r"^\|(?:\s*(?:---|—|&#8212;)\s*\|)+\s*$", re.M)
raw = [f for f in files  # code listings (<pre>) may show the table's source; only the rendered text counts
       if DELIMITER_ROW.search(re.sub(r"<pre.*?</pre>", "", (html / f"{f}.html").read_text(encoding="utf-8"),
                                      flags=re.S))]
if raw:
    sys.exit(f"built book at {html}: Markdown tables shown as raw text in {raw} (check nb_render_markdown_format)")
print(f"book OK: {len(files)} chapters built and linked from index.html")
