"""Settings of the alert service: a ``[service]`` table of the project's settings.

Lives in ``festsafe_nb.config.Settings.service`` so one TOML file (and ``FESTSAFE_SERVICE__*``
variables) configures everything. Secrets are never values here: the settings name the
*environment variables* that hold the bearer token, the PagerDuty routing key and the Slack
webhook URL, so no secret can reach a log line, a notebook parameter or a report by way of the
settings. Only pydantic is imported: ``config`` sits below the service in the layering.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

DEFAULT_ALERT_RUNBOOKS: dict[str, str] = {
    # CONTRACT.md "Alerts"; runbooks not implemented yet are answered and recorded, not guessed
    "HighApiLatency": "high-latency",
    "ModelDrift": "model-drift",
    "IngestionStalled": "data-pipeline-failure",
    "QueueBacklog": "data-pipeline-failure",
    "DatabaseConnectionsHigh": "database-issues",
    "DatabaseSlowQueries": "database-issues",
    "AuthFailureSpike": "security-incident",
    "UnusualApiActivity": "security-incident",
}

DEFAULT_LABEL_ALLOWLIST: list[str] = [
    "alertname",
    "severity",
    "service",
    "route",
    "method",
    "status",
    "namespace",
    "deployment",
    "component",
    "datname",
    "queue",
    "vhost",
    "model",
    "zone",
    "api",
    "source",
    "reason",
]

DEFAULT_RUNBOOK_COMPONENTS: dict[str, str] = {
    # the component a runbook's alerts concern when no label names one (maintenance windows)
    "high-latency": "backend",
    "model-drift": "model",
    "data-pipeline-failure": "workers",
    "database-issues": "database",
    "security-incident": "security",
}


class ServiceSettings(BaseModel):
    """``festsafe-nb serve``: where it listens, what it runs, whom it tells."""

    host: str = Field("127.0.0.1", description="bind address; loopback unless proxied")
    port: int = Field(9095, ge=0, le=65535, description="0 = any free port")
    token_env: str = Field(
        "FESTSAFE_WEBHOOK_TOKEN", description="variable holding the bearer token Alertmanager sends"
    )
    max_body_bytes: int = Field(1_048_576, gt=0, description="larger webhook bodies get 413")
    alert_runbooks: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_ALERT_RUNBOOKS))
    label_allowlist: list[str] = Field(
        default_factory=lambda: list(DEFAULT_LABEL_ALLOWLIST),
        description="labels passed to the notebook as alert_labels (data only)",
    )
    label_parameters: dict[str, str] = Field(
        default_factory=lambda: {"namespace": "namespace"},
        description="label -> notebook parameter, applied when the notebook declares it",
    )
    environment: str = Field("demo", description="environment alert-triggered runs use")
    runbook_parameters: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="fixed parameters per runbook, e.g. a demo scenario"
    )
    component_labels: list[str] = Field(
        default_factory=lambda: ["component", "deployment", "service"],
        description="labels naming the component, first present wins (maintenance windows)",
    )
    runbook_components: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_RUNBOOK_COMPONENTS)
    )
    dedup_window_s: float = Field(
        1800.0, ge=0, description="repeat notifications of a group within this start no run"
    )
    concurrency: int = Field(2, ge=1, le=32, description="runs executing at once")
    kernel_pool: int | None = Field(
        None, ge=1, le=32, description="pre-started kernels; default: concurrency"
    )
    warm_imports: list[str] = Field(
        default_factory=lambda: ["festsafe_nb", "pandas", "plotly.graph_objects"],
        description="modules a pre-started kernel imports before its run (no user state)",
    )
    worker_nice: int = Field(
        5,
        ge=0,
        le=19,
        description="CPU niceness of the run worker process (its kernels: at least 10)",
    )
    max_attempts: int = Field(
        2, ge=1, le=5, description="an interrupted run is rerun until this many attempts"
    )
    cell_timeout_s: int = Field(300, gt=0)
    queue_path: Path = Path("reports/service/queue.sqlite3")
    reports_dir: Path | None = Field(None, description="default: the settings' reports_dir")
    report_base_url: str | None = Field(
        None, description="URL prefix for report links in notifications; else the path"
    )
    pagerduty_url: str = "https://events.pagerduty.com/v2/enqueue"
    pagerduty_routing_key_env: str = "FESTSAFE_PAGERDUTY_ROUTING_KEY"
    slack_webhook_url_env: str = "FESTSAFE_SLACK_WEBHOOK_URL"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "festsafe-runbooks@localhost"
    smtp_to: list[str] = Field(default_factory=lambda: ["engineering@festsafe.ai"])
    smtp_password_env: str = Field(
        "FESTSAFE_SMTP_PASSWORD", description="login only when this variable is set"
    )
    digest_interval_s: float = Field(300.0, gt=0, description="email digest batching period")
    notify_timeout_s: float = Field(5.0, gt=0, le=60)
    notify_max_attempts: int = Field(5, ge=1)

    @property
    def kernels(self) -> int:
        return self.kernel_pool or self.concurrency

    def secret_variables(self) -> list[str]:
        """Variables holding this service's secrets (kept out of kernels and responses)."""
        return [
            self.token_env,
            self.pagerduty_routing_key_env,
            self.slack_webhook_url_env,
            self.smtp_password_env,
        ]
