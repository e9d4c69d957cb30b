"""One worker thread that owns the server's open lineage stores.

DuckDB allows one read-write process per file, and the store's lock file is
exclusive, so the server opens a store once, serves every request from a single
thread, ingests new journal lines at most every ``ingest_interval`` seconds, and
closes the store (releasing the lock for the CLI and the runner) after
``idle_close`` seconds without a request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from ..errors import NotFoundError
from ..paths import Layout

if TYPE_CHECKING:
    from ..store import Store

T = TypeVar("T")


@dataclass
class _Held:
    store: Store
    last_used: float
    last_ingest: float
    results: dict[Hashable, object] = field(default_factory=dict)  # valid until new records


class StoreService:
    """Runs functions of an open ``Store`` on the one thread that owns it."""

    def __init__(self, *, lock_timeout: float, idle_close: float, ingest_interval: float) -> None:
        self.lock_timeout = lock_timeout
        self.idle_close = idle_close
        self.ingest_interval = ingest_interval
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlprod-store")
        self._held: dict[Layout, _Held] = {}
        self._closer: asyncio.TimerHandle | None = None

    async def call(
        self, layout: Layout, work: Callable[[Store], T], key: Hashable | None = None
    ) -> T:
        """``work(store)`` on the owner thread, with the store open and recently ingested.

        With a ``key``, the result is kept and returned again (the same object) until an
        ingest brings new records or the store is reopened. Raises ``NotFoundError`` when
        nothing was ever recorded at ``layout``.
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

    def _released(self, layout: Layout, work: Callable[[], T]) -> T:
        held = self._held.pop(layout, None)
        if held is not None:
            held.store.close()
        return work()

    def _run(self, layout: Layout, work: Callable[[Store], T], key: Hashable | None) -> T:
        held = self._held.get(layout)
        now = time.monotonic()
        if held is None:
            if not layout.home.is_dir():
                raise NotFoundError(
                    "nothing recorded yet: no lineage store",
                    path=layout.home,
                    hint="run a notebook with the tracer on (%load_ext mlprod_nb)",
                )
            from ..store import Store

            store = Store.open(layout, timeout=self.lock_timeout)  # ingests on open
            held = self._held[layout] = _Held(store, now, now)
        elif now - held.last_ingest >= self.ingest_interval:
            if held.store.ingest():
                held.results.clear()
            held.last_ingest = time.monotonic()
        held.last_used = time.monotonic()
        if key is None:
            return work(held.store)
        if key not in held.results:
            held.results[key] = work(held.store)
        result: T = held.results[key]  # type: ignore[assignment]
        return result

    def _arm_closer(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._closer is not None:
            self._closer.cancel()
        self._closer = loop.call_later(self.idle_close, self._close_idle_soon, loop)

    def _close_idle_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        self._closer = None
        try:
            loop.run_in_executor(self._executor, self._close_idle)
        except RuntimeError:  # executor already shut down
            pass

    def _close_idle(self, force: bool = False) -> None:
        now = time.monotonic()
        for layout, held in list(self._held.items()):
            if force or now - held.last_used >= self.idle_close:
                del self._held[layout]
                held.store.close()

    @property
    def open_layouts(self) -> list[Layout]:
        """The stores held open right now (for tests and diagnostics)."""
        return list(self._held)

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
