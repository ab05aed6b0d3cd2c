"""Findings recorded as MIME outputs survive a notebook round trip with plain nbformat."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

from festsafe_nb.evidence import MIME_FINDING, bundle_for, finding_html, read_evidence
from festsafe_nb.findings import (
    CommandBlock,
    Diagnosis,
    Finding,
    ProposedAction,
    Status,
    TableBlock,
)


def test_round_trip_through_nbformat(tmp_path: Path) -> None:
    finding = Finding(
        check="api_latency_p95",
        title="API P95",
        status=Status.BREACH,
        value=812.5,
        threshold=500,
        unit="ms",
        summary="slow",
        evidence=[
            TableBlock(title="t", columns=["route", "ms"], rows=[["/a", 812.5]]),
            CommandBlock(command="kubectl get pods"),
        ],
    )
    diagnosis = Diagnosis(runbook="high-latency", suspect="database", summary="db")
    action = ProposedAction(
        action="scale",
        target="deployment/backend",
        namespace="festsafe",
        kubectl="kubectl scale deployment/backend --replicas=5 -n festsafe",
        reason="load",
    )
    outputs = [
        new_output("display_data", data=bundle_for(obj)) for obj in (finding, diagnosis, action)
    ]
    nb = new_notebook(cells=[new_code_cell("x", outputs=outputs)])
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    ev = read_evidence(nbformat.read(str(path), as_version=4))
    assert ev.findings == [finding]
    assert ev.diagnoses == [diagnosis]
    assert ev.actions == [action]
    assert MIME_FINDING in outputs[0]["data"]


def test_html_escapes_evidence() -> None:
    f = Finding(
        check="c",
        title="<script>alert(1)</script>",
        status=Status.OK,
        summary="a & b",
        evidence=[TableBlock(title="x", columns=["q"], rows=[["<img src=x onerror=y>"]])],
    )
    html = finding_html(f)
    assert "<script>" not in html and "<img" not in html
    assert "&lt;script&gt;" in html


def test_ratio_knows_which_side_is_bad() -> None:
    above = Finding(
        check="a", title="a", status=Status.BREACH, value=750, threshold=500, summary=""
    )
    below = Finding(
        check="b",
        title="b",
        status=Status.BREACH,
        value=0.2,
        threshold=0.8,
        bad_when="below",
        summary="",
    )
    assert above.ratio == 1.5
    assert below.ratio == 4.0
