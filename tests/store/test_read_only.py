"""The read-only connection holds even for SQL that got past the statement check."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from mlprod_nb.journal import JournalWriter
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

from .records import execution


@pytest.mark.parametrize(
    "sql",
    [
        "COPY (SELECT 1) TO '{out}'",
        "EXPLAIN ANALYZE COPY (SELECT 1) TO '{out}'",
        "ATTACH '{out}' AS other",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
        "SELECT * FROM read_text('{data}')",
        "INSERT INTO executions (id, session, seq) VALUES ('x', 'y', 9)",
    ],
)
def test_walls_behind_the_statement_check(
    layout: Layout, writer: JournalWriter, tmp_path: Path, sql: str
) -> None:
    writer.append(execution("s1", 1))
    out, data = tmp_path / "out.csv", tmp_path / "data.txt"
    data.write_text("x")
    with Store.open(layout) as store:
        store.reopen_read_only()
        with pytest.raises(duckdb.Error):  # the raw connection: no statement check here
            store.con.execute(sql.format(out=out, data=data))
        assert store.query("SELECT count(*) FROM executions")[1] == [(1,)]
    assert not out.exists()


def test_allow_files_reads_but_cannot_write(
    layout: Layout, writer: JournalWriter, tmp_path: Path
) -> None:
    writer.append(execution("s1", 1))
    data = tmp_path / "data.txt"
    data.write_text("x")
    with Store.open(layout) as store:
        store.reopen_read_only(allow_files=True)
        assert store.query(f"SELECT content FROM read_text('{data}')")[1] == [("x",)]
        with pytest.raises(duckdb.Error):
            store.con.execute("INSERT INTO executions (id, session, seq) VALUES ('x', 'y', 9)")
        with pytest.raises(duckdb.Error):
            store.con.execute("SET enable_external_access = false")
