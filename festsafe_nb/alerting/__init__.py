"""Alerting configuration shipped with the project: Prometheus rules and an Alertmanager config.

Sits beside the CLI (``festsafe-nb alerting ...``) and above the catalog: both files are
generated, never hand-edited, so the thresholds an alert fires on, the runbook it names and the
channel it reaches all follow the catalog and the settings. ``register`` adds the commands to
the CLI's sub-parsers; heavy imports stay inside the commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def _write(text: str, output: str | None) -> int:
    if output:
        Path(output).write_text(text)
        print(f"wrote {output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from festsafe_nb.alerting.rules import render_rules
    from festsafe_nb.config import load_settings

    settings = None if args.defaults else load_settings()
    return _write(render_rules(settings, for_override=args.for_override), args.output)


def cmd_alertmanager_config(args: argparse.Namespace) -> int:
    from festsafe_nb.alerting.alertmanager import Channels, render_alertmanager_config
    from festsafe_nb.config import load_settings

    channels = Channels(webhook_url=args.webhook_url) if args.webhook_url else Channels()
    settings = None if args.defaults else load_settings()
    return _write(render_alertmanager_config(channels, settings), args.output)


def register(subparsers: Any) -> None:
    """Add ``alerting rules`` and ``alerting alertmanager-config`` to the CLI."""
    parser = subparsers.add_parser(
        "alerting", help="generate Prometheus alert rules and an Alertmanager config"
    )
    sub = parser.add_subparsers(dest="alerting_command", required=True)
    rules = sub.add_parser("rules", help="Prometheus alert rules from the catalog")
    rules.add_argument("-o", "--output", help="file to write (default: stdout)")
    rules.add_argument(
        "--for",
        dest="for_override",
        metavar="DURATION",
        help="replace every rule's `for` (e.g. 0s for tests on backfilled history)",
    )
    rules.add_argument(
        "--defaults",
        action="store_true",
        help="built-in thresholds instead of festsafe.toml (what alerting/ commits)",
    )
    rules.set_defaults(func=cmd_rules)
    am = sub.add_parser(
        "alertmanager-config", help="Alertmanager config routing by severity and to the service"
    )
    am.add_argument("-o", "--output", help="file to write (default: stdout)")
    am.add_argument("--webhook-url", help="the runbook service's /alerts URL")
    am.add_argument(
        "--defaults",
        action="store_true",
        help="built-in maintenance windows instead of festsafe.toml",
    )
    am.set_defaults(func=cmd_alertmanager_config)
