"""Lineage of a notebook traced by the real tracer in a real kernel (``mlprod-nb trace``)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

Api = Callable[..., Awaitable[tuple[int, Any]]]


def _cli(store_home: Path) -> Callable[..., Awaitable[Any]]:
    """``await cli(*args)``: ``mlprod-nb ARGS`` in a child process, its JSON when --json."""
    env = {**os.environ, "MLPROD_NB_HOME": str(store_home)}

    async def cli(*args: str) -> Any:
        # asynchronous, so the server (in this process) can let go of the store meanwhile
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "mlprod_nb.cli",
            *args,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(child.communicate(), 240)
        assert child.returncode == 0, err.decode()
        return json.loads(out) if "--json" in args else None

    return cli


@pytest.mark.slow
async def test_lineage_of_a_traced_notebook(
    api: Api, make_notebook: Callable[..., Path], store_home: Path, jp_root_dir: Path
) -> None:
    (jp_root_dir / "nb").mkdir()
    (jp_root_dir / "nb" / "data.csv").write_text("a,b\n1,2\n3,4\n")
    notebook = make_notebook(
        "nb/traced.ipynb",
        [
            ("rows = open('data.csv').read().splitlines()", []),
            ("count = len(rows) - 1", []),
            ("with open('out.txt', 'w') as f:\n    f.write(str(count))", []),
        ],
    )
    env = {**os.environ, "MLPROD_NB_HOME": str(store_home)}
    done = subprocess.run(
        [sys.executable, "-m", "mlprod_nb.cli", "trace", str(notebook)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    status, body = await api("lineage", params={"path": "nb/traced.ipynb"})
    assert status == 200, body
    by_cell = {e["cell_id"]: e for e in body["executions"]}
    assert set(by_cell) == {"c0", "c1", "c2"}
    assert body["cells"] == {c: by_cell[c]["id"] for c in ("c0", "c1", "c2")}
    data = str((jp_root_dir / "nb" / "data.csv").resolve())
    assert [(f["path"], f["mode"]) for f in by_cell["c0"]["files"]] == [(data, "read")]
    out = str((jp_root_dir / "nb" / "out.txt").resolve())
    assert (out, "write") in [(f["path"], f["mode"]) for f in by_cell["c2"]["files"]]
    edges = {(e["source"], e["target"], e["label"]) for e in body["edges"]}
    assert (by_cell["c0"]["id"], by_cell["c1"]["id"], "rows") in edges
    assert (by_cell["c1"]["id"], by_cell["c2"]["id"], "count") in edges

    # the server profiles the version the session read, in its own thread
    digest = hashlib.sha256(b"a,b\n1,2\n3,4\n").hexdigest()
    profile = store_home / "profiles" / f"{digest}.json"
    deadline = time.monotonic() + 60
    while not profile.exists() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    profiled = json.loads(profile.read_text())
    assert profiled["path"] == data
    assert profiled["tables"][""]["rows"] == 2

    (jp_root_dir / "nb" / "data.csv").write_text("a,b\n9,9\n")
    status, body = await api("stale", params={"path": "nb/traced.ipynb"})
    assert status == 200, body
    assert [s["cell_id"] for s in body["stale"]] == ["c0", "c1", "c2"]


@pytest.mark.slow
async def test_the_cli_and_the_server_give_the_same_answers(
    api: Api, make_notebook: Callable[..., Path], store_home: Path, jp_root_dir: Path
) -> None:
    """One converter, one lineage: ``mlprod-nb lineage --json`` is the REST answer (the
    server adds its answer's version and a stale mark per execution, names the notebook
    relative to its root and leaves out the sessions' environments), and ``stale --json``
    lists the same cells."""
    (jp_root_dir / "nb").mkdir()
    (jp_root_dir / "nb" / "data.csv").write_text("a\n1\n")
    notebook = make_notebook(
        "nb/same.ipynb",
        [("rows = open('data.csv').read().splitlines()", []), ("n = len(rows)", [])],
    )
    cli = _cli(store_home)
    await cli("trace", str(notebook))
    (jp_root_dir / "nb" / "data.csv").write_text("a\n2\n")
    status, rest = await api("lineage", params={"path": "nb/same.ipynb"})
    assert status == 200, rest
    rest.pop("version", None)
    from_cli_lineage = await cli("lineage", str(notebook), "--json")
    # what the server adds for the panel: a stale mark per execution, its root-relative path
    for execution in rest["executions"]:
        execution.pop("stale")
    assert rest.pop("notebook") == "nb/same.ipynb"
    assert from_cli_lineage.pop("notebook") == str(notebook.resolve())
    assert from_cli_lineage.pop("sessions")  # kernels' environments: the CLI's, not the panel's
    assert from_cli_lineage == rest
    status, stale = await api("stale", params={"path": "nb/same.ipynb"})
    assert status == 200, stale
    from_cli = (await cli("stale", str(notebook), "--json"))["stale"]
    assert [s["cell_id"] for s in from_cli] == [s["cell_id"] for s in stale["stale"]]
    assert [s["cell_id"] for s in from_cli] == ["c0", "c1"]


@pytest.mark.slow
async def test_the_cli_and_the_server_list_the_same_runs(
    api: Api, make_notebook: Callable[..., Path], store_home: Path, jp_root_dir: Path
) -> None:
    """``mlprod-nb runs --json`` is the REST runs answer for the same runs; a step taken
    from cache shows the metrics its producing run logged, in both."""
    (jp_root_dir / "nb").mkdir()
    notebook = make_notebook(
        "nb/flow.ipynb",
        [
            ("import mlprod_nb", ["setup"]),
            ("alpha = 2", ["parameters"]),
            ("rows = [1, 2, 3]\nmlprod_nb.log_metric('rows', len(rows))", ["step:load"]),
            ("score = len(rows) * alpha\nmlprod_nb.log_metric('score', score)", ["step:train"]),
        ],
    )
    cli = _cli(store_home)
    await cli("export", str(notebook))
    folder = jp_root_dir / "nb" / "flow.pipeline"
    await cli("run", str(folder), "--run-id", "first")
    await cli("run", str(folder), "--run-id", "second", "-p", "alpha", "3")  # load: cached

    status, rest = await api("runs", params={"pipeline": "nb/flow.pipeline"})
    assert status == 200, rest
    from_cli = await cli("runs", str(folder), "--json")
    assert from_cli == rest
    second = next(r for r in rest["runs"] if r["id"] == "second")
    assert {s["name"]: s["cached"] for s in second["steps"]} == {"load": True, "train": False}
    assert second["metrics"] == {"rows": 3.0, "score": 9.0}  # rows: logged by the first run
