"""Alert rules and the Alertmanager config: generated from the catalog, committed in sync, valid
for promtool / amtool, and unit-tested with ``promtool test rules`` (alerting/tests/)."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from datetime import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from festsafe_nb.alerting import register
from festsafe_nb.alerting.alertmanager import Channels, render_alertmanager_config, time_interval
from festsafe_nb.alerting.rules import render_rules, rules_document
from festsafe_nb.catalog import load_catalog
from festsafe_nb.config import Settings, Thresholds
from festsafe_nb.errors import CatalogError
from festsafe_nb.runbooks import REGISTRY
from festsafe_nb.windows import MaintenanceWindow

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "alerting" / "festsafe-rules.yml"
AM_EXAMPLE = ROOT / "alerting" / "alertmanager.example.yml"
RULE_TESTS = sorted((ROOT / "alerting" / "tests").glob("*.yml"))
# CONTRACT.md "Alerts": alert name -> runbook notebook
CONTRACT_ALERTS = {
    "HighApiLatency": "notebooks/high_latency.ipynb",
    "ModelDrift": "notebooks/model_drift.ipynb",
    "IngestionStalled": "notebooks/data_pipeline.ipynb",
    "QueueBacklog": "notebooks/data_pipeline.ipynb",
    "DatabaseConnectionsHigh": "notebooks/database_issues.ipynb",
    "DatabaseSlowQueries": "notebooks/database_issues.ipynb",
    "AuthFailureSpike": "notebooks/security_incident.ipynb",
    "UnusualApiActivity": "notebooks/security_incident.ipynb",
}
needs_promtool = pytest.mark.skipif(not shutil.which("promtool"), reason="promtool not installed")
needs_amtool = pytest.mark.skipif(not shutil.which("amtool"), reason="amtool not installed")


def all_rules(doc: dict[str, Any]) -> dict[str, Any]:
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"]}


def test_committed_rules_match_the_catalog() -> None:
    assert RULES.read_text() == render_rules(), (
        "alerting/festsafe-rules.yml is stale: run "
        "`festsafe-nb alerting rules --defaults -o alerting/festsafe-rules.yml`"
    )


def test_committed_alertmanager_example_matches_the_generator() -> None:
    assert AM_EXAMPLE.read_text() == render_alertmanager_config(), (
        "alerting/alertmanager.example.yml is stale: run `festsafe-nb alerting "
        "alertmanager-config --defaults -o alerting/alertmanager.example.yml`"
    )


def test_every_contract_alert_is_generated_with_its_runbook() -> None:
    rules = all_rules(rules_document())
    assert set(rules) == set(CONTRACT_ALERTS)
    for name, rule in rules.items():
        labels, annotations = rule["labels"], rule["annotations"]
        assert labels["severity"] in {"critical", "warning", "info"}
        assert labels["component"]
        assert annotations["runbook"] == CONTRACT_ALERTS[name]
        assert annotations["summary"] and annotations["description"]
        # threshold and `for` are filled in; only Prometheus' own template variables remain
        text = annotations["summary"] + annotations["description"]
        assert "$threshold" not in text and "$for" not in text
    # the runbook channels of RUNBOOK.md are all used
    assert {r["labels"]["severity"] for r in rules.values()} == {"critical", "warning", "info"}


def test_runbook_annotations_name_the_registered_notebooks() -> None:
    """Where a runbook exists, the annotation names its notebook file exactly."""
    notebooks = {f"notebooks/{info.notebook}" for info in REGISTRY.values()}
    assert "notebooks/high_latency.ipynb" in notebooks
    for info in REGISTRY.values():
        assert (ROOT / "notebooks" / info.notebook).exists()


def test_thresholds_come_from_the_settings() -> None:
    default = all_rules(rules_document())
    assert default["HighApiLatency"]["expr"].endswith("* 1000 > 500")
    assert default["DatabaseConnectionsHigh"]["expr"].endswith("> 0.8")
    assert default["QueueBacklog"]["expr"].endswith("> 1000")
    assert default["ModelDrift"]["expr"].endswith("> 2")
    settings = Settings(thresholds=Thresholds(api_p95_ms=300, queue_depth=250, model_mae=1.5))
    tuned = all_rules(rules_document(settings))
    assert tuned["HighApiLatency"]["expr"].endswith("* 1000 > 300")
    assert "300 ms" in tuned["HighApiLatency"]["annotations"]["description"]
    assert tuned["QueueBacklog"]["expr"].endswith("> 250")
    assert tuned["ModelDrift"]["expr"].endswith("> 1.5")


def test_explicit_expressions_and_for_override() -> None:
    rules = all_rules(rules_document(for_override="0s", interval="1s"))
    assert rules["IngestionStalled"]["expr"] == (
        "sum by (source) (rate(festsafe_observations_ingested_total[10m])) == 0"
    )
    assert rules["AuthFailureSpike"]["expr"].endswith("> 1")
    assert {r["for"] for r in rules.values()} == {"0s"}
    assert {g["interval"] for g in rules_document(interval="1s")["groups"]} == {"1s"}
    with pytest.raises(CatalogError):
        rules_document(for_override="5 minutes")


@pytest.mark.parametrize(
    ("alert", "problem"),
    [
        ({"severity": "page"}, "severity"),
        ({"runbook": "../etc/passwd"}, "runbook"),
        ({"name": "lower"}, "name"),
        ({"for": "soon"}, "for"),
        ({"colour": "red"}, "extra"),
    ],
)
def test_alert_schema_refuses_bad_blocks(
    tmp_path: Path, alert: dict[str, str], problem: str
) -> None:
    block = {
        "name": "SomethingBroke",
        "severity": "warning",
        "for": "5m",
        "component": "backend",
        "runbook": "notebooks/high_latency.ipynb",
        "summary": "s",
        "description": "d",
        **alert,
    }
    (tmp_path / "site.yaml").write_text(
        yaml.safe_dump(
            {
                "signals": {
                    "api_error_rate": {
                        "description": "x",
                        "promql": "sum(rate(http_requests_total[5m]))",
                        "labels": [],
                        "unit": "ratio",
                        "threshold": "error_rate",
                        "alert": block,
                    }
                }
            }
        )
    )
    with pytest.raises(CatalogError):
        load_catalog(str(tmp_path))


def test_an_alert_needs_something_to_compare_with(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "signals:\n  api_request_rate:\n    description: x\n    promql: sum(rate(x_total[5m]))\n"
        "    labels: []\n    unit: req/s\n    alert:\n      name: NoLimit\n"
        "      severity: info\n      component: backend\n"
        "      runbook: notebooks/high_latency.ipynb\n      summary: s\n      description: d\n"
    )
    with pytest.raises(CatalogError, match="threshold, a limit or an expr"):
        load_catalog(str(tmp_path))


def test_alert_names_are_unique_and_new_alerts_join_their_runbook_group(tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "signals:\n  api_error_rate:\n    description: 5xx share\n"
        '    promql: sum(rate(http_requests_total{status=~"5.."}[5m]))\n'
        "    labels: []\n    unit: ratio\n    threshold: error_rate\n    alert:\n"
        "      name: HighApiErrorRate\n      severity: warning\n      component: backend\n"
        "      runbook: notebooks/high_latency.ipynb\n      summary: s\n      description: d\n"
    )
    cat = load_catalog(str(tmp_path))
    doc = rules_document(catalog=cat)
    group = next(g for g in doc["groups"] if g["name"] == "festsafe-high-latency")
    assert [r["alert"] for r in group["rules"]] == ["HighApiErrorRate", "HighApiLatency"]
    assert group["rules"][0]["expr"].endswith("> 0.01")
    clash = tmp_path / "clash"  # load_catalog caches by folder
    clash.mkdir()
    (clash / "site.yaml").write_text(
        (tmp_path / "site.yaml").read_text().replace("HighApiErrorRate", "HighApiLatency")
    )
    with pytest.raises(CatalogError, match="used twice"):
        rules_document(catalog=load_catalog(str(clash)))


@needs_promtool
def test_promtool_checks_the_generated_rules(tmp_path: Path) -> None:
    for name, text in {
        "default.yml": render_rules(),
        "fast.yml": render_rules(for_override="0s", interval="1s"),
    }.items():
        path = tmp_path / name
        path.write_text(text)
        done = subprocess.run(
            ["promtool", "check", "rules", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS: 8 rules found" in done.stdout + done.stderr


@needs_promtool
@pytest.mark.parametrize("test_file", RULE_TESTS, ids=lambda p: p.name)
def test_promtool_rule_unit_tests(test_file: Path) -> None:
    """Each alert fires on its breach series after its `for`, never on the healthy series."""
    done = subprocess.run(
        ["promtool", "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]


def test_rule_unit_tests_cover_every_alert() -> None:
    tested = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check["exp_alerts"]:
                    tested.add(check["alertname"])
    assert tested == set(CONTRACT_ALERTS)


@needs_amtool
@pytest.mark.parametrize("variant", ["example", "loopback"])
def test_amtool_accepts_the_alertmanager_config(tmp_path: Path, variant: str) -> None:
    if variant == "example":
        text = AM_EXAMPLE.read_text()
    else:
        text = render_alertmanager_config(
            Channels(
                webhook_url="http://127.0.0.1:9/alerts",
                pagerduty_url="http://127.0.0.1:9/pagerduty",
                smtp_smarthost="127.0.0.1:25",
                smtp_auth_username=None,
                smtp_auth_password_file=None,
                smtp_require_tls=False,
                group_wait="1s",
            )
        )
    path = tmp_path / "alertmanager.yml"
    path.write_text(text)
    done = subprocess.run(
        ["amtool", "check-config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_alertmanager_routes_by_severity_and_always_to_the_service() -> None:
    cfg = yaml.safe_load(AM_EXAMPLE.read_text())
    routes = cfg["route"]["routes"]
    assert routes[0] == {"receiver": "festsafe-runbooks", "group_wait": "10s", "continue": True}
    by_severity = {r["matchers"][0]: r["receiver"] for r in routes[1:]}
    assert by_severity == {
        'severity="critical"': "pagerduty-oncall",
        'severity="warning"': "slack-alerts",
        'severity="info"': "email-digest",
    }
    assert cfg["route"]["group_by"][:1] == ["alertname"]
    receivers = {r["name"]: r for r in cfg["receivers"]}
    hook = receivers["festsafe-runbooks"]["webhook_configs"][0]
    assert hook["http_config"]["authorization"]["credentials_file"]
    assert "credentials" not in hook["http_config"]["authorization"], "no inline token"
    assert receivers["slack-alerts"]["slack_configs"][0]["channel"] == "#alerts"
    assert "routing_key" not in receivers["pagerduty-oncall"]["pagerduty_configs"][0]
    assert "api_url" not in receivers["slack-alerts"]["slack_configs"][0]
    # the direct channels are muted in maintenance windows; the runbook route never is
    assert "mute_time_intervals" not in routes[0]
    db = next(c for c in routes[1]["routes"] if "database" in c["matchers"][0])
    assert db["mute_time_intervals"] == ["weekly-database-maintenance"]
    weekly = next(t for t in cfg["time_intervals"] if t["name"] == "weekly-database-maintenance")
    assert weekly["time_intervals"] == [
        {
            "times": [{"start_time": "02:00", "end_time": "04:00"}],
            "weekdays": ["sunday"],
            "location": "UTC",
        }
    ]


def test_a_window_crossing_midnight_is_split() -> None:
    w = MaintenanceWindow(
        name="Saturday night", components=["db"], weekday=5, start=time(23), end=time(1, 30)
    )
    assert time_interval(w) == {
        "name": "saturday-night",
        "time_intervals": [
            {
                "times": [{"start_time": "23:00", "end_time": "24:00"}],
                "weekdays": ["saturday"],
                "location": "UTC",
            },
            {
                "times": [{"start_time": "00:00", "end_time": "01:30"}],
                "weekdays": ["sunday"],
                "location": "UTC",
            },
        ],
    }


def test_cli_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="festsafe-nb")
    register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path / "rules.yml"
    args = parser.parse_args(["alerting", "rules", "--defaults", "-o", str(out)])
    assert args.func(args) == 0
    assert out.read_text() == RULES.read_text()
    args = parser.parse_args(["alerting", "alertmanager-config", "--defaults"])
    assert args.func(args) == 0
    assert capsys.readouterr().out == AM_EXAMPLE.read_text()
    args = parser.parse_args(["alerting", "rules", "--defaults", "--for", "0s"])
    assert args.func(args) == 0
    assert "for: 0s" in capsys.readouterr().out
