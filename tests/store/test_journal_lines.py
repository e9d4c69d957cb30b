"""Journal lines: what the writer leaves out, and old lines that spell everything out."""

from __future__ import annotations

import json

from mlprod_nb.journal import JournalWriter, dumps, loads, slim
from mlprod_nb.paths import Layout
from mlprod_nb.records import Dependency, ExecutionId, Metric
from mlprod_nb.store import Store

from .records import execution

# every table an execution fills, in an order that makes rows comparable
_TABLES = {
    "executions": "SELECT * EXCLUDE (journal) FROM executions ORDER BY id",
    "edges": "SELECT * FROM edges ORDER BY ALL",
    "definitions": "SELECT * FROM definitions ORDER BY ALL",
    "uses": "SELECT * FROM uses ORDER BY ALL",
    "deletes": "SELECT * FROM deletes ORDER BY ALL",
    "params": "SELECT execution, name, value::VARCHAR FROM params ORDER BY ALL",
    "metrics": "SELECT * FROM metrics ORDER BY ALL",
    "checks": "SELECT * FROM checks ORDER BY ALL",
}


def _records() -> list[dict[str, object]]:
    first = execution("s1", 1, defines=["df"], params={"alpha": 0.5})
    second = execution(
        "s1",
        2,
        uses=["df", "other"],
        deps=[
            Dependency(name="df", execution=ExecutionId("s1:1")),
            Dependency(name="other", execution=ExecutionId("s0:7")),  # another session
        ],
        metrics=[Metric(name="auc", value=0.9, step=None)],
    )
    return [dict(first), dict(second)]


def _tables(layout: Layout) -> dict[str, list[tuple[object, ...]]]:
    with Store.open(layout) as store:
        assert store.journal_errors() == []
        return {name: store.query(sql)[1] for name, sql in _TABLES.items()}


def test_written_lines_leave_out_what_the_store_derives(layout: Layout) -> None:
    writer = JournalWriter(layout.journal_dir, "w")
    for record in _records():
        writer.append(record)  # type: ignore[arg-type]
    writer.close()
    first, second = (json.loads(line) for line in writer.path.read_bytes().splitlines())
    assert "id" not in first
    assert "deletes" not in first
    assert "error_name" not in first
    assert first["defines"] == ["df"]
    assert second["deps"] == [
        {"name": "df", "execution": ":1"},
        {"name": "other", "execution": "s0:7"},
    ]
    tables = _tables(layout)
    assert [r[0] for r in tables["executions"]] == ["s1:1", "s1:2"]
    assert tables["edges"] == [("s1:2", "df", "s1:1"), ("s1:2", "other", "s0:7")]


def test_old_lines_spelling_everything_out_still_ingest(layout: Layout) -> None:
    """Journals written before lines were slimmed ingest to the very same rows."""
    new = JournalWriter(layout.journal_dir, "new")
    for record in _records():
        new.append(record)  # type: ignore[arg-type]
    new.close()
    expected = _tables(layout)

    old_layout = Layout(layout.home.parent / "old" / ".mlprod")
    old_layout.journal_dir.mkdir(parents=True)
    lines = b"".join(dumps(r) for r in _records())  # every field, ids and nulls included
    assert b'"id":"s1:1"' in lines
    assert b'"deletes":[]' in lines
    (old_layout.journal_dir / "new.ndjson").write_bytes(lines)
    assert _tables(old_layout) == expected


def test_the_fields_left_out_when_empty_are_the_rows_fields() -> None:
    from mlprod_nb.journal import _EXECUTION_ROWS
    from mlprod_nb.records import ExecutionRecord
    from mlprod_nb.store import layout

    rows = {f.path[0] for f in layout.row_fields(ExecutionRecord)}
    assert rows - {"source"} == set(_EXECUTION_ROWS)  # a source is left out only when None


def test_loads_gives_back_the_record_as_written() -> None:
    for record in _records():
        assert loads(dumps(slim(record))) == {"types": {}, **record}  # as the tracer's
