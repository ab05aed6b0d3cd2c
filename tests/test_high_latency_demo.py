"""The High Latency runbook on the simulator: each scenario names the right bottleneck.

In-process (no kernel): the checks and the diagnosis are plain functions of a session.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from festsafe_nb.config import Settings
from festsafe_nb.runbooks import high_latency as hl
from festsafe_nb.session import open_session
from festsafe_nb.sim import load_scenario, scenario_names
from festsafe_nb.sim.platform import PlatformModel

NOW = datetime(2026, 7, 18, 21, 30, tzinfo=UTC)
EXPECTED = {
    name: load_scenario(name).expect["high-latency"]
    for name in scenario_names()
    if "high-latency" in load_scenario(name).expect
}


def run(scenario: str) -> hl.Diagnosis:  # type: ignore[name-defined]
    s = open_session("high-latency", scenario=scenario, settings=Settings(), now=NOW)
    for check in hl.run_all(s):
        s.findings += check.findings
    return s, hl.diagnose(s)


def test_every_bundled_scenario_states_what_high_latency_must_conclude() -> None:
    assert set(scenario_names()) == set(EXPECTED)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_diagnosis_names_the_bottleneck(scenario: str) -> None:
    s, d = run(scenario)
    assert d.suspect == EXPECTED[scenario], d.summary
    assert d.evidence and d.next_steps
    if d.suspect not in ("none", "unknown"):
        assert d.evidence[0] == "api_latency_p95"
        assert any(f.check in d.evidence and f.breached for f in s.findings)


def test_capacity_proposes_the_runbook_scale_up() -> None:
    _, d = run("under-provisioned")
    (action,) = d.proposed_actions
    assert action.kubectl.startswith("kubectl scale deployment/backend --replicas=")
    assert action.kubectl.endswith(" -n festsafe")
    assert action.parameters["replicas"] >= 5


def test_outage_yields_unavailable_findings_not_errors() -> None:
    s, d = run("evidence-outage")
    missing = {f.source for f in s.findings if f.unavailable}
    assert missing == {"postgresql", "redis"}
    assert "Evidence unavailable from" in d.summary


def test_simulation_is_deterministic() -> None:
    scenario = load_scenario("slow-database")
    times = NOW.timestamp() - np.arange(0, 3600, 60.0)
    a = PlatformModel(scenario, NOW.timestamp()).at(times)
    b = PlatformModel(scenario, NOW.timestamp()).at(times)
    for name, series in a.signals.items():
        for labels, values in series.items():
            np.testing.assert_array_equal(values, b.signals[name][labels])


def test_fault_is_confined_to_its_window() -> None:
    scenario = load_scenario("slow-database")  # fault from -35 min to the anchor
    model = PlatformModel(scenario, NOW.timestamp())
    before = model.at(np.array([NOW.timestamp() - 3600]))
    during = model.at(np.array([NOW.timestamp()]))
    assert (
        during.db_query_ms["observations_recent"][0]
        > 10 * before.db_query_ms["observations_recent"][0]
    )
