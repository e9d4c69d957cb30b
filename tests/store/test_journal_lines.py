"""Journal lines: the short form the writer writes, and older lines that spell more out.

Three forms of the same records must ingest to the same rows: as written before lines
were slimmed (every field), the long form (long keys, nulls and empty lists left out)
and the short form (short keys, defaults and the file's session left out).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mlprod_nb import journal
from mlprod_nb.journal import JournalWriter, dumps, long_form, slim
from mlprod_nb.paths import Layout
from mlprod_nb.records import Check, Dependency, ExecutionId, FileAccess, Metric, Mutation
from mlprod_nb.store import Store, schema

from .records import execution, session

# every table an execution fills, in an order that makes rows comparable
_TABLES = {
    "sessions": "SELECT * EXCLUDE (journal, journal_offset) FROM sessions ORDER BY id",
    "executions": "SELECT * EXCLUDE (journal) FROM executions ORDER BY id",
    "edges": "SELECT * FROM edges ORDER BY ALL",
    "definitions": "SELECT * FROM definitions ORDER BY ALL",
    "uses": "SELECT * FROM uses ORDER BY ALL",
    "deletes": "SELECT * FROM deletes ORDER BY ALL",
    "mutations": "SELECT * FROM mutations ORDER BY ALL",
    "accesses": "SELECT * FROM accesses ORDER BY ALL",
    "params": "SELECT execution, name, value::VARCHAR FROM params ORDER BY ALL",
    "metrics": "SELECT * FROM metrics ORDER BY ALL",
    "checks": "SELECT * FROM checks ORDER BY ALL",
    "sources": "SELECT * FROM sources ORDER BY ALL",
    "value_types": "SELECT * FROM value_types ORDER BY ALL",
}

_FILE = FileAccess(
    path="/data/in.csv", mode="read", sha256="a" * 64, size=10, via="open", mtime_ns=5
)


def _records() -> list[dict[str, Any]]:
    """One kernel's life: its session record, then executions of every shape."""
    return [
        dict(session("s1", "/nb/a.ipynb")),
        dict(execution("s1", 1, defines=["df"], params={"alpha": 0.5}, files=[_FILE])),
        dict(
            execution(
                "s1",
                2,
                uses=["df", "other"],
                deps=[
                    Dependency(name="df", execution=ExecutionId("s1:1")),
                    Dependency(name="other", execution=ExecutionId("s0:7")),  # another session
                ],
                metrics=[
                    Metric(name="auc", value=0.9, step=None),
                    Metric(name="auc", value=0.8, step=3, slice="plan=pro"),
                ],
                mutations=[Mutation(name="df", how="item", known=False)],
                types={"df": "pandas.DataFrame"},
            )
        ),
        dict(execution("s1", 3, notebook="/nb/b.ipynb")),  # renamed mid-session
        dict(
            execution(
                "s1",
                4,
                status="error",
                error_name="ZeroDivisionError",
                error_message="division by zero",
                execution_count=9,
                files=[{**_FILE, "mode": "write", "sha256": None, "mtime_ns": None}],
                checks=[Check(message="rows > 0", passed=True)],
                run="r1",
                step="train",
                source_text="x4 = 1 / 0",
            )
        ),
        # no execution count (a silent run): said by the long form only
        dict(execution("s1", 5, deletes=["df"], cell_id=None, source=None, execution_count=None)),
    ]


def _short(records: list[dict[str, Any]]) -> bytes:
    """The lines the writer writes now."""
    context = journal.FileContext()
    lines = []
    for record in records:
        lines.append(journal.line_of(record, context))
        context.learn(record)
    return b"".join(lines)


_FORMS: dict[str, Callable[[list[dict[str, Any]]], bytes]] = {
    "every field": lambda records: b"".join(dumps(r) for r in records),
    "long form": lambda records: b"".join(dumps(long_form(r)) for r in records),
    "short form": _short,
}


def _tables(layout: Layout) -> dict[str, list[tuple[object, ...]]]:
    with Store.open(layout) as store:
        assert store.journal_errors() == []
        return {name: store.query(sql)[1] for name, sql in _TABLES.items()}


def _layout(root: Path, name: str) -> Layout:
    layout = Layout(root / name / ".mlprod")
    layout.journal_dir.mkdir(parents=True)
    return layout


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[object, ...]]]:
    """The rows of the records, ingested from lines that spell every field out."""
    layout = _layout(tmp_path_factory.mktemp("expected"), "every")
    (layout.journal_dir / "k.ndjson").write_bytes(_FORMS["every field"](_records()))
    return _tables(layout)


def test_the_expected_rows_hold_what_the_records_say(
    expected: dict[str, list[tuple[object, ...]]],
) -> None:
    by_id = {row[0]: row for row in expected["executions"]}
    assert list(by_id) == ["s1:1", "s1:2", "s1:3", "s1:4", "s1:5"]
    assert [by_id[i][3] for i in by_id] == ["/nb/a.ipynb", "/nb/a.ipynb", "/nb/b.ipynb"] + [
        "/nb/a.ipynb"
    ] * 2
    assert [by_id[i][5] for i in by_id] == [1, 2, 3, 9, None]  # execution counts
    assert expected["edges"] == [("s1:2", "df", "s1:1"), ("s1:2", "other", "s0:7")]
    assert ("s1:4", "/data/in.csv", "write", None, 10, None, "open") in expected["accesses"]


@pytest.mark.parametrize("form", list(_FORMS))
def test_every_form_ingests_to_the_same_rows(
    form: str, expected: dict[str, list[tuple[object, ...]]], tmp_path: Path
) -> None:
    layout = _layout(tmp_path, "one")
    (layout.journal_dir / "k.ndjson").write_bytes(_FORMS[form](_records()))
    assert _tables(layout) == expected


@pytest.mark.parametrize("form", list(_FORMS))
@pytest.mark.parametrize("cut", [1, 2, 4])
def test_a_file_ingested_in_pieces_gives_the_same_rows(
    form: str, cut: int, expected: dict[str, list[tuple[object, ...]]], tmp_path: Path
) -> None:
    """The session record in an earlier ingest than the executions that leave it out."""
    layout = _layout(tmp_path, "pieces")
    records = _records()
    lines = _FORMS[form](records).splitlines(keepends=True)
    path = layout.journal_dir / "k.ndjson"
    path.write_bytes(b"".join(lines[:cut]))
    with Store.open(layout):
        pass
    with path.open("ab") as f:
        f.write(b"".join(lines[cut:]))
    assert _tables(layout) == expected


def test_the_writer_writes_the_short_form(layout: Layout) -> None:
    writer = JournalWriter(layout.journal_dir, "w")
    for record in _records():
        writer.append(record)  # type: ignore[arg-type]
    writer.close()
    head, first, second, third, fourth, fifth = (
        json.loads(line) for line in writer.path.read_bytes().splitlines()
    )
    assert head["kind"] == "session"  # other kinds as they are
    assert first == {
        "q": 1,
        "c": "cell-1",
        "h": first["h"],
        "src": "x1 = 1",
        "t": 1001.0,
        "d": 1.5,
        "def": ["df"],
        "f": [{"p": "/data/in.csv", "h": "a" * 64, "z": 10, "w": "open", "t": 5}],
        "p": {"alpha": 0.5},
    }  # no session nor notebook (the file's), no count (== seq), no status ("ok")
    assert second["dp"] == [{"n": "df", "x": ":1"}, {"n": "other", "x": "s0:7"}]
    assert second["me"] == [
        {"n": "auc", "v": 0.9},
        {"n": "auc", "v": 0.8, "s": 3, "sl": "plan=pro"},
    ]
    assert (third["s"], third["nb"]) == ("s1", "/nb/b.ipynb")  # renamed: both written
    assert (fourth["st"], fourth["n"], fourth["r"], fourth["sp"]) == ("error", 9, "r1", "train")
    assert "s" not in fourth  # back in the session's notebook
    assert (fifth["kind"], fifth["session"], fifth["seq"]) == ("execution", "s1", 5)
    assert "execution_count" not in fifth  # None in the long form
    assert sum(len(line) for line in writer.path.read_bytes().splitlines()[1:]) < 0.5 * sum(
        len(dumps(r)) for r in _records()[1:]
    )


def test_a_writer_without_the_files_session_record_writes_the_session(layout: Layout) -> None:
    writer = JournalWriter(layout.journal_dir, "w")
    writer.append(execution("s9", 1))
    writer.close()
    line = json.loads(writer.path.read_bytes())
    assert (line["s"], line["nb"]) == ("s9", "/nb/a.ipynb")
    assert [r[:2] for r in _tables(layout)["executions"]] == [("s9:1", "s9")]


def test_records_reads_every_form_back_whole(tmp_path: Path) -> None:
    records = _records()
    as_written = json.loads(  # tuples as lists
        json.dumps([{"types": {}, **r} if r["kind"] == "execution" else r for r in records])
    )
    for form, lines in _FORMS.items():
        path = tmp_path / f"{form}.ndjson"
        path.write_bytes(lines(records) + b'{"q":6,"t":')  # a torn last line
        assert list(journal.records(path)) == as_written, form


def test_loads_without_the_file_leaves_the_session_unknown() -> None:
    line = journal.line_of(execution("s1", 1), _context("s1", "/nb/a.ipynb"))
    record = journal.loads(line)
    assert (record["id"], record["session"], record["notebook"]) == (None, None, None)
    assert journal.loads(line, _context("s1", "/nb/a.ipynb"))["id"] == "s1:1"


def _context(name: str, notebook: str) -> journal.FileContext:
    context = journal.FileContext()
    context.learn(session(name, notebook))
    return context


def test_a_short_line_without_any_session_record_is_refused(layout: Layout) -> None:
    layout.journal_dir.mkdir(parents=True)
    line = journal.line_of(execution("s1", 1), _context("s1", "/nb/a.ipynb"))
    (layout.journal_dir / "k.ndjson").write_bytes(line)
    with Store.open(layout) as store:
        assert store.query("SELECT count(*) FROM executions")[1] == [(0,)]
        [error] = store.journal_errors()
    assert "execution record without a valid session / seq" in str(error)


def test_a_store_of_the_version_before_migrates_and_reads_short_lines_after_its_sessions(
    layout: Layout,
) -> None:
    """The session record ingested by the version before (no offset kept): the file's
    short lines after it still find their session."""
    records = _records()
    lines = _short(records).splitlines(keepends=True)
    layout.journal_dir.mkdir(parents=True)
    path = layout.journal_dir / "k.ndjson"
    path.write_bytes(lines[0])
    with Store.open(layout):
        pass
    con = duckdb.connect(str(layout.db_path))
    con.execute("ALTER TABLE sessions DROP COLUMN journal_offset")
    con.execute("DELETE FROM schema_version WHERE version = ?", [schema.VERSION])
    con.close()
    with path.open("ab") as f:
        f.write(b"".join(lines[1:]))
    tables = _tables(layout)
    assert [(r[0], r[1], r[3]) for r in tables["executions"]][:2] == [
        ("s1:1", "s1", "/nb/a.ipynb"),
        ("s1:2", "s1", "/nb/a.ipynb"),
    ]


def test_the_fields_left_out_when_empty_are_the_rows_fields() -> None:
    from mlprod_nb.journal import _EXECUTION_ROWS
    from mlprod_nb.records import ExecutionRecord
    from mlprod_nb.store import layout

    rows = {f.path[0] for f in layout.row_fields(ExecutionRecord)}
    assert rows - {"source"} == set(_EXECUTION_ROWS)  # a source is left out only when None
    short = {k.field for k in journal.line_keys(ExecutionRecord).values() if k.empty is not None}
    assert short == set(_EXECUTION_ROWS)


def test_every_field_of_an_execution_has_a_short_key_of_its_own() -> None:
    from mlprod_nb.records import ExecutionRecord

    keys = journal.line_keys(ExecutionRecord)
    assert set(ExecutionRecord.__annotations__) - set(keys) == {"v", "kind"}
    for table in [keys, *(k.items for k in keys.values() if k.items is not None)]:
        names = [k.key.lower() for k in table.values()]  # DuckDB's struct fields ignore case
        assert len(names) == len(set(names))


def test_loads_gives_back_the_record_as_written() -> None:
    for record in _records()[1:]:
        assert journal.loads(dumps(slim(record))) == {"types": {}, **record}  # as the tracer's
