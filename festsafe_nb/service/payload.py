"""The Alertmanager webhook payload (version 4), validated before anything is recorded.

A body that does not parse into :class:`WebhookPayload` is answered 422 with the first
reasons and nothing is queued. Label names must be Prometheus label names; label values may
hold any text (they only ever travel as data), but not unpaired surrogates, which no UTF-8
notebook or report could store.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
MAX_ALERTS = 1000
MAX_VALUE_CHARS = 16_384


def _check_labels(v: dict[str, str]) -> dict[str, str]:
    for name, value in v.items():
        if not LABEL_NAME.match(name):
            raise ValueError(f"label name {name[:40]!r} is not a Prometheus label name")
        if len(value) > MAX_VALUE_CHARS:
            raise ValueError(f"label {name} is longer than {MAX_VALUE_CHARS} characters")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"label {name} is not valid Unicode text") from None
    return v


class Alert(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime  # Alertmanager's field names
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: str = Field("", max_length=128)

    @field_validator("annotations")
    @classmethod
    def _annotations(cls, v: dict[str, str]) -> dict[str, str]:
        for name, value in v.items():
            try:
                (name + value).encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"annotation {name[:40]!r} is not valid Unicode text") from None
        return v

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: dict[str, str]) -> dict[str, str]:
        _check_labels(v)
        if not v.get("alertname"):
            raise ValueError("an alert needs an alertname label")
        return v

    @property
    def alertname(self) -> str:
        return self.labels["alertname"]


class WebhookPayload(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Literal["4"]
    groupKey: str = Field(min_length=1, max_length=4096)
    truncatedAlerts: int = Field(0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[Alert] = Field(min_length=1, max_length=MAX_ALERTS)

    @field_validator("groupKey")
    @classmethod
    def _group_key(cls, v: str) -> str:
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("groupKey is not valid Unicode text") from None
        return v


def parse(body: bytes) -> WebhookPayload:
    """Parse a request body; raises ValueError with a short, readable reason."""
    try:
        return WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        reasons = []
        for err in exc.errors()[:5]:
            where = ".".join(str(p) for p in err["loc"]) or "body"
            reasons.append(f"{where}: {err['msg']}")
        raise ValueError("; ".join(reasons)) from None
