"""The project's exception tree, drawn once so callers know what to catch.

::

    FestsafeError
    ├── SourceUnavailable      an external system is down, slow or answered garbage;
    │                          a runbook turns it into an "evidence unavailable" finding
    ├── BadInput               the caller's fault; the CLI exits 2 and nothing runs
    │   ├── ParameterError     unknown notebook parameter, bad name, non-JSON value
    │   ├── ConfigError        settings that do not validate, unknown environment
    │   └── CatalogError       unknown signal or query, bad catalog parameter
    └── RunFailed              a notebook cell raised; the report is still written

Every exception carries the context needed to act on it without a traceback.
"""

from __future__ import annotations


class FestsafeError(Exception):
    """Base of every error this package raises on purpose."""


class SourceUnavailable(FestsafeError):
    """An evidence source could not answer: down, timed out, or answered garbage."""

    def __init__(self, system: str, cause: str) -> None:
        super().__init__(f"{system} unavailable: {cause}")
        self.system = system
        self.cause = cause


class BadInput(FestsafeError):
    """Input refused before anything ran."""


class ParameterError(BadInput):
    """A runbook parameter was refused (name, value or type)."""


class ConfigError(BadInput):
    """Settings could not be loaded or name something that does not exist."""


class CatalogError(BadInput):
    """A catalog entry is missing or was asked for with bad parameters."""


class RunFailed(FestsafeError):
    """A notebook cell failed; ``report_dir`` still holds the partial report."""

    def __init__(self, message: str, report_dir: str | None = None) -> None:
        super().__init__(message)
        self.report_dir = report_dir
