"""The schedules' records: in the store, written through the journal under its lock.

Each version of a schedule (created, changed, paused, resumed, removed), each state of a
fire time (pending, claimed with its run id and claimer, skipped, ended, its on-failure
command owed) and the input hashes a data trigger last fired on are records of their own
(``records.py``: ``schedule``, ``schedule_fire``, ``schedule_seen``), each with a ``seq``
one more than the store's last: the highest wins. ``locked`` opens the store (its lock
held until the block ends), reads the book from it, appends each record to this
process's schedules journal file, on disk (fsync) before the write returns, and ingests
them before the lock is released. So the server's loop, ``mlprod-nb scheduler`` and the
CLI never interleave, and a fire claimed before its run starts is on disk with its run
id and claimer first: a killed scheduler leaves either no claim (the next tick fires
it) or a claim whose claimer is dead (the next tick starts that same run id).

Versions before this one kept the records in ``.mlprod/schedules.ndjson``: the first
open copies its lines, in order, into the journal and renames the file
``schedules.ndjson.imported``. A copy cut short by a kill is made again whole at the
next open (the same lines replayed in order leave the same latest versions).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..journal import JournalWriter
from ..paths import Layout
from ..records import SCHEMA
from ..store import Store
from ..store import schedules as stored
from .model import Fire, Schedule

OLD_FILE = "schedules.ndjson"  # where versions before the store's v6 kept them
LOCK_TIMEOUT = 30.0

FireKey = tuple[str, float, int]  # schedule, due, attempt


@dataclass
class Book:
    """Every schedule (latest version) and every fire (latest state) of one store."""

    home: Path
    seq: int = 0  # the highest ``seq`` written so far
    writer: JournalWriter | None = None  # None: read without keeping the lock
    schedules: dict[str, Schedule] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    fires: dict[FireKey, Fire] = field(default_factory=dict)
    seen: dict[str, dict[str, str]] = field(default_factory=dict)  # data hashes fired on
    written: int = 0  # records appended through this book

    def fires_of(self, schedule_id: str) -> list[Fire]:
        """The schedule's fires, oldest first."""
        found = [f for key, f in self.fires.items() if key[0] == schedule_id]
        return sorted(found, key=lambda f: (f.due, f.attempt))

    def write_schedule(self, schedule: Schedule, *, removed: bool = False) -> None:
        self._append("schedule", {**dataclasses.asdict(schedule), "removed": removed})
        self._keep_schedule(schedule, removed)

    def write_seen(self, schedule_id: str, hashes: dict[str, str]) -> None:
        self._append("schedule_seen", {"schedule": schedule_id, "hashes": hashes})
        self.seen[schedule_id] = dict(hashes)

    def write_fire(self, fire: Fire) -> None:
        self._append("schedule_fire", {**dataclasses.asdict(fire), "claimer": fire.claimer or None})
        self.fires[key_of(fire)] = fire

    def _append(self, kind: str, fields: dict[str, Any]) -> None:
        if self.writer is None:
            raise Unwritable(f"a {kind} record for a book read without the lock")
        self.seq += 1
        self.writer.append({"v": SCHEMA, "kind": kind, "seq": self.seq, **fields})
        self.written += 1

    def _keep_schedule(self, schedule: Schedule, removed: bool) -> None:
        if removed:
            self.schedules.pop(schedule.id, None)
            self.removed.add(schedule.id)
        else:
            self.schedules[schedule.id] = schedule
            self.removed.discard(schedule.id)


class Unwritable(Exception):
    """A write to a book not held under the lock (``read``, ``unchanged``): nothing is
    written; whoever tried takes the lock (``locked``) to write it."""


def key_of(fire: Fire) -> FireKey:
    return (fire.schedule, fire.due, fire.attempt)


def _from_store(home: Path, latest: stored.Latest, writer: JournalWriter) -> Book:
    book = Book(home, latest.seq, writer)
    for row in latest.schedules:
        removed = bool(row.pop("removed"))
        book._keep_schedule(Schedule(**row), removed)
    for row in latest.fires:
        fire = Fire(**{**row, "claimer": row["claimer"] or {}, "hashes": row["hashes"] or {}})
        book.fires[key_of(fire)] = fire
    for row in latest.seen:
        book.seen[row["schedule"]] = dict(row["hashes"] or {})
    return book


def _import_old(book: Book) -> None:
    """Copy the records of ``schedules.ndjson`` (an older version's) into the journal, in
    order, then rename the file; a torn last line (a writer killed mid-write) is skipped."""
    old = book.home / OLD_FILE
    try:
        data = old.read_bytes()
    except FileNotFoundError:
        return
    for raw in data.split(b"\n")[:-1]:  # the part after the last newline is unfinished
        try:
            record = json.loads(raw)
            kind = record.pop("kind", None)
            if kind == "schedule":
                removed = bool(record.pop("removed", False))
                book.write_schedule(Schedule(**record), removed=removed)
            elif kind == "fire":
                book.write_fire(Fire(**record))
            elif kind == "seen":
                book.write_seen(str(record["schedule"]), dict(record["hashes"]))
        except (ValueError, TypeError, KeyError, AttributeError):
            continue  # not a record that version wrote
    os.replace(old, old.with_name(OLD_FILE + ".imported"))


@functools.cache
def _journal_name(pid: int) -> str:
    """This process's schedules journal file (a new one per process: a killed writer's
    torn last line is never followed by another's)."""
    return f"schedules-{socket.gethostname()}-{pid}-{os.urandom(4).hex()}"


Fingerprint = tuple[tuple[str, int, int], ...]
_last: dict[Path, tuple[Fingerprint, Book]] = {}  # home -> the book this process last held


def _fingerprint(layout: Layout) -> Fingerprint:
    """Name, size and mtime of every schedules journal file (and of an older version's
    file): anyone's new schedule record changes it."""
    found = []
    for path in [*layout.journal_dir.glob("schedules-*.ndjson"), layout.home / OLD_FILE]:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((path.name, stat.st_size, stat.st_mtime_ns))
    return tuple(sorted(found))


def unchanged(home: Path) -> Book | None:
    """The book this process last held under the lock when no schedule record was written
    since (read-only: a write raises ``Unwritable``), without opening the store; None
    otherwise."""
    layout = Layout(Path(home))
    last = _last.get(layout.home)
    if last is None or last[0] != _fingerprint(layout):
        return None
    return last[1]


def _kept(found: Book) -> Book:
    """A read-only copy of ``found``, for ``unchanged``."""
    return Book(
        found.home,
        found.seq,
        None,
        dict(found.schedules),
        set(found.removed),
        dict(found.fires),
        {k: dict(v) for k, v in found.seen.items()},
    )


@contextmanager
def locked(home: Path, timeout: float = LOCK_TIMEOUT) -> Iterator[Book]:
    """The book read under the store's lock, held until the block ends; what the block
    wrote is in the journal (fsynced) and ingested when it ends."""
    layout = Layout(Path(home))
    layout.home.mkdir(parents=True, exist_ok=True)
    with Store.open(layout, timeout) as store:
        writer = JournalWriter(layout.journal_dir, _journal_name(os.getpid()), durable=True)
        try:
            found = _from_store(layout.home, stored.latest(store), writer)
            _import_old(found)
            yield found
            if found.written:
                store.ingest()
            _last[layout.home] = (_fingerprint(layout), _kept(found))
        finally:
            writer.close()


def read(home: Path, timeout: float = LOCK_TIMEOUT) -> Book:
    """The book as the store has it now: as this process last held it when no one wrote
    since, else read under the lock (held only while reading)."""
    home = Path(home)
    if not home.is_dir():
        return Book(home)
    last = unchanged(home)
    if last is not None:
        return last
    with locked(home, timeout) as found:
        found.writer = None
    return found
