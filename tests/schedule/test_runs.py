"""Scheduled runs are real ``mlprod-nb run`` processes: ok, failing with retries and the
on-failure command, and a data trigger that fires once per new content, not on touch."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from pipeline.conftest import project, step, write_notebook

from mlprod_nb import schedule
from mlprod_nb.headless import trace_notebook
from mlprod_nb.paths import Layout
from mlprod_nb.pipeline.export import export
from mlprod_nb.schedule.fire import run_state
from mlprod_nb.store import Store

from .conftest import tiny_pipeline

pytestmark = pytest.mark.slow
T0 = 1_796_083_200.0


def settled(home: Path, run_id: str, within: float = 180.0) -> str:
    """Wait for a real run process to end (not for a fire time); its status."""
    deadline = time.monotonic() + within
    while (state := run_state(home, run_id)[0]) == "running":
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} still going after {within:.0f} s")
        time.sleep(0.2)
    return state


def test_a_scheduled_run_is_an_ordinary_run(pipeline: Path, store: Path) -> None:
    made = schedule.add(store, pipeline, cron="* * * * *", tz="UTC", texts=[("n", "5")],
                        clock=lambda: T0)  # fmt: skip
    (fire,) = schedule.tick(store, T0 + 61)
    assert settled(store, str(fire.run)) == "ok"
    (done,) = schedule.tick(store, T0 + 62)
    assert (done.status, done.run) == ("ok", fire.run)
    with Store.open(Layout(store)) as opened:
        runs = {r.id: r for r in opened.runs()}
        _, rows = opened.query("SELECT schedule, reason FROM runs WHERE id = ?", [fire.run])
    assert rows == [(made.id, fire.reason)]  # the run says which schedule fired it, and why
    assert fire.run in runs
    assert runs[str(fire.run)].params["n"] == 5
    assert schedule.schedules(store)[0].last_status == "ok"
    assert made.id == done.schedule


def test_failing_run_retries_then_calls_on_failure(tmp_path: Path) -> None:
    folder = tiny_pipeline(tmp_path / "proj", body="raise ValueError('boom')")
    store = folder.parent / ".mlprod"
    out = tmp_path / "hook.txt"
    facts = "$MLPROD_NB_RUN_ID $MLPROD_NB_RUN_STATUS $MLPROD_NB_SCHEDULE_ID $MLPROD_NB_RUN_ERROR"
    hook = f'echo "{facts}" > {out}'
    made = schedule.add(store, folder, cron="0 * * * *", tz="UTC", on_failure=hook,
                        retries=1, retry_delay=30, clock=lambda: T0)  # fmt: skip
    (first,) = schedule.tick(store, T0 + 3601)
    assert settled(store, str(first.run)) == "failed"
    failed, retry = schedule.tick(store, T0 + 3602)
    assert (failed.status, retry.status, retry.after) == ("failed", "pending", T0 + 3632)
    assert schedule.tick(store, T0 + 3610) == []  # the delay is not over
    (again,) = schedule.tick(store, T0 + 3633)
    assert (again.status, again.attempt) == ("started", 1)
    assert again.run != first.run
    assert settled(store, str(again.run)) == "failed"
    ended, last = schedule.tick(store, T0 + 3634)  # the end, then the hook's outcome
    assert (ended.status, last.status, last.run) == ("failed", "failed", again.run)
    assert "on-failure command exited 0" in str(last.detail)
    run_id, status, schedule_id, *error = out.read_text().split()
    assert (run_id, status, schedule_id) == (again.run, "failed", made.id)
    assert error  # the run's error text


def test_new_data_fires_once_per_new_content_not_on_touch(tmp_path: Path) -> None:
    root = project(tmp_path / "proj")
    data = root / "data.csv"
    data.write_text("a\n1\n")
    nb = write_notebook(
        root / "nb.ipynb",
        [step("load", "with open('data.csv') as f:\n    text = f.read()\nrows = len(text)")],
    )
    trace_notebook(nb)
    folder = export(nb).folder
    assert folder is not None
    store = root / ".mlprod"
    assert schedule.data_inputs(folder) == [str(data)]
    made = schedule.add(store, folder, on_new_data=True)
    now = time.time()
    assert schedule.tick(store, now, launch=_ok, debounce=0) == []
    os.utime(data, (now + 5, now + 5))  # touched: same content
    assert schedule.tick(store, now + 10, launch=_ok, debounce=0) == []
    data.write_text("a\n1\n2\n")
    os.utime(data, (now + 20, now + 20))
    assert schedule.tick(store, now + 21, launch=_ok, debounce=5) == []  # still settling
    (fire,) = schedule.tick(store, now + 30, launch=_ok, debounce=5)
    assert fire.status == "started"
    assert fire.reason.startswith(f"new data: {data} (sha256 ")
    fired = schedule.tick(store, now + 40, launch=_ok, debounce=5)
    assert [f.status for f in fired] == ["ok"]  # once per new content
    assert schedule.history(store, made.id)[0].status == "ok"


def _ok(home: Path, sched: schedule.Schedule, fire: schedule.Fire, folder: Path) -> None:
    from .conftest import ended_ok

    ended_ok(home, sched, fire, folder)
