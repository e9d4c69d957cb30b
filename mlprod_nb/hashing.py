"""Content hashes of data files (sha256), cached on what ``stat`` says about them.

The cache key is ``(device, inode, size, mtime_ns, ctime_ns)``; a hash taken
within ``RACY_SECONDS`` of the file's last change is not trusted next time
(git's racy-clean rule), since a write in the same clock tick keeps the key.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable

RACY_SECONDS = 2.0
_CHUNK = 1 << 20

_Key = tuple[int, int, int, int, int]
_cache: dict[str, tuple[_Key, str, float]] = {}


def sha256_file(path: str) -> str | None:
    """The file's sha256 (hex), or None when it is missing or unreadable."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    hit = _cache.get(path)
    changed = max(st.st_mtime_ns, st.st_ctime_ns) / 1e9
    if hit is not None and hit[0] == key and hit[2] - changed > RACY_SECONDS:
        return hit[1]
    digest = hashlib.sha256()
    taken = time.time()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except OSError:
        return None
    value = digest.hexdigest()
    _cache[path] = (key, value, taken)
    return value


def current_hashes(paths: Iterable[str]) -> dict[str, str | None]:
    """``{path: sha256 or None}`` for every path."""
    return {p: sha256_file(p) for p in paths}
