"""``Store``: the lineage database of one ``.mlprod`` folder, opened under its lock."""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ..lineage.model import Execution, NotebookLineage, RunDetail, RunSummary, Session
from ..paths import Layout
from . import compact as compaction
from . import ingest, queries, readonly, schema
from .lock import StoreLock

if TYPE_CHECKING:
    import duckdb

_MOVE_ASIDE = (
    "move it aside (for example `mv {name} {name}.broken`) and run the command again; "
    "the journal (and the backup of `mlprod-nb compact`) is kept, so everything is "
    "restored and ingested again into a new store"
)


def _out_of_space(error: BaseException, layout: Layout) -> StoreError | None:
    """The error to show when ``error`` is the disk (or quota) being full, else None.

    DuckDB reports ``ENOSPC`` as text ("Could not write file ...: No space left on
    device"); the failed write ended the transaction, so nothing of it is in the store.
    """
    text = str(error)
    if not any(os.strerror(code) in text for code in (errno.ENOSPC, errno.EDQUOT)):
        return None
    written = re.search(r'write file "([^"]+)"', text)
    try:
        free = f"{shutil.disk_usage(layout.home).free:,} bytes free"
    except OSError:
        free = "free space unknown"
    return StoreError(
        f"no space left on the device of the lineage store ({free}; could not write "
        f"{written.group(1) if written else layout.db_path})",
        path=layout.home,
        hint="free some space on that disk and run the command again; nothing was lost: "
        "the store is intact and the journal is kept, and the store catches up with "
        "the journal when there is space",
    )


def _connect(layout: Layout) -> duckdb.DuckDBPyConnection:
    import duckdb

    db = layout.db_path
    try:
        return duckdb.connect(str(db))
    except duckdb.Error as error:
        full = _out_of_space(error, layout)
        if full is not None:
            raise full from error
        if not os.access(layout.home, os.W_OK) or (db.exists() and not os.access(db, os.W_OK)):
            raise StoreError(
                "the lineage store is not writable",
                path=db,
                hint="make the .mlprod folder writable, or set MLPROD_NB_HOME to a writable folder",
            ) from error
        raise StoreError(
            f"the lineage store cannot be opened as a DuckDB database ({error})",
            path=db,
            hint=_MOVE_ASIDE.format(name=db.name),
        ) from error


def _restore_if_lost(layout: Layout) -> None:
    """No DuckDB file but a backup (``mlprod-nb compact``): start from the backup; the
    journal files left are ingested after it, from the offsets it holds."""
    if layout.db_path.exists():
        return
    backup = compaction.latest_backup(layout)
    if backup is None:
        return
    import duckdb

    try:
        compaction.restore(layout, backup)
    except (OSError, duckdb.Error) as error:
        raise StoreError(
            f"the lineage store cannot be restored from its backup ({error})",
            path=backup,
            hint="check that the folder is readable and the disk has space, then run the "
            "command again; the backup and the journal are kept",
        ) from error


class Store:
    """Use as ``with Store.open(layout) as store:``; the lock is held until the block ends."""

    def __init__(self, layout: Layout, con: duckdb.DuckDBPyConnection, lock: StoreLock) -> None:
        self.layout = layout
        self._con: duckdb.DuckDBPyConnection | None = con
        self._lock = lock
        self.new_journal_errors = 0  # lines the last ingest could not use (see journal_errors)
        self._lineages = queries.LineageCache()  # executions already read, per notebook

    @classmethod
    def open(cls, layout: Layout, timeout: float = 30.0, *, ingest: bool = True) -> Store:
        """Lock, connect, migrate and (by default) ingest new journal lines."""
        if layout.home.exists() and not os.access(layout.home, os.W_OK | os.X_OK):
            raise StoreError(
                "the store folder is not writable",
                path=layout.home,
                hint="make it writable, or set MLPROD_NB_HOME to a writable folder",
            )
        lock = StoreLock(layout.lock_path)
        lock.acquire(timeout)
        try:
            _restore_if_lost(layout)
            con = _connect(layout)
        except BaseException:
            lock.release()
            raise
        store = cls(layout, con, lock)
        try:
            store._migrate()
            if ingest:
                store.ingest()
        except BaseException:
            store.close()
            raise
        return store

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            raise StoreError("the lineage store is closed", path=self.layout.db_path)
        return self._con

    def _migrate(self) -> None:
        import duckdb

        try:
            schema.migrate(self.con, self.layout.db_path)
        except duckdb.Error as error:
            full = _out_of_space(error, self.layout)
            if full is not None:
                raise full from error
            raise StoreError(
                f"the lineage store's tables cannot be read or created ({error})",
                path=self.layout.db_path,
                hint=_MOVE_ASIDE.format(name=self.layout.db_path.name),
            ) from error

    def ingest(self) -> int:
        """Ingest new complete journal lines (exactly once); returns how many records."""
        import duckdb

        try:
            before = self._error_count()
            done = ingest.ingest(self.con, self.layout.journal_dir)
            self.new_journal_errors = self._error_count() - before
            return done
        except duckdb.Error as error:
            full = _out_of_space(error, self.layout)
            if full is not None:
                raise full from error
            writable = os.access(self.layout.home, os.W_OK)
            raise StoreError(
                f"ingesting the journal failed ({error})",
                path=self.layout.db_path,
                hint=(
                    "make the .mlprod folder writable (nothing was lost: the journal is kept)"
                    if not writable
                    else _MOVE_ASIDE.format(name=self.layout.db_path.name)
                ),
            ) from error

    def compact(self, progress: compaction.Progress = lambda _: None) -> compaction.Compaction:
        """Ingest, back the store up into ``.mlprod/backup/`` and remove the journal files
        the backup now holds whose writers are gone (``store/compact.py``)."""
        import duckdb

        progress("ingesting new journal lines ...")
        self.ingest()
        try:
            return compaction.compact(self.con, self.layout, progress)
        except (OSError, duckdb.Error) as error:
            full = _out_of_space(error, self.layout)
            if full is not None:
                raise full from error
            raise StoreError(
                f"compacting the journal failed ({error})",
                path=compaction.backup_root(self.layout),
                hint="nothing was lost: a journal file goes only once a complete backup "
                "holds it; fix the cause and run `mlprod-nb compact` again",
            ) from error

    def _error_count(self) -> int:
        row = self.con.execute("SELECT count(*) FROM journal_errors").fetchone()
        return int(row[0]) if row else 0

    def notebook_lineage(self, path: str | Path) -> NotebookLineage:
        """The notebook's lineage; executions read before are reused, only new ones read."""
        return queries.notebook_lineage(self.con, path, self._lineages)

    def share_lineages(self, cache: queries.LineageCache) -> None:
        """Read executions through ``cache`` from now on: one kept by the caller outlives
        this store, so a store reopened after an idle close reads only new executions."""
        self._lineages = cache

    def query(
        self, sql: str, params: Sequence[Any] = ()
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Plain queries only (SELECT, EXPLAIN of one), parameters bound: the last one's rows.

        Anything else is refused by DuckDB's parse before it runs (``readonly``).
        """
        return readonly.run(self.con, sql, params)

    def reopen_read_only(self, *, allow_files: bool = False) -> None:
        """Swap the connection for a read-only one that cannot reach files outside the store.

        For SQL the user typed (``mlprod-nb sql``). The lock stays held, so no ingest
        runs meanwhile; with ``allow_files`` local files can be read (never written:
        statements that write are refused whatever this says).
        """
        con, self._con = self._con, None
        if con is not None:
            con.close()
        self._con = readonly.connect(self.layout.db_path, allow_files=allow_files)

    def runs(self, pipeline: str | Path | None = None) -> list[RunSummary]:
        """Runs, newest first; a cached step's metrics are those of the run that computed
        it (``lineage.cached``), so the CLI and the panel list the same numbers."""
        from ..errors import NotFoundError
        from ..lineage.cached import with_cached_metrics

        details: dict[str, RunDetail | None] = {}

        def detail_of(run_id: str) -> RunDetail | None:
            if run_id not in details:
                try:
                    details[run_id] = self.run(run_id)
                except NotFoundError:  # produced by a run no longer recorded
                    details[run_id] = None
            return details[run_id]

        return with_cached_metrics(queries.runs(self.con, pipeline), detail_of)

    def run(self, run_id: str) -> RunDetail:
        return queries.run(self.con, run_id)

    def session(self, session_id: str) -> tuple[Session, list[Execution]]:
        """A kernel session and its executions in the order it ran them."""
        from ..errors import NotFoundError

        ids = queries.session_ids(self.con, session_id)
        if len(ids) != 1:
            raise NotFoundError(
                f"{'no' if not ids else 'more than one'} session {session_id!r} in the store",
                hint="`mlprod-nb lineage NOTEBOOK` lists a notebook's sessions; "
                "give more of the id",
            )
        [found] = queries.sessions(self.con, ids)
        return found, queries.session_executions(self.con, found.id)

    def step_sessions(self, run_ids: Sequence[str]) -> list[tuple[str, str | None, Session]]:
        """``(run, step, session)`` for every kernel session that ran steps of the runs."""
        return queries.step_sessions(self.con, run_ids)

    def package_versions(self, hashes: Sequence[str]) -> dict[str, dict[str, str]]:
        return queries.package_versions(self.con, hashes)

    def journal_errors(self) -> list[tuple[str, int, str]]:
        """``(file, offset, reason)`` of every journal line that could not be ingested."""
        return queries.journal_errors(self.con)

    def close(self) -> None:
        con, self._con = self._con, None
        try:
            if con is not None:
                con.close()
        finally:
            self._lock.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
