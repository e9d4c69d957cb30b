"""Create, change, remove and list schedules: every change checked first, then one record."""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import MlprodError, NotFoundError, ScheduleError
from ..records import CatchUp
from ..redaction import redact
from . import book, data
from . import cron as crontab
from .model import CATCH_UPS, Fire, Schedule, ScheduleView

Clock = Callable[[], float]


def checked_params(
    pipeline: Path, texts: Sequence[tuple[str, str]] = (), values: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The given parameters checked against the pipeline's types, as ``mlprod-nb run`` does
    (strings converted as on its command line); only those given are kept."""
    from ..pipeline.manifest import load
    from ..pipeline.params import resolve

    manifest, _ = load(pipeline)
    given = dict(values or {})
    strings = [(k, v) for k, v in given.items() if isinstance(v, str)]
    typed = {k: v for k, v in given.items() if not isinstance(v, str)}
    resolved = resolve(manifest.parameters, [*strings, *texts], typed)
    return {name: resolved[name] for name in [*given, *(k for k, _ in texts)]}


def pipeline_folder(pipeline: str | Path) -> Path:
    """The absolute pipeline folder; ``ScheduleError`` naming it when it is not one."""
    from ..pipeline.manifest import load

    try:
        _, folder = load(pipeline)
    except MlprodError as error:
        raise ScheduleError(
            f"cannot schedule {pipeline}: {error.message}",
            hint="pass a pipeline folder written by `mlprod-nb export NOTEBOOK`",
        ) from None
    return folder


def _validate(schedule: Schedule) -> None:
    if schedule.cron is None and not schedule.on_new_data:
        raise ScheduleError(
            f"schedule {schedule.name!r} has no trigger",
            hint='give a cron (--cron "0 3 * * *") or --on-new-data, or both',
        )
    crontab.zone(schedule.tz)
    if schedule.cron is not None:
        crontab.check(schedule.cron, schedule.tz)
    if schedule.catch_up not in CATCH_UPS:
        raise ScheduleError(
            f"unknown catch-up policy {schedule.catch_up!r}", hint="use latest, all or none"
        )
    if schedule.retries < 0 or schedule.retry_delay < 0:
        raise ScheduleError("retries and retry delay cannot be negative")


def add(
    home: Path,
    pipeline: str | Path,
    *,
    cron: str | None = None,
    tz: str | None = None,
    on_new_data: bool = False,
    params: Mapping[str, Any] | None = None,
    texts: Sequence[tuple[str, str]] = (),
    name: str | None = None,
    catch_up: CatchUp = "latest",
    on_failure: str | None = None,
    retries: int = 0,
    retry_delay: float = 0.0,
    clock: Clock = time.time,
) -> Schedule:
    """A new schedule, stored once everything about it checked out (nothing stored else)."""
    folder = pipeline_folder(pipeline)
    checked = checked_params(folder, texts, params)
    now = clock()
    schedule = Schedule(
        id="s-" + os.urandom(3).hex(),
        name=name or folder.name.removesuffix(".pipeline"),
        pipeline=str(folder),
        cron=cron,
        tz=tz or crontab.local_zone_name(),
        on_new_data=on_new_data,
        params=redact(checked),
        catch_up=catch_up,
        on_failure=on_failure,
        retries=retries,
        retry_delay=float(retry_delay),
        paused=False,
        created=now,
        updated=now,
    )
    _validate(schedule)
    baseline = data.hashes(data.cached_inputs(str(folder))) if on_new_data else None
    with book.locked(home) as found:
        found.write_schedule(schedule)
        if baseline is not None:  # what is there now is not new data
            found.write_seen(schedule.id, baseline)
    return schedule


def _find(found: book.Book, schedule_id: str) -> Schedule:
    if schedule_id not in found.schedules:
        known = ", ".join(sorted(found.schedules)) or "none yet"
        raise NotFoundError(
            f"no schedule {schedule_id}",
            hint=f"the schedules of this store are: {known} (mlprod-nb schedule list)",
        )
    return found.schedules[schedule_id]


CHANGEABLE = (
    "paused", "cron", "tz", "params", "name", "on_new_data", "catch_up", "on_failure",
    "retries", "retry_delay",
)  # fmt: skip


def update(home: Path, schedule_id: str, *, clock: Clock = time.time, **changes: Any) -> Schedule:
    """The schedule with ``changes`` applied (checked as ``add`` checks), stored."""
    unknown = sorted(set(changes) - set(CHANGEABLE))
    if unknown:
        raise ScheduleError(
            f"cannot change {', '.join(unknown)} of schedule {schedule_id}",
            hint=f"change only {', '.join(CHANGEABLE)}",
        )
    if "tz" in changes and not changes["tz"]:
        changes["tz"] = crontab.local_zone_name()
    with book.locked(home) as found:
        current = _find(found, schedule_id)
        if "params" in changes:
            changes["params"] = redact(
                checked_params(Path(current.pipeline), (), changes["params"] or {})
            )
        now = clock()
        if changes.get("paused") is False and current.paused:
            changes["resumed"] = now  # the fire times it slept through are not caught up
        changed = dataclasses.replace(current, **changes, updated=now)
        _validate(changed)
        found.write_schedule(changed)
    return changed


def remove(home: Path, schedule_id: str, *, clock: Clock = time.time) -> None:
    with book.locked(home) as found:
        current = _find(found, schedule_id)
        found.write_schedule(dataclasses.replace(current, updated=clock()), removed=True)


def next_fire(schedule: Schedule, fires: Sequence[Fire], now: float) -> float | None:
    """When the cron fires next (None: paused, or data-triggered only)."""
    if schedule.paused or schedule.cron is None:
        return None
    return crontab.next_fire(schedule.cron, schedule.tz, now)


def schedules(home: Path, now: float | None = None) -> list[ScheduleView]:
    """Every schedule with its next fire time and its last run and status, oldest first."""
    found = book.read(Path(home))
    moment = time.time() if now is None else now
    views = []
    for schedule in sorted(found.schedules.values(), key=lambda s: s.created):
        fires = found.fires_of(schedule.id)
        last = fires[-1] if fires else None
        views.append(
            ScheduleView(
                schedule,
                next_fire(schedule, fires, moment),
                last.run if last else None,
                last.status if last else None,
            )
        )
    return views


def history(home: Path, schedule_id: str) -> list[Fire]:
    """The schedule's fires, newest first."""
    found = book.read(Path(home))
    if schedule_id not in found.schedules and schedule_id not in found.removed:
        _find(found, schedule_id)
    return list(reversed(found.fires_of(schedule_id)))
