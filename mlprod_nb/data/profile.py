"""Data profiles: what a tabular dataset version looks like, computed once per content hash.

A profile (``FileProfile``) describes one version of a file: its tables (one, named "",
for a CSV, TSV, parquet or JSON file; each table of a DuckDB database), their row
counts and per column the type, null fraction, approximate distinct count, min/max,
and mean, standard deviation and 101 percentiles for numbers or the top values for
the rest. DuckDB computes it (``store.profiles``), never inside a user's cell: the
runner's driver profiles what each finished step read and wrote (``Profiler``, a
background thread), and ``profile_of`` computes one on request when the file still
has the asked-for content. Profiles are kept as ``.mlprod/profiles/<sha256>.json``
(written atomically, once per hash): the same bytes are profiled once, whatever
their path. Files over ``MAX_BYTES`` are not profiled.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from ..hashing import sha256_file, stat_key

log = logging.getLogger(__name__)

VERSION = 1
MAX_BYTES = 2 << 30  # 2 GiB: bigger files are not profiled (a profile reads the whole file)
FOLDER = "profiles"


class ColumnProfile(TypedDict):
    name: str
    type: str  # the DuckDB type: BIGINT, DOUBLE, VARCHAR, TIMESTAMP...
    nulls: float  # fraction of rows that are null
    distinct: int  # approximate number of distinct values
    min: float | str | None
    max: float | str | None
    mean: NotRequired[float | None]  # numbers only
    std: NotRequired[float | None]
    percentiles: NotRequired[list[float | None]]  # 0 %, 1 %, ..., 100 %
    top: NotRequired[list[list[Any]]]  # not numbers: [value as text, count], most frequent first


class TableProfile(TypedDict):
    rows: int
    columns: list[ColumnProfile]


class FileProfile(TypedDict):
    v: int
    path: str  # where that content was first profiled
    sha256: str
    size: int
    computed: float
    seconds: float  # how long DuckDB took
    tables: dict[str, TableProfile]  # "" for a flat file


def tabular(path: str | Path) -> bool:
    """Whether ``path`` names a file format that is profiled (by its suffix)."""
    from ..store.profiles import DATABASES, READERS

    suffix = Path(path).suffix.lower()
    return suffix in READERS or suffix in DATABASES


def _cache_path(home: Path, sha256: str) -> Path:
    return Path(home) / FOLDER / f"{sha256}.json"


def cached(home: Path, sha256: str) -> FileProfile | None:
    """The stored profile of that content, if one was computed."""
    try:
        found = json.loads(_cache_path(home, sha256).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or found.get("v") != VERSION:
        return None
    return found  # type: ignore[return-value]


def _store(home: Path, profile: FileProfile) -> None:
    target = _cache_path(home, profile["sha256"])
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_text(json.dumps(profile, separators=(",", ":")))
    os.replace(temp, target)


def profile_of(home: Path, path: str | Path, sha256: str | None = None) -> FileProfile | None:
    """The profile of ``path`` at content ``sha256`` (default: its content now).

    From the store's profiles when computed before; else computed now if the file still
    has that content, is tabular and under ``MAX_BYTES``; None otherwise (the version is
    gone, or it cannot be read as a table: logged, never raised).
    """
    if sha256 is not None and (found := cached(home, sha256)) is not None:
        return found
    name = os.fspath(path)
    if not tabular(name):
        return None
    try:
        before = os.stat(name)
    except OSError:
        return None
    if before.st_size > MAX_BYTES:
        return None
    current = sha256_file(name)
    if current is None or (sha256 is not None and current != sha256):
        return None
    if (found := cached(home, current)) is not None:
        return found
    from ..store import profiles

    started = time.perf_counter()
    try:
        tables = profiles.profile_file(name)
    except profiles.errors() as error:
        log.info("mlprod-nb: %s is not profiled: %s", name, str(error).splitlines()[0])
        return None
    try:
        changed = stat_key(os.stat(name)) != stat_key(before)
    except OSError:
        changed = True
    if changed:  # rewritten while DuckDB read it: that profile describes nothing
        return None
    profile = FileProfile(
        v=VERSION,
        path=name,
        sha256=current,
        size=before.st_size,
        computed=time.time(),
        seconds=time.perf_counter() - started,
        tables=tables,  # type: ignore[typeddict-item]
    )
    _store(home, profile)
    return profile


class Profiler:
    """Profiles files in a background thread of this process (the runner's driver):
    ``add`` queues ``(path, sha256)`` pairs, ``join`` waits for the queue up to a budget.
    A version already profiled, or no longer on disk, costs a lookup."""

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._seen: set[str] = set()
        self._thread: threading.Thread | None = None

    def add(self, files: dict[str, str]) -> None:
        for path, sha256 in files.items():
            if sha256 in self._seen or not tabular(path):
                continue
            self._seen.add(sha256)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._work, name="mlprod-nb-profiler", daemon=True
                )
                self._thread.start()
            self._queue.put((path, sha256))

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            try:
                profile_of(self.home, *item)
            except Exception:  # a profile is a courtesy: never fail the run for one
                log.exception("mlprod-nb: profiling %s failed", item[0])

    def join(self, budget: float) -> None:
        """Wait up to ``budget`` seconds for what is queued; what is left stays unprofiled
        (computed on request later, if the file still has that content)."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(budget)
