"""Journal ingest: exactly once, torn and corrupt lines, every record kind."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlprod_nb.errors import NotFoundError, StoreError
from mlprod_nb.journal import JournalWriter, dumps
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

from .records import execution, session


def _count(store: Store, table: str = "executions") -> int:
    _, rows = store.query(f"SELECT count(*) FROM {table}")
    return int(rows[0][0])


def test_ingest_is_exactly_once(layout: Layout, writer: JournalWriter) -> None:
    writer.append(session("s1", "/nb/a.ipynb"))
    for seq in range(1, 6):
        writer.append(execution("s1", seq))
    with Store.open(layout) as store:
        assert _count(store) == 5
        assert store.ingest() == 0
        assert _count(store) == 5
    with Store.open(layout) as store:
        assert _count(store) == 5
        writer.append(execution("s1", 6))
        assert store.ingest() == 1
        assert _count(store) == 6
        assert _count(store, "sessions") == 1


def test_torn_last_line_is_left_until_complete(layout: Layout, writer: JournalWriter) -> None:
    writer.append(execution("s1", 1))
    line = dumps(execution("s1", 2))
    with open(writer.path, "ab") as f:
        f.write(line[:40])
    with Store.open(layout) as store:
        assert _count(store) == 1
        assert store.journal_errors() == []
    with open(writer.path, "ab") as f:
        f.write(line[40:])
    with Store.open(layout) as store:
        assert _count(store) == 2
        assert store.journal_errors() == []


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (b'{"v":1,"kind":"execution","id":', "not valid JSON"),
        (b"\xff\xfe not utf-8", "not valid JSON"),
        (b"[1, 2, 3]", "not a record (no kind)"),
        (b'{"v":1,"kind":"telemetry"}', "unknown record kind telemetry"),
        (
            b'{"v":1,"kind":"execution","id":"s1:9"}',
            "execution record without a valid session / seq",
        ),
    ],
)
def test_corrupt_middle_line_is_skipped_and_recorded(
    layout: Layout, writer: JournalWriter, bad: bytes, reason: str
) -> None:
    writer.append(execution("s1", 1))
    offset = writer.path.stat().st_size
    with open(writer.path, "ab") as f:
        f.write(bad + b"\n")
    writer.append(execution("s1", 2))
    writer.append(execution("s1", 3))
    with Store.open(layout) as store:
        _, rows = store.query("SELECT id FROM executions ORDER BY seq")
        assert [r[0] for r in rows] == ["s1:1", "s1:2", "s1:3"]
        errors = store.journal_errors()
        assert len(errors) == 1
        file, at, why = errors[0]
        assert (file, at) == (writer.path.name, offset)
        assert why.startswith(reason)
    with Store.open(layout) as store:  # recorded once, not at every open
        assert len(store.journal_errors()) == 1


def test_every_field_of_an_execution_is_stored(layout: Layout, writer: JournalWriter) -> None:
    writer.append(
        execution(
            "s1",
            1,
            source_text="df['x'] = load(path)",
            uses=["df", "load", "path"],
            deletes=["tmp"],
            mutations=[{"name": "df", "how": "item", "known": True}],
            deps=[{"name": "df", "execution": "s1:0"}],
            files=[
                {
                    "path": "/d/in.csv",
                    "mode": "read",
                    "sha256": "a" * 64,
                    "size": 10,
                    "mtime_ns": 5,
                    "via": "open",
                }
            ],
            params={"alpha": 0.5, "layers": [1, 2], "api_token": "<redacted>", "password": "x"},
            metrics=[{"name": "loss", "value": 0.1, "step": 3}],
            checks=[{"message": "enough rows", "passed": True}],
            run="r1",
            step="train",
        )
    )
    with Store.open(layout) as store:
        (e,) = store.notebook_lineage("/nb/a.ipynb").executions
    assert e.source == "df['x'] = load(path)"
    assert e.uses == ("df", "load", "path")
    assert e.deletes == ("tmp",)
    assert e.mutations[0].how == "item"
    assert e.mutations[0].known
    assert e.deps[0].execution == "s1:0"
    assert e.files[0].sha256 == "a" * 64
    assert e.files[0].size == 10
    # a writer that forgot to redact is covered when reading back
    assert e.params == {
        "alpha": 0.5,
        "layers": [1, 2],
        "api_token": "<redacted>",
        "password": "<redacted>",
    }
    assert (e.metrics[0].name, e.metrics[0].value, e.metrics[0].step) == ("loss", 0.1, 3)
    assert e.checks[0].passed
    assert (e.run, e.step) == ("r1", "train")


def test_sources_and_dataset_versions_are_stored_once(
    layout: Layout, writer: JournalWriter
) -> None:
    read = {"path": "/d/x.csv", "mode": "read", "sha256": "b" * 64, "size": 1, "mtime_ns": 1}
    for seq in range(1, 4):
        writer.append(execution("s1", seq, source_text="same", files=[{**read, "via": "open"}]))
    with Store.open(layout) as store:
        writer.append(execution("s1", 4, source_text="same", files=[{**read, "via": "open"}]))
        store.ingest()
        assert _count(store, "sources") == 1
        assert _count(store, "datasets") == 1
        assert _count(store, "dataset_versions") == 1
        assert _count(store, "accesses") == 4


def test_session_environment_is_stored(layout: Layout, writer: JournalWriter) -> None:
    writer.append(session("s1", "/nb/a.ipynb"))
    writer.append(session("s2", "/nb/b.ipynb"))
    writer.append(execution("s1", 1))
    with Store.open(layout) as store:
        (only,) = store.notebook_lineage("/nb/a.ipynb").sessions
        assert (only.id, only.python, only.git_commit, only.git_dirty) == (
            "s1",
            "3.11.7",
            "abc",
            True,
        )
        _, rows = store.query(
            "SELECT python, cpu_count, git_commit, git_dirty, packages_hash FROM sessions "
            "WHERE id = ?",
            ["s1"],
        )
        assert rows == [("3.11.7", 2, "abc", True, "p" * 64)]
        _, packages = store.query("SELECT name, version FROM packages ORDER BY name")
        assert packages == [("duckdb", "2.0.1"), ("pandas", "3.1")]


def test_a_replaced_journal_file_is_noted_and_read_again(
    layout: Layout, writer: JournalWriter
) -> None:
    for seq in range(1, 4):
        writer.append(execution("s1", seq))
    with Store.open(layout) as store:
        assert _count(store) == 3
    writer.close()
    writer.path.write_bytes(dumps(execution("s2", 1)))
    with Store.open(layout) as store:
        assert _count(store) == 4
        assert "shrank" in store.journal_errors()[0][2]


def test_other_files_in_the_journal_folder_are_ignored(layout: Layout) -> None:
    layout.journal_dir.mkdir(parents=True)
    (layout.journal_dir / "notes.txt").write_text("hello\n")
    (layout.journal_dir / "sub.ndjson").mkdir()
    with Store.open(layout) as store:
        assert _count(store) == 0
        assert store.journal_errors() == []


def test_large_journals_are_ingested_in_several_transactions(
    layout: Layout, writer: JournalWriter
) -> None:
    from mlprod_nb.store import ingest

    for seq in range(1, 201):
        writer.append(execution("s1", seq))
    with Store.open(layout, ingest=False) as store:
        assert ingest.ingest(store.con, layout.journal_dir, budget=4096) == 200
        assert _count(store) == 200
        _, rows = store.query('SELECT "offset" FROM journal_offsets')
        assert rows == [(writer.path.stat().st_size,)]


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO executions (id, session, seq) VALUES ('x', 'y', 1)",
        "DELETE FROM executions",
        "DROP TABLE executions",
        "SELECT 1; DELETE FROM executions",
        "COPY executions TO '/tmp/out.csv'",
        "ATTACH '/tmp/other.duckdb'",
    ],
)
def test_query_refuses_anything_but_reading(layout: Layout, sql: str) -> None:
    with Store.open(layout) as store, pytest.raises(StoreError):
        store.query(sql)


def test_query_binds_parameters(layout: Layout, writer: JournalWriter) -> None:
    writer.append(execution("s1", 1))
    writer.append(execution("s1", 2))
    with Store.open(layout) as store:
        columns, rows = store.query("SELECT id FROM executions WHERE seq = ?", [2])
        assert (columns, rows) == (["id"], [("s1:2",)])
        with pytest.raises(StoreError, match="failed"):
            store.query("SELECT nothing FROM nowhere")


def test_unknown_notebook_is_not_found(layout: Layout, tmp_path: Path) -> None:
    with Store.open(layout) as store, pytest.raises(NotFoundError) as caught:
        store.notebook_lineage(tmp_path / "missing.ipynb")
    assert "missing.ipynb" in str(caught.value)
    assert "mlprod-nb trace" in str(caught.value)


def test_notebook_recorded_through_a_symlinked_folder(
    layout: Layout, writer: JournalWriter, tmp_path: Path
) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    writer.append(execution("s1", 1, notebook=str(link / "n.ipynb")))
    writer.append(execution("s2", 1, notebook=str(real / "m.ipynb")))
    with Store.open(layout) as store:
        assert [e.id for e in store.notebook_lineage(link / "n.ipynb").executions] == ["s1:1"]
        assert [e.id for e in store.notebook_lineage(link / "m.ipynb").executions] == ["s2:1"]


def test_a_file_written_by_another_notebook_links_the_two(
    layout: Layout, writer: JournalWriter
) -> None:
    def access(mode: str, sha: str) -> dict[str, object]:
        return {
            "path": "/d/x.parquet",
            "mode": mode,
            "sha256": sha,
            "size": 1,
            "mtime_ns": 1,
            "via": "pyarrow",
        }

    writer.append(execution("a", 1, notebook="/nb/prep.ipynb", files=[access("write", "1" * 64)]))
    writer.append(execution("a", 2, notebook="/nb/prep.ipynb", files=[access("write", "2" * 64)]))
    writer.append(execution("b", 3, notebook="/nb/train.ipynb", files=[access("read", "1" * 64)]))
    with Store.open(layout) as store:
        lineage = store.notebook_lineage("/nb/train.ipynb")
    assert [(e.source, e.target, e.kind) for e in lineage.edges] == [("a:1", "b:3", "file")]
    assert [(w.execution, w.notebook, w.cell_id) for w in lineage.writers] == [
        ("a:1", "/nb/prep.ipynb", "cell-1")
    ]
    (dataset,) = lineage.datasets
    assert [(v.sha256, v.writers, v.readers) for v in dataset.versions] == [
        ("1" * 64, ("a:1",), ("b:3",))
    ]
