"""Schedules live in the store: records through the journal, read back latest-by-seq,
queryable with ``mlprod-nb sql``, and an older version's ``schedules.ndjson`` imported."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

from mlprod_nb import records, schedule
from mlprod_nb.cli import main
from mlprod_nb.paths import Layout
from mlprod_nb.schedule import book
from mlprod_nb.store import Store

from .conftest import ended_ok

T0 = 1_796_083_200.0  # 2026-12-01 00:00 UTC


@pytest.mark.parametrize(
    ("model", "record", "extra"),
    [
        (schedule.Schedule, records.ScheduleRecord, {"seq", "removed"}),
        (schedule.Fire, records.ScheduleFireRecord, {"seq"}),
    ],
    ids=["schedule", "fire"],
)
def test_a_model_has_the_fields_of_its_record(model: type, record: type, extra: set[str]) -> None:
    written = set(typing.get_type_hints(record)) - {"v", "kind", "truncated"}
    assert written == {f.name for f in dataclasses.fields(model)} | extra


def test_every_version_is_a_row_and_the_highest_seq_wins(
    pipeline: Path, store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    made = schedule.add(store, pipeline, cron="0 * * * *", tz="UTC", clock=lambda: T0)
    # a clock that went back (NTP, another machine): the order is the store's, not the clock's
    schedule.update(store, made.id, name="renamed", clock=lambda: T0 - 3600)
    schedule.tick(store, T0 + 3601, launch=ended_ok)
    schedule.tick(store, T0 + 3602, launch=ended_ok)
    (view,) = schedule.schedules(store)
    assert (view.schedule.name, view.last_status) == ("renamed", "ok")
    with Store.open(Layout(store)) as opened:
        _, versions = opened.query("SELECT seq, name FROM schedules ORDER BY seq")
        _, states = opened.query(
            "SELECT seq, status, run, claimer_pid FROM schedule_fires ORDER BY seq"
        )
    assert [name for _, name in versions] == ["nb", "renamed"]
    assert [status for _, status, _, _ in states] == ["started", "ok"]
    assert states[0][3] is not None  # who claimed it
    assert [seq for seq, *_ in [*versions, *states]] == [1, 2, 3, 4]
    assert main(["sql", "SELECT name, cron FROM schedules", "--json", "--home", str(store)]) == 0
    assert json.loads(capsys.readouterr().out)[-1] == {"name": "renamed", "cron": "0 * * * *"}


def test_an_older_versions_file_is_imported_once(pipeline: Path, store: Path) -> None:
    store.mkdir(exist_ok=True)
    old = {
        "id": "s-abc123", "name": "old", "pipeline": str(pipeline), "cron": "0 3 * * *",
        "tz": "UTC", "on_new_data": True, "params": {"n": 2}, "catch_up": "latest",
        "on_failure": None, "retries": 0, "retry_delay": 0.0, "paused": False,
        "created": T0, "updated": T0,
    }  # fmt: skip
    fire = {
        "schedule": "s-abc123", "due": T0 + 3 * 3600, "reason": "cron 0 3 * * * at ...",
        "status": "ok", "run": "20261201-030000-aaaaaa", "detail": None, "attempt": 0,
        "after": 0.0, "hashes": {}, "claimer": {"host": "h", "boot": None, "pid": 1, "start": 5},
    }  # fmt: skip
    lines = [
        {"kind": "schedule", "removed": False, **old},
        {"kind": "fire", **{**fire, "status": "started"}},
        {"kind": "fire", **fire},
        {"kind": "seen", "schedule": "s-abc123", "hashes": {"/p/data.csv": "ab" * 32}},
        {"kind": "schedule", "removed": False, **old, "name": "kept", "updated": T0 + 1},
    ]
    torn = b'{"kind": "schedule", "removed": true, "id": "s-abc'  # a writer killed mid-line
    (store / book.OLD_FILE).write_bytes(
        b"".join(json.dumps(r).encode() + b"\n" for r in lines) + torn
    )
    (view,) = schedule.schedules(store)
    assert (view.schedule.id, view.schedule.name, view.schedule.params) == (
        "s-abc123",
        "kept",
        {"n": 2},
    )
    (done,) = schedule.history(store, "s-abc123")
    assert (done.status, done.run, done.claimer["pid"]) == ("ok", fire["run"], 1)
    assert book.read(store).seen == {"s-abc123": {"/p/data.csv": "ab" * 32}}
    assert not (store / book.OLD_FILE).exists()
    assert (store / f"{book.OLD_FILE}.imported").exists()
    schedule.schedules(store)  # read again: nothing imported twice
    with Store.open(Layout(store)) as opened:
        _, counted = opened.query(
            "SELECT (SELECT count(*) FROM schedules), (SELECT count(*) FROM schedule_fires)"
        )
    assert counted == [(2, 2)]


def test_reading_a_folder_that_is_no_store_creates_nothing(tmp_path: Path) -> None:
    assert schedule.schedules(tmp_path / ".mlprod") == []
    assert not (tmp_path / ".mlprod").exists()


def test_an_idle_tick_leaves_the_store_alone(pipeline: Path, store: Path) -> None:
    """Nothing due and nothing written since this process last looked: a tick (or the
    list) neither opens the store nor waits for its lock (the server may be holding it);
    anything due does."""
    from mlprod_nb.errors import StoreLockedError
    from mlprod_nb.store.lock import StoreLock

    made = schedule.add(store, pipeline, cron="0 * * * *", tz="UTC", clock=lambda: T0)
    assert schedule.tick(store, T0 + 60, launch=ended_ok) == []  # reads the book
    held = StoreLock(Layout(store).lock_path)
    held.acquire(0)
    try:
        assert schedule.tick(store, T0 + 120, launch=ended_ok, timeout=0) == []
        assert [v.schedule.id for v in schedule.schedules(store)] == [made.id]  # no wait
        with pytest.raises(StoreLockedError):
            schedule.tick(store, T0 + 3601, launch=ended_ok, timeout=0)  # a fire time came
    finally:
        held.release()
    (fire,) = schedule.tick(store, T0 + 3601, launch=ended_ok)
    assert fire.status == "started"
