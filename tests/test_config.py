"""Settings: the built-in demo, TOML and FESTSAFE_* sources, and secrets kept out."""

from __future__ import annotations

from pathlib import Path

import pytest

from festsafe_nb.config import load_settings
from festsafe_nb.errors import ConfigError


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FESTSAFE_CONFIG", str(tmp_path / "festsafe.toml"))
    for key in list(__import__("os").environ):
        if key.startswith("FESTSAFE_") and key != "FESTSAFE_CONFIG":
            monkeypatch.delenv(key)


def test_defaults_are_the_runbook_thresholds() -> None:
    s = load_settings()
    t = s.thresholds
    assert (t.api_p95_ms, t.error_rate, t.db_connections_ratio, t.model_mae, t.queue_depth) == (
        500.0,
        0.01,
        0.8,
        2.0,
        1000,
    )
    assert s.environment("demo").kind == "demo"


def test_toml_and_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "festsafe.toml").write_text(
        '[environments.prod]\nprometheus_url = "http://prom:9090"\n'
        'postgres_dsn = "host=db dbname=festsafe user=runbook"\n'
        "[thresholds]\napi_p95_ms = 400\n"
    )
    monkeypatch.setenv("FESTSAFE_THRESHOLDS__ERROR_RATE", "0.02")
    s = load_settings()
    assert s.environment("prod").prometheus_url == "http://prom:9090"
    assert s.thresholds.api_p95_ms == 400
    assert s.thresholds.error_rate == 0.02
    assert "demo" in s.environments


@pytest.mark.parametrize(
    "dsn", ["postgresql://u:hunter2@db/festsafe", "host=db password=hunter2 dbname=x"]
)
def test_passwords_in_settings_are_refused(tmp_path: Path, dsn: str) -> None:
    (tmp_path / "festsafe.toml").write_text(f'[environments.prod]\npostgres_dsn = "{dsn}"\n')
    with pytest.raises(ConfigError, match="password"):
        load_settings()


def test_secret_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "s3cret-value")
    env = load_settings().environment("demo")
    assert env.secret(env.postgres_password_env) == "s3cret-value"


def test_unknown_environment_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="configured: demo"):
        load_settings().environment("prod")


def test_demo_name_is_reserved(tmp_path: Path) -> None:
    (tmp_path / "festsafe.toml").write_text('[environments.demo]\nkind = "live"\n')
    with pytest.raises(ConfigError):
        load_settings()


def test_invalid_threshold_is_a_readable_error(tmp_path: Path) -> None:
    (tmp_path / "festsafe.toml").write_text("[thresholds]\napi_p95_ms = -1\n")
    with pytest.raises(ConfigError, match=r"thresholds\.api_p95_ms"):
        load_settings()
