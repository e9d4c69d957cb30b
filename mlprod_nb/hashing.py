"""Content hashes of data files (sha256 of the whole file), cached on what ``stat`` says.

One hasher for everyone: the tracer (per kernel, ``FileHasher``), and the CLI, server,
runner and cache (``sha256_file``, backed by one shared ``FileHasher``). A cache entry
is keyed on ``(dev, inode, size, mtime_ns, ctime_ns)``; an entry taken less than
``racy_ns`` after the file's last change is not trusted (git's racy-clean rule: a write
in the same clock tick keeps the key), so the file is hashed again next time. A file
that changes while it is read is not cached. ``calls`` counts real hash computations.

A hasher may also ``share`` a folder with the other processes of a store (the tracer
gives it ``.mlprod/filehashes/``): one small file per ``(dev, inode)``, named after
them, holds ``size mtime_ns ctime_ns sha256`` of the last trusted hash of that file.
It is used only when all three still match the file's stat (a rewrite changes ctime,
whatever it sets mtime to; a new file on a reused inode has its own ctime), and it is
written to a temporary file then renamed over the old one, so concurrent kernels never
read half an entry: the last writer wins, and each entry is whole and self-consistent.
So a 24 MB CSV hashed by one kernel is not hashed again by the next kernel that reads it.
"""

from __future__ import annotations

import hashlib
import os
import stat
import threading
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
        self.shared_dir: str | None = None
        self._cache: dict[str, tuple[StatKey, FileVersion, bool]] = {}

    def share(self, folder: str | os.PathLike[str] | None) -> None:
        """Read and write trusted hashes in ``folder`` too (None: this process only)."""
        self.shared_dir = os.fspath(folder) if folder is not None else None

    def _shared_file(self, key: StatKey) -> str | None:
        if self.shared_dir is None:
            return None
        return os.path.join(self.shared_dir, f"{key[0]}-{key[1]}")

    def _read_shared(self, path: str, key: StatKey) -> FileVersion | None:
        entry = self._shared_file(key)
        if entry is None:
            return None
        try:
            with open(entry, encoding="ascii") as handle:
                fields = handle.read(200).split()
        except (OSError, ValueError):
            return None
        if len(fields) != 4 or fields[:3] != [str(k) for k in key[2:]]:
            return None  # another version of the file, or not an entry
        digest = fields[3]
        if len(digest) != 64 or digest.strip("0123456789abcdef"):
            return None
        version = FileVersion(digest, key[2], key[3])
        self._cache[path] = (key, version, True)
        return version

    def _write_shared(self, key: StatKey, digest: str) -> None:
        entry = self._shared_file(key)
        if entry is None:
            return
        temporary = f"{entry}.{os.getpid()}-{threading.get_ident()}.tmp"
        try:
            os.makedirs(os.path.dirname(entry), exist_ok=True)
            with open(temporary, "w", encoding="ascii") as handle:
                handle.write(f"{key[2]} {key[3]} {key[4]} {digest}\n")
            os.replace(temporary, entry)
        except OSError:  # a read-only or full store: this process keeps its own cache
            try:
                os.unlink(temporary)
            except OSError:
                pass

    def stat(self, path: str) -> StatKey | None:
        try:
            st = os.stat(path)
        except OSError:
            return None
        return stat_key(st) if stat.S_ISREG(st.st_mode) else None

    def cached(self, path: str, key: StatKey) -> FileVersion | None:
        """The version recorded for exactly this stat key, trusted or not."""
        entry = self._cache.get(path)
        if entry is not None and entry[0] == key:
            return entry[1]
        return self._read_shared(path, key)

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
        known = self._read_shared(path, key)
        if known is not None:
            return known
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
        if trusted:
            self._write_shared(key, digest)
        return version


shared = FileHasher()  # the process's cache for sha256_file


def sha256_file(path: str) -> str | None:
    """The file's sha256 (hex), or None when it is missing, not a file or unreadable."""
    version = shared.version(path)
    return version.sha256 if version is not None else None


def current_hashes(paths: Iterable[str]) -> dict[str, str | None]:
    """``{path: sha256 or None}`` for every path."""
    return {p: sha256_file(p) for p in paths}
