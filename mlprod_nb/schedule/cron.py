"""Cron expressions in a time zone: validated, described, and their fire times.

Parsing is ``cronsim``'s (a maintained library); fire times are computed in the
schedule's zone with ``zoneinfo`` so that "0 3 * * *" in Europe/Paris stays at 03:00
local across daylight-saving changes (a time skipped by the change fires once, at the
first valid instant; a repeated hour fires once).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import ScheduleError
from .model import Preview


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``ScheduleError`` naming it when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ScheduleError(
            f"unknown time zone {name!r}",
            hint="use an IANA name such as UTC, Europe/Paris or America/New_York",
        ) from None


def local_zone_name() -> str:
    """The machine's zone name when it has one ('UTC' otherwise)."""
    import os

    env = os.environ.get("TZ")
    if env:
        try:
            ZoneInfo(env)
            return env
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    try:
        link = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    name = link.split("zoneinfo/", 1)[-1]
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return "UTC"
    return name


def check(expression: str, tz: str) -> None:
    """``ScheduleError`` naming the expression when cronsim refuses it, or the zone."""
    from cronsim import CronSim, CronSimError

    where = zone(tz)
    try:
        CronSim(expression, datetime.now(where))
    except (CronSimError, ValueError) as error:
        raise ScheduleError(
            f"invalid cron expression {expression!r}: {error}",
            hint='five fields: minute hour day-of-month month day-of-week, e.g. "0 3 * * *"',
        ) from None


def fire_times(expression: str, tz: str, after: float) -> Iterator[float]:
    """Fire times strictly after ``after`` (epoch s), in order, forever."""
    from cronsim import CronSim

    where = zone(tz)
    start = datetime.fromtimestamp(after, where)
    for when in CronSim(expression, start):
        stamp = when.timestamp()
        if stamp > after:
            yield stamp


def next_fire(expression: str, tz: str, after: float) -> float:
    return next(fire_times(expression, tz, after))


def due_between(expression: str, tz: str, after: float, until: float, limit: int) -> list[float]:
    """Fire times in (after, until], at most the last ``limit`` of them."""
    found: list[float] = []
    for stamp in fire_times(expression, tz, after):
        if stamp > until:
            break
        found.append(stamp)
        if len(found) > limit:
            del found[0]
    return found


def describe(expression: str) -> str:
    from cronsim import CronSim

    try:
        return CronSim(expression, datetime.now(UTC)).explain()
    except Exception:  # explain() does not cover every expression cronsim runs
        return f"cron {expression}"


def preview(expression: str, tz: str, count: int = 3, now: float | None = None) -> Preview:
    """What ``expression`` means and its next ``count`` fire times in ``tz``."""
    check(expression, tz)
    where = zone(tz)
    times = fire_times(expression, tz, time.time() if now is None else now)
    upcoming = [datetime.fromtimestamp(next(times), where) for _ in range(count)]
    return Preview(f"{describe(expression)} ({tz})", upcoming)


def reason(expression: str, tz: str, due: float) -> str:
    """``cron 0 3 * * * at 2026-12-02T03:00+01:00``: why a cron fire happened."""
    at = datetime.fromtimestamp(due, zone(tz)).isoformat(timespec="minutes")
    return f"cron {expression} at {at}"
