"""The panel's runs list: runs of a sub-project's own store, and runs whose driver died."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from mlprod_nb.journal import JournalWriter

Api = Callable[..., Awaitable[tuple[int, Any]]]
DEAD_PID = 2**22 + 4242  # above pid_max's default: never a live process


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """No ``store_home``: each notebook's store is found from its folder, as the tracer does."""
    return {
        "ServerApp": {"jpserver_extensions": {"mlprod_nb": True}},
        "MlprodApp": {"idle_close_seconds": 0.5, "lock_timeout_seconds": 0.5},
    }


def _run_records(home: Path, run_id: str, notebook: Path, *, ended: bool) -> None:
    writer = JournalWriter(home / "journal", f"run-{run_id}")
    pipeline = notebook.parent / "nb.pipeline"
    writer.append(
        {
            "v": 1,
            "kind": "run",
            "id": run_id,
            "pipeline": str(pipeline),
            "pipeline_hash": "0" * 64,
            "source_notebook": str(notebook),
            "params": {},
            "started": time.time() - 60,
            "steps": ["a"],
            "resumed_from": None,
        }
    )
    if ended:
        writer.append(
            {
                "v": 1,
                "kind": "run_end",
                "id": run_id,
                "status": "ok",
                "finished": time.time(),
                "error": None,
            }
        )
    writer.close()


async def test_runs_of_a_subproject_store_are_listed_for_its_notebook(
    api: Api, jp_root_dir: Path, make_notebook: Callable[..., Path]
) -> None:
    (jp_root_dir / ".mlprod").mkdir()
    notebook = make_notebook("sub/nb.ipynb", [("x = 1", ["step:a"])])
    (jp_root_dir / "sub" / ".mlprod").mkdir()
    _run_records(jp_root_dir / "sub" / ".mlprod", "r-sub", notebook, ended=True)

    status, body = await api("runs", params={"path": "sub/nb.ipynb"})
    assert status == 200, body
    assert [(r["id"], r["status"]) for r in body["runs"]] == [("r-sub", "ok")]
    status, body = await api("runs")  # the root's own store holds no run
    assert (status, body["runs"]) == (200, [])
    status, body = await api("runs", params={"path": "sub/missing.ipynb"})
    assert status == 404, body


async def test_a_run_whose_driver_died_is_listed_interrupted_once(
    api: Api, jp_root_dir: Path, make_notebook: Callable[..., Path]
) -> None:
    home = jp_root_dir / ".mlprod"
    notebook = make_notebook("nb.ipynb", [("x = 1", ["step:a"])])
    _run_records(home, "r-dead", notebook, ended=False)
    folder = home / "runs" / "r-dead"
    folder.mkdir(parents=True)
    beat = time.time() - 30
    status_file = {
        "id": "r-dead",
        "status": "running",
        "pid": DEAD_PID,
        "driver": {"host": socket.gethostname(), "boot": None, "pid": DEAD_PID, "start": 1},
        "heartbeat": beat,
        "started": beat - 5,
        "steps": [{"name": "a", "status": "running"}],
        "progress": {"done": 0, "total": 1, "current": "a"},
    }
    (folder / "status.json").write_text(json.dumps(status_file))

    for _ in range(3):  # every look agrees; only the first records it
        status, body = await api("runs")
        assert status == 200, body
        (found,) = body["runs"]
        assert found["status"] == "interrupted"
        assert "stopped without finishing" in found["error"]
        assert "--resume r-dead" in found["error"]
    assert found["finished"] >= beat
    ends = [
        json.loads(line)
        for path in (home / "journal").glob("*.ndjson")
        for line in path.read_text().splitlines()
        if json.loads(line)["kind"] == "run_end"
    ]
    assert [(e["id"], e["status"]) for e in ends] == [("r-dead", "interrupted")]
    status, body = await api("run/r-dead")
    assert (status, body["status"], body["steps"][0]["status"]) == (
        200,
        "interrupted",
        "interrupted",
    )
