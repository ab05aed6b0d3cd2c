"""festsafe_nb: executable incident runbooks for the FestSafe AI platform.

The public surface a notebook uses: ``open_session`` (parameters to a connected session),
``show`` (display and record a check, diagnosis or proposed action) and ``summarize``. The
runner and CLI live in ``festsafe_nb.runner`` and ``festsafe_nb.cli``.
"""

from festsafe_nb.errors import (
    BadInput,
    FestsafeError,
    ParameterError,
    RunFailed,
    SourceUnavailable,
)
from festsafe_nb.findings import Diagnosis, Finding, ProposedAction, Severity, Status
from festsafe_nb.runbooks.common import act, show, summarize
from festsafe_nb.session import RunbookSession, open_session

__all__ = [
    "BadInput",
    "Diagnosis",
    "FestsafeError",
    "Finding",
    "ParameterError",
    "ProposedAction",
    "RunFailed",
    "RunbookSession",
    "Severity",
    "SourceUnavailable",
    "Status",
    "act",
    "open_session",
    "show",
    "summarize",
]
