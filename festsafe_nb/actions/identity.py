"""Who is asking the gate to act, and where that name came from.

The gate (``actions.gate``) resolves the identity on every ``execute()`` call, never once at
start-up, and writes the name *and its source* to the audit log: an auditor must be able to
tell a JupyterHub-authenticated user from a name taken from a settings file or the OS account
that happened to run papermill. Roles come only from the settings (``remediation.roles``);
nothing here grants anything.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel

from festsafe_nb.config import Remediation

IdentitySource = Literal["jupyterhub", "settings", "os", "unknown"]


class Identity(BaseModel):
    """A resolved actor name (``None`` when nothing could name one)."""

    name: str | None
    source: IdentitySource

    def label(self) -> str:
        """``alice (jupyterhub)``: the form refusals and the audit log show."""
        return f"{self.name or '<unknown>'} ({self.source})"


def _os_user() -> str | None:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: a bare container
        return None
    return name.strip() or None


def resolve_identity(
    remediation: Remediation, environ: Mapping[str, str] | None = None
) -> Identity:
    """``JUPYTERHUB_USER`` (set by the hub's spawner), else the configured actor, else the OS
    user. Blank values do not count: an empty variable names nobody."""
    env = os.environ if environ is None else environ
    hub = (env.get("JUPYTERHUB_USER") or "").strip()
    if hub:
        return Identity(name=hub, source="jupyterhub")
    if remediation.actor and remediation.actor.strip():
        return Identity(name=remediation.actor.strip(), source="settings")
    user = _os_user()
    if user:
        return Identity(name=user, source="os")
    return Identity(name=None, source="unknown")


def roles_of(identity: Identity, remediation: Remediation) -> list[str] | None:
    """The identity's configured roles; ``None`` when the settings do not know it at all."""
    if identity.name is None:
        return None
    return remediation.roles.get(identity.name)
