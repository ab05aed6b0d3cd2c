"""A notebook's parameters: read from its ``parameters`` cell, and checked before any run.

papermill executes a crafted parameter *name* as code and writes values of types other than
str, number, bool, None, list and dict into the notebook unescaped. So every name must be a
plain identifier that the notebook's ``parameters`` cell declares, and every value must survive
a JSON round trip unchanged and match the type of the notebook's default. The cell is read
with ``ast`` (not papermill's line regex, which silently drops a line whose comment holds a
semicolon).
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from festsafe_nb.errors import ParameterError

NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    help: str

    @property
    def type_name(self) -> str:
        return type(self.default).__name__


def parameters_cell(nb: dict[str, Any]) -> str:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "code" and "parameters" in cell.get("metadata", {}).get(
            "tags", []
        ):
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else str(source)
    raise ParameterError("the notebook has no cell tagged 'parameters'")


def read_parameters(path: Path) -> dict[str, Parameter]:
    """The parameters a notebook declares, with their defaults and comment help."""
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ParameterError(f"cannot read notebook {path}: {exc}") from None
    source = parameters_cell(nb)
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("# ").strip()
    out: dict[str, Parameter] = {}
    for node in ast.parse(source).body:
        if not (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        ):
            raise ParameterError(
                f"{path.name}: parameters cell line {node.lineno} is not `name = literal`"
            )
        name = node.targets[0].id
        try:
            default = ast.literal_eval(node.value)
        except ValueError:
            raise ParameterError(
                f"{path.name}: parameter {name} has a non-literal default"
            ) from None
        out[name] = Parameter(name, default, comments.get(node.lineno, ""))
    return out


def _json_safe(value: Any) -> bool:
    try:
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value) and _plain(value)
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> bool:
    """Only the types papermill escapes: str, int, float, bool, None, list, dict[str, ...]."""
    if value is None or isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float) and (
            isinstance(default, float) or isinstance(value, int)
        )
    if default is None:
        return True
    return isinstance(value, type(default))


def coerce_cli_value(param: Parameter, raw: str) -> Any:
    """A ``-p key=value`` string as the parameter's type: JSON, or a bare string for str."""
    try:
        value = json.loads(raw)
    except ValueError:
        if isinstance(param.default, str):
            return raw
        raise ParameterError(
            f"{param.name}={raw!r} is not valid JSON (expected a {param.type_name})"
        ) from None
    if isinstance(param.default, str) and not isinstance(value, str):
        return raw  # e.g. -p scenario=404 or -p end=2026 stays the text given
    return value


def validate(
    declared: dict[str, Parameter], given: dict[str, Any], *, notebook: str
) -> dict[str, Any]:
    """Check names and values against the notebook; returns the parameters to inject."""
    out: dict[str, Any] = {}
    for name, value in given.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise ParameterError(f"refused parameter name {name!r}: not a plain identifier")
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise ParameterError(f"{notebook} has no parameter {name!r}; it takes: {known}")
        if not _json_safe(value):
            raise ParameterError(
                f"refused value for {name}: {type(value).__name__} is not plain JSON data"
            )
        if not _same_kind(declared[name].default, value):
            raise ParameterError(
                f"{name} takes a {declared[name].type_name}, got {type(value).__name__} {value!r}"
            )
        out[name] = value
    return out
