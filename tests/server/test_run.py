"""POST run spawns the real runner; GET run/ID follows it; runs and compare read the store."""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import finish_run

Api = Callable[..., Awaitable[tuple[int, Any]]]

FLOW = [
    ("import mlprod_nb", ["setup"]),
    ("alpha = 2\nlabel = 'x'\nrate = 0.5", ["parameters"]),
    ("data = [1, 2, 3]", ["step:load"]),
    ("total = sum(data) * alpha\nmlprod_nb.log_metric('total', total)", ["step:train"]),
]


@pytest.mark.slow
async def test_run_from_the_panel_end_to_end(
    api: Api, make_notebook: Callable[..., Path], store_home: Path
) -> None:
    make_notebook("work/flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "work/flow.ipynb"})
    assert (status, body["ok"]) == (200, True), body
    pipeline = body["pipeline"]

    status, body = await api("run", method="POST", body={"pipeline": pipeline, "params": {}})
    assert status == 202, body
    first = body["run_id"]
    launch = json.loads((store_home / "runs" / first / "launch.json").read_text())
    try:  # detached: its own session, so it outlives the request and the server
        assert os.getsid(launch["pid"]) != os.getsid(0)
    except ProcessLookupError:
        pass  # already finished
    done = await finish_run(api, first)
    assert done["status"] == "ok", done["log_tail"]
    assert [s["name"] for s in done["steps"]] == ["load", "train"]
    assert done["progress"]["done"] == done["progress"]["total"] == 2
    assert done["log_tail"]

    params = {"alpha": "5", "label": "-x", "rate": 1e-05}  # text, option-like, tiny float
    status, body = await api("run", method="POST", body={"pipeline": pipeline, "params": params})
    assert status == 202, body
    second = body["run_id"]
    assert (await finish_run(api, second))["status"] == "ok"

    status, body = await api("runs", params={"pipeline": pipeline})
    assert status == 200, body
    runs = {r["id"]: r for r in body["runs"]}
    assert [r["id"] for r in body["runs"]][:2] == [second, first]  # newest first
    assert runs[first]["params"]["alpha"] == 2
    assert runs[second]["params"] == {"alpha": 5, "label": "-x", "rate": 1e-05}
    assert runs[second]["metrics"] == {"total": 30.0}

    status, body = await api("compare", params={"runs": f"{first},{second}", "pipeline": pipeline})
    assert status == 200, body
    assert body["runs"] == [first, second]
    rows = {r["name"]: r for r in body["params"]}
    assert rows["alpha"] == {"name": "alpha", "values": [2, 5], "differs": True}
    assert {r["name"]: (r["values"], r["differs"]) for r in body["metrics"]} == {
        "total": ([12.0, 30.0], True)
    }
    steps = {s["name"]: s for s in body["steps"]}
    assert set(steps) == {"load", "train"}
    assert not steps["train"]["differs"]  # same code, only the parameter changed
    assert steps["train"]["hashes"][0] is not None

    # change the train step's code, export again, run: compare shows the code diff
    flow_v2 = [*FLOW[:3], (FLOW[3][0].replace("* alpha", "* alpha + 1"), FLOW[3][1])]
    make_notebook("work/flow.ipynb", flow_v2)
    status, body = await api("export", method="POST", body={"path": "work/flow.ipynb"})
    assert (status, body["ok"]) == (200, True), body
    status, body = await api("run", method="POST", body={"pipeline": pipeline, "params": {}})
    third = body["run_id"]
    assert (await finish_run(api, third))["status"] == "ok"
    status, body = await api(
        "compare", params={"runs": f"{first},{second},{third}", "pipeline": pipeline}
    )
    assert status == 200, body
    steps = {s["name"]: s for s in body["steps"]}
    assert not steps["load"]["differs"]
    assert steps["train"]["differs"]
    assert steps["train"]["hashes"][0] == steps["train"]["hashes"][1]
    assert "-total = sum(data) * alpha\n" in steps["train"]["diff"]
    assert "+total = sum(data) * alpha + 1\n" in steps["train"]["diff"]
    assert f"+++ {third}/train" in steps["train"]["diff"]
    metrics = {r["name"]: r["values"] for r in body["metrics"]}
    assert metrics["total"] == [12.0, 30.0, 13.0]


async def test_run_rejects_bad_parameters_before_spawning(
    api: Api, make_notebook: Callable[..., Path], store_home: Path
) -> None:
    make_notebook("flow.ipynb", FLOW)
    status, body = await api("export", method="POST", body={"path": "flow.ipynb"})
    assert status == 200, body
    for params, fragment in [
        ({"alpha": "abc"}, "expects int"),
        ({"beta": 1}, "unknown parameter"),
        ({"alpha": [1]}, "expects int"),
        ({"alpha": 1.5}, "expects int"),
    ]:
        status, body = await api(
            "run", method="POST", body={"pipeline": "flow.pipeline", "params": params}
        )
        assert status == 400, body
        assert fragment in body["message"]
    assert not (store_home / "runs").exists()


async def test_compare_of_unknown_runs_is_404(
    api: Api, make_notebook: Callable[..., Path], journal: Callable[..., Any]
) -> None:
    journal(make_notebook("a.ipynb", [("", [])])).cell("c0", "x = 1", defines=["x"])
    status, body = await api("compare", params={"runs": "nope-1,nope-2"})
    assert status == 404, body
