"""Files DuckDB read or wrote in a cell, from DuckDB's own file-system log.

Logging is enabled per database instance (``CALL enable_logging('FileSystem')``):
on the default connection the first time a cell calls a module-level DuckDB
function, and on every connection made with ``duckdb.connect``. After a cell
that used DuckDB the log of each instance is read and truncated (globs arrive
already resolved). These statements address DuckDB's logging facility, not the
lineage store, and always run on a fresh cursor so the user's pending results
are untouched.
"""

from __future__ import annotations

import json
import os
import sys
import weakref
from collections.abc import Callable
from typing import Any

from .files import FileCapture

_ENABLE = "CALL enable_logging('FileSystem')"
_READ = "SELECT message FROM duckdb_logs WHERE type = 'FileSystem'"
_TRUNCATE = "CALL truncate_duckdb_logs()"

Report = Callable[[BaseException], None]


class DuckLog:
    """Tracks DuckDB connections with logging on; ``used`` marks the running cell."""

    def __init__(self) -> None:
        self.used = False
        self._default: Any = None
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._strong: list[Any] = []  # connections that refuse weak references
        self._busy = False  # our own statements go through the wrapped methods too

    def mark(self) -> None:
        """The running cell used DuckDB (a relation being materialised, say)."""
        if not self._busy:
            self.used = True

    def touch(self, report: Report) -> None:
        """A cell is calling DuckDB: make sure the default instance logs."""
        if self._busy:
            return
        self.used = True
        if self._default is not None:
            return
        module = sys.modules.get("duckdb")
        if module is None:
            return
        try:
            default = module.default_connection
            connection = default() if callable(default) and not hasattr(default, "sql") else default
        except Exception as exc:
            report(exc)
            return
        self._default = connection
        self._enable(connection, report)

    def adopt(self, connection: Any, report: Report) -> None:
        """Log the file operations of ``connection``'s database from now on."""
        if self._busy:
            return
        self.used = True
        if connection is self._default or self._known(connection):
            return
        if self._enable(connection, report):
            try:
                self._connections.add(connection)
            except TypeError:
                self._strong.append(connection)

    def _known(self, connection: Any) -> bool:
        if any(known is connection for known in self._strong):
            return True
        try:
            return connection in self._connections
        except TypeError:
            return False

    def _enable(self, connection: Any, report: Report) -> bool:
        self._busy = True
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(_ENABLE)
            finally:
                cursor.close()
        except Exception as exc:
            report(exc)
            return False
        finally:
            self._busy = False
        return True

    def collect(self, capture: FileCapture, report: Report) -> None:
        """Move the logged file operations of every instance into ``capture``."""
        if not self.used:
            return
        self.used = False
        self._busy = True
        try:
            self._collect(capture, report)
        finally:
            self._busy = False

    def _collect(self, capture: FileCapture, report: Report) -> None:
        connections = [self._default, *self._connections, *self._strong]
        for connection in connections:
            if connection is None:
                continue
            try:
                cursor = connection.cursor()
            except Exception:  # closed by the user: forget it
                self._connections.discard(connection)
                if connection in self._strong:
                    self._strong.remove(connection)
                continue
            try:
                rows = cursor.execute(_READ).fetchall()
                cursor.execute(_TRUNCATE)
            except Exception as exc:
                report(exc)
                continue
            finally:
                cursor.close()
            self._add(rows, capture)

    @staticmethod
    def _add(rows: list[tuple[Any, ...]], capture: FileCapture) -> None:
        ops: dict[str, set[str]] = {}
        for (message,) in rows:
            entry = json.loads(message)
            path = entry.get("path")
            if entry.get("fs", "LocalFileSystem") == "LocalFileSystem" and isinstance(path, str):
                ops.setdefault(path, set()).add(str(entry.get("op", "")))
        for path, seen in ops.items():
            full = os.path.abspath(path)
            # an OPEN followed only by writes is not a read
            if "READ" in seen or ("OPEN" in seen and "WRITE" not in seen):
                capture.add(full, "read", "duckdb")
            if "WRITE" in seen:
                capture.add(full, "write", "duckdb")
