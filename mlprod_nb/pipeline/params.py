"""Pipeline parameters: read from the ``parameters`` cell, typed by their defaults.

The parameters cell follows papermill's convention: simple assignments of literal
values. A value given to a run (``-p NAME VALUE`` or a YAML file) must fit the
default's type: an ``int`` default rejects ``"abc"``; unknown names are errors.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParameterError, PipelineError
from ..redaction import REDACTED, is_secret_name
from .names import strip_ipython
from .tags import SourceCell

TYPES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "list",
    dict: "dict",
    type(None): "none",
}


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    type: str  # one of TYPES' values
    cell_id: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "default": self.default, "type": self.type}


def _literal(node: ast.expr) -> Any:
    value = ast.literal_eval(node)
    if isinstance(value, tuple):
        value = list(value)
    if type(value) not in TYPES:
        raise ValueError(type(value).__name__)
    json.dumps(value)  # defaults must be JSON-able (they go into pipeline.json)
    return value


def read_parameters(cells: Iterable[SourceCell], notebook: Path) -> list[Parameter]:
    """The parameters defined by the ``parameters`` cells, in order."""
    found: dict[str, Parameter] = {}
    for cell in cells:
        try:
            tree = ast.parse(strip_ipython(cell.source))
        except SyntaxError as error:
            raise PipelineError(
                f"the parameters cell does not parse: {error.msg} (line {error.lineno})",
                path=notebook,
                cell_id=cell.id,
                hint="fix the syntax error; the cell holds one `name = literal` per line",
            ) from None
        for stmt in tree.body:
            target = None
            value: ast.expr | None = None
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target, value = stmt.targets[0], stmt.value
            elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
                target, value = stmt.target, stmt.value
            if not isinstance(target, ast.Name) or value is None:
                raise PipelineError(
                    f"line {stmt.lineno} of the parameters cell is not a simple assignment",
                    path=notebook,
                    cell_id=cell.id,
                    hint="write one `name = literal` per line; compute derived values in a step",
                )
            try:
                default = _literal(value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                raise PipelineError(
                    f"parameter {target.id!r} has a non-literal value "
                    f"`{ast.unparse(value)}` (line {stmt.lineno})",
                    path=notebook,
                    cell_id=cell.id,
                    hint="parameters must be literals (numbers, strings, booleans, None, "
                    "lists, dicts); compute derived values in a step",
                ) from None
            kind = TYPES[type(default)]
            if is_secret_name(target.id) and default not in (None, ""):
                default = REDACTED  # a secret typed in the notebook stays in the notebook
            found[target.id] = Parameter(target.id, default, kind, cell.id)
    return list(found.values())


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def _type_error(name: str, expected: str, given: object) -> ParameterError:
    return ParameterError(
        f"parameter {name!r} expects {expected}, got {given!r}",
        hint=f"pass a value of type {expected}, like the default in the parameters cell",
    )


def coerce_text(name: str, kind: str, text: str) -> Any:
    """A command-line value (a string) converted to the default's type."""
    if kind == "str":
        return text
    if kind == "int":
        try:
            return int(text.strip())
        except ValueError:
            raise _type_error(name, "int", text) from None
    if kind == "float":
        try:
            return float(text.strip())
        except ValueError:
            raise _type_error(name, "float", text) from None
    if kind == "bool":
        lowered = text.strip().lower()
        if lowered in _TRUE | _FALSE:
            return lowered in _TRUE
        raise _type_error(name, "bool (true/false)", text)
    import yaml

    try:
        value = yaml.safe_load(text)
        return check_value(name, kind, value)
    except (yaml.YAMLError, ParameterError):
        raise _type_error(name, kind, text) from None


def check_value(name: str, kind: str, value: Any) -> Any:
    """A typed value (from YAML) checked against the default's type."""
    if kind == "none":
        return value
    if kind == "float" and type(value) is int:
        return float(value)
    expected = next(t for t, k in TYPES.items() if k == kind)
    if type(value) is not expected:
        raise _type_error(name, kind, value)
    return value


def resolve(
    parameters: Iterable[Parameter],
    texts: Iterable[tuple[str, str]] = (),
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """All parameters' values: defaults, then ``values`` (typed), then ``texts`` (strings)."""
    known = {p.name: p for p in parameters}
    result = {p.name: p.default for p in known.values()}

    def lookup(name: str) -> Parameter:
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ParameterError(
                f"unknown parameter {name!r}", hint=f"the pipeline's parameters are: {names}"
            )
        return known[name]

    for name, value in (values or {}).items():
        result[name] = check_value(name, lookup(name).type, value)
    for name, text in texts:
        result[name] = coerce_text(name, lookup(name).type, text)
    for name, value in result.items():
        if value == REDACTED and known[name].default == REDACTED:
            raise ParameterError(
                f"parameter {name!r} looks secret, so the pipeline does not keep the value "
                "the notebook gives it",
                hint=f"pass it at run time: -p {name} VALUE, a -f params file, or the "
                f"environment variable MLPROD_NB_PARAM_{name}=VALUE",
            )
    return result


def read_params_file(path: Path) -> dict[str, Any]:
    """A YAML (or JSON) mapping of parameter values."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParameterError(
            "parameters file not found",
            path=path,
            hint="check the path given to -f (a YAML file of `name: value` lines)",
        ) from None
    except IsADirectoryError:
        raise ParameterError(
            "the parameters file is a directory",
            path=path,
            hint="pass a YAML file of `name: value` lines to -f",
        ) from None
    except OSError as error:
        raise ParameterError(
            f"cannot read parameters file: {error.strerror}",
            path=path,
            hint="check that you may read it",
        ) from None
    except UnicodeDecodeError:
        raise ParameterError(
            "the parameters file is not text (UTF-8)",
            path=path,
            hint="pass a YAML file of `name: value` lines to -f",
        ) from None
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or str(error).split(chr(10))[0]
        raise ParameterError(
            f"the parameters file is not valid YAML{line}: {problem}",
            path=path,
            hint="write one `name: value` per line (quote strings holding ':' or '#')",
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(
            "the parameters file must be a mapping of names to values",
            path=path,
            hint="write one `name: value` per line",
        )
    return {str(k): v for k, v in data.items()}
