"""A report renders offline: headless Chromium, network disabled, every plotly figure drawn."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from festsafe_nb.report import export_html
from tests.test_report import build_notebook, network_references

CHROMIUM = Path("/usr/bin/chromium")
FIGURES = 3

# Loaded before anything else in the page: records uncaught errors and rejected promises
# (Plotly.newPlot returns one) where --dump-dom will show them.
_ERROR_PROBE = """<script>
(function () {
  function note(kind, text) {
    var root = document.documentElement;
    root.setAttribute("data-js-errors",
      (root.getAttribute("data-js-errors") || "") + kind + ": " + text + " | ");
  }
  window.addEventListener("error", function (e) { note("error", e.message); });
  window.addEventListener("unhandledrejection", function (e) {
    note("rejection", String(e.reason));
  });
  var original = console.error;
  console.error = function () {
    note("console.error", Array.prototype.join.call(arguments, " "));
    original.apply(console, arguments);
  };
})();
</script>"""


def _dump_dom(html_file: Path, profile: Path) -> tuple[str, str]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium) "
            "to run the browser tests, or deselect them with -m 'not browser'"
        )
    cmd = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--virtual-time-budget=15000",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        html_file.resolve().as_uri(),
    ]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        # chromium leaves helpers (crashpad, zygote) behind when killed: stop the whole group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == 0, f"chromium exited {proc.returncode}\n{err[-3000:]}"
    return out, err


@pytest.mark.browser
def test_report_renders_every_figure_offline(tmp_path: Path) -> None:
    nb = build_notebook(figures=FIGURES)
    report = export_html(nb, tmp_path / "report.html", title="browser check")
    probed = tmp_path / "probed.html"
    html = report.read_text(encoding="utf-8")
    probed.write_text(html.replace("<head>", "<head>\n" + _ERROR_PROBE, 1), encoding="utf-8")

    dom, log = _dump_dom(probed, tmp_path / "profile")

    assert 'id="festsafe-fig-0"' in dom, "figure divs missing from the dumped DOM"
    errors = re.search(r'data-js-errors="([^"]*)"', dom)
    assert errors is None, f"JavaScript errors: {errors.group(1) if errors else ''}"
    assert "Uncaught" not in log, log[-3000:]

    # Split the DOM at each figure div: every figure's segment must hold plotly's main-svg.
    starts = [m.start() for m in re.finditer(r'<div [^>]*id="festsafe-fig-\d+"', dom)]
    assert len(starts) == FIGURES
    segments = [dom[a:b] for a, b in zip(starts, [*starts[1:], len(dom)], strict=True)]
    drawn = [i for i, seg in enumerate(segments) if 'class="main-svg"' in seg]
    assert drawn == list(range(FIGURES)), f"figures drawn: {drawn} of {FIGURES}"
    # 1,440 points per trace made it into the SVG path of each figure
    assert len(re.findall(r'class="scatterlayer', dom)) == FIGURES
    # nothing in the rendered page points at the network (plotly's logo link is switched off)
    assert network_references(dom) == []
