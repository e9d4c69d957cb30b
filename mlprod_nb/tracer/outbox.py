"""Journal files of one kernel, with records held back while a journal cannot be written.

One ``JournalWriter`` per store (a session may change notebooks, hence stores);
the session record goes first into each. When a write fails (read-only or
missing folder) the record stays in memory, in order, and is retried with the
next one; the failure is counted and logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from .. import journal
from ..paths import Layout
from ..records import Record, SessionRecord

log = logging.getLogger("mlprod_nb.tracer")

MAX_BACKLOG = 10_000  # records kept while no journal is writable (oldest dropped)


@dataclass
class _Journal:
    writer: journal.JournalWriter
    session_written: bool = False


class Outbox:
    """Appends records to the journal of their store, in order, never raising."""

    def __init__(self, session_record: Callable[[], SessionRecord]) -> None:
        self._session_record = session_record
        self._journals: dict[Layout, _Journal] = {}
        self._backlog: list[tuple[Layout, Record]] = []
        self._last: tuple[Layout, _Journal] | None = None
        self.failures = 0

    def write(self, layout: Layout, record: Record) -> None:
        if not self._backlog:  # the usual case: straight to the file
            try:
                self._append(layout, record)
                return
            except OSError as exc:
                self._backlog.append((layout, record))
                self._failed(layout, exc)
                return
        self._backlog.append((layout, record))
        if len(self._backlog) > MAX_BACKLOG:
            del self._backlog[0]
        self.flush()

    def flush(self) -> None:
        backlog, self._backlog = self._backlog, []
        for index, (layout, record) in enumerate(backlog):
            try:
                self._append(layout, record)
            except OSError as exc:
                self._backlog = backlog[index:] + self._backlog
                self._failed(layout, exc)
                return

    def close(self) -> None:
        self.flush()
        for entry in self._journals.values():
            entry.writer.close()

    def _append(self, layout: Layout, record: Record) -> None:
        last = self._last
        entry = last[1] if last is not None and last[0] is layout else self._journal(layout)
        if not entry.session_written:
            entry.writer.append(self._session_record())
            entry.session_written = True
        entry.writer.append(record)

    def _failed(self, layout: Layout, exc: OSError) -> None:
        self.failures += 1
        if self.failures == 1:
            log.warning(
                "mlprod-nb cannot write its journal in %s (%s); records are kept "
                "in memory and written when it becomes writable",
                layout.journal_dir,
                exc,
            )

    def _journal(self, layout: Layout) -> _Journal:
        entry = self._journals.get(layout)
        if entry is None:
            entry = self._journals[layout] = _Journal(journal.JournalWriter(layout.journal_dir))
        self._last = (layout, entry)
        return entry
