"""``festsafe-nb``: run a runbook headless, list runbooks and their parameters, verify reports.

Kept thin: parsing arguments and mapping errors to exit statuses; the work is in ``runner``.
Heavy imports happen inside the commands so that ``--help`` and refusals answer at once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# jsonschema (pulled in by nbformat) builds an RFC 3987 grammar at import when
# `rfc3987_syntax` is installed (a jupyterlab dependency): about a second of start-up spent on
# IRI format checks notebooks never use. Hide it from this process only.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

from festsafe_nb.errors import BadInput, RunFailed  # noqa: E402


def _parse_params(pairs: list[str], runbook: str) -> dict[str, Any]:
    from festsafe_nb.parameters import coerce_cli_value, read_parameters
    from festsafe_nb.runner import runbook_info

    declared = read_parameters(runbook_info(runbook).path)
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep:
            raise BadInput(f"-p takes key=value, got {pair!r}")
        if name not in declared:
            out[name] = raw  # validate() refuses it with the list of known names
            continue
        out[name] = coerce_cli_value(declared[name], raw)
    return out


def cmd_run(args: argparse.Namespace) -> int:
    from festsafe_nb.config import load_settings
    from festsafe_nb.runner import run

    params = _parse_params(args.param or [], args.runbook)
    if args.env:
        if "environment" in params and params["environment"] != args.env:
            raise BadInput("--env and -p environment=... disagree")
        params["environment"] = args.env
    settings = load_settings()
    result = run(
        args.runbook,
        params,
        settings=settings,
        reports_dir=Path(args.reports_dir) if args.reports_dir else None,
    )
    diagnosis = result.summary.get("diagnosis") or {}
    print(f"status: {result.status} (exit {result.exit_code})", file=sys.stderr)
    if diagnosis:
        print(f"diagnosis: {diagnosis.get('suspect')}", file=sys.stderr)
    if result.summary.get("evidence_unavailable"):
        print(
            "evidence unavailable: " + ", ".join(result.summary["evidence_unavailable"]),
            file=sys.stderr,
        )
    if result.summary.get("error"):
        err = result.summary["error"]
        print(f"failed in cell {err['cell']}: {err['ename']}: {err['evalue']}", file=sys.stderr)
    print(result.html)
    return result.exit_code


def cmd_list(args: argparse.Namespace) -> int:
    from festsafe_nb.parameters import read_parameters
    from festsafe_nb.runbooks import REGISTRY

    listing: dict[str, dict[str, Any]] = {}
    for name, info in sorted(REGISTRY.items()):
        params = read_parameters(info.path)
        listing[name] = {
            "title": info.title,
            "notebook": f"notebooks/{info.notebook}",
            "parameters": {
                p.name: {"default": p.default, "type": p.type_name, "help": p.help}
                for p in params.values()
            },
        }
    if args.json:
        print(json.dumps(listing, indent=2))
        return 0
    for name, item in listing.items():
        print(f"{name}  ({item['notebook']}): {item['title']}")
        for pname, p in item["parameters"].items():
            help_text = f"  # {p['help']}" if p["help"] else ""
            print(f"    {pname} = {json.dumps(p['default'])}{help_text}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from festsafe_nb.report import verify_manifest

    problems = verify_manifest(Path(args.report_dir))
    for p in problems:
        print(p)
    print("intact" if not problems else f"{len(problems)} problem(s)", file=sys.stderr)
    return 0 if not problems else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="festsafe-nb", description="Executable incident runbooks for FestSafe."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run_p = sub.add_parser("run", help="run a runbook headless and write its report")
    run_p.add_argument("runbook", help="e.g. high-latency (see `festsafe-nb list`)")
    run_p.add_argument("--env", help="environment name (default: the notebook's, demo)")
    run_p.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="KEY=VALUE",
        help="notebook parameter; VALUE is JSON, or plain text for text parameters",
    )
    run_p.add_argument("--reports-dir", help="root of the report archive (default: reports/)")
    run_p.set_defaults(func=cmd_run)
    list_p = sub.add_parser("list", help="runbooks and their parameters")
    list_p.add_argument("--json", action="store_true")
    list_p.set_defaults(func=cmd_list)
    verify_p = sub.add_parser("verify", help="check a report folder against its manifest")
    verify_p.add_argument("report_dir")
    verify_p.set_defaults(func=cmd_verify)
    from festsafe_nb.actions.audit_cli import register as register_audit

    register_audit(sub)
    from festsafe_nb.alerting import register as register_alerting

    register_alerting(sub)
    from festsafe_nb.service.cli import register as register_service

    register_service(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except BadInput as exc:
        print(f"festsafe-nb: {exc}", file=sys.stderr)
        return 2
    except RunFailed as exc:
        print(f"festsafe-nb: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
