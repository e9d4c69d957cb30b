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
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    import duckdb
    import pyarrow

BATCH_BYTES = 64 << 20  # bytes of journal parsed per transaction, about
MAX_RECORD_BYTES = 16 << 20  # a longer journal line is skipped into journal_errors
_PIECE = 1 << 20  # bytes read at a time
_ROWS_PER_BATCH = 4096

_V = "VARCHAR"
_STRUCTURES: dict[str, object] = {
    "session": {
        "session": _V,
        "pid": "BIGINT",
        "started": "DOUBLE",
        "notebook": _V,
        "cwd": _V,
        "env": {
            "python": _V,
            "implementation": _V,
            "platform": _V,
            "hostname": _V,
            "cpu_count": "INTEGER",
            "memory_bytes": "BIGINT",
            "gpus": [_V],
            "packages_hash": _V,
            "packages": [[_V]],
            "git": {"root": _V, "commit": _V, "dirty": "BOOLEAN"},
        },
        "truncated": [_V],
    },
    "execution": {
        "id": _V,
        "session": _V,
        "seq": "BIGINT",
        "notebook": _V,
        "cell_id": _V,
        "execution_count": "BIGINT",
        "source_hash": _V,
        "source": _V,
        "started": "DOUBLE",
        "duration_ms": "DOUBLE",
        "status": _V,
        "error_name": _V,
        "error_message": _V,
        "defines": [_V],
        "types": "MAP(VARCHAR, VARCHAR)",
        "uses": [_V],
        "deletes": [_V],
        "mutations": [{"name": _V, "how": _V, "known": "BOOLEAN"}],
        "deps": [{"name": _V, "execution": _V}],
        "files": [
            {
                "path": _V,
                "mode": _V,
                "sha256": _V,
                "size": "BIGINT",
                "mtime_ns": "BIGINT",
                "via": _V,
            }
        ],
        "params": "MAP(VARCHAR, JSON)",
        "metrics": [{"name": _V, "value": "DOUBLE", "step": "BIGINT"}],
        "checks": [{"message": _V, "passed": "BOOLEAN"}],
        "run": _V,
        "step": _V,
        "truncated": [_V],
    },
    "run": {
        "id": _V,
        "pipeline": _V,
        "pipeline_hash": _V,
        "source_notebook": _V,
        "params": "JSON",
        "started": "DOUBLE",
        "steps": [_V],
        "resumed_from": _V,
        "truncated": [_V],
    },
    "step": {
        "run": _V,
        "name": _V,
        "status": _V,
        "started": "DOUBLE",
        "duration_ms": "DOUBLE",
        "cache_key": _V,
        "cached_from": _V,
        "notebook": _V,
        "artifacts": [{"name": _V, "path": _V, "sha256": _V, "serializer": _V}],
        "params": "JSON",
        "error": _V,
        "cell_id": _V,
        "truncated": [_V],
    },
    "run_end": {
        "id": _V,
        "status": _V,
        "finished": "DOUBLE",
        "error": _V,
        "truncated": [_V],
    },
    "rename": {"old_path": _V, "new_path": _V, "renamed": "DOUBLE"},
}

# fields without which a record is refused (recorded in journal_errors)
_REQUIRED: dict[str, tuple[str, ...]] = {
    "session": ("session",),
    "execution": ("id", "session", "seq"),
    "run": ("id",),
    "step": ("run", "name"),
    "run_end": ("id", "status"),
    "rename": ("old_path", "new_path", "renamed"),
}

# (table, SELECT over the parsed records `p` with columns file, off, r)
_INSERTS: dict[str, list[str]] = {
    "session": [
        """INSERT INTO sessions SELECT r.session, r.pid, r.started, r.notebook, r.cwd,
            r.env.python, r.env.implementation, r.env.platform, r.env.hostname,
            r.env.cpu_count, r.env.memory_bytes, r.env.gpus, r.env.packages_hash,
            r.env.git.root, r.env.git.commit, r.env.git.dirty, file, r.truncated FROM p""",
        """INSERT INTO packages
            SELECT h, pkg[1], pkg[2] FROM (
                SELECT h, unnest(pkgs) AS pkg FROM (
                    SELECT r.env.packages_hash AS h, any_value(r.env.packages) AS pkgs
                    FROM p WHERE r.env.packages_hash IS NOT NULL GROUP BY h))
            WHERE h NOT IN (SELECT packages_hash FROM packages)""",
    ],
    "execution": [
        """INSERT INTO executions SELECT r.id, r.session, r.seq, r.notebook, r.cell_id,
            r.execution_count, r.source_hash, r.started, r.duration_ms, r.status,
            r.error_name, r.error_message, r.run, r.step, file, r.truncated FROM p""",
        """INSERT INTO sources SELECT r.source_hash, any_value(r.source) FROM p
            WHERE r.source IS NOT NULL AND r.source_hash IS NOT NULL
              AND r.source_hash NOT IN (SELECT hash FROM sources)
            GROUP BY r.source_hash""",
        "INSERT INTO definitions SELECT r.id, unnest(r.defines) FROM p",
        """INSERT INTO value_types SELECT id, t.key, t.value
            FROM (SELECT r.id AS id, unnest(map_entries(r.types)) AS t FROM p)
            WHERE t.key IS NOT NULL AND t.value IS NOT NULL""",
        "INSERT INTO uses SELECT r.id, unnest(r.uses) FROM p",
        "INSERT INTO deletes SELECT r.id, unnest(r.deletes) FROM p",
        """INSERT INTO mutations SELECT id, m.name, m.how, m.known
            FROM (SELECT r.id AS id, unnest(r.mutations) AS m FROM p)""",
        """INSERT INTO edges SELECT id, d.name, d.execution
            FROM (SELECT r.id AS id, unnest(r.deps) AS d FROM p)""",
        """CREATE TEMP TABLE new_accesses AS
            SELECT id, started, f.path, f.mode, f.sha256, f.size, f.mtime_ns, f.via
            FROM (SELECT r.id AS id, r.started AS started, unnest(r.files) AS f FROM p)
            WHERE f.path IS NOT NULL""",
        """INSERT INTO accesses
            SELECT id, path, coalesce(mode, 'read'), sha256, size, mtime_ns, via
            FROM new_accesses""",
        """INSERT INTO datasets SELECT path, min(started) FROM new_accesses
            WHERE path NOT IN (SELECT path FROM datasets) GROUP BY path""",
        """INSERT INTO dataset_versions
            SELECT path, sha256, any_value(size), any_value(mtime_ns), min(started)
            FROM new_accesses n WHERE sha256 IS NOT NULL AND NOT EXISTS (
                SELECT 1 FROM dataset_versions v WHERE v.path = n.path AND v.sha256 = n.sha256)
            GROUP BY path, sha256""",
        "DROP TABLE new_accesses",
        """INSERT INTO params SELECT id, e.key, e.value
            FROM (SELECT r.id AS id,
                         unnest(map_entries(from_json(r.params, '"MAP(VARCHAR, JSON)"'))) AS e
                  FROM p WHERE json_type(r.params) = 'OBJECT')""",
        """INSERT INTO metrics SELECT id, m.name, m.value, m.step
            FROM (SELECT r.id AS id, unnest(r.metrics) AS m FROM p)""",
        """INSERT INTO checks SELECT id, c.message, c.passed
            FROM (SELECT r.id AS id, unnest(r.checks) AS c FROM p)""",
    ],
    "run": [
        """INSERT INTO runs SELECT r.id, r.pipeline, r.pipeline_hash, r.source_notebook,
            r.params, r.started, r.steps, r.resumed_from, r.truncated FROM p""",
    ],
    "step": [
        """INSERT INTO run_steps SELECT r.run, r.name, r.status, r.started, r.duration_ms,
            r.cache_key, r.cached_from, r.notebook, r.params, r.error, r.cell_id, r.truncated
            FROM p""",
        """INSERT INTO step_artifacts SELECT run, step, a.name, a.path, a.sha256, a.serializer
            FROM (SELECT r.run AS run, r.name AS step, unnest(r.artifacts) AS a FROM p)""",
    ],
    "run_end": [
        "INSERT INTO run_ends SELECT r.id, r.status, r.finished, r.error, r.truncated FROM p",
    ],
    "rename": ["INSERT INTO renames SELECT r.old_path, r.new_path, r.renamed FROM p"],
}


_FILES = "sum(len(r.files))"
# per statement of ``_INSERTS``: an aggregate over ``p`` that is 0 or NULL when the
# statement would insert nothing (a cell rarely has every kind of list), to skip it
_NEEDS: dict[str, list[str | None]] = {
    "execution": [
        None,
        "count(r.source)",
        "sum(len(r.defines))",
        "sum(cardinality(r.types))",
        "sum(len(r.uses))",
        "sum(len(r.deletes))",
        "sum(len(r.mutations))",
        "sum(len(r.deps))",
        *[_FILES] * 5,  # new_accesses: made, inserted in three tables, dropped
        "count(*) FILTER (WHERE json_type(r.params) = 'OBJECT' AND r.params::VARCHAR <> '{}')",
        "sum(len(r.metrics))",
        "sum(len(r.checks))",
    ],
    "step": [None, "sum(len(r.artifacts))"],
}
assert all(len(_NEEDS[kind]) == len(_INSERTS[kind]) for kind in _NEEDS)


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
    return pending


def _chunk_lines(chunk: _Chunk) -> pyarrow.RecordBatch:
    """The chunk's lines as Arrow strings over the chunk's own bytes (no copy)."""
    import pyarrow as pa

    parts = chunk.data.split(b"\n")
    parts.pop()  # the data ends with a newline: nothing after it
    bounds = array("q", accumulate(map((1).__add__, map(len, parts)), initial=0))
    count = len(parts)
    text = pa.LargeStringArray.from_buffers(count, pa.py_buffer(bounds), pa.py_buffer(chunk.data))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:  # some line is not UTF-8: let DuckDB see it as invalid JSON
        decoded = [p.decode("utf-8", "replace") for p in parts]
        text = pa.array([p if "\ufffd" not in p else "\x00" for p in decoded], pa.large_string())
    start = chunk.start
    return pa.record_batch(
        {
            "file": pa.repeat(pa.scalar(chunk.name), count),
            "off": pa.array(map(start.__add__, bounds[:-1]), pa.int64(), size=count),
            "line": text,
        }
    )


def _lines(chunks: list[_Chunk]) -> pyarrow.Table:
    """One row per line: journal file, byte offset and the line's text."""
    import pyarrow as pa

    batches = [_chunk_lines(c) for c in chunks]
    table = pa.Table.from_batches(batches)
    # record batches of moderate size let DuckDB parse them on several threads
    return pa.Table.from_batches(table.to_batches(max_chunksize=_ROWS_PER_BATCH))


def _new_offsets(ends: dict[str, int]) -> pyarrow.Table:
    import pyarrow as pa

    now = time.time()
    return pa.table(
        {"file": list(ends), "offset": list(ends.values()), "updated": [now] * len(ends)}
    )


def _shape() -> str:
    """One JSON structure for every kind (their field names never clash)."""
    merged: dict[str, object] = {"kind": _V}
    for structure in _STRUCTURES.values():
        assert isinstance(structure, dict)
        merged.update(structure)
    merged["params"] = "JSON"  # an object for every kind; split into rows where needed
    return json.dumps(merged).replace("'", "''")


_SHAPE = _shape()


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
    con.register("journal_ends", _new_offsets(pending.ends))
    con.execute(
        """INSERT OR REPLACE INTO journal_offsets SELECT file, "offset", updated
            FROM journal_ends"""
    )
    con.unregister("journal_ends")
    return total


def _load_lines(con: duckdb.DuckDBPyConnection, chunks: list[_Chunk], checked: bool) -> int:
    """Parse and insert the chunks' lines.

    Unless ``checked``, lines are trusted to be JSON (from_json raises if one is not,
    and the caller tries again checked): journals are almost always clean.
    """
    lines = _lines(chunks)
    con.register("journal_batch", lines)
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
    # each kind present, and how many of its records lack a required field
    lacking = " ".join(f"WHEN '{kind}' THEN {_missing(kind)}" for kind in _REQUIRED)
    present = dict(
        con.execute(
            f"""SELECT r.kind, count(*) FILTER (WHERE CASE r.kind {lacking} ELSE false END)
                FROM parsed GROUP BY r.kind"""
        ).fetchall()
    )
    if not set(present) <= set(_STRUCTURES):
        con.execute(
            """INSERT INTO journal_errors
            SELECT p.file, p.off,
                CASE WHEN p.r IS NULL OR p.r.kind IS NULL THEN 'not a record (no kind)'
                     ELSE 'unknown record kind ' || p.r.kind END,
                left(b.line, 200), ?, strlen(b.line)
            FROM parsed p JOIN journal_batch b ON b.file::VARCHAR = p.file AND b.off = p.off
            WHERE p.r IS NULL OR p.r.kind IS NULL
               OR p.r.kind NOT IN (SELECT unnest(?::VARCHAR[]))""",
            [now, list(_STRUCTURES)],
        )
    total = 0
    for kind in _STRUCTURES:
        if kind not in present:
            continue
        missing = _missing(kind)
        if present[kind]:
            con.execute(
                f"""INSERT INTO journal_errors
                    SELECT p.file, p.off, ?, left(b.line, 200), ?, strlen(b.line)
                    FROM parsed p JOIN journal_batch b
                        ON b.file::VARCHAR = p.file AND b.off = p.off
                    WHERE p.r.kind = ? AND ({missing})""",
                [f"{kind} record without a valid {' / '.join(_REQUIRED[kind])}", now, kind],
            )
        # ``kind`` is one of our own constant names, never journal data
        con.execute(
            f"""CREATE TEMP VIEW p AS SELECT file, off, r FROM parsed
                WHERE r.kind = '{kind}' AND NOT ({missing})"""
        )
        statements = _INSERTS[kind]
        needs = _NEEDS.get(kind) or [None] * len(statements)
        sums = ", ".join(need or "1" for need in needs)
        row = con.execute(f"SELECT count(*), {sums} FROM p").fetchone()
        count = int(row[0]) if row else 0
        if count and row is not None:
            for statement, rows in zip(statements, row[1:], strict=True):
                if rows:
                    con.execute(statement)
        total += count
        con.execute("DROP VIEW p")
    con.execute("DROP TABLE parsed")
    con.unregister("journal_batch")
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
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a failed COMMIT (disk full, say) has already ended the transaction
            raise
