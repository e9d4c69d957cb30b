"""Renaming or moving a notebook in Lab (the contents API, as Lab does it) keeps its lineage."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

Api = Callable[..., Awaitable[tuple[int, Any]]]
Fetch = Callable[..., Awaitable[Any]]


async def _rename(jp_fetch: Fetch, old: str, new: str) -> None:
    response = await jp_fetch(
        "api", "contents", *old.split("/"), method="PATCH", body=json.dumps({"path": new})
    )
    assert response.code == 200


async def _executions(api: Api, path: str) -> tuple[int, list[str]]:
    status, body = await api("lineage", params={"path": path})
    return status, [e["id"] for e in body.get("executions", [])] if status == 200 else []


async def test_a_renamed_and_moved_notebook_keeps_its_lineage(
    api: Api,
    jp_fetch: Fetch,
    make_notebook: Callable[..., Path],
    journal: Callable[..., Any],
    jp_root_dir: Path,
) -> None:
    notebook = make_notebook("Untitled.ipynb", [("", [])] * 2)
    record = journal(notebook)
    first = record.cell("c0", "x = 1", defines=["x"])
    second = record.cell("c1", "y = x", defines=["y"], uses=["x"])

    await _rename(jp_fetch, "Untitled.ipynb", "churn.ipynb")  # Lab's first-save rename
    assert await _executions(api, "churn.ipynb") == (200, [first, second])
    status, _ = await _executions(api, "Untitled.ipynb")
    assert status == 404

    (jp_root_dir / "work").mkdir()
    await _rename(jp_fetch, "churn.ipynb", "work/churn.ipynb")  # a move to another folder
    assert await _executions(api, "work/churn.ipynb") == (200, [first, second])

    # the kernel goes on under the new path (the panel told the tracer)
    record.notebook = str((jp_root_dir / "work" / "churn.ipynb").resolve())
    third = record.cell("c1", "y = x + 1", defines=["y"], uses=["x"])
    await asyncio.sleep(0.4)  # past the ingest interval
    status, ids = await _executions(api, "work/churn.ipynb")
    assert (status, ids) == (200, [first, second, third])
    status, body = await api("lineage", params={"path": "work/churn.ipynb"})
    assert body["cells"] == {"c0": first, "c1": third}


async def test_a_new_notebook_at_an_old_name_starts_clean(
    api: Api,
    jp_fetch: Fetch,
    make_notebook: Callable[..., Path],
    journal: Callable[..., Any],
) -> None:
    notebook = make_notebook("Untitled.ipynb", [("", [])])
    old = journal(notebook).cell("c0", "x = 1", defines=["x"])
    await _rename(jp_fetch, "Untitled.ipynb", "first.ipynb")
    fresh = make_notebook("Untitled.ipynb", [("", [])])  # File > New notebook again
    again = journal(fresh)
    again.session = "s2"
    new = again.cell("c0", "z = 2", defines=["z"])
    assert await _executions(api, "first.ipynb") == (200, [old])
    assert await _executions(api, "Untitled.ipynb") == (200, [new])


def test_mlprod_nb_mv_moves_the_file_and_its_lineage(tmp_path: Path) -> None:
    """A move outside Lab: ``mlprod-nb mv`` moves the file and the lineage follows."""
    home = tmp_path / ".mlprod"
    notebook = tmp_path / "a.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python"}
    cell = nbformat.v4.new_code_cell("x = 1")
    cell["id"] = "c0"
    nb.cells.append(cell)
    nbformat.write(nb, notebook)
    env = {"MLPROD_NB_HOME": str(home), "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlprod_nb.cli", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )

    assert cli("trace", "a.ipynb").returncode == 0
    (tmp_path / "done").mkdir()
    moved = cli("mv", "a.ipynb", "done")
    assert moved.returncode == 0, moved.stderr
    assert (tmp_path / "done" / "a.ipynb").is_file()
    assert not notebook.exists()
    lineage = cli("lineage", "done/a.ipynb", "--json")
    assert lineage.returncode == 0, lineage.stderr
    assert [e["cell_id"] for e in json.loads(lineage.stdout)["executions"]] == ["c0"]

    refused = cli("mv", "done/a.ipynb", "done")  # onto itself: exists already
    assert refused.returncode == 2
    assert "exists already" in refused.stderr
    assert "Traceback" not in refused.stderr


async def test_the_new_path_has_the_lineage_as_soon_as_the_rename_answers(
    api: Api,
    jp_fetch: Fetch,
    make_notebook: Callable[..., Path],
    journal: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The panel asks for the new path the moment Lab's rename answers: the move must be
    in the journal by then, even when writing it is slow (a busy disk)."""
    from mlprod_nb import moves

    notebook = make_notebook("Untitled.ipynb", [("", [])])
    first = journal(notebook).cell("c0", "x = 1", defines=["x"])
    assert await _executions(api, "Untitled.ipynb") == (200, [first])  # the store is held
    slow_record = moves.record_move

    def slowly(*args: Any) -> Any:
        time.sleep(0.3)
        return slow_record(*args)

    monkeypatch.setattr(moves, "record_move", slowly)
    await _rename(jp_fetch, "Untitled.ipynb", "first.ipynb")
    assert await _executions(api, "first.ipynb") == (200, [first])
