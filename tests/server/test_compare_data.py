"""compare shows the files each run read and wrote, cached steps included; runs can be
cancelled and their executed notebooks opened in Lab. Real runs of a small pipeline."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import finish_run

Api = Callable[..., Awaitable[tuple[int, Any]]]

FLOW = [
    ("import json, pickle, time\nimport mlprod_nb", ["setup"]),
    ("alpha = 2\npause = 0.0", ["parameters"]),
    (
        "rows = open('raw.csv').read().split()\nopen('clean.csv', 'w').write('\\n'.join(rows))",
        ["step:load"],
    ),
    (
        "time.sleep(pause)\nscore = len(rows) * alpha\n"
        "pickle.dump({'w': alpha}, open('model.pkl', 'wb'))\n"
        "json.dump({'score': score}, open('metrics.json', 'w'))\n"
        "mlprod_nb.log_metric('score', score)",
        ["step:train"],
    ),
]


async def _run(api: Api, pipeline: str, params: dict[str, Any]) -> str:
    status, body = await api("run", method="POST", body={"pipeline": pipeline, "params": params})
    assert status == 202, body
    return str(body["run_id"])


async def _export(api: Api, make_notebook: Callable[..., Path], cells: Any) -> str:
    make_notebook("work/flow.ipynb", cells)
    status, body = await api("export", method="POST", body={"path": "work/flow.ipynb"})
    assert (status, body["ok"]) == (200, True), body
    return str(body["pipeline"])


def _rows(body: dict[str, Any], section: str) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in body[section]}


@pytest.mark.slow
async def test_compare_shows_written_files_and_cached_steps_data(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path, jp_fetch: Any
) -> None:
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "raw.csv").write_text("a\nb\nc\n")
    pipeline = await _export(api, make_notebook, FLOW)
    first = await _run(api, pipeline, {})
    assert (await finish_run(api, first))["status"] == "ok"
    second = await _run(api, pipeline, {"alpha": 5})  # load does not use alpha: cached
    done = await finish_run(api, second)
    assert done["status"] == "ok", done["log_tail"]
    assert {s["name"]: s["cached"] for s in done["steps"]} == {"load": True, "train": False}

    # asked newest first: the columns are in run time order all the same
    status, body = await api("compare", params={"runs": f"{second},{first}", "pipeline": pipeline})
    assert status == 200, body
    assert body["runs"] == [first, second]
    assert body["baseline"] == first
    clean = hashlib.sha256(b"a\nb\nc").hexdigest()
    outputs = _rows(body, "outputs")
    assert outputs["work/clean.csv"] == {
        "name": "work/clean.csv",
        "values": [clean, clean],
        "differs": False,  # the cached step's file is the producing run's, not "missing"
        "from_cache": [None, first],
    }
    for name in ("work/model.pkl", "work/metrics.json"):
        assert outputs[name]["differs"], outputs[name]
        assert outputs[name]["from_cache"] == [None, None]
    read = _rows(body, "datasets")
    raw = hashlib.sha256(b"a\nb\nc\n").hexdigest()
    assert read["work/raw.csv"]["values"] == [raw, raw]
    assert read["work/raw.csv"]["from_cache"] == [None, first]
    files = {(f["step"], f["path"], f["mode"]): f for f in body["files"][second]}
    assert files[("load", "work/clean.csv", "write")]["from_cache"] == first
    assert files[("train", "work/metrics.json", "write")]["from_cache"] is None
    assert _rows(body, "metrics")["score"]["values"] == [6.0, 15.0]

    # the cached step's executed notebook opens in Lab: a read-only copy outside .mlprod
    status, copies = await api(f"run/{second}/files", method="POST", body={})
    assert status == 200, copies
    assert set(copies["steps"]) == {"load", "train"}
    assert copies["log"] == f"mlprod-runs/{second}/driver.log"
    for relative in [copies["log"], *copies["steps"].values()]:
        assert not relative.startswith(".")
        assert "/." not in relative
        mode = (jp_root_dir / relative).stat().st_mode
        assert not mode & stat.S_IWUSR, relative
    response = await jp_fetch("api", "contents", copies["steps"]["load"], method="GET")
    model = json.loads(response.body)  # writable says False, except to root (os.access)
    assert model["type"] == "notebook"
    assert model["writable"] is (os.geteuid() == 0)
    assert any("clean.csv" in "".join(c["source"]) for c in model["content"]["cells"])


@pytest.mark.slow
async def test_step_diff_shows_the_users_cells_against_the_chosen_baseline(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "raw.csv").write_text("a\nb\n")
    pipeline = await _export(api, make_notebook, FLOW)
    first = await _run(api, pipeline, {})
    assert (await finish_run(api, first))["status"] == "ok"
    changed = [*FLOW[:3], (FLOW[3][0].replace("* alpha", "* alpha + 1"), FLOW[3][1])]
    pipeline = await _export(api, make_notebook, changed)
    second = await _run(api, pipeline, {"alpha": 3})
    assert (await finish_run(api, second))["status"] == "ok"

    runs = f"{first},{second}"
    status, body = await api("compare", params={"runs": runs, "baseline": second})
    assert status == 200, body
    assert body["baseline"] == second
    steps = {s["name"]: s for s in body["steps"]}
    assert not steps["load"]["differs"]  # cached: the same code, the producing run's
    diff = steps["train"]["diff"]
    assert f"--- {second}/train" in diff
    assert f"+++ {first}/train" in diff
    assert "-score = len(rows) * alpha + 1\n" in diff
    assert "+score = len(rows) * alpha\n" in diff
    for scaffolding in ("_mlprod_artifacts", "_mlprod_inputs", "alpha = 3", "# Parameters"):
        assert scaffolding not in diff  # generated cells and parameters are not the user's

    status, body = await api("compare", params={"runs": runs, "baseline": "nope"})
    assert status == 400, body


@pytest.mark.slow
async def test_cancel_a_running_run_records_it_aborted(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    (jp_root_dir / "work").mkdir()
    (jp_root_dir / "work" / "raw.csv").write_text("a\n")
    pipeline = await _export(api, make_notebook, FLOW)
    run_id = await _run(api, pipeline, {"pause": 120.0})
    for _ in range(600):  # until the slow step is under way
        status, body = await api(f"run/{run_id}")
        if any(s["name"] == "train" and s["status"] == "running" for s in body["steps"]):
            break
        assert body["status"] == "running", body.get("log_tail")
        await asyncio.sleep(0.2)
    status, body = await api(f"run/{run_id}/cancel", method="POST", body={})
    assert (status, body["status"]) == (202, "cancelling"), body
    done = await finish_run(api, run_id, timeout=60)
    assert done["status"] == "aborted", done["log_tail"]
    status, runs = await api("runs", params={"pipeline": pipeline})
    assert {r["id"]: r["status"] for r in runs["runs"]}[run_id] == "aborted"

    status, body = await api(f"run/{run_id}/cancel", method="POST", body={})
    assert status == 409, body  # it has ended: nothing to cancel


async def test_cancel_and_files_of_unknown_runs(api: Api, store_home: Path) -> None:
    store_home.mkdir(parents=True)
    for route in ("run/nope/cancel", "run/nope/files"):
        status, body = await api(route, method="POST", body={})
        assert status == 404, (route, body)
    status, body = await api("run/..%2Fx/cancel", method="POST", body={})
    assert status in (400, 404), body


DRIFTING = [
    ("import mlprod_nb\nimport pandas as pd", ["setup"]),
    ("scale = 1.0", ["parameters"]),
    ("df = pd.read_csv('events.csv')", ["step:load"]),
    ("total = float(df['amount'].sum() * scale)", ["step:fit"]),
]


def _events(path: Path, shift: float) -> None:
    rows = [f"{(i % 100) / 10 + shift},{'ab'[i % 2]}" for i in range(2_000)]
    path.write_text("amount,plan\n" + "\n".join(rows) + "\n")


@pytest.mark.slow
async def test_compare_shows_the_drift_of_a_dataset_read_at_another_version(
    api: Api, make_notebook: Callable[..., Path], jp_root_dir: Path
) -> None:
    (jp_root_dir / "work").mkdir()
    data = jp_root_dir / "work" / "events.csv"
    _events(data, 0.0)
    pipeline = await _export(api, make_notebook, DRIFTING)
    first = await _run(api, pipeline, {})
    assert (await finish_run(api, first))["status"] == "ok"
    same = await _run(api, pipeline, {"scale": 2.0})  # the same data: nothing to show
    assert (await finish_run(api, same))["status"] == "ok"
    _events(data, 4.0)  # every amount shifted: drift in "amount", none in "plan"
    shifted = await _run(api, pipeline, {})
    assert (await finish_run(api, shifted))["status"] == "ok"

    status, body = await api("compare", params={"runs": f"{first},{same},{shifted}"})
    assert status == 200, body
    assert body["drift_thresholds"] == {"moderate": 0.1, "flagged": 0.2}
    [found] = body["drift"]  # only the shifted run read another version
    assert (found["path"], found["mode"], found["run"], found["baseline"]) == (
        "work/events.csv",
        "read",
        shifted,
        first,
    )
    columns = {c["column"]: c for c in found["columns"]}
    assert columns["amount"]["flagged"] is True
    assert columns["amount"]["psi"] > 0.2
    assert columns["amount"]["text"].startswith("amount: PSI")
    assert columns["plan"]["flagged"] is False
    assert found["unknown"] is None
