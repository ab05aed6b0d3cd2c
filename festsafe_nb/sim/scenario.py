"""Scenario files: a fault, where, when and how strong, as data.

Scenarios drive both the in-process demo environment and the state loaded into real services
for integration tests, so one file describes an incident once for every surface.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from festsafe_nb.errors import ConfigError

SCENARIO_DIR = Path(__file__).parent / "scenarios"

FaultKind = Literal[
    "database_slow",  # strength: multiplier on database query time
    "cache_miss_storm",  # strength: Redis hit rate during the fault
    "ml_inference_slow",  # strength: multiplier on inference time
    "external_api_slow",  # target: api; strength: multiplier on its response time
    "load_surge",  # target: service; strength: multiplier on its request rate
    "release_regression",  # target: deployment; image: the bad release; strength: error multiplier
]


class Fault(BaseModel):
    kind: FaultKind
    target: str | None = None
    image: str | None = Field(
        None,
        description="release_regression: active while the target runs an image containing this",
    )
    start_min: float = Field(description="minutes relative to the window end (negative: before)")
    end_min: float = 0.0
    strength: float = Field(gt=0)
    ramp_min: float = Field(2.0, ge=0, description="minutes to reach full strength")


class Scenario(BaseModel):
    name: str
    description: str
    faults: list[Fault] = Field(default_factory=list)
    expect: dict[str, str] = Field(
        default_factory=dict, description="runbook -> the diagnosis it must reach (tests check)"
    )
    unavailable: list[str] = Field(
        default_factory=list, description="systems that do not answer (e.g. postgresql)"
    )

    def faults_of(self, kind: FaultKind) -> list[Fault]:
        return [f for f in self.faults if f.kind == kind]


def scenario_names() -> list[str]:
    return sorted(p.stem for p in SCENARIO_DIR.glob("*.yaml"))


@cache
def load_scenario(name: str) -> Scenario:
    """Load a bundled scenario by name (the file stem), or raise ConfigError naming the choices."""
    path = SCENARIO_DIR / f"{name}.yaml"
    if name not in scenario_names():
        raise ConfigError(f"unknown scenario {name!r}; choose one of {', '.join(scenario_names())}")
    try:
        return Scenario(**yaml.safe_load(path.read_text()))
    except (yaml.YAMLError, ValidationError, TypeError) as exc:
        raise ConfigError(f"invalid scenario file {path}: {exc}") from None
