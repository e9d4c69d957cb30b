"""How a record kind lands in the store, read off its TypedDict in ``records.py``.

``records.py`` is the one definition of every record. From its type hints this
module derives what the store needs: the JSON structure DuckDB parses a line
with (``structure``; ``short_structure`` for an execution's short form), the
columns of the kind's own table (``columns``: one per scalar field, nested
records flattened where marked ``Columns``) and the fields
kept one row per item in a table of their own (``row_fields``, marked ``Rows``).
Adding a field to a record is then one line in ``records.py`` plus the migration
that adds its column (``tests/store/test_layout.py`` fails when the two
disagree).
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, NewType, NotRequired, Required, Union, get_args, get_origin

from ..journal import line_keys
from ..records import Column, Columns, Rows

_ENVELOPE = ("v", "kind")  # on every line; not stored as columns
_SCALARS: dict[type, str] = {str: "VARCHAR", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN"}

Structure = str | list["Structure"] | dict[str, "Structure"]


@dataclass(frozen=True)
class Field:
    """One stored value of a record: where it is in the line and where it goes."""

    path: tuple[str, ...]  # keys from the record down to the value
    column: str  # the column in the kind's table (or the field's name, for ``Rows``)
    hint: Any  # the Python type, markers and ``None`` removed
    rows: Rows | None  # kept one row per item in ``rows.table``

    @property
    def expression(self) -> str:
        """The value in a parsed record ``r``, as SQL (names are ours, never data)."""
        return "r." + ".".join(self.path)


def _unwrap(hint: Any) -> tuple[Any, list[Any]]:
    """The type under NotRequired/Annotated/Optional, and the markers found on the way."""
    markers: list[Any] = []
    while True:
        origin = get_origin(hint)
        if origin in (NotRequired, Required):
            hint = get_args(hint)[0]
        elif origin is typing.Annotated:
            hint, *extra = get_args(hint)
            markers.extend(extra)
        elif origin in (Union, types.UnionType):
            options = [a for a in get_args(hint) if a is not type(None)]
            if len(options) != 1:
                raise TypeError(f"a record field may be one type or None, not {hint}")
            hint = options[0]
        elif isinstance(hint, NewType):
            hint = hint.__supertype__
        else:
            return hint, markers


def _is_record(hint: Any) -> bool:
    return isinstance(hint, type) and typing.is_typeddict(hint)


@cache
def _hints(record: type) -> dict[str, Any]:
    return typing.get_type_hints(record, include_extras=True)


def sql_type(hint: Any) -> Structure:
    """The DuckDB JSON structure of a value of Python type ``hint``."""
    hint, _ = _unwrap(hint)
    origin = get_origin(hint)
    if hint in _SCALARS:
        return _SCALARS[hint]
    if origin is typing.Literal:
        if not all(isinstance(a, str) for a in get_args(hint)):
            raise TypeError(f"only string literals are stored: {hint}")
        return "VARCHAR"
    if origin is list:
        return [sql_type(get_args(hint)[0])]
    if origin is tuple:
        items = {str(sql_type(a)) for a in get_args(hint) if a is not Ellipsis}
        if len(items) != 1:
            raise TypeError(f"a stored tuple holds one type: {hint}")
        return [sql_type(get_args(hint)[0])]
    if origin is dict:
        key, value = get_args(hint)
        if value is Any:
            return "JSON"
        return f"MAP({sql_type(key)}, {sql_type(value)})"
    if _is_record(hint):
        return {name: sql_type(h) for name, h in _hints(hint).items()}
    raise TypeError(f"no store type for {hint!r}")


def structure(record: type) -> dict[str, Structure]:
    """The JSON structure of a record kind's line, envelope left out."""
    return {name: sql_type(hint) for name, hint in _hints(record).items() if name not in _ENVELOPE}


def short_structure(record: type) -> dict[str, Structure]:
    """The JSON structure of the short form of a record kind's line (``journal.slim``):
    its fields marked ``Key`` under their keys, a list of records' items likewise."""
    hints = _hints(record)
    shape: dict[str, Structure] = {}
    for k in line_keys(record).values():
        hint, _ = _unwrap(hints[k.field])
        if k.items is not None:
            item, _ = _unwrap(get_args(hint)[0])
            inner = _hints(item)
            shape[k.key] = [{i.key: sql_type(inner[i.field]) for i in k.items.values()}]
        else:
            shape[k.key] = sql_type(hint)
    return shape


def _fields(record: type, path: tuple[str, ...], prefix: str) -> list[Field]:
    found: list[Field] = []
    for name, raw in _hints(record).items():
        if not path and name in _ENVELOPE:
            continue
        hint, markers = _unwrap(raw)
        here = (*path, name)
        flat = next((m for m in markers if isinstance(m, Columns)), None)
        rows = next((m for m in markers if isinstance(m, Rows)), None)
        renamed = next((m.name for m in markers if isinstance(m, Column)), None)
        if flat is not None:
            if not _is_record(hint):
                raise TypeError(f"Columns marks a nested record, not {hint} ({'.'.join(here)})")
            found.extend(_fields(hint, here, prefix + flat.prefix))
        elif _is_record(hint) and rows is None:
            raise TypeError(f"nested record {'.'.join(here)} needs Columns(...) or Rows(...)")
        else:
            found.append(Field(here, renamed or prefix + name, hint, rows))
    return found


@cache
def fields(record: type) -> tuple[Field, ...]:
    """Every stored value of a record kind, in the order of its definition."""
    return tuple(_fields(record, (), ""))


def columns(record: type) -> tuple[Field, ...]:
    """The fields that are columns of the kind's own table."""
    return tuple(f for f in fields(record) if f.rows is None)


def row_fields(record: type) -> tuple[Field, ...]:
    """The fields kept one row per item in a table of their own."""
    return tuple(f for f in fields(record) if f.rows is not None)


def item_columns(f: Field) -> tuple[str, ...]:
    """The columns one item of a ``Rows`` field fills (after the owner's key columns):
    ``name`` for a list of strings, the item record's fields for a list of records."""
    hint, _ = _unwrap(f.hint)
    if get_origin(hint) is not list:
        raise TypeError(f"{'.'.join(f.path)} is not a list: give its table its own insert")
    item, _ = _unwrap(get_args(hint)[0])
    if _is_record(item):
        return tuple(_hints(item))
    return ("name",)
