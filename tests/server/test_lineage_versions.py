"""The lineage route answers a polling panel with what changed, not the whole lineage.

Every answer carries a version (``ETag``); the panel sends it back as
``If-None-Match`` (304 while nothing changed) and as ``since=VERSION`` (only the
executions, edges, cells and datasets new since that version). Merging such a
delta into the old answer, as the panel does, gives the full answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Fetch = Callable[..., Awaitable[Any]]
Api = Callable[..., Awaitable[tuple[int, Any]]]
PATH = "work/long.ipynb"
INGEST_S = 0.4  # past the server's ingest interval (0.3 s): new journal lines are read


async def _get(jp_fetch: Fetch, headers: dict[str, str] | None = None, **params: str) -> Any:
    return await jp_fetch(
        "mlprod-nb",
        "api",
        "lineage",
        params={"path": PATH, **params},
        headers=headers or {},
        raise_error=False,
    )


def _merge(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The panel's merge (labextension/src/lineage.ts), written again from the contract."""
    stale = set(delta["stale"])
    executions = [{**e, "stale": e["id"] in stale} for e in base["executions"]]
    changed = {d["path"]: d for d in delta["datasets"]}
    datasets = [changed.pop(d["path"], d) for d in base["datasets"]] + list(changed.values())
    return {
        "version": delta["version"],
        "notebook": delta["notebook"],
        "executions": executions + delta["executions"],
        "edges": base["edges"] + delta["edges"],
        "datasets": datasets,
        "cells": {**base["cells"], **delta["cells"]},
        "writers": delta["writers"],
    }


async def test_an_unchanged_lineage_answers_304_to_its_version(
    jp_fetch: Fetch, make_notebook: Callable[..., Path], journal: Callable[..., Any]
) -> None:
    notebook = make_notebook(PATH, [("", [])] * 2)
    record = journal(notebook)
    record.cell("c0", "x = 1", defines=["x"])
    first = await _get(jp_fetch)
    assert first.code == 200
    body = json.loads(first.body)
    tag = body["version"]
    assert first.headers["ETag"] == f'"{tag}"'

    again = await _get(jp_fetch, headers={"If-None-Match": f'"{tag}"'})
    assert (again.code, again.body) == (304, b"")
    assert again.headers["ETag"] == f'"{tag}"'
    cursor = await _get(jp_fetch, since=tag)
    assert (cursor.code, cursor.body) == (304, b"")

    record.cell("c1", "y = x + 1", defines=["y"], uses=["x"])
    await asyncio.sleep(INGEST_S)
    changed = await _get(jp_fetch, headers={"If-None-Match": f'"{tag}"'})
    assert changed.code == 200
    assert json.loads(changed.body)["version"] != tag


async def test_since_answers_only_the_new_executions_and_merges_to_the_full_answer(
    jp_fetch: Fetch,
    jp_root_dir: Path,
    make_notebook: Callable[..., Path],
    journal: Callable[..., Any],
) -> None:
    notebook = make_notebook(PATH, [("", [])] * 4)
    data = jp_root_dir / "work" / "data.csv"
    data.write_text("a\n1\n")
    record = journal(notebook)
    record.cell("c0", "df = read()", defines=["df"], files=[(data, "read")])
    record.cell("c1", "clean = df.dropna()", defines=["clean"], uses=["df"])
    base = json.loads((await _get(jp_fetch)).body)

    rerun = record.cell("c1", "clean = df.dropna()", defines=["clean"], uses=["df"])
    new = record.cell("c2", "fit(clean, read())", uses=["clean"], files=[(data, "read")])
    await asyncio.sleep(INGEST_S)
    answer = await _get(jp_fetch, since=base["version"])
    assert answer.code == 200
    delta = json.loads(answer.body)
    assert delta["since"] == base["version"]
    assert [e["id"] for e in delta["executions"]] == [rerun, new]
    assert {(e["source"], e["target"]) for e in delta["edges"]} == {
        (base["cells"]["c0"], rerun),
        (rerun, new),
    }
    assert delta["cells"] == {"c1": rerun, "c2": new}  # c0 did not change
    assert [d["path"] for d in delta["datasets"]] == [str(data.resolve())]  # a new reader

    full = json.loads((await _get(jp_fetch)).body)
    assert full["version"] == delta["version"]
    assert _merge(base, delta) == full
    assert len(answer.body) < len((await _get(jp_fetch)).body)


async def test_a_version_the_server_does_not_know_gets_the_full_answer(
    jp_fetch: Fetch, make_notebook: Callable[..., Path], journal: Callable[..., Any]
) -> None:
    notebook = make_notebook(PATH, [("", [])])
    journal(notebook).cell("c0", "x = 1", defines=["x"])
    answer = json.loads((await _get(jp_fetch, since="0123456789abcdef0123")).body)
    assert "since" not in answer
    assert [e["cell_id"] for e in answer["executions"]] == ["c0"]


async def test_a_changed_input_file_is_a_new_version_with_the_stale_marks(
    jp_fetch: Fetch,
    jp_root_dir: Path,
    make_notebook: Callable[..., Path],
    journal: Callable[..., Any],
) -> None:
    notebook = make_notebook(PATH, [("", [])] * 2)
    data = jp_root_dir / "work" / "data.csv"
    data.write_text("a\n1\n")
    record = journal(notebook)
    load = record.cell("c0", "df = read()", defines=["df"], files=[(data, "read")])
    use = record.cell("c1", "df.sum()", uses=["df"])
    base = json.loads((await _get(jp_fetch)).body)
    data.write_text("a\n2\n")  # no new execution: only the file changed
    delta = json.loads((await _get(jp_fetch, since=base["version"])).body)
    assert delta["executions"] == []
    assert sorted(delta["stale"]) == sorted([load, use])


async def test_versions_and_deltas_require_a_token(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any]
) -> None:
    notebook = make_notebook(PATH, [("", [])])
    journal(notebook).cell("c0", "x = 1", defines=["x"])
    status, body = await api("lineage", params={"path": PATH})
    assert status == 200
    for token in ("", "token wrong"):
        status, answer = await api(
            "lineage",
            params={"path": PATH, "since": body["version"]},
            headers={"Authorization": token, "If-None-Match": f'"{body["version"]}"'},
        )
        assert status == 403
        assert not answer or "executions" not in answer


def _version(ids: list[str]) -> Any:
    from mlprod_nb.lineage.model import Execution, NotebookLineage
    from mlprod_nb.server.versions import Fragments, build_version

    executions = tuple(
        Execution(i, "s1", n, "nb.ipynb", f"c{n}", n, 0.0, 1.0, "ok", None, None, "h")
        for n, i in enumerate(ids)
    )
    cells = {e.cell_id or "": e.id for e in executions}
    lineage = NotebookLineage("nb.ipynb", executions, (), (), cells)
    return build_version("nb.ipynb", lineage, frozenset(), Fragments())[0]


def test_a_delta_is_made_only_when_the_old_answer_is_a_prefix_of_the_new() -> None:
    from mlprod_nb.server.versions import delta

    base = _version(["s1:1", "s1:2"])
    grown = delta(base, _version(["s1:1", "s1:2", "s1:3"]))
    assert grown is not None
    assert [e["id"] for e in json.loads(grown)["executions"]] == ["s1:3"]
    # an execution gone (the notebook renamed back, say): only a full answer says it
    assert delta(base, _version(["s1:2", "s1:3"])) is None
    assert delta(base, _version(["s1:2", "s1:1"])) is None  # reordered


def test_the_spliced_answer_is_the_plain_encoding_of_the_same_lineage() -> None:
    """``versions.splice`` joins kept JSON for speed; the bytes are what encoding the
    whole answer at once gives, in full and in a delta."""
    from mlprod_nb.jsondata import jsonable
    from mlprod_nb.lineage.model import Edge, Execution, NotebookLineage
    from mlprod_nb.server.payload import encode
    from mlprod_nb.server.versions import Fragments, build_version, delta

    def lineage(n: int) -> NotebookLineage:
        executions = tuple(
            Execution(f"s1:{i}", "s1", i, "nb.ipynb", f"c{i}", i, 0.0, 1.5, "ok", None, None, "h")
            for i in range(n)
        )
        edges = tuple(Edge(f"s1:{i}", f"s1:{i + 1}", "name", "x") for i in range(n - 1))
        cells = {f"c{i}": f"s1:{i}" for i in range(n)}
        return NotebookLineage("nb.ipynb", executions, (), edges, cells)

    def plain(found: NotebookLineage, stale: frozenset[str], **more: object) -> dict[str, object]:
        executions = [{**jsonable(e), "stale": e.id in stale} for e in found.executions]
        return {
            **more,
            "executions": executions,
            "edges": found.edges,
            "datasets": found.datasets,
            "cells": found.cells,
            "notebook": "shown/nb.ipynb",
            "writers": found.writers,
        }

    stale = frozenset({"s1:1", "s1:2"})
    base, _ = build_version("shown/nb.ipynb", lineage(2), frozenset(), Fragments())
    grown, _ = build_version("shown/nb.ipynb", lineage(3), stale, Fragments())
    assert grown.body == encode(plain(lineage(3), stale, version=grown.tag))
    full = plain(lineage(3), stale)
    assert (
        delta(base, grown)
        == encode(
            {
                "version": grown.tag,
                "since": base.tag,
                "executions": full["executions"][2:],  # type: ignore[index]
                "edges": lineage(3).edges[1:],
                "datasets": [],
                "cells": {"c2": "s1:2"},
                "stale": ["s1:1", "s1:2"],
                "notebook": "shown/nb.ipynb",
                "writers": [],
            }
        )
    )
