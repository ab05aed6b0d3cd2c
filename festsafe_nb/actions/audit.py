"""The append-only, hash-chained audit log of every remediation attempt.

The gate (``actions.gate``) writes one entry per ``execute()`` call, whatever the decision
(``refused``, ``executed`` or ``failed``); ``festsafe-nb audit verify|list`` (``audit_cli``)
reads it back, and a run's entries are copied into its ``summary.json``.

Format: JSON lines. Each entry carries ``seq`` (1, 2, ...), ``prev`` (the previous entry's
``hash``; the first entry's is :data:`GENESIS`) and ``hash`` = sha256 of the entry's canonical
JSON without ``hash`` (sorted keys, no spaces). Editing a field breaks that entry's hash;
deleting or swapping lines breaks ``seq`` and ``prev``; a torn write leaves an unparseable last
line. Deleting entries *from the end* leaves a valid chain, so a small side file
(``<log>.head``) records the last ``seq``/``hash`` written; a log shorter than its head is
reported. (Anyone able to rewrite both files and recompute every hash defeats this: the chain
makes tampering evident, it is not a signature.)

Concurrency: appends take an exclusive ``flock`` on the log, read the last entry, write one
line, ``fsync`` and then update the head, all under the lock, so writers in several threads or
processes keep one chain. Earlier lines are never rewritten; a log whose last line is torn is
refused for appending (``AuditError``) rather than chained onto garbage.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from festsafe_nb.errors import FestsafeError
from festsafe_nb.report.scrub import scrub_text

GENESIS = "0" * 64
HEAD_SUFFIX = ".head"

Decision = Literal["refused", "executed", "failed"]
# (line number, entry); a module-level alias because ``AuditLog.list`` shadows ``list``.
_Parsed = list[tuple[int, dict[str, Any]]]
_Problems = list["Problem"]


class AuditError(FestsafeError):
    """The audit log cannot be appended to (unreadable tail, I/O error)."""


class AuditRecord(BaseModel):
    """One attempt, as the gate saw it. ``reason`` is the gate's explanation of its decision;
    ``justification`` is what the human wrote (interactive) or the policy that allowed it
    (headless)."""

    time: datetime
    actor: str | None
    actor_source: str
    roles: list[str] = Field(default_factory=list)
    run_id: str
    mode: str
    runbook: str | None = None
    alert: str | None = None
    action: str
    parameters: dict[str, Any]
    target: str
    namespace: str
    kubectl: str | None = None
    plan_digest: str | None = None
    resource_version: str | None = None
    decision: Decision
    reason: str
    justification: str = ""
    result: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    warnings: list[str] = Field(default_factory=list)

    @field_validator("time")
    @classmethod
    def _utc(cls, v: datetime) -> datetime:
        """Stored as UTC (``...Z``) whatever zone the clock used; naive means UTC."""
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class Problem(BaseModel):
    """One thing ``verify()`` found wrong, located by line (1-based) and seq when known."""

    line: int | None
    seq: int | None
    kind: Literal["edited", "deleted", "reordered", "truncated", "unparseable", "chain"]
    message: str

    def __str__(self) -> str:
        where = []
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        if self.line is not None:
            where.append(f"line {self.line}")
        return f"{', '.join(where) or 'log'}: {self.kind}: {self.message}"


class VerifyReport(BaseModel):
    path: str
    entries: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems


def canonical(entry: dict[str, Any]) -> str:
    """The hashed form: sorted keys, no whitespace, UTF-8 kept as is."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(canonical(body).encode()).hexdigest()


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return scrub_text(value, secrets)[0]
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    return value


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _last_line(fd: int, size: int) -> bytes:
    """The file's last line (without its newline), read backwards in blocks."""
    end = size
    if end == 0:
        return b""
    chunk = b""
    pos = end
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        chunk = os.pread(fd, step, pos) + chunk
        body = chunk[:-1] if chunk.endswith(b"\n") else chunk
        cut = body.rfind(b"\n")
        if cut >= 0:
            return body[cut + 1 :]
    return chunk[:-1] if chunk.endswith(b"\n") else chunk


class AuditLog:
    """One audit log file. Cheap to construct; every call opens the file afresh."""

    def __init__(self, path: Path | str, secrets: Iterable[str] = ()) -> None:
        self.path = Path(path)
        self.head_path = self.path.with_name(self.path.name + HEAD_SUFFIX)
        self._secrets = [s for s in secrets if s]

    # ---- writing ----

    def append(self, record: AuditRecord, secrets: Iterable[str] = ()) -> dict[str, Any]:
        """Chain ``record`` onto the log and return the stored entry (with seq/prev/hash).

        Every string is scrubbed of the known ``secrets`` and of credential patterns first.
        """
        known = self._secrets + [s for s in secrets if s]
        body = _scrub(record.model_dump(mode="json"), known)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            seq, prev = self._tail(fd)
            entry = {"seq": seq + 1, "prev": prev, **body}
            entry["hash"] = entry_hash(entry)
            line = (canonical(entry) + "\n").encode()
            written = os.write(fd, line)
            if written != len(line):
                raise AuditError(f"short write to {self.path} ({written} of {len(line)} bytes)")
            os.fsync(fd)
            if seq == 0:  # a new log: make its directory entry durable too
                self._fsync_dir()
            self._write_head(entry["seq"], entry["hash"])
            return entry
        except OSError as exc:
            raise AuditError(f"cannot append to audit log {self.path}: {exc}") from exc
        finally:
            os.close(fd)  # closing releases the flock

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the last entry, or ``(0, GENESIS)``; raises if the tail is torn.

        The gate calls this before acting so that an action never runs when its entry could
        not be chained."""
        if not self.path.exists():
            return 0, GENESIS
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError as exc:
            raise AuditError(f"cannot open audit log {self.path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            return self._tail(fd)
        finally:
            os.close(fd)

    def _tail(self, fd: int) -> tuple[int, str]:
        size = os.fstat(fd).st_size
        if size == 0:
            return 0, GENESIS
        if os.pread(fd, 1, size - 1) != b"\n":
            raise AuditError(
                f"audit log {self.path} ends in a partial line; "
                "run `festsafe-nb audit verify` before appending"
            )
        raw = _last_line(fd, size)
        try:
            last = json.loads(raw)
            seq, digest = int(last["seq"]), str(last["hash"])
        except (ValueError, KeyError, TypeError) as exc:
            raise AuditError(f"audit log {self.path}: last entry unreadable ({exc})") from exc
        return seq, digest

    def _fsync_dir(self) -> None:
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def _write_head(self, seq: int, digest: str) -> None:
        tmp = self.head_path.with_name(self.head_path.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"seq": seq, "hash": digest}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.head_path)
        self._fsync_dir()

    # ---- reading ----

    def _lines(self) -> list[bytes]:
        if not self.path.exists():
            return []
        return self.path.read_bytes().split(b"\n")

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every parseable entry in file order (use ``verify()`` to know they are genuine)."""
        for raw in self._lines():
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict):
                yield entry

    def list(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
        action: str | None = None,
        run_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Entries with ``since <= time < until`` and the given actor/action/run id."""
        out = []
        for entry in self.entries():
            t = _parse_time(entry.get("time"))
            if since is not None and (t is None or t < since):
                continue
            if until is not None and (t is None or t >= until):
                continue
            if actor is not None and entry.get("actor") != actor:
                continue
            if action is not None and entry.get("action") != action:
                continue
            if run_id is not None and entry.get("run_id") != run_id:
                continue
            out.append(entry)
        return out

    def verify(self) -> VerifyReport:
        """Check every line: parseable, hash intact, seq consecutive, chained to the previous.

        Reports *which* entry is wrong and how (edited, deleted, reordered, truncated)."""
        lines = self._lines()
        ends_clean = not lines or lines[-1] == b""
        if ends_clean and lines:
            lines = lines[:-1]
        parsed: _Parsed = []
        problems: list[Problem] = []
        for i, raw in enumerate(lines, start=1):
            is_last = i == len(lines)
            try:
                entry = json.loads(raw)
                if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
                    raise ValueError("not an audit entry")
            except ValueError:
                if is_last and not ends_clean:
                    problems.append(
                        Problem(
                            line=i,
                            seq=None,
                            kind="truncated",
                            message="the last line is incomplete (torn write or truncation)",
                        )
                    )
                else:
                    problems.append(
                        Problem(line=i, seq=None, kind="unparseable", message="not a JSON entry")
                    )
                continue
            if is_last and not ends_clean:
                problems.append(
                    Problem(
                        line=i,
                        seq=entry["seq"],
                        kind="truncated",
                        message="the last line has no newline (truncated after it was written)",
                    )
                )
            parsed.append((i, entry))

        all_seqs = {e["seq"] for _, e in parsed}
        hash_of = {e["seq"]: e.get("hash") for _, e in parsed}
        max_seen = 0
        for line_no, entry in parsed:
            seq = entry["seq"]
            if entry.get("hash") != entry_hash(entry):
                problems.append(
                    Problem(
                        line=line_no,
                        seq=seq,
                        kind="edited",
                        message="content does not match its hash (entry edited)",
                    )
                )
            if seq <= max_seen:
                problems.append(
                    Problem(
                        line=line_no,
                        seq=seq,
                        kind="reordered",
                        message=f"seq {seq} comes after seq {max_seen} (entries reordered)",
                    )
                )
            else:
                missing = [s for s in range(max_seen + 1, seq) if s not in all_seqs]
                if missing:
                    span = str(missing[0]) if len(missing) == 1 else f"{missing[0]}..{missing[-1]}"
                    problems.append(
                        Problem(
                            line=line_no,
                            seq=seq,
                            kind="deleted",
                            message=f"seq {span} missing before this entry (deleted)",
                        )
                    )
                max_seen = seq
            want_prev = GENESIS if seq == 1 else hash_of.get(seq - 1)
            if want_prev is not None and entry.get("prev") != want_prev:
                problems.append(
                    Problem(
                        line=line_no,
                        seq=seq,
                        kind="chain",
                        message=f"prev does not match the hash of seq {seq - 1}",
                    )
                )

        problems.extend(self._check_head(parsed))
        return VerifyReport(path=str(self.path), entries=len(parsed), problems=problems)

    def _check_head(self, parsed: _Parsed) -> _Problems:
        if not self.head_path.exists():
            return []
        try:
            head = json.loads(self.head_path.read_text(encoding="utf-8"))
            head_seq = int(head["seq"])
        except (ValueError, KeyError, TypeError, OSError):
            return [Problem(line=None, seq=None, kind="chain", message="head file unreadable")]
        last_seq = max((e["seq"] for _, e in parsed), default=0)
        if last_seq < head_seq:
            return [
                Problem(
                    line=None,
                    seq=head_seq,
                    kind="deleted",
                    message=(
                        f"the log ends at seq {last_seq} but seq {head_seq} was written "
                        "(entries deleted from the end)"
                    ),
                )
            ]
        # A head behind the log means a crash between the fsync'd line and the head update.
        return []


def secret_values(model: BaseModel) -> list[str]:
    """Values of the model's ``SecretStr`` fields: known secrets to scrub from the log."""
    out = []
    for name in type(model).model_fields:
        value = getattr(model, name, None)
        if isinstance(value, SecretStr):
            out.append(value.get_secret_value())
    return out
