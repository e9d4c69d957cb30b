"""Ingesting journal files into the store: new complete lines, exactly once.

For every journal file we read from its saved byte offset up to the last newline
(a torn last line is left for later), hand the lines to DuckDB as one Arrow
column, let DuckDB's JSON reader parse them, and insert the rows and the new
offsets in one transaction: a killed ingest leaves nothing behind, a finished
one is never repeated. A complete line that is not a valid record is skipped
and kept in ``journal_errors`` with its file, offset, length and reason.

A line longer than ``MAX_RECORD_BYTES`` is not parsed: it is recorded in
``journal_errors`` and skipped (the offset moves past it in the same
transaction), and the lines after it are ingested as usual. Files are read
piece by piece, so such a line is scanned for its end, never held whole. Our
own writers never write one (``mlprod_nb.fit`` cuts records to
``journal.MAX_LINE_BYTES``); other writers, or older versions, might.
"""

from __future__ import annotations

import json
import os
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .. import journal
from ..records import (
    ExecutionRecord,
    RenameRecord,
    RunEndRecord,
    RunRecord,
    ScheduleFireRecord,
    ScheduleRecord,
    ScheduleSeenRecord,
    SessionRecord,
    StepRecord,
)
from . import layout

if TYPE_CHECKING:
    import duckdb
    import pyarrow

BATCH_BYTES = 64 << 20  # bytes of journal parsed per transaction, about
MAX_RECORD_BYTES = 16 << 20  # a longer journal line is skipped into journal_errors
_PIECE = 1 << 20  # bytes read at a time
_ROWS_PER_BATCH = 4096

# each record kind (records.py) and its table; the layout is read off the TypedDict
_KINDS: dict[str, tuple[type, str]] = {
    "session": (SessionRecord, "sessions"),
    "execution": (ExecutionRecord, "executions"),
    "run": (RunRecord, "runs"),
    "step": (StepRecord, "run_steps"),
    "run_end": (RunEndRecord, "run_ends"),
    "rename": (RenameRecord, "renames"),
    "schedule": (ScheduleRecord, "schedules"),
    "schedule_fire": (ScheduleFireRecord, "schedule_fires"),
    "schedule_seen": (ScheduleSeenRecord, "schedule_seen"),
}


def table_of(kind: str) -> tuple[type, str]:
    """The record type of ``kind`` (records.py) and the table its records land in."""
    return _KINDS[kind]


_JOURNALED = ("session", "execution")  # their tables name the journal file of each row
# the columns a kind's ``Rows`` tables start with: the owning record's key, from ``r``
_KEYS: dict[str, dict[str, str]] = {
    "execution": {"execution": "id"},
    "step": {"run": "r.run", "step": "r.name"},
}

# fields without which a record is refused (recorded in journal_errors)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "session": ("session",),
    "execution": ("session", "seq"),  # its id is session:seq when the line leaves it out
    "run": ("id",),
    "step": ("run", "name"),
    "run_end": ("id", "status"),
    "rename": ("old_path", "new_path", "renamed"),
    "schedule": ("seq", "id"),
    "schedule_fire": ("seq", "schedule", "due", "attempt"),
    "schedule_seen": ("seq", "schedule"),
}

_FILES = "sum(len(r.files))"
# ``Rows`` tables that take more than one row per item, with their own statements over
# the parsed records ``p`` (columns file, off, r) and an aggregate over ``p`` that is 0
# or NULL when they would insert nothing (a cell rarely has every kind of list)
_OWN: dict[str, tuple[str, list[str]]] = {
    "packages": (
        "count(r.env.packages_hash)",
        [
            """INSERT INTO packages
            SELECT h, pkg[1], pkg[2] FROM (
                SELECT h, unnest(pkgs) AS pkg FROM (
                    SELECT r.env.packages_hash AS h, any_value(r.env.packages) AS pkgs
                    FROM p WHERE r.env.packages_hash IS NOT NULL GROUP BY h))
            WHERE h NOT IN (SELECT packages_hash FROM packages)"""
        ],
    ),
    "sources": (
        "count(r.source)",
        [
            """INSERT INTO sources SELECT r.source_hash, any_value(r.source) FROM p
            WHERE r.source IS NOT NULL AND r.source_hash IS NOT NULL
              AND r.source_hash NOT IN (SELECT hash FROM sources)
            GROUP BY r.source_hash"""
        ],
    ),
    "value_types": (
        "sum(cardinality(r.types))",
        [
            """INSERT INTO value_types SELECT id, t.key, t.value
            FROM (SELECT id, unnest(map_entries(r.types)) AS t FROM p)
            WHERE t.key IS NOT NULL AND t.value IS NOT NULL"""
        ],
    ),
    "edges": (  # a dependency's ``execution`` is the edge's ``source``
        "sum(len(r.deps))",
        [
            """INSERT INTO edges SELECT id, d.name,
                CASE WHEN starts_with(d.execution, ':') THEN session || d.execution
                     ELSE d.execution END
            FROM (SELECT id, r.session AS session, unnest(r.deps) AS d FROM p)"""
        ],
    ),
    "accesses": (  # and the datasets and versions they saw
        _FILES,
        [
            """CREATE TEMP TABLE new_accesses AS
            SELECT id AS execution, started, f.*
            FROM (SELECT id, r.started AS started, unnest(r.files) AS f FROM p)
            WHERE f.path IS NOT NULL""",
            """INSERT INTO accesses BY NAME
            SELECT * EXCLUDE (started) REPLACE (coalesce(mode, 'read') AS mode)
            FROM new_accesses""",
            """INSERT INTO datasets SELECT path, min(started) FROM new_accesses
            WHERE path NOT IN (SELECT path FROM datasets) GROUP BY path""",
            """INSERT INTO dataset_versions
            SELECT path, sha256, any_value(size), any_value(mtime_ns), min(started)
            FROM new_accesses n WHERE sha256 IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM dataset_versions v WHERE v.path = n.path AND v.sha256 = n.sha256)
            GROUP BY path, sha256""",
            "DROP TABLE new_accesses",
        ],
    ),
    "params": (
        "count(*) FILTER (WHERE json_type(r.params) = 'OBJECT' AND r.params::VARCHAR <> '{}')",
        [
            """INSERT INTO params SELECT id, e.key, e.value
            FROM (SELECT id,
                         unnest(map_entries(from_json(r.params, '"MAP(VARCHAR, JSON)"'))) AS e
                  FROM p WHERE json_type(r.params) = 'OBJECT')"""
        ],
    ),
}


def _row_inserts(kind: str, f: layout.Field) -> tuple[str, list[str]]:
    """What fills the ``Rows`` table of field ``f``: one row per item after the key."""
    assert f.rows is not None
    if f.rows.table in _OWN:
        return _OWN[f.rows.table]
    keys = _KEYS[kind]
    items = layout.item_columns(f)
    values = ["x." + c for c in items] if items != ("name",) else ["x"]
    chosen = ", ".join([*keys, *(f"{v} AS {c}" for v, c in zip(values, items, strict=True))])
    owner = ", ".join(f"{expr} AS {column}" for column, expr in keys.items())
    return (
        f"sum(len({f.expression}))",
        [
            f"""INSERT INTO {f.rows.table} BY NAME SELECT {chosen}
            FROM (SELECT {owner}, unnest({f.expression}) AS x FROM p)"""
        ],
    )


def _inserts(kind: str) -> list[tuple[str | None, str]]:
    """Every statement storing parsed records of ``kind`` (in view ``p``), each with the
    aggregate that tells whether it has anything to insert (None: always run it)."""
    record, table = _KINDS[kind]
    chosen = [
        f"{'id' if f.path == ('id',) else f.expression} AS {f.column}"
        for f in layout.columns(record)
    ]
    if kind in _JOURNALED:
        chosen.append("file AS journal")
    if kind == "session":  # where it is: the context of the file's later short lines
        chosen.append("off AS journal_offset")
    statements: list[tuple[str | None, str]] = [
        (None, f"INSERT INTO {table} BY NAME SELECT {', '.join(chosen)} FROM p")
    ]
    for f in layout.row_fields(record):
        need, sql = _row_inserts(kind, f)
        statements.extend((need, statement) for statement in sql)
    return statements


_STRUCTURES = {kind: layout.structure(record) for kind, (record, _) in _KINDS.items()}
_INSERTS = {kind: _inserts(kind) for kind in _KINDS}


@dataclass(frozen=True)
class _Chunk:
    name: str  # the journal file's name inside the journal folder
    start: int  # byte offset of ``data`` in the file
    data: bytes  # complete lines only


@dataclass(frozen=True)
class _Skip:
    """A complete line over the record limit: recorded in journal_errors, not parsed."""

    name: str
    start: int
    length: int  # bytes, with the newline
    excerpt: str
    limit: int


@dataclass
class _Pending:
    chunks: list[_Chunk] = field(default_factory=list)
    skips: list[_Skip] = field(default_factory=list)
    ends: dict[str, int] = field(default_factory=dict)  # new offset of each file that moved
    more: bool = False  # lines were left for the next batch (budget spent, or after a skip)


def _line_end(f: BinaryIO, pos: int, size: int) -> int | None:
    """The offset just past the next newline at or after ``pos``; None if the file ends first."""
    f.seek(pos)
    while pos < size:
        piece = f.read(min(_PIECE, size - pos))
        if not piece:
            return None
        newline = piece.find(b"\n")
        if newline >= 0:
            return pos + newline + 1
        pos += len(piece)
    return None


def _read(
    f: BinaryIO, name: str, start: int, size: int, budget: int, limit: int
) -> tuple[_Chunk | None, _Skip | None, int]:
    """Complete lines from ``start`` (about ``budget`` bytes), up to the first over ``limit``.

    Returns those lines, the over-long line after them when its end is in the
    file (found by scanning, not by reading it into memory), and the new offset.
    """
    piece_size = max(1, min(_PIECE, limit))  # so a line spanning pieces is noticed in time
    f.seek(start)
    data = bytearray()
    done = 0  # data[:done] is complete lines, none over the limit
    long_end: int | None = None  # in the file, when the line at ``done`` is too long
    while done < budget:
        seen = len(data)
        piece = f.read(min(piece_size, size - start - seen))
        if not piece:
            break
        data += piece
        first = data.find(b"\n", seen)  # ends the line that starts at ``done``
        if first >= 0 and first + 1 - done > limit:
            long_end = start + first + 1
            break
        if first < 0:
            if len(data) - done > limit:
                long_end = _line_end(f, start + len(data), size) or -1
                break
            continue
        done = data.rfind(b"\n") + 1  # lines inside one piece are within the limit
    chunk = _Chunk(name, start, bytes(data[:done])) if done else None
    if long_end is None or long_end < 0:  # no long line, or one still being written
        return chunk, None, start + done
    excerpt = bytes(data[done : done + 200]).decode("utf-8", "replace")
    skip = _Skip(name, start + done, long_end - start - done, excerpt, limit)
    return chunk, skip, long_end


def _pending(journal_dir: Path, offsets: dict[str, int], budget: int, limit: int) -> _Pending:
    """New complete lines of every journal file, up to about ``budget`` bytes."""
    pending = _Pending()
    try:
        entries = sorted(os.scandir(journal_dir), key=lambda d: d.name)
    except FileNotFoundError:
        return pending
    for entry in entries:
        if budget <= 0:
            break
        if not entry.name.endswith(".ndjson") or not entry.is_file():
            continue
        start = offsets.get(entry.name, 0)
        try:
            if entry.stat().st_size <= start:
                continue  # nothing new: no need to open it
            with open(entry.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size <= start:
                    continue
                chunk, skip, end = _read(f, entry.name, start, size, budget, limit)
        except OSError:
            continue  # vanished or unreadable: try again next time
        if chunk is not None:
            pending.chunks.append(chunk)
            budget -= len(chunk.data)
        if skip is not None:
            pending.skips.append(skip)
        if end > start:
            pending.ends[entry.name] = end
    pending.more = budget <= 0 or bool(pending.skips)
    return pending


def _line_bounds(data: bytes) -> array[int]:
    """Where each line of ``data`` starts, and its end: 0, just past each newline."""
    bounds = array("q", [0])
    find, add = data.find, bounds.append
    end = find(b"\n") + 1
    while end:  # no bytes object per line: a million of them cost more than the scan
        add(end)
        end = find(b"\n", end) + 1
    return bounds


def _chunk_lines(chunk: _Chunk, index: int) -> pyarrow.RecordBatch:
    """The chunk's lines as Arrow strings over the chunk's own bytes (no copy), each with
    the chunk's ``index`` and the line's start in the chunk.

    Built from buffers only: converting Python values (``pa.scalar``, ``pa.table`` of
    lists) makes pyarrow import pandas, ~1 s on the first ingest of a process.
    """
    import pyarrow as pa

    bounds = _line_bounds(chunk.data)  # the data ends with a newline: nothing after it
    count = len(bounds) - 1
    text = pa.LargeStringArray.from_buffers(count, pa.py_buffer(bounds), pa.py_buffer(chunk.data))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:  # some line is not UTF-8: let DuckDB see it as invalid JSON
        decoded = [p.decode("utf-8", "replace") for p in chunk.data.split(b"\n")[:-1]]
        text = pa.array([p if "\ufffd" not in p else "\x00" for p in decoded], pa.large_string())
    chunks = pa.Array.from_buffers(
        pa.int32(), count, [None, pa.py_buffer(array("i", [index]) * count)]
    )
    starts = pa.Array.from_buffers(pa.int64(), count, [None, pa.py_buffer(bounds)])
    return pa.RecordBatch.from_arrays([chunks, starts, text], names=["chunk", "start", "line"])


def _lines(chunks: list[_Chunk]) -> pyarrow.Table:
    """One row per line: its chunk's index, its start in the chunk and its text."""
    import pyarrow as pa

    batches = [_chunk_lines(c, i) for i, c in enumerate(chunks)]
    table = pa.Table.from_batches(batches)
    # record batches of moderate size let DuckDB parse them on several threads
    return pa.Table.from_batches(table.to_batches(max_chunksize=_ROWS_PER_BATCH))


def _shape() -> str:
    """One JSON structure for every kind (a name means the same in every kind), and the
    keys of an execution's short form (none of them a name of any kind's field)."""
    merged: dict[str, object] = {"kind": "VARCHAR"}
    for kind, structure in _STRUCTURES.items():
        for name, shape in structure.items():
            if merged.setdefault(name, shape) != shape and name != "params":
                raise TypeError(f"field {name!r} of {kind!r} records clashes with another kind's")
    merged["params"] = "JSON"  # an object for every kind; split into rows where needed
    names = {name.lower() for name in merged} | {"v"}
    for key, shape in layout.short_structure(ExecutionRecord).items():
        if key.lower() in names:  # DuckDB's struct fields ignore case
            raise TypeError(f"short key {key!r} of executions is also a field's name")
        merged[key] = shape
    return json.dumps(merged).replace("'", "''")


_SHAPE = _shape()
_LINE_KEYS = journal.line_keys(ExecutionRecord)
_SEQ = _LINE_KEYS["seq"].key
# the kind of a parsed line ``r``: a line without ``kind`` holding a seq is an execution
# in the short form (``journal.slim``)
_SHORT = "execution, short form"  # the form of a line without ``kind`` holding a seq
# each parsed line's form: its kind, or ``_SHORT`` for an execution's short form
_FORM = f"""CASE WHEN r.kind IS NULL AND r."{_SEQ}" IS NOT NULL THEN '{_SHORT}' ELSE r.kind END"""


def _literal(value: object) -> str:
    """A default of records.py (``Key.default``) as SQL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for the default {value!r}")


def _short_value(k: journal.LineKey, value: str) -> str:
    """The field of ``k`` from its short key's ``value`` (SQL), its default put back."""
    if k.items is not None:
        parts = ", ".join(
            f'"{i.field}" := ' + _short_value(i, f'item."{i.key}"') for i in k.items.values()
        )
        return f"list_transform({value}, lambda item: struct_pack({parts}))"
    if k.same_as is not None:
        return f'coalesce({value}, r."{_LINE_KEYS[k.same_as].key}")'
    if k.default is not None:
        return f"coalesce({value}, {_literal(k.default)})"
    return value


def _short_executions() -> str:
    """The parsed short lines of executions as rows (file, off, r): ``r`` with the long
    form's fields, what the line left out put back. A line without its session has the
    session and notebook of the latest session record before it in its file (the
    sessions table: this batch's are in it already, inserted first)."""
    session = _LINE_KEYS["session"].key
    parts = []
    for name in _STRUCTURES["execution"]:
        k = _LINE_KEYS[name]
        value = f'r."{k.key}"'
        if name == "session":
            expression = f"coalesce({value}, c.id)"
        elif name == "notebook":
            expression = f'CASE WHEN r."{session}" IS NULL THEN c.notebook ELSE {value} END'
        else:
            expression = _short_value(k, value)
        parts.append(f'"{name}" := {expression}')
    return f"""SELECT q.file, q.off, struct_pack({", ".join(parts)}) AS r
        FROM parsed q LEFT JOIN (  -- each session record's stretch of its file
            SELECT journal, id, notebook, since,
                lead(since, 1, 9223372036854775807) OVER (PARTITION BY journal ORDER BY since)
                    AS until
            FROM (SELECT journal, id, notebook, coalesce(journal_offset, -1) AS since
                  FROM sessions WHERE journal IN (SELECT file FROM journal_chunks))) c
        ON q.file = c.journal AND q.off > c.since AND q.off < c.until
        WHERE q.r.kind IS NULL AND q.r."{_SEQ}" IS NOT NULL"""


@dataclass(frozen=True)
class _Pass:
    """The parsed lines of one form, stored as records of ``kind``."""

    form: str  # what ``_FORM`` says of them
    kind: str
    records: str  # SQL: their rows (file, off, r)
    table: bool  # materialised (worth it when ``r`` is computed) or a view over ``parsed``


# sessions first: short lines of executions after them in the batch find them
_PASSES = [
    _Pass(k, k, f"SELECT file, off, r FROM parsed WHERE r.kind = '{k}'", False) for k in _KINDS
]
_PASSES.insert(2, _Pass(_SHORT, "execution", _short_executions(), True))


# the id of each parsed record (view ``p``), where the line may leave it out
_ID = {
    "execution": "coalesce(r.id, r.session || ':' || r.seq)",
    "session": "r.session",
    "step": "NULL",
    "rename": "NULL",
    "schedule_fire": "NULL",
    "schedule_seen": "NULL",
}


def _missing(kind: str) -> str:
    """The condition on a parsed record ``r`` of ``kind`` lacking a required field."""
    return "(" + " OR ".join(f"r.{name} IS NULL" for name in _REQUIRED[kind]) + ")"


def _load(con: duckdb.DuckDBPyConnection, pending: _Pending, checked: bool) -> int:
    """Insert one batch of lines, the skipped ones and the new offsets (in the caller's
    transaction); returns how many records were stored."""
    total = _load_lines(con, pending.chunks, checked) if pending.chunks else 0
    now = time.time()
    for skip in pending.skips:
        con.execute(
            "INSERT INTO journal_errors VALUES (?, ?, ?, ?, ?, ?)",
            [
                skip.name,
                skip.start,
                f"line of {skip.length} bytes is over the ingest limit of {skip.limit} "
                "bytes; skipped",
                skip.excerpt,
                now,
                skip.length,
            ],
        )
    con.execute(
        """INSERT OR REPLACE INTO journal_offsets
            SELECT unnest(?::VARCHAR[]), unnest(?::BIGINT[]), ?""",
        [list(pending.ends), list(pending.ends.values()), now],
    )
    return total


def _load_lines(con: duckdb.DuckDBPyConnection, chunks: list[_Chunk], checked: bool) -> int:
    """Parse and insert the chunks' lines.

    Unless ``checked``, lines are trusted to be JSON (from_json raises if one is not,
    and the caller tries again checked): journals are almost always clean.
    """
    lines = _lines(chunks)
    con.register("journal_lines", lines)
    con.execute(
        """CREATE TEMP TABLE journal_chunks AS
            SELECT (i - 1)::INTEGER AS chunk, names[i] AS file, bases[i] AS base
            FROM (SELECT ?::VARCHAR[] AS names, ?::BIGINT[] AS bases),
                range(1, len(names) + 1) t(i)""",
        [[c.name for c in chunks], [c.start for c in chunks]],
    )
    con.execute(
        """CREATE TEMP VIEW journal_batch AS
            SELECT c.file, c.base + l.start AS off, l.line
            FROM journal_lines l JOIN journal_chunks c USING (chunk)"""
    )
    now = time.time()
    # one parse of every line; when checked, the filter runs first
    valid = "json_valid(line) AND" if checked else ""
    con.execute(
        f"""CREATE TEMP TABLE parsed AS
            SELECT file::VARCHAR AS file, off, from_json(line, '{_SHAPE}') AS r
            FROM journal_batch WHERE {valid} trim(line) <> ''"""
    )
    if checked:
        con.execute(
            """INSERT INTO journal_errors
                SELECT file::VARCHAR, off, 'not valid JSON', left(line, 200), ?, strlen(line)
                FROM journal_batch WHERE NOT json_valid(line) AND trim(line) <> ''""",
            [now],
        )
    present = {form for (form,) in con.execute(f"SELECT DISTINCT {_FORM} FROM parsed").fetchall()}
    if not present <= {p.form for p in _PASSES}:  # None: a line without a kind
        con.execute(
            f"""INSERT INTO journal_errors
            SELECT p.file, p.off,
                CASE WHEN p.r IS NULL OR {_FORM} IS NULL THEN 'not a record (no kind)'
                     ELSE 'unknown record kind ' || p.r.kind END,
                left(b.line, 200), ?, strlen(b.line)
            FROM parsed p JOIN journal_batch b ON b.file::VARCHAR = p.file AND b.off = p.off
            WHERE p.r IS NULL OR {_FORM} IS NULL
               OR p.r.kind NOT IN (SELECT unnest(?::VARCHAR[]))""",
            [now, list(_STRUCTURES)],
        )
    total = 0
    for step in _PASSES:
        if step.form not in present:
            continue
        kind = step.kind
        missing = _missing(kind)
        made = "TABLE" if step.table else "VIEW"
        con.execute(f"CREATE TEMP {made} k AS {step.records}")
        row = con.execute(f"SELECT count(*) FILTER (WHERE {missing}) FROM k").fetchone()
        if row and row[0]:
            con.execute(
                f"""INSERT INTO journal_errors
                    SELECT k.file, k.off, ?, left(b.line, 200), ?, strlen(b.line)
                    FROM k JOIN journal_batch b ON b.file::VARCHAR = k.file AND b.off = k.off
                    WHERE {missing}""",
                [f"{kind} record without a valid {' / '.join(_REQUIRED[kind])}", now],
            )
        # ``kind`` is one of our own constant names, never journal data
        con.execute(
            f"""CREATE TEMP VIEW p AS SELECT file, off, r, {_ID.get(kind, "r.id")} AS id
                FROM k WHERE NOT ({missing})"""
        )
        statements = _INSERTS[kind]
        sums = ", ".join(need or "1" for need, _ in statements)
        row = con.execute(f"SELECT count(*), {sums} FROM p").fetchone()
        count = int(row[0]) if row else 0
        if count and row is not None:
            for (_, statement), rows in zip(statements, row[1:], strict=True):
                if rows:
                    con.execute(statement)
        total += count
        con.execute("DROP VIEW p")
        con.execute(f"DROP {made} k")
    con.execute("DROP TABLE parsed")
    con.execute("DROP VIEW journal_batch")
    con.execute("DROP TABLE journal_chunks")
    con.unregister("journal_lines")
    return total


def _check_shrunk(
    con: duckdb.DuckDBPyConnection, journal_dir: Path, offsets: dict[str, int]
) -> None:
    """A journal file shorter than its offset was replaced: note it and read it from the start."""
    for name, offset in list(offsets.items()):
        try:
            size = (journal_dir / name).stat().st_size
        except OSError:
            continue
        if size < offset:
            con.execute(
                "INSERT INTO journal_errors VALUES (?, ?, ?, NULL, ?, NULL)",
                [
                    name,
                    offset,
                    f"journal file shrank to {size} bytes; read again from the start",
                    time.time(),
                ],
            )
            con.execute('UPDATE journal_offsets SET "offset" = 0 WHERE file = ?', [name])
            offsets[name] = 0


def ingest(
    con: duckdb.DuckDBPyConnection,
    journal_dir: Path,
    budget: int = BATCH_BYTES,
    limit: int = MAX_RECORD_BYTES,
) -> int:
    """Ingest every new complete journal line; returns how many records were stored."""
    import duckdb

    total = 0
    while True:
        saved = {
            str(name): int(offset)
            for name, offset in con.execute('SELECT file, "offset" FROM journal_offsets').fetchall()
        }
        offsets = dict(saved)
        con.execute("BEGIN TRANSACTION")
        try:
            _check_shrunk(con, journal_dir, offsets)
            pending = _pending(journal_dir, offsets, budget, limit)
            if not pending.ends:
                con.execute("COMMIT")
                return total
            try:
                total += _load(con, pending, checked=False)
            except duckdb.InvalidInputException:  # some line is not JSON: check every line
                con.execute("ROLLBACK")
                con.execute("BEGIN TRANSACTION")
                _check_shrunk(con, journal_dir, dict(saved))
                total += _load(con, pending, checked=True)
            con.execute("COMMIT")
            if not pending.more:  # all there was when it looked: a busy writer's newer
                return total  # lines wait for the next ingest, which never has to chase
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a failed COMMIT (disk full, say) has already ended the transaction
            raise
