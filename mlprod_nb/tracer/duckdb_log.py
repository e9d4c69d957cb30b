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

    def touch(self, report: Report) -> None:
        """A cell is calling DuckDB: make sure the default instance logs."""
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
        self.used = True
        if self._enable(connection, report):
            try:
                self._connections.add(connection)
            except TypeError:
                self._strong.append(connection)

    @staticmethod
    def _enable(connection: Any, report: Report) -> bool:
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(_ENABLE)
            finally:
                cursor.close()
        except Exception as exc:
            report(exc)
            return False
        return True

    def collect(self, capture: FileCapture, report: Report) -> None:
        """Move the logged file operations of every instance into ``capture``."""
        if not self.used:
            return
        self.used = False
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
