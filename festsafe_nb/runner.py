"""Headless execution of a runbook notebook with papermill, and the report it leaves.

Flow: resolve the runbook, check every parameter against the notebook's ``parameters`` cell
(refused input never reaches papermill), execute into a fresh per-run folder, then always (even
after a failed cell) scrub secrets, write ``report.ipynb``, ``summary.json`` and an offline
``report.html``, and seal the folder with a sha256 manifest.

Exit status: 0 completed, 3 completed but some evidence unavailable, 1 a cell failed (the
report is still written and shows where), 2 bad input (nothing ran).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from festsafe_nb.config import Settings, load_settings
from festsafe_nb.errors import ConfigError, ParameterError
from festsafe_nb.evidence import read_evidence
from festsafe_nb.findings import SCHEMA_VERSION
from festsafe_nb.parameters import read_parameters, validate
from festsafe_nb.runbooks import REGISTRY, RunbookInfo
from festsafe_nb.session import check_session_parameters

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_UNAVAILABLE = 0, 1, 2, 3
_SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|PRIVATE_KEY)", re.IGNORECASE)


@dataclass(frozen=True)
class RunResult:
    run_id: str
    runbook: str
    report_dir: Path
    status: str
    exit_code: int
    summary: dict[str, Any]

    @property
    def html(self) -> Path:
        return self.report_dir / "report.html"


def runbook_info(name: str) -> RunbookInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY))
        raise ParameterError(f"unknown runbook {name!r}; available: {known}") from None


def prepare(
    runbook: str, parameters: dict[str, Any], settings: Settings, run_id: str = ""
) -> tuple[RunbookInfo, dict[str, Any]]:
    """Resolve the runbook and validate everything about the run before anything executes."""
    info = runbook_info(runbook)
    declared = read_parameters(info.path)
    if "run_id" in parameters:
        raise ParameterError("run_id is set by the runner, not by the caller")
    params = validate(declared, parameters, notebook=info.notebook)
    if "execution_mode" in declared:
        params.setdefault("execution_mode", "headless")
    if "run_id" in declared and run_id:
        params["run_id"] = run_id
    env_name = params.get(
        "environment", declared["environment"].default if "environment" in declared else None
    )
    if isinstance(env_name, str):
        env = settings.environment(env_name)
        if env.kind == "demo" and "scenario" in declared:
            from festsafe_nb.sim import load_scenario

            load_scenario(str(params.get("scenario", declared["scenario"].default)))
    check_session_parameters({**{k: p.default for k, p in declared.items()}, **params})
    return info, params


def known_secrets(settings: Settings) -> list[str]:
    """Secret values present in this process's environment, to scrub from every report."""
    names = {e.postgres_password_env for e in settings.environments.values()}
    names |= {e.redis_password_env for e in settings.environments.values()}
    names |= {k for k in os.environ if _SECRET_NAME.search(k)}
    return sorted({os.environ[n] for n in names if len(os.environ.get(n, "")) >= 4})


def new_run_dir(root: Path, runbook: str, started: datetime, run_id: str) -> Path:
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = root / started.strftime("%Y/%m/%d") / f"{runbook}-{stamp}-{run_id}"
    path.mkdir(parents=True, exist_ok=False)
    return path


@contextlib.contextmanager
def _closing_clients(kernel_manager: Any | None) -> Iterator[None]:
    """Close the kernel clients nbclient opens on a kernel it does not own.

    Given a pre-started kernel, nbclient leaves its client's zmq channels open after the run
    (it only cleans up kernels it started); in the long-lived alert worker that leaks a client
    and a zmq context per run. The clients are recorded as they are created and stopped here.
    """
    if kernel_manager is None:
        yield
        return
    created: list[Any] = []
    make_client = kernel_manager.client

    def client(*args: Any, **kwargs: Any) -> Any:
        kc = make_client(*args, **kwargs)
        created.append(kc)
        return kc

    kernel_manager.client = client
    try:
        yield
    finally:
        kernel_manager.client = make_client
        for kc in created:
            with contextlib.suppress(Exception):
                kc.stop_channels()


def audit_entries(settings: Settings, run_id: str) -> list[dict[str, Any]]:
    """This run's entries in the audit trail (every gate decision, refused ones too)."""
    path = Path(settings.remediation.audit_log)
    if not path.exists():
        return []
    from festsafe_nb.actions.audit import AuditLog

    return AuditLog(path).list(run_id=run_id)


def _first_error(nb: Any) -> dict[str, Any] | None:
    for index, cell in enumerate(nb.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return {"cell": index, "ename": out.get("ename"), "evalue": out.get("evalue")}
    return None


def run(
    runbook: str,
    parameters: dict[str, Any] | None = None,
    *,
    settings: Settings | None = None,
    reports_dir: Path | None = None,
    cell_timeout_s: int = 300,
    kernel_manager: Any | None = None,
) -> RunResult:
    """Execute ``runbook`` headless and write its report; raises BadInput before running.

    ``kernel_manager``: a jupyter_client KernelManager whose kernel is already started (the
    alert service pre-starts them); it is used for this run only and the caller shuts it down.
    """
    import nbformat
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from festsafe_nb import report
    from festsafe_nb.engine import register

    settings = settings or load_settings()
    run_id = uuid.uuid4().hex[:8]
    info, params = prepare(runbook, dict(parameters or {}), settings, run_id)
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    run_dir = new_run_dir(Path(reports_dir or settings.reports_dir), runbook, started, run_id)
    # papermill saves after every cell: a killed run leaves this partial notebook as evidence
    # of an incomplete run; a finished one replaces it with the scrubbed report.ipynb
    partial = run_dir / "report.partial.ipynb"
    out_path = run_dir / "report.ipynb"
    error: dict[str, Any] | None = None
    try:
        with _closing_clients(kernel_manager):
            papermill.execute_notebook(
                str(info.path),
                str(partial),
                parameters=params,
                kernel_name=settings.kernel_name,
                progress_bar=False,
                log_output=False,
                execution_timeout=cell_timeout_s,
                engine_name=register(),
                km=kernel_manager,
            )
    except PapermillExecutionError as exc:
        error = {"cell": exc.exec_count, "ename": exc.ename, "evalue": exc.evalue}
    except Exception as exc:  # a dead kernel or timeout must still leave a report
        error = {"cell": None, "ename": type(exc).__name__, "evalue": str(exc)}
    ended = datetime.now(UTC)

    if partial.exists():
        nb = nbformat.read(str(partial), as_version=4)
    else:  # papermill failed before writing anything: keep the input as the record
        nb = nbformat.read(str(info.path), as_version=4)
    error = error or _first_error(nb)
    secrets = known_secrets(settings)
    report.scrub(nb, secrets)
    if error and error.get("evalue"):
        error["evalue"] = report.scrub_text(str(error["evalue"]), secrets)[0]
    nbformat.write(nb, str(out_path))
    partial.unlink(missing_ok=True)

    ev = read_evidence(nb)
    gate = audit_entries(settings, run_id)
    unavailable = [f.check for f in ev.findings if f.unavailable]
    if error:
        status, code = "failed", EXIT_FAILED
    elif unavailable or any(v != "ok" for v in ev.session.get("sources", {}).values()):
        status, code = "completed_evidence_unavailable", EXIT_UNAVAILABLE
    else:
        status, code = "completed", EXIT_OK
    diagnosis = ev.diagnoses[-1].model_dump(mode="json") if ev.diagnoses else None
    summary: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "runbook": runbook,
        "notebook": info.notebook,
        "status": status,
        "exit_code": code,
        "parameters": params,
        "environment": ev.session.get("environment", params.get("environment")),
        "simulated": bool(ev.session.get("simulated", False)),
        "scenario": ev.session.get("scenario"),
        "window": ev.session.get("window"),
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "duration_s": round(time.perf_counter() - t0, 3),
        "sources": ev.session.get("sources", {}),
        "evidence_unavailable": unavailable,
        "findings": [f.model_dump(mode="json") for f in ev.findings],
        "diagnosis": diagnosis,
        "proposed_actions": [a.model_dump(mode="json") for a in ev.actions],
        "executed_actions": [e for e in gate if e.get("decision") == "executed"],
        "gate_decisions": gate,
        "error": error,
    }
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    title = f"{info.title} - {started:%Y-%m-%d %H:%M} UTC" + (
        " - SIMULATED" if summary["simulated"] else ""
    )
    report.export_html(nb, run_dir / "report.html", title=title)
    report.write_manifest(run_dir)
    return RunResult(run_id, runbook, run_dir, status, code, summary)


__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_UNAVAILABLE",
    "ConfigError",
    "RunResult",
    "prepare",
    "run",
]
