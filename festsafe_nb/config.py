"""Settings: named environments, the runbook's thresholds, and where reports go.

Sits at the bottom of the stack: every other layer receives a ``Settings`` (or one
``Environment`` of it) explicitly instead of reading files or variables itself.

Sources, lowest precedence first: built-in defaults, a TOML file (``FESTSAFE_CONFIG``, else
``./festsafe.toml``), then ``FESTSAFE_*`` environment variables (nested with ``__``, e.g.
``FESTSAFE_ENVIRONMENTS__PROD__PROMETHEUS_URL``). Secrets are never settings values: an
environment names the *variable* that holds a password, and a DSN or URL carrying a password
is refused, so no secret can reach a notebook parameter or a report through the settings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from festsafe_nb.errors import ConfigError
from festsafe_nb.service.settings import ServiceSettings
from festsafe_nb.windows import MaintenanceWindow, default_windows

DEMO = "demo"


class Thresholds(BaseModel):
    """The runbook's "Key Metrics" plus the diagnostic limits used to find a bottleneck.

    The first five come from RUNBOOK.md; the rest are this project's defaults for naming a
    bottleneck and can be tuned per installation.
    """

    api_p95_ms: float = Field(500.0, gt=0, description="RUNBOOK: API latency P95 < 500 ms")
    error_rate: float = Field(0.01, gt=0, lt=1, description="RUNBOOK: 5xx ratio < 1 %")
    db_connections_ratio: float = Field(
        0.8, gt=0, le=1, description="RUNBOOK: DB connections < 80 % of max"
    )
    model_mae: float = Field(2.0, gt=0, description="RUNBOOK: model MAE < 2.0")
    queue_depth: int = Field(1000, gt=0, description="RUNBOOK: queue depth < 1000 messages")
    db_query_p95_ms: float = Field(100.0, gt=0, description="database query P95")
    inference_p95_ms: float = Field(250.0, gt=0, description="ML inference P95")
    external_api_p95_ms: float = Field(1000.0, gt=0, description="external API P95")
    cache_hit_rate: float = Field(0.8, gt=0, le=1, description="Redis hit rate floor")
    rps_per_replica: float = Field(40.0, gt=0, description="backend load one replica serves")
    slow_query_seconds: float = Field(5.0, gt=0, description="a query running longer is slow")


class Environment(BaseModel):
    """Where one FestSafe installation's evidence lives. ``kind="demo"`` is the simulator."""

    kind: Literal["demo", "live"] = "live"
    description: str = ""
    prometheus_url: str | None = None
    kubeconfig: str | None = None
    kube_context: str | None = None
    kube_server: str | None = Field(
        None, description="API server URL without a kubeconfig (tests, in-cluster proxies)"
    )
    namespace: str = "festsafe"
    postgres_dsn: str | None = Field(None, description="libpq DSN without password")
    postgres_password_env: str = Field("PGPASSWORD", description="variable holding the password")
    redis_url: str | None = None
    redis_password_env: str = "REDIS_PASSWORD"
    timeout_s: float = Field(5.0, gt=0, le=120, description="per call, every source")

    @field_validator("postgres_dsn")
    @classmethod
    def _dsn_has_no_password(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if re.search(r"(^|\s)password\s*=", v) or ("://" in v and urlsplit(v).password is not None):
            raise ValueError("postgres_dsn must not carry a password; use postgres_password_env")
        return v

    @field_validator("redis_url", "prometheus_url")
    @classmethod
    def _url_has_no_password(cls, v: str | None) -> str | None:
        if v is not None and urlsplit(v).password is not None:
            raise ValueError("URLs must not carry a password; use the *_password_env setting")
        return v

    def secret(self, variable: str) -> str | None:
        """Read a secret from the process environment only (never from the settings file)."""
        return os.environ.get(variable) or None


class HeadlessPolicy(BaseModel):
    """Written permission for a headless run to execute one action for one alert.

    Default deny: without a matching policy a headless run only proposes. ``max_replicas``
    bounds a scale action's target.
    """

    action: str
    alert: str = Field(
        description="alertname; * for any alert-triggered run; none for a run no alert started"
    )
    runbook: str = "*"
    namespace: str = "festsafe"
    max_replicas: int | None = Field(None, gt=0)


class Remediation(BaseModel):
    """Who may run which class of action, and what a headless run may do on its own."""

    actor: str | None = Field(None, description="identity when neither JupyterHub nor OS says")
    roles: dict[str, list[str]] = Field(
        default_factory=dict, description="identity -> roles, e.g. alice = ['operator']"
    )
    required_role: dict[str, str] = Field(
        default_factory=lambda: {
            "scale": "operator",
            "rollout_restart": "operator",
            "set_image": "deployer",
            "rollout_undo": "deployer",
            "rotate_secret": "security",
            "start_retraining": "ml-engineer",
        },
        description="action -> role an identity needs to execute it",
    )
    headless_policies: list[HeadlessPolicy] = Field(default_factory=list)
    audit_log: Path = Path("reports/audit/audit.jsonl")
    verify_timeout_s: float = Field(120.0, gt=0)


def _builtin_environments() -> dict[str, Environment]:
    return {DEMO: Environment(kind="demo", description="embedded simulated FestSafe platform")}


class Settings(BaseSettings):
    """Everything configurable, validated once at start-up."""

    model_config = SettingsConfigDict(
        env_prefix="FESTSAFE_",
        env_nested_delimiter="__",
        extra="forbid",
    )

    environments: dict[str, Environment] = Field(default_factory=_builtin_environments)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    reports_dir: Path = Path("reports")
    kernel_name: str = "python3"
    remediation: Remediation = Field(default_factory=Remediation)
    maintenance_windows: list[MaintenanceWindow] = Field(default_factory=default_windows)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @field_validator("environments")
    @classmethod
    def _demo_always_present(cls, v: dict[str, Environment]) -> dict[str, Environment]:
        merged = _builtin_environments()
        merged.update(v)
        if merged[DEMO].kind != "demo":
            raise ValueError("the environment name 'demo' is reserved for the simulator")
        return merged

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_path())
        return (init_settings, env_settings, toml)

    def environment(self, name: str) -> Environment:
        """The named environment, or a ConfigError listing the known names."""
        try:
            return self.environments[name]
        except KeyError:
            known = ", ".join(sorted(self.environments))
            raise ConfigError(f"unknown environment {name!r}; configured: {known}") from None


def config_path() -> Path:
    """The TOML file in force: ``FESTSAFE_CONFIG`` or ``./festsafe.toml`` (may not exist)."""
    return Path(os.environ.get("FESTSAFE_CONFIG", "festsafe.toml"))


def load_settings(**overrides: object) -> Settings:
    """Load and validate settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = [f"  {'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ConfigError(f"invalid settings ({config_path()}):\n" + "\n".join(lines)) from None
