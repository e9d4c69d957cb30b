"""Cron fire times in a zone (across DST), catch-up policies, overlap, pause/resume."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from mlprod_nb import schedule
from mlprod_nb.errors import ParameterError, ScheduleError
from mlprod_nb.schedule import book

from .conftest import end, ended_ok, still_going

PARIS = ZoneInfo("Europe/Paris")


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=PARIS).timestamp()


def started(fires: list[schedule.Fire]) -> list[schedule.Fire]:
    return [f for f in fires if f.status == "started"]


@pytest.mark.parametrize(
    ("first", "last", "offsets"),
    [
        # summer time from Sunday 29 March 02:00, winter time from Sunday 25 October 03:00
        ("2026-03-27T12:00", "2026-03-31T12:00", ["+01:00", "+02:00", "+02:00", "+02:00"]),
        ("2026-10-23T12:00", "2026-10-27T12:00", ["+02:00", "+01:00", "+01:00", "+01:00"]),
    ],
)
def test_cron_fires_at_local_time_across_dst(
    pipeline: Path, store: Path, first: str, last: str, offsets: list[str]
) -> None:
    made = schedule.add(
        store, pipeline, cron="0 3 * * *", tz="Europe/Paris", clock=lambda: at(first)
    )
    fired = []
    now = at(first)
    while now < at(last):  # a tick every simulated hour, no sleeping
        now += 3600
        fired += started(schedule.tick(store, now, launch=ended_ok))
    local = [datetime.fromtimestamp(f.due, PARIS) for f in fired]
    assert [w.strftime("%H:%M") for w in local] == ["03:00"] * 4
    assert [w.isoformat()[-6:] for w in local] == offsets
    assert all(f.reason.startswith("cron 0 3 * * * at ") for f in fired)
    assert fired[0].reason.endswith(local[0].isoformat(timespec="minutes"))
    assert all(f.schedule == made.id for f in fired)


def test_skipped_spring_forward_hour_fires_once(pipeline: Path, store: Path) -> None:
    schedule.add(
        store, pipeline, cron="30 2 * * *", tz="Europe/Paris", clock=lambda: at("2026-03-28T12:00")
    )
    now, fired = at("2026-03-28T12:00"), []
    while now < at("2026-03-30T12:00"):
        now += 1800
        fired += started(schedule.tick(store, now, launch=ended_ok))
    assert len(fired) == 2  # the 29th (02:30 does not exist that night) and the 30th
    assert len({f.due for f in fired}) == 2


@pytest.mark.parametrize(
    ("policy", "runs", "statuses"),
    [("latest", 1, {"started"}), ("all", 1, {"started", "pending"}), ("none", 0, {"missed"})],
)
def test_catch_up_policies(
    pipeline: Path, store: Path, policy: str, runs: int, statuses: set[str]
) -> None:
    t0 = at("2026-12-01T00:00")
    made = schedule.add(store, pipeline, cron="0 * * * *", tz="UTC", catch_up=policy,  # type: ignore[arg-type]
                        clock=lambda: t0)  # fmt: skip
    fired = schedule.tick(store, t0 + 5 * 3600 + 600, launch=ended_ok)  # 5 hours missed
    assert len(started(fired)) == runs
    assert {f.status for f in fired} == statuses
    if policy == "latest":
        assert fired[0].due == t0 + 5 * 3600
        assert "4 earlier fire time(s)" in str(fired[0].detail)
    if policy == "all":  # the five run one after another, each once
        now, done = t0 + 5 * 3600 + 600, started(fired)
        for _ in range(10):
            now += 1
            done += started(schedule.tick(store, now, launch=ended_ok))
        assert sorted(f.due for f in done) == [t0 + h * 3600 for h in range(1, 6)]
    history = schedule.history(store, made.id)
    assert history
    assert history[0].due == max(f.due for f in history)


def test_overlap_is_skipped_with_the_reason(pipeline: Path, store: Path) -> None:
    t0 = at("2026-12-01T00:00")
    made = schedule.add(store, pipeline, cron="*/5 * * * *", tz="UTC", clock=lambda: t0)
    (first,) = schedule.tick(store, t0 + 301, launch=still_going)
    assert first.status == "started"
    (second,) = schedule.tick(store, t0 + 601, launch=still_going)
    assert second.status == "skipped"
    assert second.detail == f"run {first.run} still going"
    end(store, str(first.run))
    fired = schedule.tick(store, t0 + 901, launch=still_going)
    assert [f.status for f in fired] == ["ok", "started"]
    view = {v.schedule.id: v for v in schedule.schedules(store, t0 + 901)}[made.id]
    assert view.last_status == "started"
    assert view.next_fire == t0 + 1200


def test_pause_and_resume(pipeline: Path, store: Path) -> None:
    t0 = at("2026-12-01T00:00")
    made = schedule.add(store, pipeline, cron="0 * * * *", tz="UTC", clock=lambda: t0)
    schedule.update(store, made.id, paused=True, clock=lambda: t0 + 60)
    assert schedule.tick(store, t0 + 3601, launch=ended_ok) == []
    assert schedule.schedules(store)[0].next_fire is None
    resumed = schedule.update(store, made.id, paused=False, clock=lambda: t0 + 3 * 3600 + 60)
    assert resumed.resumed == t0 + 3 * 3600 + 60
    # the three fire times it slept through are not caught up, whatever the policy
    assert schedule.tick(store, t0 + 3 * 3600 + 61, launch=ended_ok) == []
    (fire,) = started(schedule.tick(store, t0 + 4 * 3600 + 1, launch=ended_ok))
    assert fire.due == t0 + 4 * 3600
    assert fire.detail is None  # nothing missed to speak of


def test_bad_input_stores_nothing(pipeline: Path, store: Path, tmp_path: Path) -> None:
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"cron": "61 * * * *"}, ScheduleError, "invalid cron expression '61 * * * *'"),
        ({"cron": "0 3 * * *", "tz": "Mars/Olympus"}, ScheduleError, "unknown time zone 'Mars"),
        ({"cron": "0 3 * * *", "texts": [("n", "many")]}, ParameterError, "'n'"),
        ({"cron": "0 3 * * *", "params": {"m": 1}}, ParameterError, "unknown parameter 'm'"),
        ({}, ScheduleError, "no trigger"),
    ]  # fmt: skip
    for given, kind, text in cases:
        with pytest.raises(kind, match=text.replace("*", r"\*")):
            schedule.add(store, pipeline, **given)  # type: ignore[arg-type]
    with pytest.raises(ScheduleError, match="cannot schedule"):
        schedule.add(store, tmp_path / "nowhere", cron="0 3 * * *")
    assert book.read(store).schedules == {}


def test_params_typed_and_secrets_redacted(pipeline: Path, store: Path) -> None:
    made = schedule.add(store, pipeline, cron="0 3 * * *", tz="UTC", texts=[("n", "7")])
    assert made.params == {"n": 7}
    assert schedule.schedules(store)[0].schedule.params == {"n": 7}
