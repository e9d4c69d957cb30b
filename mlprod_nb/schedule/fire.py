"""One tick of the scheduler: claim what is due under the store's lock, then start it.

Under the lock (short: no run starts while it is held) a tick settles the fires whose
runs ended (retries queued; a failure for good records its on-failure command as owed),
then for each schedule claims its due cron fire times (catch-up per policy, from its
creation or last resume; skipped when its run is still going) and its new-data fire. A
claim is a ``schedule_fire`` record with the run id and the claimer
(``liveness.identity``), on disk before the lock is released; the claimer starts the run
after releasing it. A claim whose runner was not started (``spawned.py``) and whose
claimer died (SIGKILL) is claimed again, same run id, by the next tick of any scheduler:
a fire time is neither lost nor run twice. An owed on-failure command runs after the
lock is released, and its outcome is recorded; one whose owner died first is run by the
next tick. A tick that would record nothing, decided on the book this process last held
when no one wrote a schedule record since (``book.unchanged``), leaves the store alone:
an idle scheduler neither opens it nor waits for its lock. The clock is a parameter, so
tests never sleep.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ..paths import Layout
from ..pipeline import launch
from ..pipeline.launch import LAUNCH_FILE
from ..pipeline.liveness import alive, identity
from ..pipeline.rundir import read_json, run_folder
from . import book, data, spawned
from . import cron as crontab
from .model import Fire, Schedule

GRACE_SECONDS = 120.0  # catch-up "none": a fire time this recent is still on time
DEBOUNCE_SECONDS = 5.0  # new data: wait until the files stopped changing this long
MAX_CATCH_UP = 1000  # catch-up "all": at most this many missed fire times
ON_FAILURE_TIMEOUT = 300.0

Launch = Callable[[Path, Schedule, Fire, Path], None]
Hook = Callable[[Schedule, Fire], str]


def spawn_run(home: Path, schedule: Schedule, fire: Fire, folder: Path) -> None:
    """Start ``mlprod-nb run PIPELINE --run-id ID`` detached, as the server does
    (pipeline/launch.py); the schedule's secrets come from this scheduler's
    ``MLPROD_NB_PARAM_<name>``."""
    launch.start(
        [sys.executable, "-m", "mlprod_nb.cli", "run"],
        schedule.pipeline,
        str(fire.run),
        folder,
        home=home,
        params=schedule.params,
        cwd=Path(schedule.pipeline).parent,
        env={"MLPROD_NB_SCHEDULE_ID": schedule.id, "MLPROD_NB_SCHEDULE_REASON": fire.reason},
        noted={"schedule": schedule.id},
        inherit_secrets=True,
    )


def run_failure_hook(schedule: Schedule, fire: Fire) -> str:
    """Run the schedule's ``on_failure`` command with the run's facts in its environment;
    what became of it, for the fire's record."""
    env = dict(os.environ)
    env["MLPROD_NB_RUN_ID"] = str(fire.run or "")
    env["MLPROD_NB_RUN_STATUS"] = fire.status
    env["MLPROD_NB_RUN_ERROR"] = fire.detail or ""
    env["MLPROD_NB_SCHEDULE_ID"] = schedule.id
    try:
        done = subprocess.run(
            str(schedule.on_failure),
            shell=True,
            env=env,
            capture_output=True,
            timeout=ON_FAILURE_TIMEOUT,
            cwd=Path(schedule.pipeline).parent,
        )
    except subprocess.TimeoutExpired:
        return f"on-failure command timed out after {ON_FAILURE_TIMEOUT:g} s"
    except OSError as error:
        return f"on-failure command could not start: {error.strerror}"
    tail = (done.stderr or done.stdout).decode(errors="replace").strip()[-300:]
    return f"on-failure command exited {done.returncode}" + (f": {tail}" if tail else "")


def run_state(home: Path, run_id: str) -> tuple[str, str | None]:
    """``(status, error)`` of a run started by a fire: "running" until it settles."""
    from ..pipeline.liveness import settle_one

    layout = Layout(Path(home))
    status = settle_one(layout, run_id)
    if status is not None:
        return str(status.get("status")), status.get("error")
    launch = read_json(run_folder(layout, run_id) / LAUNCH_FILE)
    if launch is None:
        return "running", None  # claimed, its runner not started yet (or reclaimed)
    if alive(launch, float(launch.get("started") or 0)):
        return "running", None
    if settle_one(layout, run_id) is not None:  # it wrote its status meanwhile
        return run_state(home, run_id)
    return "failed", "the runner stopped before it started (see driver.log of the run)"


def _new_run_id(now: float) -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + "-" + os.urandom(3).hex()


class _Tick:
    """The work of one tick on a book held under the lock."""

    def __init__(
        self, found: book.Book, now: float, debounce: float, inputs: dict[str, list[str]]
    ) -> None:
        self.book = found
        self.inputs = inputs
        self.now = now
        self.debounce = debounce
        self.fired: list[Fire] = []  # everything written this tick
        self.to_start: list[Fire] = []
        self.hooks: list[Fire] = []  # failed for good: this tick runs their on-failure command

    def write(self, fire: Fire) -> Fire:
        self.book.write_fire(fire)
        self.fired.append(fire)
        return fire

    def going(self, schedule: Schedule) -> Fire | None:
        """The schedule's fire whose run is still going, if any."""
        for fire in self.book.fires_of(schedule.id):
            if fire.status == "started":
                return fire
        return None

    def claim(self, fire: Fire, run: str | None = None) -> None:
        """Mark ``fire`` started by this process with a run id; the run starts after the
        lock is released (the line is on disk first)."""
        started = dataclasses.replace(
            fire, status="started", run=run or _new_run_id(self.now), claimer=identity()
        )
        self.to_start.append(self.write(started))

    def reclaim_orphans(self) -> None:
        """Claims whose scheduler died (SIGKILL) before it started their run: claimed
        again with the same run id, so the fire time is neither lost nor run twice."""
        mine = {(f.schedule, f.due, f.attempt) for f in self.to_start}
        for key, fire in list(self.book.fires.items()):
            if fire.status != "started" or fire.run is None or key in mine:
                continue
            if fire.schedule not in self.book.schedules:
                continue
            if spawned.started(Layout(self.book.home), fire.run):
                continue
            if fire.claimer and alive({"driver": fire.claimer}, self.now):
                continue  # its claimer is starting it right now
            self.claim(fire, fire.run)

    def settle(self, schedule: Schedule) -> None:
        """Record the end of the schedule's started runs; queue retries; owe hooks."""
        for fire in self.book.fires_of(schedule.id):
            if fire.status != "started" or fire.run is None:
                continue
            status, error = run_state(self.book.home, fire.run)
            if status == "running":
                continue
            if status == "ok":
                self.write(dataclasses.replace(fire, status="ok", detail=None))
                continue
            owed = fire.attempt >= schedule.retries and bool(schedule.on_failure)
            ended = self.write(
                dataclasses.replace(
                    fire,
                    status="failed",
                    detail=error or f"run {status}",
                    hook="owed" if owed else None,
                    claimer=identity() if owed else fire.claimer,
                )
            )
            if owed:
                self.hooks.append(ended)
            if fire.attempt < schedule.retries:
                retry = Fire(
                    schedule.id,
                    fire.due,
                    f"{fire.reason} (retry {fire.attempt + 1} of {schedule.retries})",
                    "pending",
                    None,
                    f"run {fire.run} failed",
                    attempt=fire.attempt + 1,
                    after=self.now + schedule.retry_delay,
                    hashes=fire.hashes,
                )
                self.write(retry)

    def run(self) -> None:
        """Everything a tick decides, in order: what ended, what is due, what is owed."""
        for schedule in list(self.book.schedules.values()):
            self.settle(schedule)
        for schedule in list(self.book.schedules.values()):
            if schedule.paused:
                continue
            if schedule.cron is not None:
                self.cron_fires(schedule)
            if schedule.on_new_data:
                self.data_fire(schedule)
            if self.going(schedule) is None:  # retries, caught-up fires: one at a time
                self.start_pending(schedule)
        self.reclaim_orphans()
        self.take_owed_hooks()

    def take_owed_hooks(self) -> None:
        """Failed fires whose on-failure command was owed by a scheduler that died before
        running it (or by an earlier tick of this one that stopped): this tick runs it."""
        me = identity()
        mine = {book.key_of(f) for f in self.hooks}
        for key, fire in list(self.book.fires.items()):
            if fire.hook != "owed" or key in mine:
                continue
            owner = self.book.schedules.get(fire.schedule)
            if owner is None or not owner.on_failure:
                continue
            if fire.claimer and fire.claimer != me and alive({"driver": fire.claimer}, self.now):
                continue  # its owner is running it right now
            taken = dataclasses.replace(fire, claimer=me)
            self.book.write_fire(taken)
            self.hooks.append(taken)

    def start_pending(self, schedule: Schedule) -> bool:
        """Claim the oldest pending fire whose time came; True when one was."""
        for fire in self.book.fires_of(schedule.id):
            if fire.status == "pending" and fire.after <= self.now:
                self.claim(fire)
                return True
        return False

    def cron_fires(self, schedule: Schedule) -> None:
        assert schedule.cron is not None
        done = [f.due for f in self.book.fires_of(schedule.id) if f.reason.startswith("cron ")]
        cursor = max([schedule.created, schedule.resumed or 0.0, *done])
        dues = crontab.due_between(schedule.cron, schedule.tz, cursor, self.now, MAX_CATCH_UP)
        if not dues:
            return
        latest = dues[-1]
        missed = len(dues) - 1
        if schedule.catch_up == "all":
            for due in dues:
                why = crontab.reason(schedule.cron, schedule.tz, due)
                self.write(Fire(schedule.id, due, why, "pending", None, None, after=due))
            return
        why = crontab.reason(schedule.cron, schedule.tz, latest)
        if schedule.catch_up == "none" and self.now - latest > GRACE_SECONDS:
            lost = f"{len(dues)} fire time(s) missed while no scheduler ran (catch-up none)"
            self.write(Fire(schedule.id, latest, why, "missed", None, lost))
            return
        note = f"caught up: {missed} earlier fire time(s) not run" if missed else None
        going = self.going(schedule)
        if going is not None:
            skip = f"run {going.run} still going"
            self.write(Fire(schedule.id, latest, why, "skipped", None, skip))
            return
        self.claim(Fire(schedule.id, latest, why, "pending", None, note))

    def data_fire(self, schedule: Schedule) -> None:
        files = self.inputs.get(schedule.pipeline)
        if files is None:
            return  # its inputs not known yet in this process: from the next tick on
        current = data.hashes(files)
        seen = self.book.seen.get(schedule.id)
        if seen is None:  # the first look: what is there now is not new
            self.book.write_seen(schedule.id, current)
            return
        changed = sorted(p for p, h in current.items() if seen.get(p) != h)
        if not changed:
            return
        if self.now - data.newest_change(changed) < self.debounce:
            return  # still being written: wait until it settles
        if self.going(schedule) is not None:
            return  # fires once the run ends, with what is there then
        named = ", ".join(f"{p} (sha256 {current[p][:12]})" for p in changed)
        self.book.write_seen(schedule.id, current)
        self.claim(Fire(schedule.id, self.now, f"new data: {named}", "pending", None, None))


def _known_inputs(found: book.Book) -> dict[str, list[str]]:
    """The inputs of the data-triggered schedules' pipelines, as this process last asked
    (they come from the store: asked again after the lock is released)."""
    watched = {s.pipeline for s in found.schedules.values() if s.on_new_data}
    known = {pipeline: data.last_inputs(pipeline) for pipeline in watched}
    return {pipeline: files for pipeline, files in known.items() if files is not None}


def _refresh_inputs(found: book.Book) -> None:
    for pipeline in {s.pipeline for s in found.schedules.values() if s.on_new_data}:
        data.cached_inputs(pipeline)  # for the next tick


def _nothing_to_do(last: book.Book, now: float, debounce: float) -> bool:
    """The tick's work done on the book as this process last read it, which no one has
    written since (``book.unchanged``), writes nothing: no need to open the store."""
    work = _Tick(last, now, debounce, _known_inputs(last))
    try:
        work.run()
    except book.Unwritable:
        return False  # something to record: the real tick, under the lock
    _refresh_inputs(last)
    return True


def tick(
    home: str | Path,
    now: float | None = None,
    *,
    launch: Launch = spawn_run,
    hook: Hook = run_failure_hook,
    debounce: float = DEBOUNCE_SECONDS,
    timeout: float = book.LOCK_TIMEOUT,
) -> list[Fire]:
    """Fire what is due at ``now`` (default: the time): every fire state recorded (a
    hook's claim aside)."""
    home = Path(home)
    moment = time.time() if now is None else now
    last = book.unchanged(home)
    if last is not None and _nothing_to_do(last, moment, debounce):
        return []
    with book.locked(home, timeout) as found:
        work = _Tick(found, moment, debounce, _known_inputs(found))
        work.run()
        schedules = dict(found.schedules)
    _refresh_inputs(found)
    layout = Layout(home)
    for fire in work.to_start:
        owner = schedules.get(fire.schedule)
        if owner is None or fire.run is None:
            continue
        folder = layout.runs_dir / fire.run
        folder.mkdir(parents=True, exist_ok=True)  # a dead claimer may have made it
        launch(home, owner, fire, folder)
    for owed in work.hooks:
        outcome = hook(schedules[owed.schedule], owed)
        with book.locked(home, timeout) as again:
            latest = again.fires.get(book.key_of(owed), owed)
            noted = dataclasses.replace(latest, detail=f"{latest.detail}; {outcome}", hook="done")
            again.write_fire(noted)
        work.fired.append(noted)
    return work.fired
