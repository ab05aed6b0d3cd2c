"""Scrub secrets out of an executed notebook before any report file is written.

Sits between papermill and the writers in the runner: the executed notebook goes through
:func:`scrub` once, and ``report.ipynb``, ``report.html`` and ``summary.json`` are all produced
from the scrubbed copy. Papermill writes parameters in plain text into the injected cell *and*
``metadata.papermill.parameters``, and tracebacks or connection errors echo DSNs, so every
string in the notebook is visited: cell sources, outputs (text, every MIME type including nested
JSON), error tracebacks and all metadata.

Two kinds of redaction, both replaced by ``[REDACTED]``:

- *known values*: exact secret strings the caller knows (from the environment or a secret
  reference), also in their URL-quoted, JSON-escaped and HTML-escaped spellings (DataFrame HTML
  and JSON outputs escape characters). Values shorter than 4 characters are ignored: they would
  redact half the report.
- *credential patterns* for secrets nobody told us about: a password in URL userinfo
  (``scheme://user:pw@``), ``password=`` / ``"password": ...`` in DSNs and configs, an
  ``Authorization`` header value, AWS access key ids and secret keys, PEM private key blocks.

Patterns err on the side of redacting (``password=settings.pg_password`` in code loses its
right-hand side); that is the cheap mistake. Base64 binary outputs (PNG, JPEG, PDF) and plotly
typed-array payloads (``bdata``) are skipped: a readable secret cannot hide there, and a chance
match of a short secret inside them would only corrupt the image. Scrubbing is idempotent: text
already reading ``[REDACTED]`` is not counted again.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

REDACTED = "[REDACTED]"
MIN_SECRET_LEN = 4

# Base64-encoded payloads: nothing readable to leak, only images to corrupt.
_BINARY_MIME = frozenset(
    {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf"}
)
# Structural fields of cells and outputs; never secret, and nbformat must still validate.
_STRUCTURAL = frozenset({"cell_type", "output_type", "id", "execution_count", "name"})

_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----.*?(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|\Z)",
    re.DOTALL,
)
_URL_USERINFO = re.compile(
    r"(?P<keep>\b[a-z][a-z0-9+.\-]*://[^\s:/?#@\[\]\"'<>]*:)(?P<secret>[^\s/?#\"'<>]+)(?=@)",
    re.IGNORECASE,
)
_PASSWORD_KV = re.compile(
    r"(?P<keep>(?:password|passwd|(?<![a-z])pwd)[\"']?[ \t]*[=:][ \t]*)"
    r"(?:'(?P<sq>[^'\n]*)'|\"(?P<dq>[^\"\n]*)\"|(?P<secret>[^\s'\"&;,)}\]]+))",
    re.IGNORECASE,
)
_AUTHORIZATION = re.compile(
    r"(?P<keep>authorization[\"']?[ \t]*[:=][ \t]*[\"']?[ \t]*"
    r"(?:(?:bearer|basic|token|digest)[ \t]+)?)(?P<secret>[^\s\"',}\]]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<keep>\bbearer[ \t]+)(?P<secret>[A-Za-z0-9._~+/\-]{20,}=*)", re.I)
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")
_AWS_SECRET = re.compile(
    r"(?P<keep>aws_secret_access_key[\"']?[ \t]*[=:][ \t]*[\"']?)(?P<secret>[A-Za-z0-9/+=]{40})",
    re.IGNORECASE,
)

# Cheap pre-check: a string with none of these cannot match any pattern above.
_TRIGGER = re.compile(r"://|pass|pwd|auth|bearer|AKIA|ASIA|PRIVATE KEY|aws_secret", re.I)


class _Scrubber:
    """Holds the compiled known-value pattern and the running count for one notebook."""

    def __init__(self, secrets: Iterable[str]) -> None:
        variants: set[str] = set()
        for secret in secrets:
            if not isinstance(secret, str) or len(secret) < MIN_SECRET_LEN:
                continue
            variants.update(
                {secret, quote(secret, safe=""), json.dumps(secret)[1:-1], html.escape(secret)}
            )
        variants.discard(REDACTED)
        ordered = sorted(variants, key=len, reverse=True)  # longest first: no partial leftovers
        self._known = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self.count = 0

    def _whole(self, match: re.Match[str]) -> str:
        self.count += 1
        return REDACTED

    def _group(self, match: re.Match[str]) -> str:
        """Replace only the secret part (named group) and keep the context around it."""
        for name in ("secret", "sq", "dq"):
            value = match.groupdict().get(name)
            if value is None:
                continue
            start, end = match.span(name)
            if not value or match.string.startswith(REDACTED, start):
                return match.group(0)
            self.count += 1
            base = match.start(0)
            text = match.group(0)
            return text[: start - base] + REDACTED + text[end - base :]
        return match.group(0)

    def text(self, value: str) -> str:
        if self._known is not None:
            value = self._known.sub(self._whole, value)
        if not _TRIGGER.search(value):  # most strings (timestamps, labels) hold no credential
            return value
        value = _PRIVATE_KEY.sub(self._whole, value)
        value = _AWS_KEY_ID.sub(self._whole, value)
        group: Callable[[re.Match[str]], str] = self._group
        for pattern in (_URL_USERINFO, _PASSWORD_KV, _AUTHORIZATION, _BEARER, _AWS_SECRET):
            value = pattern.sub(group, value)
        return value

    def multiline(self, value: Any) -> Any:
        """nbformat allows a multiline string as a list of lines; join so no secret straddles."""
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return self.text("".join(value))
        return self.value(value)

    def value(self, value: Any) -> Any:
        """Any JSON value: strings scrubbed, containers walked (keys too), numbers untouched."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            for i, item in enumerate(value):
                value[i] = self.value(item)
            return value
        if isinstance(value, dict):
            typed_array = "bdata" in value and "dtype" in value
            for key in list(value):
                item = value[key]
                new_key = self.text(key) if isinstance(key, str) else key
                if not (typed_array and key == "bdata"):
                    item = self.value(item)
                if new_key != key:
                    del value[key]
                value[new_key] = item
            return value
        return value

    def bundle(self, data: dict[str, Any]) -> None:
        for mime in list(data):
            if mime in _BINARY_MIME:
                continue
            if mime.endswith("json"):
                data[mime] = self.value(data[mime])
            else:
                data[mime] = self.multiline(data[mime])

    def output(self, output: dict[str, Any]) -> None:
        for key in list(output):
            if key in _STRUCTURAL:
                continue
            if key == "data" and isinstance(output[key], dict):
                self.bundle(output[key])
            elif key == "text":
                output[key] = self.multiline(output[key])
            else:
                output[key] = self.value(output[key])

    def cell(self, cell: dict[str, Any]) -> None:
        for key in list(cell):
            if key in _STRUCTURAL:
                continue
            if key == "source":
                cell[key] = self.multiline(cell[key])
            elif key == "outputs":
                for output in cell[key]:
                    self.output(output)
            elif key == "attachments" and isinstance(cell[key], dict):
                for attachment in cell[key].values():
                    if isinstance(attachment, dict):
                        self.bundle(attachment)
            else:
                cell[key] = self.value(cell[key])


def scrub_text(text: str, secrets: Iterable[str] = ()) -> tuple[str, int]:
    """Scrub one string (a log line, a summary field); returns the text and the count."""
    scrubber = _Scrubber(secrets)
    return scrubber.text(text), scrubber.count


def scrub(nb: Any, secrets: Iterable[str]) -> int:
    """Redact secrets in place everywhere in ``nb``; returns the number of replacements.

    ``nb`` is an ``nbformat.NotebookNode`` (any nbformat-4 dict works). Call it on the executed
    notebook before writing anything, with every secret value the run had access to.
    """
    scrubber = _Scrubber(secrets)
    for key in list(nb):
        if key == "cells":
            for cell in nb["cells"]:
                scrubber.cell(cell)
        elif key == "metadata":
            nb["metadata"] = scrubber.value(nb["metadata"])
    return scrubber.count
