"""The schedules' records: an append-only, fsynced file read back whole, under the store's lock.

Each line is one record: ``schedule`` (a version of a schedule: created, changed,
removed), ``fire`` (a state of one fire time: claimed with its run id, skipped,
ended) or ``seen`` (the input hashes a data trigger last fired on). The latest line
of a schedule or fire wins. Lines are written by whoever
holds the store's lock file (``lineage.lock``), so the server's loop, ``mlprod-nb
scheduler`` and the CLI never interleave, and a fire claimed before its run starts is
on disk (fsync) with its run id and its claimer before anything else happens: a killed
scheduler leaves either no claim (the next tick fires it) or a claim whose claimer is
dead (the next tick starts that same run id), never two runs for one fire time.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..paths import Layout
from ..store.lock import StoreLock
from .model import Fire, Schedule

FILE = "schedules.ndjson"
LOCK_TIMEOUT = 30.0


def path_of(home: Path) -> Path:
    return Path(home) / FILE


@dataclass
class Book:
    """Every schedule (latest version) and every fire (latest state) of one store."""

    home: Path
    schedules: dict[str, Schedule] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    fires: dict[tuple[str, float, int], Fire] = field(default_factory=dict)
    seen: dict[str, dict[str, str]] = field(default_factory=dict)  # data hashes fired on

    def fires_of(self, schedule_id: str) -> list[Fire]:
        """The schedule's fires, oldest first."""
        found = [f for key, f in self.fires.items() if key[0] == schedule_id]
        return sorted(found, key=lambda f: (f.due, f.attempt))

    def write_schedule(self, schedule: Schedule, *, removed: bool = False) -> None:
        _append(self.home, {"kind": "schedule", "removed": removed, **asdict(schedule)})
        if removed:
            self.schedules.pop(schedule.id, None)
            self.removed.add(schedule.id)
        else:
            self.schedules[schedule.id] = schedule

    def write_seen(self, schedule_id: str, hashes: dict[str, str]) -> None:
        _append(self.home, {"kind": "seen", "schedule": schedule_id, "hashes": hashes})
        self.seen[schedule_id] = dict(hashes)

    def write_fire(self, fire: Fire) -> None:
        _append(self.home, {"kind": "fire", **asdict(fire)})
        self.fires[(fire.schedule, fire.due, fire.attempt)] = fire


def _append(home: Path, record: dict[str, Any]) -> None:
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    fd = os.open(path_of(home), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read(home: Path) -> Book:
    """The book as on disk; a torn last line (a writer killed mid-write) is ignored."""
    book = Book(Path(home))
    try:
        data = path_of(home).read_bytes()
    except FileNotFoundError:
        return book
    for raw in data.split(b"\n")[:-1]:  # the part after the last newline is unfinished
        try:
            record = json.loads(raw)
        except ValueError:
            continue
        kind = record.pop("kind", None)
        if kind == "schedule":
            removed = bool(record.pop("removed", False))
            schedule = Schedule(**record)
            if removed:
                book.schedules.pop(schedule.id, None)
                book.removed.add(schedule.id)
            elif schedule.id not in book.removed:
                book.schedules[schedule.id] = schedule
        elif kind == "fire":
            fire = Fire(**record)
            book.fires[(fire.schedule, fire.due, fire.attempt)] = fire
        elif kind == "seen":
            book.seen[str(record["schedule"])] = dict(record["hashes"])
    return book


@contextmanager
def locked(home: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[Book]:
    """The book read under the store's lock, held until the block ends."""
    layout = Layout(Path(home))
    layout.home.mkdir(parents=True, exist_ok=True)
    lock = StoreLock(layout.lock_path)
    lock.acquire(timeout)
    try:
        yield read(layout.home)
    finally:
        lock.release()
