"""Each due fire time starts exactly one run: two schedulers at once, and SIGKILL mid-fire."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict
from pathlib import Path

from mlprod_nb import schedule
from mlprod_nb.schedule import spawned

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

    def fail(home, schedule, fire, folder):
        (folder / "status.json").write_text(json.dumps({"id": fire.run, "status": "failed"}))

    def die_in_hook(schedule, fire):
        os.kill(os.getpid(), signal.SIGKILL)  # failed, its on-failure command owed

    def spawn_then_die(home, schedule, fire, folder):  # killed before launch.json
        import subprocess
        code = "import time; time.sleep(120)"
        argv = [sys.executable, "-c", code, "--run-id", fire.run]
        runner = subprocess.Popen(argv, start_new_session=True)
        (home / "runner.pid").write_text(str(runner.pid))
        os.kill(os.getpid(), signal.SIGKILL)

    if mode == "race":
        for i in range(1, 201):
            tick(home, t0 + 60 * i + 1, launch=ok)
        for _ in range(400):  # caught-up fires start one per tick: drain them
            if not tick(home, t0 + 60 * 200 + 2, launch=ok):
                break  # nothing pending, nothing going
    elif mode == "die":
        tick(home, t0 + 61, launch=die)
    elif mode == "die-in-hook":
        tick(home, t0 + 61, launch=fail)
        tick(home, t0 + 62, hook=die_in_hook)
    else:
        tick(home, t0 + 61, launch=spawn_then_die)
    """
)


def worker(home: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", WORKER, str(home), str(T0), mode])


def started_runs(home: Path) -> dict[float, set[str]]:
    """Every run id a ``started`` record gave each fire time (raw journal lines)."""
    runs: dict[float, set[str]] = defaultdict(set)
    for journal in (home / "journal").glob("schedules-*.ndjson"):
        for line in journal.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] == "schedule_fire" and record["status"] == "started":
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


def test_an_owed_on_failure_command_outlives_its_scheduler(pipeline: Path, store: Path) -> None:
    made = schedule.add(store, pipeline, cron="* * * * *", tz="UTC", on_failure="notify",
                        clock=lambda: T0)  # fmt: skip
    killed = worker(store, "die-in-hook")
    assert killed.wait(timeout=120) == -9
    (owed,) = schedule.history(store, made.id)
    assert (owed.status, owed.hook) == ("failed", "owed")  # on disk before the command ran
    ran: list[tuple[str, str | None]] = []

    def hook(owner: schedule.Schedule, fire: schedule.Fire) -> str:
        ran.append((owner.id, fire.run))
        return "on-failure command exited 0"

    (done,) = schedule.tick(store, T0 + 63, launch=ended_ok, hook=hook)  # the next scheduler
    assert ran == [(made.id, owed.run)]
    assert (done.status, done.run, done.hook) == ("failed", owed.run, "done")
    assert str(done.detail).endswith("; on-failure command exited 0")
    assert schedule.tick(store, T0 + 64, launch=ended_ok, hook=hook) == []
    assert len(ran) == 1  # run once
    assert schedule.history(store, made.id)[0].hook == "done"


def test_a_runner_started_by_a_killed_scheduler_is_not_started_again(
    pipeline: Path, store: Path
) -> None:
    made = schedule.add(store, pipeline, cron="* * * * *", tz="UTC", clock=lambda: T0)
    killed = worker(store, "spawn-then-die")  # killed between the runner's start and launch.json
    assert killed.wait(timeout=120) == -9
    runner = int((store / "runner.pid").read_text())
    try:
        (claim,) = schedule.history(store, made.id)
        assert not (store / "runs" / str(claim.run) / "launch.json").exists()
        assert schedule.tick(store, T0 + 62, launch=ended_ok) == []  # its runner goes on
    finally:
        os.kill(runner, signal.SIGKILL)
    while spawned.running_here(str(claim.run)):  # until the kill took effect (no fire time)
        time.sleep(0.01)
    again = schedule.tick(store, T0 + 63, launch=ended_ok)  # it died without a word
    assert [(f.status, f.run) for f in again] == [("started", claim.run)]
