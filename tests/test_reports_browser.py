"""The HTML report in a real browser: headless Chromium loads it with no console message (errors, CSP
violations, blocked requests), and a screenshot of it is a real, non-blank page.

The console check reads Chromium's own log (``--enable-logging=stderr``): every console message, uncaught
exception and CSP report appears there as a ``CONSOLE`` line. The report logs nothing, so any such
line fails the test; a deliberately broken page proves the check can fail. Skipped without Chromium
(CI: ``apt-get install -y chromium``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from reports_support import make_compare

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--enable-logging=stderr", "--v=0"]  # fmt: skip
CONSOLE = re.compile(r":CONSOLE[:(]\d+\)?\]? ?(.*)")


def chromium(page: Path, tmp: Path, *extra: str) -> tuple[str, list[str]]:
    """Run headless Chromium on a local page; returns (stdout, console lines from its log)."""
    cmd = [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *extra, page.resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
    return proc.stdout, console


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reports import build_report

    root = make_compare(tmp_path_factory.mktemp("browser"), tasks=("imo-answerbench", "amo-bench"))
    return build_report(root, n_boot=300) / "index.html"


def test_console_check_catches_a_broken_page(tmp_path: Path) -> None:
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><html><head><link rel="icon" href="data:,"></head><body>'
                    "<script>undefinedFunction();</script></body></html>")  # fmt: skip
    _, console = chromium(page, tmp_path, "--dump-dom")
    assert any("Uncaught ReferenceError" in line for line in console), console


def test_report_loads_without_console_messages(report: Path, tmp_path: Path) -> None:
    dom, console = chromium(report, tmp_path, "--dump-dom")
    assert console == []
    assert "Leaderboard" in dom and "<img src=\"data:image/png;base64," in dom
    # the injected payload stayed text: it is in the DOM as escaped text and never ran (no console line)
    assert "&lt;script&gt;console.error(\"INJECTED\")&lt;/script&gt;" in dom


def test_report_screenshot_is_a_real_page(report: Path, tmp_path: Path) -> None:
    from matplotlib.image import imread

    shot = tmp_path / "report.png"
    # tall enough to reach the figures below the verdict, the leaderboard and the paired table
    _, console = chromium(report, tmp_path, f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars")
    assert console == []
    assert shot.stat().st_size > 30_000
    img = imread(shot)
    assert img.shape[:2] == (4000, 1280)
    grey = img[..., :3].mean(axis=2)
    assert grey.std() > 0.05  # not a blank page
    assert (np.abs(img[..., 0] - img[..., 2]) > 0.2).mean() > 0.001  # coloured figure pixels rendered


MEASURE = """<script>
var out = {inner: window.innerWidth, doc: document.documentElement.scrollWidth, tables: {}};
document.querySelectorAll("div.scroll").forEach(function (d) {
  var h = d.previousElementSibling; while (h && !/^H[23]$/.test(h.tagName)) { h = h.previousElementSibling; }
  out.tables[(h ? h.id || h.textContent : "?") + "#" + Object.keys(out.tables).length] = d.scrollWidth - d.clientWidth;
});
document.body.setAttribute("data-measured", JSON.stringify(out));
</script></body>"""


def test_paired_table_fits_1280_px_without_a_sideways_scroll(report: Path, tmp_path: Path) -> None:
    """Issue 19: at 1280 px the paired table's p-value columns needed a sideways scroll. A copy of the page
    (its CSP removed, so the measuring script may run) reports each table's horizontal overflow."""
    import html
    import json

    page = report.read_text(encoding="utf-8")
    page = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page).replace("</body>", MEASURE)
    copy = report.parent / "measured.html"
    copy.write_text(page, encoding="utf-8")
    dom, console = chromium(copy, tmp_path, "--dump-dom", "--window-size=1280,2000")
    assert console == []
    measured = json.loads(html.unescape(re.search(r'data-measured="([^"]*)"', dom).group(1)))
    assert measured["inner"] == 1280, measured
    paired = {k: v for k, v in measured["tables"].items() if k.startswith("paired#")}
    assert paired and all(v <= 0 for v in paired.values()), measured
    assert measured["doc"] <= 1280, measured  # nor does the page itself scroll sideways
