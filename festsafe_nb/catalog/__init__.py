"""Queries are data: the PromQL signals and SQL queries the runbooks ask for by name.

The YAML files beside this module are the defaults (CONTRACT.md names). An installation that
renamed metrics or tables points ``FESTSAFE_CATALOG_DIR`` at a folder of YAML files with the
same layout; entries there replace the built-in ones by name. Every parameter is validated by
its kind before it is substituted, so a label value can never break out of its PromQL string.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path
from string import Template
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from festsafe_nb.config import Thresholds
from festsafe_nb.errors import CatalogError

HERE = Path(__file__).parent

_KIND_PATTERNS: dict[str, re.Pattern[str]] = {
    "duration": re.compile(r"^[1-9][0-9]{0,5}(ms|s|m|h|d)$"),
    "label": re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$"),
    "label_regex": re.compile(r"^[A-Za-z0-9_.:/|-]{1,256}$"),
}


class Param(BaseModel):
    kind: Literal["duration", "label", "label_regex", "number", "integer"]
    default: Any = None


class Alert(BaseModel):
    """The Prometheus alert a signal raises, and the runbook notebook that answers it.

    The comparison comes from the signal's ``threshold`` (a field of ``config.Thresholds``) and
    ``bad_when``, else from ``limit`` (a fixed number in the signal's unit, for signals the
    runbook gives no threshold), unless ``expr`` spells it out: a template where ``$signal`` is
    the signal's PromQL (scaled to its unit), ``$threshold`` / ``$limit`` the numbers, and
    ``$<other signal>`` any other catalog signal with its defaults. ``component`` is the label
    maintenance windows match (config.maintenance_windows); it may be a Prometheus label
    template such as ``{{ $labels.service }}``.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Z][A-Za-z0-9]{2,63}$")
    severity: Literal["critical", "warning", "info"]
    for_: str = Field("5m", alias="for", pattern=r"^([0-9]+(ms|s|m|h|d))+$")
    component: str = Field(min_length=1)
    runbook: str = Field(pattern=r"^notebooks/[a-z0-9_]+\.ipynb$")
    summary: str = Field(min_length=1)
    description: str = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    limit: float | None = None
    expr: str | None = None


class Signal(BaseModel):
    """One named PromQL signal with its unit and, if the runbook has one, its threshold."""

    name: str = ""
    description: str
    promql: str
    labels: list[str]
    unit: str
    scale: float = 1.0
    threshold: str | None = None
    bad_when: Literal["above", "below"] = "above"
    params: dict[str, Param] = Field(default_factory=dict)
    alert: Alert | None = None

    @model_validator(mode="after")
    def _alert_has_a_comparison(self) -> Signal:
        a = self.alert
        if a is not None and a.expr is None and self.threshold is None and a.limit is None:
            raise ValueError(f"alert {a.name}: needs the signal's threshold, a limit or an expr")
        return self

    def render(self, **params: Any) -> str:
        """The PromQL with validated parameters substituted."""
        values = _resolve(self.name, self.params, params)
        try:
            return Template(self.promql).substitute({k: str(v) for k, v in values.items()})
        except KeyError as exc:
            raise CatalogError(f"signal {self.name!r}: template needs {exc}") from None

    def threshold_value(self, thresholds: Thresholds) -> float | None:
        return None if self.threshold is None else float(getattr(thresholds, self.threshold))


class Query(BaseModel):
    """One named SQL statement; parameters are bound by the driver."""

    name: str = ""
    description: str
    sql: str
    params: dict[str, Param] = Field(default_factory=dict)

    def bind(self, **params: Any) -> dict[str, Any]:
        return _resolve(self.name, self.params, params)


class Catalog(BaseModel):
    signals: dict[str, Signal]
    queries: dict[str, Query]

    def signal(self, name: str) -> Signal:
        try:
            return self.signals[name]
        except KeyError:
            raise CatalogError(f"unknown signal {name!r}") from None

    def query(self, name: str) -> Query:
        try:
            return self.queries[name]
        except KeyError:
            raise CatalogError(f"unknown query {name!r}") from None


def _resolve(owner: str, spec: dict[str, Param], given: dict[str, Any]) -> dict[str, Any]:
    unknown = set(given) - set(spec)
    if unknown:
        raise CatalogError(f"{owner}: unknown parameter(s) {sorted(unknown)}")
    out: dict[str, Any] = {}
    for key, param in spec.items():
        value = given.get(key, param.default)
        if value is None:
            raise CatalogError(f"{owner}: parameter {key!r} is required")
        if param.kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CatalogError(f"{owner}: {key} must be a number, got {value!r}")
            if param.kind == "integer" and not float(value).is_integer():
                raise CatalogError(f"{owner}: {key} must be an integer, got {value!r}")
        elif not isinstance(value, str) or not _KIND_PATTERNS[param.kind].match(value):
            raise CatalogError(f"{owner}: {key}={value!r} is not a valid {param.kind}")
        out[key] = value
    return out


def _read(path: Path, section: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read catalog file {path}: {exc}") from None
    entries = data.get(section, {})
    if not isinstance(entries, dict):
        raise CatalogError(f"{path}: '{section}' must be a mapping")
    return entries


@cache
def load_catalog(overlay: str | None = None) -> Catalog:
    """The built-in catalog, with entries from ``overlay`` (or FESTSAFE_CATALOG_DIR) on top."""
    overlay = overlay or os.environ.get("FESTSAFE_CATALOG_DIR")
    signals = _read(HERE / "signals.yaml", "signals")
    queries = _read(HERE / "queries.yaml", "queries")
    if overlay:
        for path in sorted(Path(overlay).glob("*.yaml")):
            signals.update(_read(path, "signals"))
            queries.update(_read(path, "queries"))
    try:
        return Catalog(
            signals={k: Signal(name=k, **v) for k, v in signals.items()},
            queries={k: Query(name=k, **v) for k, v in queries.items()},
        )
    except (TypeError, ValidationError) as exc:
        raise CatalogError(f"invalid catalog: {exc}") from None
