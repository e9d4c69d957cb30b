"""Journal lines over the ingest limit are recorded and skipped; every other line gets in."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store, ingest

from .records import execution


def _ids(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT id FROM executions ORDER BY seq")[1]]


def _errors(store: Store) -> list[tuple[str, int, int | None, str]]:
    sql = 'SELECT file, "offset", length, reason FROM journal_errors ORDER BY "offset"'
    return [tuple(r) for r in store.query(sql)[1]]  # type: ignore[misc]


def _line(record: object) -> bytes:
    """A line as a writer without our size limit would write it (an old version, say)."""
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _huge(size: int) -> bytes:
    """A valid record line of about ``size`` bytes (a cell source nobody should journal)."""
    return _line(execution("s1", 99, source_text="x" * size))


def test_a_70_mb_line_is_skipped_and_the_rest_ingested_once(
    layout: Layout, writer: JournalWriter
) -> None:
    for seq in (1, 2):
        writer.append(execution("s1", seq))
    at = writer.path.stat().st_size
    huge = _huge(70 << 20)
    with open(writer.path, "ab") as f:
        f.write(huge)
    for seq in (3, 4, 5):
        writer.append(execution("s1", seq))

    with Store.open(layout) as store:
        assert _ids(store) == ["s1:1", "s1:2", "s1:3", "s1:4", "s1:5"]
        assert store.new_journal_errors == 1
        [(file, offset, length, reason)] = _errors(store)
        assert (file, offset, length) == (writer.path.name, at, len(huge))
        assert f"line of {len(huge)} bytes is over the ingest limit" in reason
        assert store.ingest() == 0
    writer.append(execution("s1", 6))
    with Store.open(layout) as store:
        assert _ids(store) == ["s1:1", "s1:2", "s1:3", "s1:4", "s1:5", "s1:6"]
        assert len(_errors(store)) == 1
        offset = store.query('SELECT "offset" FROM journal_offsets')[1]
        assert offset == [(writer.path.stat().st_size,)]


def test_a_huge_line_still_being_written_waits(layout: Layout, writer: JournalWriter) -> None:
    writer.append(execution("s1", 1))
    huge = _huge(3 << 20)
    with open(writer.path, "ab") as f:
        f.write(huge[:-1])  # no newline yet
    with Store.open(layout) as store:
        assert ingest.ingest(store.con, layout.journal_dir, limit=1 << 20) == 0
        assert _ids(store) == ["s1:1"]
        assert _errors(store) == []
        with open(writer.path, "ab") as f:
            f.write(b"\n")
        writer.append(execution("s1", 2))
        assert ingest.ingest(store.con, layout.journal_dir, limit=1 << 20) == 1
        assert _ids(store) == ["s1:1", "s1:2"]
        assert [e[2] for e in _errors(store)] == [len(huge)]


@pytest.mark.parametrize("budget", [300, 1 << 20])
def test_lines_at_the_limit(layout: Layout, writer: JournalWriter, budget: int) -> None:
    """Exactly the limit is ingested, one byte more is skipped, in any batch size."""
    base = len(_line(execution("s1", 1, source_text="")))
    limit = 900
    lines = [
        _line(execution("s1", seq, source_text="y" * (limit - base + extra)))
        for seq, extra in enumerate((0, 1, -400, 1, 0, 5000, -1), 1)
    ]
    assert [len(line) - limit for line in lines] == [0, 1, -400, 1, 0, 5000, -1]
    Path(writer.path).parent.mkdir(parents=True, exist_ok=True)
    Path(writer.path).write_bytes(b"".join(lines))
    with Store.open(layout, ingest=False) as store:
        assert ingest.ingest(store.con, layout.journal_dir, budget=budget, limit=limit) == 4
        assert _ids(store) == ["s1:1", "s1:3", "s1:5", "s1:7"]
        starts = [sum(map(len, lines[:i])) for i in range(len(lines))]
        assert [(e[1], e[2]) for e in _errors(store)] == [
            (starts[i], len(lines[i])) for i in (1, 3, 5)
        ]


def test_a_version_1_store_is_migrated_and_keeps_its_rows(
    layout: Layout, writer: JournalWriter
) -> None:
    import duckdb

    from mlprod_nb.store import schema

    layout.home.mkdir(parents=True)
    con = duckdb.connect(str(layout.db_path))
    con.execute("BEGIN TRANSACTION")
    for statement in schema.MIGRATIONS[0]:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1, 0)")
    con.execute("INSERT INTO journal_errors VALUES ('old.ndjson', 7, 'not valid JSON', '{', 0)")
    con.execute("COMMIT")
    con.close()
    writer.append(execution("s1", 1))
    with Store.open(layout) as store:
        assert schema.current_version(store.con) == schema.VERSION >= 2
        assert _ids(store) == ["s1:1"]
        assert _errors(store) == [("old.ndjson", 7, None, "not valid JSON")]
        assert store.query("SELECT truncated FROM executions")[1] == [(None,)]
