"""One module per incident type of RUNBOOK.md: checks and a diagnosis, no I/O of their own.

``REGISTRY`` maps a runbook's CLI name to its notebook; the runner and the CLI read the
parameters from the notebook itself, so the notebook stays the single definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


@dataclass(frozen=True)
class RunbookInfo:
    name: str
    notebook: str
    title: str
    section: str

    @property
    def path(self) -> Path:
        return NOTEBOOK_DIR / self.notebook


REGISTRY: dict[str, RunbookInfo] = {
    "high-latency": RunbookInfo(
        "high-latency", "high_latency.ipynb", "High Latency", "RUNBOOK.md: High Latency"
    ),
    "deployment": RunbookInfo(
        "deployment",
        "deployment.ipynb",
        "Deployment: rolling update and rollback",
        "RUNBOOK.md: Deployment Procedures",
    ),
}
