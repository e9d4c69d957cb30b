"""Each due fire time starts exactly one run: two schedulers at once, and SIGKILL mid-fire."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import defaultdict
from pathlib import Path

from mlprod_nb import schedule
from mlprod_nb.schedule import book

from .conftest import ended_ok

T0 = 1_796_083_200.0  # 2026-12-01 00:00 UTC

WORKER = textwrap.dedent(
    """
    import json, os, signal, sys
    from pathlib import Path
    from mlprod_nb.schedule import tick

    home, t0, mode = Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3]

    def ok(home, schedule, fire, folder):
        (folder / "status.json").write_text(json.dumps({"id": fire.run, "status": "ok"}))

    def die(home, schedule, fire, folder):
        os.kill(os.getpid(), signal.SIGKILL)  # claimed and on disk; its run never started

    if mode == "race":
        for i in range(1, 201):
            tick(home, t0 + 60 * i + 1, launch=ok)
        for _ in range(400):  # caught-up fires start one per tick: drain them
            tick(home, t0 + 60 * 200 + 2, launch=ok)
    else:
        tick(home, t0 + 61, launch=die)
    """
)


def worker(home: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(home), str(T0), mode])


def started_runs(home: Path) -> dict[float, set[str]]:
    """Every run id a ``started`` line of the book gave each fire time (raw lines)."""
    runs: dict[float, set[str]] = defaultdict(set)
    for line in (home / book.FILE).read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "fire" and record["status"] == "started":
            runs[record["due"]].add(record["run"])
    return runs


def test_two_schedulers_fire_each_instant_exactly_once(pipeline: Path, store: Path) -> None:
    schedule.add(store, pipeline, cron="* * * * *", tz="UTC", catch_up="all", clock=lambda: T0)
    first, second = worker(store, "race"), worker(store, "race")
    assert first.wait(timeout=600) == 0
    assert second.wait(timeout=600) == 0
    runs = started_runs(store)
    assert sorted(runs) == [T0 + 60 * i for i in range(1, 201)]
    assert all(len(ids) == 1 for ids in runs.values())
    assert len(list((store / "runs").iterdir())) == 200
    history = schedule.history(store, schedule.schedules(store)[0].schedule.id)
    assert {f.status for f in history} == {"ok"}


def test_sigkill_mid_fire_neither_duplicates_nor_loses(pipeline: Path, store: Path) -> None:
    made = schedule.add(store, pipeline, cron="* * * * *", tz="UTC", clock=lambda: T0)
    killed = worker(store, "die")
    assert killed.wait(timeout=120) == -9
    (claim,) = schedule.history(store, made.id)
    assert claim.status == "started"  # on disk before the run was to start
    again = schedule.tick(store, T0 + 62, launch=ended_ok)  # the next scheduler
    assert [(f.status, f.run) for f in again] == [("started", claim.run)]
    settled = schedule.tick(store, T0 + 63, launch=ended_ok)
    assert [(f.status, f.run) for f in settled] == [("ok", claim.run)]
    assert [p.name for p in (store / "runs").iterdir()] == [claim.run]
    assert started_runs(store) == {T0 + 60: {str(claim.run)}}
