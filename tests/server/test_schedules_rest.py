"""Schedules through the panel's REST routes on a real server, and the server firing them.

The firing test sets the server's schedule clock 150 s ahead (time is injected), so a
``* * * * *`` schedule is due at the loop's first tick: nothing waits for a minute to pass.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import finish_run
from .test_restart import Server, running

Api = Callable[..., Awaitable[tuple[int, Any]]]

FLOW = [
    ("alpha = 2", ["parameters"]),
    ("rows = open('data/raw.csv').read().splitlines()", ["step:load"]),
    ("total = len(rows) * alpha", ["step:train"]),
]


@pytest.fixture
def schedule_loop() -> dict[str, float]:
    """The firing loop's settings: off unless a test turns it on."""
    return {"schedule_interval_seconds": 0.0}


@pytest.fixture
def jp_server_config(store_home: Path, schedule_loop: dict[str, float]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlprod_nb": True}},
        "MlprodApp": {
            "store_home": str(store_home),
            "idle_close_seconds": 0.5,
            "lock_timeout_seconds": 5.0,
            **schedule_loop,
        },
    }


async def _export(api: Api, make_notebook: Callable[..., Path], root: Path) -> str:
    (root / "work" / "data").mkdir(parents=True, exist_ok=True)
    (root / "work" / "data" / "raw.csv").write_text("a\n1\n2\n")
    make_notebook("work/flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "work/flow.ipynb"})
    assert (status, body["ok"]) == (200, True), body
    return str(body["pipeline"])


ROUTES = [
    ("schedules", "GET"),
    ("schedules", "POST"),
    ("schedules/s-000000", "PATCH"),
    ("schedules/s-000000", "DELETE"),
    ("schedules/s-000000/history", "GET"),
    ("schedules/preview", "GET"),
    ("schedules/inputs", "GET"),
]


@pytest.mark.parametrize(("route", "method"), ROUTES, ids=[f"{m} {r}" for r, m in ROUTES])
@pytest.mark.parametrize("token", ["", "token wrong"], ids=["no-token", "wrong-token"])
async def test_every_schedule_route_requires_a_token(
    api: Api, route: str, method: str, token: str
) -> None:
    body = {"paused": True} if method in ("POST", "PATCH") else None
    status, _ = await api(route, method=method, body=body, headers={"Authorization": token})
    assert status == 403


async def test_create_list_pause_history_delete(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    pipeline = await _export(api, make_notebook, jp_root_dir)
    request = {
        "pipeline": pipeline,
        "cron": "0 3 * * *",
        "tz": "Europe/Paris",
        "params": {"alpha": "5"},  # text from the form, typed as the pipeline's int
        "name": "nightly",
    }
    status, created = await api("schedules", method="POST", body=request)
    assert status == 201, created
    sid = created["id"]
    assert (created["pipeline"], created["cron"], created["tz"]) == (
        pipeline,
        "0 3 * * *",
        "Europe/Paris",
    )
    assert created["params"] == {"alpha": 5}
    assert created["paused"] is False

    status, body = await api("schedules", params={"path": "work/flow.ipynb"})
    assert status == 200, body
    [listed] = body["schedules"]
    assert (listed["id"], listed["name"], listed["pipeline"]) == (sid, "nightly", pipeline)
    assert listed["next_fire"] is not None

    status, paused = await api(f"schedules/{sid}", method="PATCH", body={"paused": True})
    assert (status, paused["paused"]) == (200, True), paused
    status, body = await api("schedules", params={"path": "work/flow.ipynb"})
    assert body["schedules"][0]["paused"] is True

    status, changed = await api(
        f"schedules/{sid}", method="PATCH", body={"paused": False, "cron": "30 6 * * 1-5"}
    )
    assert (status, changed["paused"], changed["cron"]) == (200, False, "30 6 * * 1-5"), changed

    status, body = await api(f"schedules/{sid}/history")
    assert (status, body) == (200, {"fires": []})

    status, _ = await api(f"schedules/{sid}", method="DELETE")
    assert status == 204
    status, body = await api("schedules", params={"path": "work/flow.ipynb"})
    assert body["schedules"] == []
    status, body = await api(f"schedules/{sid}", method="PATCH", body={"paused": True})
    assert status == 404, body
    assert sid in body["message"]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"cron": "61 * * * *"}, "61 * * * *"),
        ({"cron": "every night"}, "every night"),
        ({"tz": "Mars/Olympus"}, "Mars/Olympus"),
        ({"params": {"alpha": "many"}}, "alpha"),
        ({"params": {"beta": 1}}, "beta"),
        ({"cron": None}, "trigger"),
        ({"pipeline": "../outside.pipeline"}, ".."),
    ],
    ids=[
        "bad-minute",
        "not-cron",
        "unknown-zone",
        "bad-type",
        "unknown-param",
        "no-trigger",
        "dotdot",
    ],
)
async def test_bad_schedule_is_refused_naming_the_problem_and_nothing_stored(
    api: Api,
    make_notebook: Callable[..., Path],
    jp_root_dir: Path,
    change: dict[str, Any],
    named: str,
) -> None:
    pipeline = await _export(api, make_notebook, jp_root_dir)
    request = {"pipeline": pipeline, "cron": "0 3 * * *", "tz": "UTC", **change}
    status, body = await api("schedules", method="POST", body=request)
    assert status in (400, 403), body
    assert named in body["message"]
    status, body = await api("schedules", params={"path": "work/flow.ipynb"})
    assert (status, body["schedules"]) == (200, [])


async def test_preview_in_the_users_zone(api: Api) -> None:
    status, body = await api("schedules/preview", params={"cron": "0 3 * * *", "tz": "Asia/Tokyo"})
    assert status == 200, body
    assert body["description"]
    assert len(body["next"]) == 3
    assert all(re.search(r"T03:00(:00)?\+09:00$", when) for when in body["next"]), body["next"]
    assert body["next"] == sorted(body["next"])

    status, body = await api("schedules/preview", params={"cron": "0 25 * * *", "tz": "UTC"})
    assert status == 400
    assert "0 25 * * *" in body["message"]
    status, body = await api("schedules/preview", params={"cron": "0 3 * * *", "tz": "Nowhere/X"})
    assert status == 400
    assert "Nowhere/X" in body["message"]


async def test_inputs_name_the_files_the_notebook_read(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path, journal: Any
) -> None:
    pipeline = await _export(api, make_notebook, jp_root_dir)
    raw = jp_root_dir / "work" / "data" / "raw.csv"
    traced = journal(jp_root_dir / "work" / "flow.ipynb")  # the notebook ran, traced
    traced.cell("c0", FLOW[0][0], defines=["alpha"])
    traced.cell("c1", FLOW[1][0], defines=["rows"], files=[(raw, "read")])
    status, body = await api("schedules/inputs", params={"pipeline": pipeline})
    assert status == 200, body
    assert body["files"] == ["work/data/raw.csv"], body  # relative to the root
    status, body = await api("schedules/inputs", params={"pipeline": "../elsewhere"})
    assert status == 403


@pytest.mark.slow
@pytest.mark.parametrize(
    "schedule_loop",
    [{"schedule_interval_seconds": 0.2}],
)
async def test_the_server_fires_a_due_schedule(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path, jp_serverapp: Any
) -> None:
    extension = jp_serverapp.extension_manager.extension_points["mlprod_nb"].app
    extension.schedules.clock = lambda: time.time() + 150
    # what a server does once its event loop runs (pytest-jupyter's server never does):
    # the extensions' start hooks, here the firing loop
    await jp_serverapp._post_start()
    pipeline = await _export(api, make_notebook, jp_root_dir)
    request = {"pipeline": pipeline, "cron": "* * * * *", "tz": "UTC", "params": {"alpha": 3}}
    status, created = await api("schedules", method="POST", body=request)
    assert status == 201, created
    sid = created["id"]

    deadline = asyncio.get_running_loop().time() + 60
    fires: list[dict[str, Any]] = []
    while not any(f["run"] for f in fires):
        assert asyncio.get_running_loop().time() < deadline, fires
        await asyncio.sleep(0.3)
        status, body = await api(f"schedules/{sid}/history")
        assert status == 200, body
        fires = body["fires"]
    run_id = next(f["run"] for f in fires if f["run"])
    assert "cron" in next(f["reason"] for f in fires if f["run"])
    done = await finish_run(api, run_id)
    assert done["status"] == "ok", done.get("log_tail")

    status, body = await api("runs", params={"pipeline": pipeline})
    [run] = [r for r in body["runs"] if r["id"] == run_id]
    assert run["params"]["alpha"] == 3
    status, body = await api(f"schedules/{sid}/history")
    dues = [f["due"] for f in body["fires"] if f["run"]]
    assert len(dues) == len(set(dues)), body["fires"]  # never two runs for one fire time


@pytest.mark.slow
def test_a_schedule_survives_a_server_restart(
    tmp_path: Path, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    (jp_root_dir / "work" / "data").mkdir(parents=True)
    (jp_root_dir / "work" / "data" / "raw.csv").write_text("a\n1\n")
    make_notebook("work/flow.ipynb", FLOW)
    with running(Server(jp_root_dir, jp_root_dir / ".mlprod"), tmp_path) as server:
        status, body = server.request("POST", "export", {"path": "work/flow.ipynb"})
        assert status == 200, body
        status, created = server.request(
            "POST",
            "schedules",
            {"pipeline": body["pipeline"], "cron": "0 3 * * *", "tz": "Europe/Paris"},
        )
        assert status == 201, created
        assert server.request("PATCH", f"schedules/{created['id']}", {"paused": True})[0] == 200
    with running(Server(jp_root_dir, jp_root_dir / ".mlprod"), tmp_path) as again:
        status, body = again.request("GET", "schedules?path=work/flow.ipynb")
        assert status == 200, body
        [kept] = body["schedules"]
        assert (kept["id"], kept["cron"], kept["tz"], kept["paused"]) == (
            created["id"],
            "0 3 * * *",
            "Europe/Paris",
            True,
        )
