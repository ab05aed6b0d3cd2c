"""Parameter checks: papermill must never see a crafted name or an unescaped value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from festsafe_nb.errors import ParameterError
from festsafe_nb.parameters import Parameter, coerce_cli_value, read_parameters, validate
from festsafe_nb.runbooks import REGISTRY

DECLARED = read_parameters(REGISTRY["high-latency"].path)


def test_reads_names_defaults_and_help() -> None:
    assert DECLARED["window_minutes"].default == 60
    assert DECLARED["alert_labels"].default == {}
    assert "ISO-8601" in DECLARED["end"].help


@pytest.mark.parametrize(
    "given",
    [
        {"x = 1; import os; os.system('id')": 1},
        {"__import__('os')": 1},
        {"not_declared": 1},
        {"window_minutes": "60"},
        {"window_minutes": True},
        {"window_minutes": 1.5},
        {"alert_labels": {"a": (1, 2)}},
        {"alert_labels": {"a": Path("/etc")}},
        {"alert_labels": {1: "x"}},
        {"scenario": float("nan")},
        {"scenario": b"bytes"},
    ],
)
def test_refused(given: dict[Any, Any]) -> None:
    with pytest.raises(ParameterError):
        validate(DECLARED, given, notebook="high_latency.ipynb")


def test_accepted_values_round_trip() -> None:
    given = {"scenario": 'he said "hi"; import os', "alert_labels": {"route": "/api/x?a=1"}}
    out = validate(DECLARED, given, notebook="high_latency.ipynb")
    assert json.loads(json.dumps(out)) == given


def test_cli_values() -> None:
    text = Parameter("scenario", "healthy", "")
    number = Parameter("window_minutes", 60, "")
    assert coerce_cli_value(text, "slow-database") == "slow-database"
    assert coerce_cli_value(text, "404") == "404"
    assert coerce_cli_value(number, "30") == 30
    with pytest.raises(ParameterError, match="not valid JSON"):
        coerce_cli_value(number, "thirty")


def test_cell_that_is_not_literal_assignments(tmp_path: Path) -> None:
    nb = {
        "cells": [
            {"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "import os\n"}
        ]
    }
    path = tmp_path / "bad.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(ParameterError, match="not `name = literal`"):
        read_parameters(path)
