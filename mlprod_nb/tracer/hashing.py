"""Full-content sha256 of files, cached on stat data with git's racy-clean rule.

A cache entry is keyed on ``(dev, inode, size, mtime_ns, ctime_ns)``. An entry
taken less than ``racy_ns`` after the file's last change is not trusted: the
file could change again within the same timestamp tick, so it is hashed again
next time. ``calls`` counts real hash computations (tests assert on it).
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from dataclasses import dataclass

StatKey = tuple[int, int, int, int, int]
RACY_NS = 2_000_000_000


@dataclass(frozen=True)
class FileVersion:
    sha256: str
    size: int
    mtime_ns: int


def stat_key(st: os.stat_result) -> StatKey:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class FileHasher:
    """sha256 of whole files, re-computed only when the stat data changed."""

    def __init__(self, racy_ns: int = RACY_NS) -> None:
        self.racy_ns = racy_ns
        self.calls = 0
        self._cache: dict[str, tuple[StatKey, FileVersion, bool]] = {}

    def stat(self, path: str) -> StatKey | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return stat_key(st) if stat.S_ISREG(st.st_mode) else None

    def cached(self, path: str, key: StatKey) -> FileVersion | None:
        """The version recorded for exactly this stat key, trusted or not."""
        entry = self._cache.get(path)
        return entry[1] if entry is not None and entry[0] == key else None

    def version(self, path: str) -> FileVersion | None:
        """The file's current content hash; None when it is gone, not a file or unreadable."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(st.st_mode):
            return None
        key = stat_key(st)
        entry = self._cache.get(path)
        if entry is not None and entry[0] == key and entry[2]:
            return entry[1]
        try:
            with open(path, "rb") as handle:
                digest = hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError:
            return None
        self.calls += 1
        after = os.stat(path)
        if stat_key(after) != key:  # changed while we read it: do not cache
            return FileVersion(digest, after.st_size, after.st_mtime_ns)
        changed = max(st.st_mtime_ns, st.st_ctime_ns)
        trusted = time.time_ns() - changed >= self.racy_ns
        version = FileVersion(digest, st.st_size, st.st_mtime_ns)
        self._cache[path] = (key, version, trusted)
        return version
