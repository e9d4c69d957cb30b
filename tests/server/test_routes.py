"""Every route against a real server requiring a token: auth, confinement, bad input."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

Api = Callable[..., Awaitable[tuple[int, Any]]]

ROUTES = [
    ("lineage", "GET", {"path": "a.ipynb"}),
    ("stale", "GET", {"path": "a.ipynb"}),
    ("pipeline", "GET", {"path": "a.ipynb"}),
    ("export", "POST", {"path": "a.ipynb"}),
    ("run", "POST", {"pipeline": "a.pipeline", "params": {}}),
    ("run/20260101-000000-abcdef", "GET", {}),
    ("runs", "GET", {}),
    ("compare", "GET", {"runs": "a,b"}),
]


@pytest.mark.parametrize(("route", "method", "args"), ROUTES, ids=[r[0] for r in ROUTES])
@pytest.mark.parametrize("token", ["", "token wrong"], ids=["no-token", "wrong-token"])
async def test_every_route_requires_a_token(
    api: Api, route: str, method: str, args: dict[str, Any], token: str
) -> None:
    params = args if method == "GET" else None
    body = args if method == "POST" else None
    status, _ = await api(
        route, method=method, params=params, body=body, headers={"Authorization": token}
    )
    assert status == 403


ESCAPES = [
    ("dotdot", "../outside.ipynb", 403),
    ("dotdot-inner", "sub/../../outside.ipynb", 403),
    ("absolute-outside", "/etc/passwd.ipynb", 403),
    ("symlink-out", "link/outside.ipynb", 403),
    ("not-a-notebook", "data.csv", 400),
    ("missing", None, 400),
    ("empty", "", 400),
    ("unknown-notebook", "nope.ipynb", 404),
    ("directory", "sub.ipynb", 404),
]


@pytest.fixture
def escape_targets(jp_root_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "outside.ipynb").write_text("{}")
    (jp_root_dir / "link").symlink_to(outside)
    (jp_root_dir / "data.csv").write_text("a\n1\n")
    (jp_root_dir / "sub.ipynb").mkdir()


@pytest.mark.usefixtures("escape_targets")
@pytest.mark.parametrize("route", ["lineage", "stale", "pipeline", "export"])
@pytest.mark.parametrize(("case", "path", "expected"), ESCAPES, ids=[e[0] for e in ESCAPES])
async def test_notebook_paths_are_confined(
    api: Api, route: str, case: str, path: str | None, expected: int
) -> None:
    args = {} if path is None else {"path": path}
    if route == "export":
        status, body = await api(route, method="POST", body=args)
    else:
        status, body = await api(route, params=args)
    assert status == expected, body
    assert body["message"]


async def test_absolute_path_inside_root_is_accepted(
    api: Api, make_notebook: Callable[..., Path]
) -> None:
    notebook = make_notebook("abs.ipynb", [("x = 1", [])])
    status, body = await api("pipeline", params={"path": str(notebook)})
    assert status == 200, body
    assert body["notebook"] == "abs.ipynb"


async def test_symlink_inside_root_is_accepted(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    make_notebook("real/nb.ipynb", [("x = 1", [])])
    (jp_root_dir / "alias").symlink_to(jp_root_dir / "real")
    status, body = await api("pipeline", params={"path": "alias/nb.ipynb"})
    assert status == 200, body


BAD_BODIES = [
    ("export", "not json", 400),
    ("export", "[1, 2]", 400),
    ("export", json.dumps({"path": 3}), 400),
    ("export", json.dumps({"path": "x.ipynb", "check": "yes"}), 400),
    ("run", "{", 400),
    ("run", json.dumps({"pipeline": "p", "params": [1]}), 400),
    ("run", json.dumps({"params": {}}), 400),
    ("run", json.dumps({"pipeline": "../p", "params": {}}), 403),
    ("run", json.dumps({"pipeline": "nowhere", "params": {}}), 404),
]


@pytest.mark.parametrize(("route", "raw", "expected"), BAD_BODIES)
async def test_malformed_bodies(api: Api, route: str, raw: str, expected: int) -> None:
    status, body = await api(route, method="POST", raw_body=raw)
    assert status == expected, body
    assert body["message"]


BAD_QUERIES = [
    ("compare", {}, 400),
    ("compare", {"runs": "only-one"}, 400),
    ("compare", {"runs": "a,../b"}, 400),
    ("compare", {"runs": ",".join(f"r{i}" for i in range(13))}, 400),
    ("run/..%2Fetc", {}, 400),
    ("run/no-such-run", {}, 404),
    ("runs", {"pipeline": "../x"}, 403),
    ("runs", {"pipeline": "missing.pipeline"}, 404),
]


@pytest.mark.parametrize(("route", "params", "expected"), BAD_QUERIES)
async def test_malformed_queries(
    api: Api, route: str, params: dict[str, str], expected: int
) -> None:
    status, body = await api(route, params=params)
    assert status == expected, body
    assert body["message"]


async def test_pipeline_outline(api: Api, make_notebook: Callable[..., Path]) -> None:
    make_notebook(
        "work/flow.ipynb",
        [
            ("import math", ["setup"]),
            ("alpha = 0.5\nepochs = 3\nname = 'm'\nfast = True", ["parameters"]),
            ("data = [1, 2, 3]", ["step:load"]),
            ("total = sum(data) * alpha", []),
            ("print(total, epochs, name, fast)", ["step:report"]),
        ],
    )
    status, body = await api("pipeline", params={"path": "work/flow.ipynb"})
    assert status == 200, body
    assert body["notebook"] == "work/flow.ipynb"
    assert body["steps"] == [
        {"name": "load", "cells": ["c2", "c3"]},
        {"name": "report", "cells": ["c4"]},
    ]
    assert body["cells"] == {"c2": "load", "c3": "load", "c4": "report"}
    assert body["parameters"] == [
        {"name": "alpha", "default": 0.5, "type": "float"},
        {"name": "epochs", "default": 3, "type": "int"},
        {"name": "name", "default": "m", "type": "str"},
        {"name": "fast", "default": True, "type": "bool"},
    ]


async def test_pipeline_tag_error_names_the_cell(
    api: Api, make_notebook: Callable[..., Path]
) -> None:
    make_notebook("dup.ipynb", [("a = 1", ["step:x"]), ("b = 2", ["step:x"])])
    status, body = await api("pipeline", params={"path": "dup.ipynb"})
    assert status == 422
    assert body["cell_id"] == "c1"
    assert "duplicate step name" in body["message"]


async def test_malformed_notebook_is_400(api: Api, jp_root_dir: Path) -> None:
    (jp_root_dir / "broken.ipynb").write_text("{not json")
    status, body = await api("pipeline", params={"path": "broken.ipynb"})
    assert status == 400
    assert "malformed notebook JSON" in body["message"]


async def test_lineage_of_unknown_notebook_is_404(
    api: Api, make_notebook: Callable[..., Path]
) -> None:
    make_notebook("never-run.ipynb", [("x = 1", [])])
    status, body = await api("lineage", params={"path": "never-run.ipynb"})
    assert status == 404, body
    assert body["message"]


async def test_runs_without_a_store_is_empty(api: Api) -> None:
    assert await api("runs") == (200, {"runs": []})


async def test_dead_runner_is_reported_interrupted(api: Api, store_home: Path) -> None:
    folder = store_home / "runs" / "20260101-000000-dead00"
    folder.mkdir(parents=True)
    status_file = {
        "id": "20260101-000000-dead00",
        "pipeline": "/x",
        "status": "running",
        "pid": 2**22 + 12345,  # above pid_max's default: never a live process
        "started": 1.0,
        "finished": None,
        "params": {},
        "steps": [{"name": "load", "status": "ok", "duration_ms": 5.0, "cached": False}],
        "progress": {"done": 1, "total": 2, "current": "train"},
        "error": None,
    }
    (folder / "status.json").write_text(json.dumps(status_file))
    (folder / "driver.log").write_text("".join(f"line {i}\n" for i in range(100)))
    status, body = await api("run/20260101-000000-dead00")
    assert status == 200, body
    assert body["status"] == "interrupted"
    assert "stopped without finishing" in body["error"]
    assert body["progress"] == {"done": 1, "total": 2, "current": None}
    assert body["log_tail"].splitlines()[-1] == "line 99"
    (end,) = (store_home / "journal").glob("run-20260101-000000-dead00-*.ndjson")
    assert json.loads(end.read_text())["status"] == "interrupted"  # recorded for the store
    assert len(body["log_tail"].splitlines()) == 40


async def test_live_runner_stays_running(api: Api, store_home: Path) -> None:
    folder = store_home / "runs" / "20260101-000000-live00"
    folder.mkdir(parents=True)
    (folder / "status.json").write_text(
        json.dumps({"id": "20260101-000000-live00", "status": "running", "pid": os.getpid()})
    )
    status, body = await api("run/20260101-000000-live00")
    assert (status, body["status"]) == (200, "running")
    assert body["steps"] == []


async def test_runner_dead_before_any_status_is_failed(api: Api, store_home: Path) -> None:
    folder = store_home / "runs" / "20260101-000000-crash0"
    folder.mkdir(parents=True)
    (folder / "launch.json").write_text(json.dumps({"pid": 2**22 + 54321, "started": 1.0}))
    (folder / "driver.log").write_text("Traceback (most recent call last):\nImportError: boom\n")
    status, body = await api("run/20260101-000000-crash0")
    assert (status, body["status"]) == (200, "failed"), body
    assert body["log_tail"].endswith("ImportError: boom")
