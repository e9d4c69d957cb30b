"""The store's cache of executions already read: later reads equal a read from scratch."""

from __future__ import annotations

import shutil
from typing import Any

from mlprod_nb.journal import JournalWriter, dumps
from mlprod_nb.lineage.model import NotebookLineage
from mlprod_nb.paths import Layout
from mlprod_nb.store import Store, queries

from .records import execution, session

NB = "/nb/a.ipynb"


def _file(mode: str, sha: str, path: str = "/d/data.csv") -> dict[str, Any]:
    return {"path": path, "mode": mode, "sha256": sha * 64, "size": 3, "mtime_ns": 1, "via": "open"}


def _fresh(store: Store) -> NotebookLineage:
    return queries.notebook_lineage(store.con, NB)


def _ids(lineage: NotebookLineage) -> list[str]:
    return [e.id for e in lineage.executions]


def test_new_executions_and_file_versions_appear_after_a_cached_read(
    layout: Layout, writer: JournalWriter
) -> None:
    writer.append(session("s1", NB))
    writer.append(execution("s1", 1, files=[_file("write", "a")]))
    writer.append(execution("s1", 2, files=[_file("read", "a")], uses=["x1"]))
    with Store.open(layout) as store:
        first = store.notebook_lineage(NB)
        assert _ids(first) == ["s1:1", "s1:2"]
        writer.append(
            execution(
                "s1",
                3,
                files=[_file("write", "b"), _file("read", "b")],
                deps=[{"name": "x2", "execution": "s1:2"}],
                mutations=[{"name": "df", "how": "item", "known": True}],
                params={"alpha": 0.5, "password": "x"},
                metrics=[{"name": "loss", "value": 0.1, "step": 1}],
                checks=[{"message": "ok", "passed": False}],
                deletes=["tmp"],
            )
        )
        store.ingest()
        second = store.notebook_lineage(NB)
        assert second == _fresh(store)
    assert _ids(second) == ["s1:1", "s1:2", "s1:3"]
    (dataset,) = second.datasets
    assert [v.sha256[0] for v in dataset.versions] == ["a", "b"]
    assert second.executions[2].params == {"alpha": 0.5, "password": "<redacted>"}
    assert all(a is b for a, b in zip(second.executions, first.executions, strict=False))


def test_another_notebook_and_nothing_new_leave_the_answer_unchanged(
    layout: Layout, writer: JournalWriter
) -> None:
    writer.append(execution("s1", 1))
    with Store.open(layout) as store:
        first = store.notebook_lineage(NB)
        writer.append(execution("s2", 1, notebook="/nb/other.ipynb"))
        store.ingest()
        assert store.notebook_lineage(NB) == first == _fresh(store)
        assert _ids(store.notebook_lineage("/nb/other.ipynb")) == ["s2:1"]


def test_the_cache_outlives_the_store_and_notices_a_rebuilt_one(
    layout: Layout, writer: JournalWriter
) -> None:
    cache = queries.LineageCache()
    for seq in (1, 2):
        writer.append(execution("s1", seq))
    with Store.open(layout) as store:
        store.share_lineages(cache)
        assert _ids(store.notebook_lineage(NB)) == ["s1:1", "s1:2"]
    writer.append(execution("s1", 3))
    with Store.open(layout) as store:  # another process may have ingested meanwhile
        store.share_lineages(cache)
        assert _ids(store.notebook_lineage(NB)) == ["s1:1", "s1:2", "s1:3"]
    # the store moved aside and rebuilt from a journal holding other executions
    layout.db_path.unlink()
    writer.close()
    shutil.rmtree(layout.journal_dir)
    other = JournalWriter(layout.journal_dir, "other")
    for seq in (7, 8, 9, 10):
        other.append(execution("s9", seq))
    other.close()
    with Store.open(layout) as store:
        store.share_lineages(cache)
        rebuilt = store.notebook_lineage(NB)
        assert rebuilt == _fresh(store)
    assert _ids(rebuilt) == ["s9:7", "s9:8", "s9:9", "s9:10"]


def test_a_source_recorded_later_is_filled_in(layout: Layout, writer: JournalWriter) -> None:
    without = execution("s1", 1, source_text="y = 2")
    without["source"] = None
    writer.append(without)
    with Store.open(layout) as store:
        assert store.notebook_lineage(NB).executions[0].source is None
        writer.append(execution("s1", 2, source_text="y = 2"))
        store.ingest()
        lineage = store.notebook_lineage(NB)
        assert lineage == _fresh(store)
    assert [e.source for e in lineage.executions] == ["y = 2", "y = 2"]


def test_an_execution_ingested_twice_reads_as_from_scratch(
    layout: Layout, writer: JournalWriter
) -> None:
    for seq in (1, 2):
        writer.append(execution("s1", seq))
    with Store.open(layout) as store:
        store.notebook_lineage(NB)
        writer.close()
        writer.path.write_bytes(dumps(execution("s1", 2)))  # a replaced journal file
        store.ingest()
        assert store.notebook_lineage(NB) == _fresh(store)
