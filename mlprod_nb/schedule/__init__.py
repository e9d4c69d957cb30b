"""Scheduled runs of exported pipelines: on a cron in a time zone, or on new input data.

Schedules and their fires are records in the store, journaled and ingested under the
store's lock (``book.py``); whoever ticks (the server's loop, ``mlprod-nb scheduler``)
claims a due fire time there before starting its run, so each fires once (``fire.py``).
The run itself is an ordinary ``mlprod-nb run`` carrying the schedule id and the reason.
"""

from __future__ import annotations

from .cron import preview
from .data import data_inputs
from .fire import tick
from .manage import add, history, remove, schedules, update
from .model import Fire, Preview, Schedule, ScheduleView

__all__ = [
    "Fire",
    "Preview",
    "Schedule",
    "ScheduleView",
    "add",
    "data_inputs",
    "history",
    "preview",
    "remove",
    "schedules",
    "tick",
    "update",
]
