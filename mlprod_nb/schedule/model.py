"""What a schedule is and what became of each of its fire times (plain data, no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, get_args

from ..records import CatchUp, FireStatus, HookState

CATCH_UPS: tuple[CatchUp, ...] = get_args(CatchUp)


@dataclass(frozen=True)
class Schedule:
    """A pipeline, its parameters and a trigger (a cron in a zone, new data, or both)."""

    id: str  # short, owner-visible, e.g. "s-3f9a2c"
    name: str
    pipeline: str  # absolute path of the pipeline folder
    cron: str | None
    tz: str
    on_new_data: bool
    params: dict[str, Any]  # secret-named values are stored redacted
    catch_up: CatchUp
    on_failure: str | None
    retries: int
    retry_delay: float
    paused: bool
    created: float
    updated: float
    resumed: float | None = None  # last resumed after a pause: earlier times not caught up


@dataclass(frozen=True)
class Fire:
    """One fire time of a schedule and what became of it (its latest state)."""

    schedule: str
    due: float  # the fire time (epoch s)
    reason: str
    status: FireStatus
    run: str | None
    detail: str | None
    attempt: int = 0  # 0: the fire itself; 1, 2...: its retries
    after: float = 0.0  # "pending" (a retry, a caught-up fire): not started before this
    hashes: dict[str, str] = field(default_factory=dict)  # new-data fires: what they saw
    # who claimed it last (liveness.identity): its run, then its on-failure command
    claimer: dict[str, Any] = field(default_factory=dict)
    hook: HookState | None = None  # "owed": failed, its on-failure command not run yet


@dataclass(frozen=True)
class ScheduleView:
    """A schedule with what the list shows next to it."""

    schedule: Schedule
    next_fire: float | None
    last_run: str | None
    last_status: str | None


@dataclass(frozen=True)
class Preview:
    description: str
    next: list[datetime]
