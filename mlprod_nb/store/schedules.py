"""The schedules' records read back: the latest version of each schedule, fire and seen.

``mlprod_nb.schedule.book`` writes every version of a schedule and every state of a
fire as a journal record of its own, each with a ``seq`` one more than the store's last
(under the store's lock). The latest is the row with the highest ``seq`` among those of
one schedule (``id``), one fire (``schedule``, ``due``, ``attempt``) or one data
trigger's seen hashes (``schedule``). Rows come back in their record's shape (nested
fields nested again, JSON decoded), oldest first.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import ingest, layout

if TYPE_CHECKING:
    import duckdb

    from .store import Store

# each kind and the fields that name the one thing its records are versions of
_KEYS: dict[str, tuple[str, ...]] = {
    "schedule": ("id",),
    "schedule_fire": ("schedule", "due", "attempt"),
    "schedule_seen": ("schedule",),
}
_LEFT_OUT = ("seq", "truncated")  # the order, and what the writer cut to fit a line


@dataclass(frozen=True)
class Latest:
    """The latest record of everything the schedules of one store recorded."""

    schedules: list[dict[str, Any]]  # removed ones too (``removed``)
    fires: list[dict[str, Any]]
    seen: list[dict[str, Any]]
    seq: int  # the highest ``seq`` of any schedule record (0: none yet)


def latest(store: Store) -> Latest:
    con = store.con
    tables = [ingest.table_of(kind)[1] for kind in _KEYS]
    union = " UNION ALL ".join(f"SELECT max(seq) AS seq FROM {table}" for table in tables)
    row = con.execute(f"SELECT coalesce(max(seq), 0) FROM ({union})").fetchone()
    return Latest(
        _latest(con, "schedule"),
        _latest(con, "schedule_fire"),
        _latest(con, "schedule_seen"),
        int(row[0]) if row else 0,
    )


@functools.cache
def _plan(kind: str) -> tuple[str, tuple[layout.Field, ...], tuple[bool, ...], frozenset[str]]:
    """The query of the latest records of ``kind``, its fields, which are JSON, and the
    names of its nested records."""
    record, table = ingest.table_of(kind)
    fields = tuple(f for f in layout.columns(record) if f.column not in _LEFT_OUT)
    sql = f"""SELECT {", ".join(f.column for f in fields)} FROM {table}
        QUALIFY row_number() OVER (PARTITION BY {", ".join(_KEYS[kind])} ORDER BY seq DESC) = 1
        ORDER BY seq"""
    decoded = tuple(layout.sql_type(f.hint) == "JSON" for f in fields)
    return sql, fields, decoded, frozenset(f.path[0] for f in fields if len(f.path) > 1)


def _latest(con: duckdb.DuckDBPyConnection, kind: str) -> list[dict[str, Any]]:
    sql, fields, decoded, nested = _plan(kind)
    found = []
    for row in con.execute(sql).fetchall():
        record: dict[str, Any] = {}
        for f, value, is_json in zip(fields, row, decoded, strict=True):
            place = record
            for key in f.path[:-1]:
                place = place.setdefault(key, {})
            place[f.path[-1]] = json.loads(value) if is_json and value is not None else value
        for name in nested:  # a nested record none of whose columns has a value: None
            if all(v is None for v in record[name].values()):
                record[name] = None
        found.append(record)
    return found
