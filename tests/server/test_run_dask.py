"""The server's executor settings: runs started from the panel run on the Dask cluster named."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import finish_run

Api = Callable[..., Awaitable[tuple[int, Any]]]


@pytest.fixture
def scheduler() -> Iterator[str]:
    from distributed import LocalCluster

    cluster = LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture
def jp_server_config(store_home: Path, scheduler: str) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlprod_nb": True}},
        "MlprodApp": {
            "store_home": str(store_home),
            "executor": "dask",
            "scheduler_address": scheduler,
        },
    }


@pytest.mark.slow
async def test_a_panel_run_uses_the_servers_dask_cluster(
    api: Api, make_notebook: Callable[..., Path], store_home: Path, scheduler: str
) -> None:
    make_notebook("flow.ipynb", [("n = 2", ["parameters"]), ("m = n * 3", ["step:a"])])
    status, body = await api("export", method="POST", body={"path": "flow.ipynb"})
    assert status == 200, body
    status, body = await api("run", method="POST", body={"pipeline": body["pipeline"]})
    assert status == 202, body
    run_id = body["run_id"]
    done = await finish_run(api, run_id)
    assert done["status"] == "ok", done["log_tail"]
    folder = store_home / "runs" / run_id
    argv = json.loads((folder / "launch.json").read_text())["argv"]
    flags = argv[argv.index("--executor") :][:4]
    assert flags == ["--executor", "dask", "--scheduler-address", scheduler]
    assert f"dask: connected to the scheduler at {scheduler}" in (folder / "driver.log").read_text()
