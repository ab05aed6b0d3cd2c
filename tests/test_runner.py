"""The runner and CLI end to end on the demo environment: exit statuses, reports, refusals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from festsafe_nb import runner
from festsafe_nb.cli import main
from festsafe_nb.report import verify_manifest
from festsafe_nb.runbooks import REGISTRY, RunbookInfo


def run_dirs(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("*/*/*/*/summary.json"))


def test_demo_run_writes_the_whole_report(tmp_path: Path) -> None:
    result = runner.run("high-latency", {"scenario": "slow-database"}, reports_dir=tmp_path)
    assert result.exit_code == 0, result.summary["error"]
    d = result.report_dir
    assert d.parent.parent.parent.parent == tmp_path
    assert d.name.startswith("high-latency-")
    assert {p.name for p in d.iterdir()} == {
        "report.ipynb",
        "report.html",
        "summary.json",
        "MANIFEST.sha256",
    }
    assert verify_manifest(d) == []
    summary = json.loads((d / "summary.json").read_text())
    assert summary["schema_version"] == 1
    assert summary["simulated"] is True and summary["scenario"] == "slow-database"
    assert summary["diagnosis"]["suspect"] == "database"
    assert summary["parameters"]["execution_mode"] == "headless"
    assert {f["check"] for f in summary["findings"]} >= {"api_latency_p95", "db_query_p95"}
    html = (d / "report.html").read_text()
    assert "SIMULATED DATA" in html
    nb = nbformat.read(str(d / "report.ipynb"), as_version=4)
    assert nb.metadata["papermill"]["parameters"]["scenario"] == "slow-database"


def test_unavailable_evidence_exits_3_with_a_report(tmp_path: Path) -> None:
    result = runner.run("high-latency", {"scenario": "evidence-outage"}, reports_dir=tmp_path)
    assert result.exit_code == 3
    assert result.status == "completed_evidence_unavailable"
    assert (
        set(result.summary["evidence_unavailable"]) >= {"db_query_p95"}
        or result.summary["evidence_unavailable"]
    )
    assert result.summary["diagnosis"]["suspect"] == "ml_inference"
    assert verify_manifest(result.report_dir) == []


def test_failed_cell_exits_1_and_still_writes_the_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nb_path = tmp_path / "broken.ipynb"
    params = new_code_cell('environment = "demo"\nwhere = "here"')
    params.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[params, new_code_cell("print('before')"), new_code_cell("1 / 0")],
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
    )
    nbformat.write(nb, str(nb_path))
    monkeypatch.setitem(REGISTRY, "broken", RunbookInfo("broken", str(nb_path), "Broken", "-"))
    result = runner.run("broken", {}, reports_dir=tmp_path / "reports")
    assert result.exit_code == 1
    assert result.summary["error"]["ename"] == "ZeroDivisionError"
    assert result.html.exists()
    assert "ZeroDivisionError" in result.html.read_text()


@pytest.mark.parametrize(
    "args",
    [
        ["run", "high-latency", "-p", "x = 1; import os; os.system('touch /tmp/pwned')=1"],
        ["run", "high-latency", "-p", "nope=1"],
        ["run", "high-latency", "-p", "window_minutes=sixty"],
        ["run", "high-latency", "-p", "window_minutes=2"],
        ["run", "high-latency", "-p", "end=yesterday"],
        ["run", "high-latency", "-p", "namespace=a;b"],
        ["run", "high-latency", "-p", "scenario=nope"],
        ["run", "high-latency", "--env", "prod"],
        ["run", "no-such-runbook"],
        ["run", "high-latency", "-p", "novalue"],
    ],
)
def test_bad_input_exits_2_and_runs_nothing(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([*args, "--reports-dir", str(tmp_path)] if args[1] != "no-such-runbook" else args)
    assert code == 2
    assert "festsafe-nb:" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_list_reads_parameters_from_the_notebook(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    params = listing["high-latency"]["parameters"]
    assert params["window_minutes"] == {"default": 60, "type": "int", "help": ""}
    assert "scenario" in params


def test_console_script_prints_the_report_path(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("festsafe-nb")
    proc = subprocess.run(
        [str(exe), "run", "high-latency", "-p", "scenario=healthy", "--reports-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    html = Path(proc.stdout.strip())
    assert html.name == "report.html" and html.exists()
    assert "diagnosis: none" in proc.stderr
