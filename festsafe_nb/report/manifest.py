"""``MANIFEST.sha256``: proof that a report folder is byte for byte what the run wrote.

The runner calls :func:`write_manifest` last, after every other file of the run folder exists;
``festsafe-nb verify <dir>`` calls :func:`verify_manifest`. The file is in GNU ``sha256sum``
format (``<hex>  <relative path>``, sorted, ``/`` separators, names with a backslash or a
newline escaped the way coreutils does), so ``sha256sum -c MANIFEST.sha256`` run inside the
folder checks it without this package. Verifying also reports files *added* to the folder, which
``sha256sum -c`` does not.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path, PurePosixPath

MANIFEST_NAME = "MANIFEST.sha256"
_LINE = re.compile(r"^(?P<escaped>\\?)(?P<digest>[0-9a-fA-F]{64}) (?P<mode>[ *])(?P<name>.+)$")


def _digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _files(run_dir: Path) -> list[str]:
    """Relative POSIX paths of every file below ``run_dir`` except the manifest, sorted."""
    found: list[str] = []
    for dirpath, dirnames, filenames in os.walk(run_dir):
        dirnames.sort()
        for name in filenames:
            rel = (Path(dirpath) / name).relative_to(run_dir).as_posix()
            if rel in (MANIFEST_NAME, MANIFEST_NAME + ".part"):
                continue
            if (Path(dirpath) / name).is_file():
                found.append(rel)
    return sorted(found)


def _escape(name: str) -> tuple[str, str]:
    """coreutils' escaping: a leading backslash on the line when the name needed any."""
    if "\\" not in name and "\n" not in name and "\r" not in name:
        return "", name
    escaped = name.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "\\", escaped


def _unescape(name: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r"}.get(m[1], m[1]), name)


def write_manifest(run_dir: Path) -> Path:
    """Hash every file of ``run_dir`` (recursively) into ``run_dir/MANIFEST.sha256``."""
    run_dir = Path(run_dir)
    lines = []
    for rel in _files(run_dir):
        prefix, name = _escape(rel)
        lines.append(f"{prefix}{_digest(run_dir / rel)}  {name}\n")
    target = run_dir / MANIFEST_NAME
    partial = run_dir / (MANIFEST_NAME + ".part")
    partial.write_text("".join(lines), encoding="utf-8", newline="\n")
    os.replace(partial, target)
    return target


def _safe(name: str) -> bool:
    """A manifest may only name files inside the folder it sits in."""
    pure = PurePosixPath(name)
    return bool(name) and not pure.is_absolute() and ".." not in pure.parts


def verify_manifest(run_dir: Path) -> list[str]:
    """Problems found in ``run_dir`` against its manifest; an empty list means untouched.

    Each problem is one readable line: ``changed: report.html``, ``missing: summary.json``,
    ``extra: notes.txt``, or a complaint about the manifest itself.
    """
    run_dir = Path(run_dir)
    manifest = run_dir / MANIFEST_NAME
    if not manifest.is_file():
        return [f"no {MANIFEST_NAME} in {run_dir}"]
    problems: list[str] = []
    listed: set[str] = set()
    text = manifest.read_text(encoding="utf-8", errors="replace")
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            problems.append(f"{MANIFEST_NAME} line {number}: not in sha256sum format")
            continue
        name = match["name"]
        if match["escaped"]:
            name = _unescape(name)
        if not _safe(name):
            problems.append(f"{MANIFEST_NAME} line {number}: path outside the folder: {name!r}")
            continue
        if name in listed:
            problems.append(f"{MANIFEST_NAME} line {number}: duplicate entry: {name}")
            continue
        listed.add(name)
        path = run_dir / name
        if not path.is_file():
            problems.append(f"missing: {name}")
        elif _digest(path) != match["digest"].lower():
            problems.append(f"changed: {name}")
    problems.extend(f"extra: {rel}" for rel in _files(run_dir) if rel not in listed)
    return problems
