"""Records as plain JSON data: one converter for the CLI's ``--json`` and the REST answers.

Dataclasses (or anything with ``to_json``), mappings and sequences, recursively.
Non-finite floats become ``None`` (JSON has no NaN), paths strings, enums their values,
sets sorted lists. Hot on large lineages, so plain values and known dataclasses take
the short way.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

_PLAIN = (str, int, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (see the module's docstring)."""
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is tuple or kind is list:
        return [jsonable(v) for v in value]
    if kind in _FIELDS or (dataclasses.is_dataclass(value) and not hasattr(value, "to_json")):
        return {name: jsonable(getattr(value, name)) for name in _fields(kind)}
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and not isinstance(value, type):
        return jsonable(to_json())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def _encoded(value: Any) -> Any:
    """What the C encoder is handed for a value it does not know: a record's fields (it
    encodes them itself), else what ``jsonable`` makes of the value."""
    kind = type(value)
    if kind in _FIELDS or (
        dataclasses.is_dataclass(value)
        and not isinstance(value, type)
        and not hasattr(value, "to_json")
    ):
        return {name: getattr(value, name) for name in _fields(kind)}
    converted = jsonable(value)
    if converted is value:
        raise TypeError(f"{kind.__name__} is not JSON serializable")
    return converted


def dumps(value: Any, indent: int | None = None) -> str:
    """``json.dumps(jsonable(value), indent=indent)``, the same text, but without a copy
    of ``value`` made first: without ``indent`` the C encoder walks the records itself
    (a 10,000-execution lineage in a third of the time). Mapping keys are taken to be
    strings, as in every record here. A non-finite float anywhere (JSON has none;
    ``jsonable`` makes it None) has it made the slow way."""
    import json

    try:
        return json.dumps(value, indent=indent, allow_nan=False, default=_encoded)
    except ValueError:
        return json.dumps(jsonable(value), indent=indent)
