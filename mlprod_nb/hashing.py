"""Content hashes of data files (sha256 of the whole file), cached on what ``stat`` says.

One hasher for everyone: the tracer (per kernel, ``FileHasher``), and the CLI, server,
runner and cache (``sha256_file``, backed by one shared ``FileHasher``). A cache entry
is keyed on ``(dev, inode, size, mtime_ns, ctime_ns)``; an entry taken less than
``racy_ns`` after the file's last change is not trusted (git's racy-clean rule: a write
in the same clock tick keeps the key), so the file is hashed again next time. A file
that changes while it is read is not cached. ``calls`` counts real hash computations.
"""

from __future__ import annotations

import hashlib
import os
import stat
import time
from collections.abc import Iterable
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


shared = FileHasher()  # the process's cache for sha256_file


def sha256_file(path: str) -> str | None:
    """The file's sha256 (hex), or None when it is missing, not a file or unreadable."""
    version = shared.version(path)
    return version.sha256 if version is not None else None


def current_hashes(paths: Iterable[str]) -> dict[str, str | None]:
    """``{path: sha256 or None}`` for every path."""
    return {p: sha256_file(p) for p in paths}
