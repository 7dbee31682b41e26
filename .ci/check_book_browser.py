"""Read the built book in a real headless browser with no network, as a reader without one would.

    python .ci/check_book_browser.py _build/html

Serves the folder on 127.0.0.1 and opens every page in Debian's ``chromium`` through its
``chromedriver`` (Selenium is pointed at both, so nothing is ever downloaded); every other host is
unreachable (a dead proxy and a resolver that finds no name). On each page:

- it loads, and asks for nothing outside the machine (but the ipywidgets manager: see ``WIDGET_SCRIPTS``);
- MathJax (served by the book itself) ran and typeset every math element: no MathJax error, no raw
  ``\\(``, ``\\[`` or ``$`` left in the text outside code;
- every image loads;
- no output shows a ``Traceback``, and no output line is wider than its column (cut off or scrolled);
- the browser logged no error (a missing file, a script that failed).

Exits 1 listing every problem. Needs ``apt-get install chromium chromium-driver`` (``.ci/run`` does it).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
WIDGET_SCRIPTS = ("require.min.js", "@jupyter-widgets/html-manager")
"""myst-nb loads the ipywidgets manager from a CDN on pages with a widget (chapters 03 and 06): no Python
package ships it. Offline, the slider is not drawn; those chapters show the same result without the
widget just below it. Reported as a note, not a failure."""
BENIGN_CONSOLE = ("favicon.ico", "Got invalid theme mode")
"""Console messages that are not problems: no favicon; pydata-sphinx-theme's notice on a first visit."""
WINDOW = (1280, 900)
"""A laptop-sized window: the book's text column is what a reader sees there."""

PAGE_JS = r"""
const done = arguments[arguments.length - 1];
(async () => {
  const out = {problems: [], math: 0, images: 0};
  const mathNodes = [...document.querySelectorAll('span.math, div.math')];
  out.math = mathNodes.length;
  if (mathNodes.length) {
    if (!(window.MathJax && MathJax.startup && MathJax.startup.promise)) {
      out.problems.push('MathJax did not load: ' + [...document.scripts].map(s => s.src).filter(s => /mathjax/i.test(s)).join(', '));
    } else {
      try { await MathJax.startup.promise; } catch (e) { out.problems.push('MathJax failed: ' + e); }
      const raw = mathNodes.filter(n => !n.querySelector('mjx-container'));
      if (raw.length) out.problems.push(raw.length + ' math element(s) not typeset, e.g. ' + raw[0].textContent.slice(0, 80));
      for (const e of document.querySelectorAll('mjx-merror')) out.problems.push('MathJax error: ' + (e.getAttribute('data-mjx-error') || e.textContent).slice(0, 120));
    }
  }
  // text outside code and outside typeset maths (MathJax keeps no TeX in the visible text)
  const clone = document.querySelector('main, article, body').cloneNode(true);
  for (const n of clone.querySelectorAll('pre, code, script, style, mjx-container, .highlight, .cell_output, textarea')) n.remove();
  const text = clone.textContent;
  for (const [pat, what] of [[/\\\(|\\\[/, 'raw \\( or \\['], [/\$[^$\s][^$]*\$/, 'raw $...$']]) {
    const m = text.match(pat);
    if (m) { const i = m.index; out.problems.push(what + ' in the text: ...' + text.slice(Math.max(0, i - 40), i + 60).replace(/\s+/g, ' ') + '...'); }
  }
  const imgs = [...document.images];
  out.images = imgs.length;
  for (const img of imgs) {
    img.loading = 'eager';
    try { await img.decode(); } catch (e) {}
    if (!img.complete || img.naturalWidth === 0) out.problems.push('image did not load: ' + img.getAttribute('src').slice(0, 80));
  }
  for (const o of document.querySelectorAll('.cell_output, .output')) {
    if (o.textContent.includes('Traceback')) out.problems.push('Traceback in an output: ' + o.textContent.trim().slice(0, 120));
  }
  for (const pre of document.querySelectorAll('.cell_output pre, .output pre')) {
    if (pre.scrollWidth > pre.clientWidth + 2) {
      const widest = pre.textContent.split('\n').reduce((a, b) => (b.length > a.length ? b : a), '');
      out.problems.push(`output line wider than the column (${pre.scrollWidth} > ${pre.clientWidth} px): ${widest.slice(0, 100)}`);
    }
  }
  out.requests = performance.getEntriesByType('resource').map(e => e.name).filter(n => {
    const u = new URL(n); return u.protocol.startsWith('http') && !['127.0.0.1', 'localhost'].includes(u.hostname);
  });
  done(out);
})().catch(e => done({problems: ['check failed: ' + e], math: 0, images: 0}));
"""


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def browser():
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never fetch a driver or a browser
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not Path(path).is_file():
            sys.exit(f"browser check: {path} not found; install it with: apt-get install -y {package}")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={WINDOW[0]},{WINDOW[1]}",
                "--proxy-server=127.0.0.1:9",  # every other host: a dead proxy ...
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):  # ... and no name resolves
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    driver.set_page_load_timeout(60)
    return driver


def check_page(driver, url: str) -> dict:
    driver.get(url)
    if driver.execute_script("return document.readyState") != "complete" or "chrome-error" in driver.current_url:
        return {"problems": ["the page did not load"], "notes": [], "math": 0, "images": 0}
    out = {"notes": [], **driver.execute_async_script(PAGE_JS)}
    for request in out.pop("requests", []):
        if any(known in request for known in WIDGET_SCRIPTS):
            out["notes"].append(f"widget manager not available offline: {request}")
        else:
            out["problems"].append(f"asked the network for {request}")
    for entry in driver.get_log("browser"):
        message = entry.get("message", "")
        if entry.get("level") != "SEVERE" or any(benign in message for benign in BENIGN_CONSOLE):
            continue
        if any(known in message for known in WIDGET_SCRIPTS):
            continue  # noted above
        out["problems"].append("browser error: " + message[:160])
    return out


def main(html: Path) -> int:
    pages = sorted(p.name for p in html.glob("*.html"))
    if not pages:
        sys.exit(f"browser check: no HTML pages in {html}")
    server, base = serve(html)
    driver = browser()
    failures, n_math, n_images = 0, 0, 0
    try:
        version = driver.capabilities.get("browserVersion", "?")
        for page in pages:
            out = check_page(driver, f"{base}/{page}")
            n_math, n_images = n_math + out["math"], n_images + out["images"]
            status = "ok" if not out["problems"] else f"{len(out['problems'])} problem(s)"
            print(f"  {page}: {out['math']} math elements, {out['images']} images, {status}")
            for problem in out["problems"]:
                print(f"    - {problem}")
            for note in out["notes"]:
                print(f"    note: {note}")
            failures += bool(out["problems"])
    finally:
        driver.quit()
        server.shutdown()
    if failures:
        print(f"browser check FAILED: {failures} of {len(pages)} pages have problems (chromium {version}, no network)")
        return 1
    print(f"browser check OK: {len(pages)} pages, {n_math} math elements typeset, {n_images} images loaded "
          f"(chromium {version}, no network)")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "_build/html")))
