""" "When its input data changes": which files a pipeline reads, and their content hashes.

The inputs are the files the source notebook's latest executions read (its lineage
in the store) that no step of the pipeline writes (the manifest's file edges and
anything inside the pipeline or store folders). Hashes come from the stat-cached
hasher, so a ``touch`` re-hashes the file but, its content unchanged, fires nothing.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..errors import MlprodError

_CACHE_SECONDS = 30.0
_cache: dict[str, tuple[float, float, list[str]]] = {}  # pipeline -> (when, manifest mtime, files)


def data_inputs(pipeline: str | Path) -> list[str]:
    """The files whose new content fires the pipeline's "on new data" schedules."""
    from ..lineage.staleness import files_read
    from ..paths import find_home
    from ..pipeline.manifest import load
    from ..store.commands import notebook_lineage

    manifest, folder = load(pipeline)
    try:
        lineage = notebook_lineage(manifest.source)
    except MlprodError:  # never traced: nothing known to read
        return []
    written = {f for edge in manifest.edges for f in edge.files}
    home = find_home(manifest.source).home
    inputs = []
    for path in files_read(lineage):
        absolute = Path(path)
        if path in written or absolute.name in written:
            continue
        if absolute.is_relative_to(folder) or absolute.is_relative_to(home):
            continue
        inputs.append(path)
    return inputs


def _manifest_time(pipeline: str) -> float | None:
    try:
        return os.stat(Path(pipeline) / "pipeline.json").st_mtime
    except OSError:
        return None


def last_inputs(pipeline: str) -> list[str] | None:
    """What ``cached_inputs`` last answered for ``pipeline`` in this process, however old
    (None: never asked, or the manifest changed since). Never opens the store, so a tick
    asks it with the store's lock held."""
    hit = _cache.get(pipeline)
    mtime = _manifest_time(pipeline)
    if mtime is None:
        return []
    return hit[2] if hit is not None and hit[1] == mtime else None


def cached_inputs(pipeline: str, now: float | None = None) -> list[str]:
    """``data_inputs`` asked again at most every 30 s or when the manifest changes
    (each asking opens the store): what a tick refreshes after releasing the lock."""
    moment = time.monotonic() if now is None else now
    mtime = _manifest_time(pipeline)
    if mtime is None:
        return []
    hit = _cache.get(pipeline)
    if hit is not None and hit[1] == mtime and moment - hit[0] < _CACHE_SECONDS:
        return hit[2]
    try:
        files = data_inputs(pipeline)
    except MlprodError:
        files = []
    _cache[pipeline] = (moment, mtime, files)
    return files


def hashes(files: list[str]) -> dict[str, str]:
    """Content hashes of the files that exist now."""
    from ..hashing import sha256_file

    found = {}
    for path in files:
        digest = sha256_file(path)
        if digest is not None:
            found[path] = digest
    return found


def newest_change(files: list[str]) -> float:
    """The latest mtime among ``files`` (0 when none exists): for the debounce."""
    latest = 0.0
    for path in files:
        try:
            latest = max(latest, os.stat(path).st_mtime)
        except OSError:
            pass
    return latest
