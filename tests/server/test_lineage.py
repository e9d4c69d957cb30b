"""Lineage and staleness of a notebook through the API, from journal records in the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from mlprod_nb.paths import Layout
from mlprod_nb.store import Store

Api = Callable[..., Awaitable[tuple[int, Any]]]


async def test_lineage_and_stale_follow_the_journal(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any], jp_root_dir: Path
) -> None:
    notebook = make_notebook("work/churn.ipynb", [("", [])] * 3)
    data = jp_root_dir / "work" / "data.csv"
    data.write_text("a,b\n1,2\n")
    out = jp_root_dir / "work" / "clean.csv"
    out.write_text("a\n1\n")
    record = journal(notebook)
    load = record.cell("c0", "df = read(data.csv)", defines=["df"], files=[(data, "read")])
    clean = record.cell("c1", "clean = df.dropna()", defines=["clean"], uses=["df"])
    save = record.cell("c2", "clean.to_csv(...)", uses=["clean"], files=[(out, "write")])

    status, body = await api("lineage", params={"path": "work/churn.ipynb"})
    assert status == 200, body
    assert body["notebook"] == "work/churn.ipynb"
    assert [e["id"] for e in body["executions"]] == [load, clean, save]
    assert body["cells"] == {"c0": load, "c1": clean, "c2": save}
    assert {(e["source"], e["target"], e["kind"], e["label"]) for e in body["edges"]} >= {
        (load, clean, "name", "df"),
        (clean, save, "name", "clean"),
    }
    paths = {d["path"]: d for d in body["datasets"]}
    assert paths[str(data.resolve())]["versions"][0]["readers"] == [load]
    assert paths[str(out.resolve())]["versions"][0]["writers"] == [save]
    assert [e["stale"] for e in body["executions"]] == [False, False, False]

    status, body = await api("stale", params={"path": "work/churn.ipynb"})
    assert (status, body["stale"]) == (200, [])

    data.write_text("a,b\n1,2\n3,4\n")  # the input changes: c0 and everything downstream
    status, body = await api("stale", params={"path": "work/churn.ipynb"})
    assert status == 200, body
    stale = {s["cell_id"]: s for s in body["stale"]}
    assert set(stale) == {"c0", "c1", "c2"}
    assert stale["c0"]["reasons"][0]["kind"] == "file"
    assert stale["c0"]["reasons"][0]["path"] == str(data.resolve())
    assert stale["c0"]["reasons"][0]["detail"].startswith("work/data.csv changed")  # root-relative
    assert stale["c0"]["state"] == "stale"
    assert stale["c1"]["state"] == "downstream"

    status, body = await api("lineage", params={"path": "work/churn.ipynb"})
    assert [e["stale"] for e in body["executions"]] == [True, True, True]


async def test_new_executions_show_up_without_restart(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any]
) -> None:
    notebook = make_notebook("inc.ipynb", [("", [])] * 2)
    record = journal(notebook)
    record.cell("c0", "x = 1", defines=["x"])
    status, body = await api("lineage", params={"path": "inc.ipynb"})
    assert (status, len(body["executions"])) == (200, 1)
    record.cell("c1", "y = x + 1", defines=["y"], uses=["x"])
    await asyncio.sleep(0.4)  # past the ingest interval
    status, body = await api("lineage", params={"path": "inc.ipynb"})
    assert (status, len(body["executions"])) == (200, 2)


async def test_unknown_notebook_with_a_store_is_404(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any]
) -> None:
    traced = make_notebook("traced.ipynb", [("", [])])
    journal(traced).cell("c0", "x = 1", defines=["x"])
    make_notebook("other.ipynb", [("", [])])
    status, body = await api("lineage", params={"path": "other.ipynb"})
    assert status == 404
    assert "no executions are recorded" in body["message"]


async def test_store_lock_is_released_when_idle(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any], store_home: Path
) -> None:
    notebook = make_notebook("idle.ipynb", [("", [])])
    journal(notebook).cell("c0", "x = 1", defines=["x"])
    status, _ = await api("lineage", params={"path": "idle.ipynb"})
    assert status == 200
    await asyncio.sleep(1.2)  # idle_close_seconds is 0.5 in these tests
    with Store.open(Layout(store_home), timeout=0.2) as store:  # the CLI can take it now
        assert store.notebook_lineage(notebook).executions
    status, _ = await api("lineage", params={"path": "idle.ipynb"})
    assert status == 200  # and the server reopens it on demand


async def test_kept_answers_need_no_lock_until_the_journal_changes(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any], store_home: Path
) -> None:
    notebook = make_notebook("kept.ipynb", [("", [])] * 2)
    record = journal(notebook)
    record.cell("c0", "x = 1", defines=["x"])
    status, _ = await api("lineage", params={"path": "kept.ipynb"})
    assert status == 200
    await asyncio.sleep(1.2)  # the server closes the store when idle
    with Store.open(Layout(store_home), timeout=1.0):  # another process holds the lock
        status, body = await api("lineage", params={"path": "kept.ipynb"})
        assert (status, len(body["executions"])) == (200, 1)  # nothing new: kept answer
        record.cell("c1", "y = x", defines=["y"], uses=["x"])
        status, body = await api("lineage", params={"path": "kept.ipynb"})
        assert status == 503, body  # new records, and the lock is taken: retry later
        assert "locked" in body["message"]
    status, body = await api("lineage", params={"path": "kept.ipynb"})
    assert (status, len(body["executions"])) == (200, 2)


async def test_new_executions_edges_and_file_versions_show_up_after_the_store_closed(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any], jp_root_dir: Path
) -> None:
    # executions, edges and their JSON are kept between answers: only new ones are added
    notebook = make_notebook("grow.ipynb", [("", [])] * 3)
    data = jp_root_dir / "grow.csv"
    data.write_text("a\n1\n")
    record = journal(notebook)
    first = record.cell("c0", "save()", defines=["df"], files=[(data, "write")])
    status, body = await api("lineage", params={"path": "grow.ipynb"})
    assert (status, [e["id"] for e in body["executions"]]) == (200, [first])
    await asyncio.sleep(1.2)  # idle_close_seconds is 0.5: the store is closed and reopened
    data.write_text("a\n1\n2\n")
    second = record.cell("c0", "save()", defines=["df"], files=[(data, "write")])
    reader = record.cell("c1", "use(df)", uses=["df"], files=[(data, "read")])
    status, body = await api("lineage", params={"path": "grow.ipynb"})
    assert status == 200, body
    assert [e["id"] for e in body["executions"]] == [first, second, reader]
    edges = {(e["source"], e["target"], e["kind"]) for e in body["edges"]}
    assert {(second, reader, "name"), (second, reader, "file")} <= edges
    (dataset,) = body["datasets"]
    assert len(dataset["versions"]) == 2
    assert dataset["versions"][1]["readers"] == [reader]
    assert body["cells"] == {"c0": second, "c1": reader}
