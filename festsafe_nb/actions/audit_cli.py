"""``festsafe-nb audit verify|list``: read the remediation audit log from a shell.

``register(subparsers)`` is called by ``festsafe_nb.cli.build_parser``; the handlers return
the exit status (``verify``: 0 intact, 1 tampered; a missing log is the caller's mistake and
raises ``BadInput``, which the CLI maps to 2). The log defaults to the settings'
``remediation.audit_log``.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from festsafe_nb.errors import BadInput


def _log_path(args: argparse.Namespace) -> Path:
    if args.log:
        return Path(args.log)
    from festsafe_nb.config import load_settings

    return load_settings().remediation.audit_log


def _iso(value: str) -> datetime:
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from festsafe_nb.actions.audit import AuditLog

    path = _log_path(args)
    if not path.exists():
        raise BadInput(f"no audit log at {path}")
    report = AuditLog(path).verify()
    for problem in report.problems:
        print(str(problem))
    if report.ok:
        print(f"intact: {report.entries} entries in {path}", file=sys.stderr)
        return 0
    print(f"TAMPERED: {len(report.problems)} problem(s) in {path}", file=sys.stderr)
    return 1


def _line(entry: dict[str, Any]) -> str:
    fields = (
        entry.get("seq"),
        entry.get("time"),
        entry.get("actor"),
        entry.get("action"),
        entry.get("target"),
        entry.get("decision"),
        entry.get("reason"),
    )
    return "  ".join("-" if f is None else str(f) for f in fields)


def cmd_audit_list(args: argparse.Namespace) -> int:
    from festsafe_nb.actions.audit import AuditLog

    path = _log_path(args)
    if not path.exists():
        raise BadInput(f"no audit log at {path}")
    entries = AuditLog(path).list(
        since=args.since,
        until=args.until,
        actor=args.actor,
        action=args.action,
        run_id=args.run_id,
    )
    if args.json:
        print(json.dumps(entries, indent=2))
    else:
        for entry in entries:
            print(_line(entry))
    print(f"{len(entries)} entr{'y' if len(entries) == 1 else 'ies'}", file=sys.stderr)
    return 0


def register(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    """Add ``audit`` (with ``verify`` and ``list``) to the CLI's subparsers."""
    audit = subparsers.add_parser("audit", help="verify or list the remediation audit log")
    sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = sub.add_parser("verify", help="check the hash chain (exit 1 if tampered)")
    verify.add_argument("--log", help="audit log (default: settings remediation.audit_log)")
    verify.set_defaults(func=cmd_audit_verify)
    listing = sub.add_parser("list", help="entries filtered by time, actor, action or run")
    listing.add_argument("--log", help="audit log (default: settings remediation.audit_log)")
    listing.add_argument("--since", type=_iso, help="ISO time, inclusive (UTC if no zone)")
    listing.add_argument("--until", type=_iso, help="ISO time, exclusive (UTC if no zone)")
    listing.add_argument("--actor")
    listing.add_argument("--action")
    listing.add_argument("--run-id", dest="run_id")
    listing.add_argument("--json", action="store_true", help="print entries as JSON")
    listing.set_defaults(func=cmd_audit_list)
    return audit
