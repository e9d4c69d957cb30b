"""The store's exclusive lock file: nothing writes DuckDB without holding it.

An ``flock`` on ``lineage.lock`` (not on the database itself: DuckDB reads the
file header before it takes its own lock). The holder writes its pid and
command line into the lock file so a waiter can say who to stop.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from ..errors import StoreError, StoreLockedError

POLL_SECONDS = 0.02


class StoreLock:
    """An exclusive lock held from ``acquire`` to ``release``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _holder(self) -> str:
        try:
            text = self.path.read_text(errors="replace").strip()
        except OSError:
            text = ""
        return text or "another mlprod-nb process (the server, a runner or a CLI command)"

    def acquire(self, timeout: float) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise StoreError(
                f"cannot create the store's lock file: {error.strerror}",
                path=self.path,
                hint="make the .mlprod folder writable, or set MLPROD_NB_HOME to a writable folder",
            ) from error
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise StoreLockedError(
                        f"the lineage store is locked by {self._holder()} (waited {timeout:g} s)",
                        path=self.path,
                        hint="wait for it to finish or stop that process, then try again",
                    ) from None
                time.sleep(POLL_SECONDS)
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            who = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))
            os.pwrite(fd, f"pid {os.getpid()} ({who[:200]})\n".encode(), 0)
        except OSError:
            pass  # the note is a courtesy; the lock itself is held

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
