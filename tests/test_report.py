"""Report export: offline HTML, secret scrubbing, sha256 manifest (festsafe_nb.report)."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from festsafe_nb.report import (
    MANIFEST_NAME,
    REDACTED,
    export_html,
    scrub,
    scrub_text,
    verify_manifest,
    write_manifest,
)

PLOTLY_MIME = "application/vnd.plotly.v1+json"
FINDING_MIME = "application/vnd.festsafe.finding+json"


# --- notebook fixture builder -------------------------------------------------------------------


def plotly_output(index: int, points: int = 1440) -> dict[str, Any]:
    """The bundle plotly's ``plotly_mimetype`` renderer saves for a one-day, 1-minute series."""
    import plotly.graph_objects as go
    import plotly.io as pio

    times = pd.date_range("2025-07-04T12:00", periods=points, freq="min", tz="UTC")
    fig = go.Figure(go.Scatter(x=times, y=np.sin(np.arange(points) / 40 + index), name="p95"))
    fig.add_hline(y=0.5, line_dash="dash", annotation_text="threshold 500 ms")
    fig.update_layout(title=f"Figure {index}")
    bundle: dict[str, Any] = pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict())
    return bundle


def build_notebook(figures: int = 1, points: int = 1440) -> nbformat.NotebookNode:
    """A small executed-looking runbook: parameters, evidence, figures, a finding, an error."""
    cells = [
        new_markdown_cell("# High latency\n\nWhy: P95 above $0.5\\,s$ for 5 minutes."),
        new_code_cell('environment = "demo"\nwindow = "1h"', metadata={"tags": ["parameters"]}),
        new_code_cell(
            "df.head()",
            outputs=[
                new_output(
                    "execute_result",
                    data={
                        "text/html": "<table><tr><td>backend</td><td>0.73</td></tr></table>",
                        "text/plain": "backend 0.73",
                    },
                    execution_count=3,
                )
            ],
            execution_count=3,
        ),
    ]
    for i in range(figures):
        cells.append(
            new_code_cell(
                f"plots.latency(df)  # FIGURE-CELL-{i}",
                outputs=[new_output("display_data", data=plotly_output(i, points))],
            )
        )
    cells.append(
        new_code_cell(
            "evidence.record(finding)",
            outputs=[
                new_output(
                    "display_data",
                    data={
                        FINDING_MIME: {"status": "breach", "json_only_marker": "JSON-ONLY"},
                        "text/html": "<div class='finding'>FINDING-HTML breach</div>",
                        "text/plain": "Finding(breach)",
                    },
                )
            ],
        )
    )
    return new_notebook(
        cells=cells,
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )


# --- HTML ----------------------------------------------------------------------------------------


class _Refs(HTMLParser):
    """Every src/href attribute of every element (script bodies are not parsed as markup)."""

    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data", "poster", "action") and value:
                self.refs.append((tag, name, value))


_NETWORK_REF = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


def network_references(html: str) -> list[str]:
    """src=/href= pointing at the network, in markup and in anything we wrote around it.

    plotly.js itself carries ``<a href="https://...">`` strings (map attributions, the logo
    link) inside its code; those are links a user may click, never loads, so the inlined
    library is taken out before the textual check. Every element attribute is checked too.
    """
    from plotly.offline import get_plotlyjs

    parser = _Refs()
    parser.feed(html)
    found = [
        f"<{tag} {name}={value}>"
        for tag, name, value in parser.refs
        if re.match(r"\s*(?:https?:)?//", value, re.IGNORECASE)
    ]
    without_library = html.replace(get_plotlyjs().replace("</script", "<\\/script"), "")
    found += _NETWORK_REF.findall(without_library)
    found += re.findall(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)|@import", without_library)
    return found


def test_importing_the_package_does_not_import_nbconvert_or_plotly() -> None:
    code = (
        "import sys, festsafe_nb.report\n"
        "print([m for m in ('nbconvert', 'plotly', 'nbformat', 'pandas') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("figures", [0, 1, 3])
def test_html_is_offline_and_embeds_plotlyjs_once(tmp_path: Path, figures: int) -> None:
    from plotly.offline import get_plotlyjs

    nb = build_notebook(figures=figures, points=50)
    path = export_html(nb, tmp_path / "report.html", title="high-latency run")
    html = path.read_text(encoding="utf-8")

    assert network_references(html) == []
    assert '<script src=""' not in html  # emptied CDN URLs leave no husk behind
    library = get_plotlyjs()[:2000]  # a distinctive prefix of the library source
    assert html.count(library) == (1 if figures else 0)
    assert html.count('class="plotly-graph-div"') == figures
    for i in range(figures):
        assert len(re.findall(rf'Plotly\.newPlot\(\s*"festsafe-fig-{i}"', html)) == 1
    if figures:
        assert html.index(library) < html.index('id="festsafe-fig-0"')
    assert "<title>high-latency run</title>" in html


def test_plotly_json_is_not_silently_dropped(tmp_path: Path) -> None:
    nb = build_notebook(figures=1, points=10)
    html = export_html(nb, tmp_path / "r.html", title="t").read_text(encoding="utf-8")
    assert "Figure 0" in html  # the figure's title travels in the Plotly.newPlot layout
    assert "threshold 500 ms" in html


def test_festsafe_json_shows_through_its_html_alternative(tmp_path: Path) -> None:
    nb = build_notebook(figures=0)
    html = export_html(nb, tmp_path / "r.html", title="t").read_text(encoding="utf-8")
    assert "FINDING-HTML breach" in html
    assert "JSON-ONLY" not in html
    assert "Finding(breach)" not in html  # text/html won over text/plain


def test_festsafe_json_without_alternative_is_shown_as_text(tmp_path: Path) -> None:
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x",
                outputs=[new_output("display_data", data={FINDING_MIME: {"marker": "LONE-JSON"}})],
            )
        ]
    )
    html = export_html(nb, tmp_path / "r.html", title="t").read_text(encoding="utf-8")
    assert "LONE-JSON" in html


def test_code_inputs_are_kept_unless_excluded(tmp_path: Path) -> None:
    nb = build_notebook(figures=1, points=10)
    kept = export_html(nb, tmp_path / "a.html", title="t").read_text(encoding="utf-8")
    hidden = export_html(nb, tmp_path / "b.html", title="t", exclude_input=True).read_text(
        encoding="utf-8"
    )
    assert "FIGURE-CELL-0" in kept
    assert "FIGURE-CELL-0" not in hidden
    assert 'id="festsafe-fig-0"' in hidden  # outputs stay


def test_export_leaves_the_notebook_untouched(tmp_path: Path) -> None:
    nb = build_notebook(figures=2, points=10)
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    before = copy.deepcopy(nb)
    html = export_html(nb, tmp_path / "r.html", title="t").read_text(encoding="utf-8")
    assert nb == before
    assert PLOTLY_MIME in nb.cells[3].outputs[0].data
    # saved widget state would pull the widget manager from a CDN: it is dropped from the HTML
    assert "embed-amd" not in html
    assert network_references(html) == []


def test_export_creates_parent_folders_and_leaves_no_partial(tmp_path: Path) -> None:
    target = tmp_path / "2025" / "07" / "04" / "run" / "report.html"
    assert export_html(build_notebook(0), target, title="t") == target
    assert [p.name for p in target.parent.iterdir()] == ["report.html"]


# --- scrubbing -----------------------------------------------------------------------------------

SECRET = "s3cr3t-P@ss&word"


def _blob(nb: nbformat.NotebookNode) -> str:
    return json.dumps(nb)


def test_scrub_known_value_everywhere() -> None:
    nb = build_notebook(figures=1, points=10)
    nb.metadata["papermill"] = {"parameters": {"environment": "demo", "db_pw": SECRET}}
    nb.cells[1].source += f'\ndb_pw = "{SECRET}"'
    nb.cells[1].metadata["note"] = {"nested": [SECRET]}
    nb.cells[2].outputs.append(new_output("stream", name="stdout", text=f"using {SECRET}\n"))
    nb.cells[2].outputs[0].data["text/html"] += f"<td>{SECRET.replace('&', '&amp;')}</td>"
    nb.cells[3].outputs[0].data[PLOTLY_MIME]["layout"]["title"]["text"] = f"pw {SECRET}"
    nb.cells[4].outputs[0].data[FINDING_MIME]["evidence"] = {"dsn": [{"v": SECRET}]}
    nb.cells[4].outputs.append(
        new_output(
            "error",
            ename="OperationalError",
            evalue=f"auth failed for {SECRET}",
            traceback=[f"line 1 {SECRET}", "line 2"],
        )
    )
    nb.cells[4].outputs[0].metadata["x"] = SECRET

    count = scrub(nb, [SECRET])

    assert count == 10
    blob = _blob(nb)
    assert SECRET not in blob
    assert "s3cr3t" not in blob
    assert nb.metadata["papermill"]["parameters"] == {"environment": "demo", "db_pw": REDACTED}
    assert f'db_pw = "{REDACTED}"' in nb.cells[1].source
    nbformat.validate(nb)


def test_scrub_url_quoted_and_json_escaped_spellings() -> None:
    secret = 'pa ss"w/rd'
    text = 'postgresql://u:pa%20ss%22w%2Frd@db/x and {"pw": "pa ss\\"w/rd"}'
    out, count = scrub_text(text, [secret])
    assert count == 2
    assert "pa ss" not in out and "pa%20ss" not in out


def test_short_and_empty_secrets_are_ignored() -> None:
    out, count = scrub_text("abc is not redacted, nor is the empty string", ["abc", ""])
    assert (out, count) == ("abc is not redacted, nor is the empty string", 0)


def test_multiline_list_sources_are_joined_so_a_secret_cannot_straddle() -> None:
    nb = new_notebook(cells=[new_code_cell("x")])
    nb.cells[0].source = ["token = 'abcd", "efgh'\n"]
    assert scrub(nb, ["abcdefgh"]) == 1
    assert nb.cells[0].source == f"token = '{REDACTED}'\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "postgresql://festsafe:hunter2@db:5432/festsafe",
            f"postgresql://festsafe:{REDACTED}@db:5432/festsafe",
        ),
        ("redis://:cachepw@127.0.0.1:6379/0", f"redis://:{REDACTED}@127.0.0.1:6379/0"),
        ("amqp://guest:p@ss@rabbit:5672/", f"amqp://guest:{REDACTED}@rabbit:5672/"),
        (
            "host=db port=5432 password=hunter2 dbname=x",
            f"host=db port=5432 password={REDACTED} dbname=x",
        ),
        ("host=db password='a b c' user=u", f"host=db password='{REDACTED}' user=u"),
        (
            '{"db_password": "hunter2", "user": "u"}',
            f'{{"db_password": "{REDACTED}", "user": "u"}}',
        ),
        ("PGPASSWORD=hunter2 psql", f"PGPASSWORD={REDACTED} psql"),
        (
            "jdbc:postgresql://db/x?user=u&password=hunter2&ssl=1",
            f"jdbc:postgresql://db/x?user=u&password={REDACTED}&ssl=1",
        ),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", f"Authorization: Bearer {REDACTED}"),
        ("authorization: basic dXNlcjpwYXNz", f"authorization: basic {REDACTED}"),
        ('{"Authorization": "Bearer abc.def-ghi"}', f'{{"Authorization": "Bearer {REDACTED}"}}'),
        ("curl -H 'Authorization: Token 0123abcd'", f"curl -H 'Authorization: Token {REDACTED}'"),
        ("header bearer abcdefghijklmnopqrstuvwxyz012345", f"header bearer {REDACTED}"),
        ("key AKIAIOSFODNN7EXAMPLE used", f"key {REDACTED} used"),
        (
            "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            f"aws_secret_access_key = {REDACTED}",
        ),
    ],
)
def test_credential_patterns(text: str, expected: str) -> None:
    out, count = scrub_text(text)
    assert out == expected
    assert count == 1


def test_private_key_blocks() -> None:
    block = (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc+/=\n-----END RSA PRIVATE KEY-----"
    )
    out, count = scrub_text(f"before\n{block}\nafter")
    assert (out, count) == (f"before\n{REDACTED}\nafter", 1)
    escaped = "'-----BEGIN OPENSSH PRIVATE KEY-----\\nb3Blbn\\n-----END OPENSSH PRIVATE KEY-----'"
    assert scrub_text(escaped) == (f"'{REDACTED}'", 1)
    truncated, count = scrub_text("key: -----BEGIN PRIVATE KEY-----\nMIIEv...(output truncated)")
    assert (truncated, count) == (f"key: {REDACTED}", 1)


@pytest.mark.parametrize(
    "text",
    [
        "see https://grafana.example/d/abc?from=now-1h and http://backend:8080/healthz",
        "mail ops@festsafe.example; user@host:path",
        "the password policy says nothing here",
        "Bearer authentication is configured",
        "AKIA is a prefix; AKIAshort",
        "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub_text(text) == (text, 0)


def test_scrub_is_idempotent_and_counts_each_occurrence() -> None:
    nb = new_notebook(
        cells=[
            new_code_cell(
                f"a = '{SECRET}'; b = '{SECRET}'\n# postgres://u:pw12@h/x  password=zz99",
            )
        ]
    )
    assert scrub(nb, [SECRET]) == 4
    assert scrub(nb, [SECRET]) == 0


def test_binary_outputs_and_typed_arrays_are_not_touched() -> None:
    png = (
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
        "rkJggg=="
    )
    nb = new_notebook(
        cells=[
            new_code_cell(
                "x",
                outputs=[
                    new_output("display_data", data={"image/png": png, "text/plain": "img"}),
                    new_output("display_data", data=plotly_output(0, points=20)),
                ],
            )
        ]
    )
    trace = nb.cells[0].outputs[1].data[PLOTLY_MIME]["data"][0]
    bdata = trace["y"]["bdata"]
    # secrets that happen to occur inside the base64 payloads must not corrupt them
    assert scrub(nb, [png[10:16], bdata[4:10]]) == 0
    assert nb.cells[0].outputs[0].data["image/png"] == png
    assert trace["y"]["bdata"] == bdata


def test_scrubbed_notebook_still_exports(tmp_path: Path) -> None:
    nb = build_notebook(figures=1, points=10)
    nb.cells[3].outputs[0].data[PLOTLY_MIME]["layout"]["title"]["text"] = f"dsn {SECRET}"
    scrub(nb, [SECRET])
    html = export_html(nb, tmp_path / "r.html", title="t").read_text(encoding="utf-8")
    assert SECRET not in html
    assert REDACTED in html


# --- manifest ------------------------------------------------------------------------------------


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    d = tmp_path / "high-latency-20250704T120000Z-ab12cd"
    (d / "assets").mkdir(parents=True)
    (d / "report.ipynb").write_text('{"cells": []}')
    (d / "report.html").write_text("<html>report</html>")
    (d / "summary.json").write_text('{"schema_version": 1}')
    (d / "assets" / "extra.csv").write_bytes(b"a,b\n1,2\n")
    return d


def _sha256sum_check(d: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("sha256sum")
    assert tool, "sha256sum (coreutils) is required"
    return subprocess.run(
        [tool, "--strict", "-c", MANIFEST_NAME], cwd=d, capture_output=True, text=True, timeout=60
    )


def test_manifest_is_sha256sum_compatible(run_dir: Path) -> None:
    path = write_manifest(run_dir)
    assert path == run_dir / MANIFEST_NAME
    names = [line.split("  ", 1)[1] for line in path.read_text().splitlines()]
    assert names == ["assets/extra.csv", "report.html", "report.ipynb", "summary.json"]
    result = _sha256sum_check(run_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verify_manifest(run_dir) == []


def test_manifest_escapes_names_like_coreutils(run_dir: Path) -> None:
    (run_dir / "odd\\name.txt").write_text("x")
    write_manifest(run_dir)
    result = _sha256sum_check(run_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert verify_manifest(run_dir) == []


def test_rewriting_the_manifest_does_not_list_itself(run_dir: Path) -> None:
    write_manifest(run_dir)
    write_manifest(run_dir)
    assert MANIFEST_NAME not in (run_dir / MANIFEST_NAME).read_text()
    assert verify_manifest(run_dir) == []


def test_changed_byte_is_reported(run_dir: Path) -> None:
    write_manifest(run_dir)
    data = bytearray((run_dir / "report.html").read_bytes())
    data[3] ^= 0x01
    (run_dir / "report.html").write_bytes(bytes(data))
    assert verify_manifest(run_dir) == ["changed: report.html"]
    assert _sha256sum_check(run_dir).returncode != 0


def test_deleted_file_is_reported(run_dir: Path) -> None:
    write_manifest(run_dir)
    (run_dir / "assets" / "extra.csv").unlink()
    assert verify_manifest(run_dir) == ["missing: assets/extra.csv"]


def test_added_file_is_reported(run_dir: Path) -> None:
    write_manifest(run_dir)
    (run_dir / "notes.txt").write_text("added later")
    assert verify_manifest(run_dir) == ["extra: notes.txt"]


def test_missing_or_tampered_manifest_is_reported(run_dir: Path) -> None:
    assert verify_manifest(run_dir) == [f"no {MANIFEST_NAME} in {run_dir}"]
    write_manifest(run_dir)
    manifest = run_dir / MANIFEST_NAME
    digest = "0" * 64
    manifest.write_text(manifest.read_text() + f"{digest}  ../outside.txt\nnot a manifest line\n")
    problems = verify_manifest(run_dir)
    assert problems == [
        f"{MANIFEST_NAME} line 5: path outside the folder: '../outside.txt'",
        f"{MANIFEST_NAME} line 6: not in sha256sum format",
    ]
