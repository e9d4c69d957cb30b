"""One worker thread that owns the server's lineage stores, and what they answered.

DuckDB allows one read-write process per file, and the store's lock file is
exclusive, so the server opens a store once, serves every request from a single
thread, ingests new journal lines at most every ``ingest_interval`` seconds, and
closes the store (releasing the lock for the CLI and the runner) after
``idle_close`` seconds without a request.

After each ingest, the datasets whose latest version is new are handed to a data
profiler (``data.profile.Profiler``, its own thread): versions read in interactive
sessions get profiles too, while their files still hold them.

Answers are kept per store until its journal changes. The journal is the store's
only input (every writer appends there; whoever holds the lock ingests it), so
while no journal file changed in name, size or mtime, a kept answer is still
true, even after the store was closed and another process held it: a panel
polling an idle notebook is answered without opening the store at all.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ..errors import NotFoundError
from ..paths import Layout

if TYPE_CHECKING:
    from ..data.profile import Profiler
    from ..store import Store
    from ..store.queries import LineageCache

T = TypeVar("T")
Fingerprint = tuple[tuple[str, int, int], ...]


def journal_fingerprint(layout: Layout) -> Fingerprint:
    """Name, size and mtime of every journal file: changes whenever a record is appended."""
    try:
        entries = list(os.scandir(layout.journal_dir))
    except FileNotFoundError:
        return ()
    found = []
    for entry in entries:
        if entry.name.endswith(".ndjson"):
            try:
                st = entry.stat()
            except OSError:
                continue
            found.append((entry.name, st.st_size, st.st_mtime_ns))
    return tuple(sorted(found))


@dataclass
class _Held:
    store: Store
    last_used: float
    last_ingest: float


@dataclass
class _Answers:
    fingerprint: Fingerprint | None = None  # of the journal when these were computed
    values: dict[Hashable, object] = field(default_factory=dict)


class StoreService:
    """Runs functions of an open ``Store`` on the one thread that owns it."""

    def __init__(self, *, lock_timeout: float, idle_close: float, ingest_interval: float) -> None:
        self.lock_timeout = lock_timeout
        self.idle_close = idle_close
        self.ingest_interval = ingest_interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlprod-store")
        self._held: dict[Layout, _Held] = {}
        self._answers: dict[Layout, _Answers] = {}
        self._lineages: dict[Layout, LineageCache] = {}  # outlive the store's closing when idle
        self._closer: asyncio.TimerHandle | None = None
        self._profilers: dict[Layout, Profiler] = {}
        self._profiled_until: dict[Layout, float] = {}  # first_seen of the last handed over

    async def call(
        self, layout: Layout, work: Callable[[Store], T], key: Hashable | None = None
    ) -> T:
        """``work(store)`` on the owner thread, with the store's journal ingested.

        With a ``key``, the result is kept and returned again (the same object) until
        the journal changes. Raises ``NotFoundError`` when nothing was ever recorded at
        ``layout``, ``StoreLockedError`` when another process keeps the lock too long.
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._run, layout, work, key)
        finally:
            self._arm_closer(loop)

    async def call_released(self, layout: Layout, work: Callable[[], T]) -> T:
        """``work()`` on the owner thread with ``layout``'s store closed (its lock free).

        For work that opens the store itself, such as export reading the tracer's record:
        the lock file is exclusive even between threads of one process.
        """
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, self._released, layout, work)
        finally:
            self._arm_closer(loop)

    async def journal_written(self, layout: Layout) -> None:
        """We wrote to ``layout``'s journal ourselves: the next call ingests at once."""
        await asyncio.get_running_loop().run_in_executor(self._executor, self._expire, layout)

    def _expire(self, layout: Layout) -> None:
        held = self._held.get(layout)
        if held is not None:
            held.last_ingest = float("-inf")

    def _released(self, layout: Layout, work: Callable[[], T]) -> T:
        held = self._held.pop(layout, None)
        if held is not None:
            held.store.close()
        return work()

    def _open(self, layout: Layout) -> _Held:
        held = self._held.get(layout)
        if held is not None:
            return held
        if not layout.home.is_dir():
            raise NotFoundError(
                "nothing recorded yet: no lineage store",
                path=layout.home,
                hint="run a notebook with the tracer on (%load_ext mlprod_nb)",
            )
        from ..store import Store
        from ..store.queries import LineageCache

        store = Store.open(layout, timeout=self.lock_timeout)  # ingests on open
        store.share_lineages(self._lineages.setdefault(layout, LineageCache()))
        now = time.monotonic()
        held = self._held[layout] = _Held(store, now, now)
        self._profile_new(layout, store)
        return held

    def _profile_new(self, layout: Layout, store: Store) -> None:
        """Queue the datasets whose latest version appeared since the last look."""
        from ..data.profile import Profiler
        from ..store.profiles import current_versions

        found = current_versions(store.con, self._profiled_until.get(layout, 0.0))
        if not found:
            return
        self._profiled_until[layout] = found[-1][2]
        profiler = self._profilers.setdefault(layout, Profiler(layout.home))
        profiler.add({path: sha for path, sha, _ in found})

    def _refresh(self, layout: Layout) -> _Answers:
        """The kept answers, after ingesting the journal if it changed since they were made."""
        answers = self._answers.setdefault(layout, _Answers())
        held = self._held.get(layout)
        if held is not None and time.monotonic() - held.last_ingest < self.ingest_interval:
            return answers  # ingested a moment ago
        fingerprint = journal_fingerprint(layout)  # taken before ingesting: errs on recompute
        if fingerprint == answers.fingerprint:
            return answers
        if held is None:
            held = self._open(layout)
        else:
            held.store.ingest()
            self._profile_new(layout, held.store)
        held.last_ingest = time.monotonic()
        answers.values.clear()
        answers.fingerprint = fingerprint
        return answers

    def _run(self, layout: Layout, work: Callable[[Store], T], key: Hashable | None) -> T:
        answers = self._refresh(layout)
        if key is not None and key in answers.values:
            kept = answers.values[key]
            if isinstance(kept, NotFoundError):  # "not recorded" stays true until new records
                raise kept
            return kept  # type: ignore[return-value]
        held = self._open(layout)
        held.last_used = time.monotonic()
        try:
            result = work(held.store)
        except NotFoundError as error:
            if key is not None:
                answers.values[key] = error
            raise
        if key is not None:
            answers.values[key] = result
        return result

    def _arm_closer(self, loop: asyncio.AbstractEventLoop) -> None:
        # armed once, not pushed back by each request: a panel polling faster than
        # idle_close, answered from kept answers, must not keep the lock forever
        if self._closer is None:
            self._closer = loop.call_later(self.idle_close, self._close_idle_soon, loop)

    def _close_idle_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        self._closer = None
        try:
            closed = loop.run_in_executor(self._executor, self._close_idle)
        except RuntimeError:  # executor already shut down
            return
        # a store used meanwhile stays open: look again once it may have gone idle
        closed.add_done_callback(lambda _: self._rearm(loop))

    def _rearm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._held and not loop.is_closed():
            self._arm_closer(loop)

    def _close_idle(self, force: bool = False) -> None:
        now = time.monotonic()
        for layout, held in list(self._held.items()):
            if force or now - held.last_used >= self.idle_close:
                del self._held[layout]
                held.store.close()

    def close(self) -> None:
        """Close every store and stop the owner thread (at server shutdown)."""
        if self._closer is not None:
            self._closer.cancel()
            self._closer = None
        try:
            self._executor.submit(self._close_idle, True).result(timeout=self.lock_timeout + 5)
        except RuntimeError:
            pass
        self._executor.shutdown(wait=True)
