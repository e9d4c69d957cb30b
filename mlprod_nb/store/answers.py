"""Saved answers of ``lineage`` and ``stale``: what the command printed, kept under
``.mlprod/answers/`` and printed again while nothing it depends on has changed.

An answer is a function of the store's lineage tables, the notebook's path and the
code, and (``stale``) of the current content of the files the notebook read and the
page order of its cells. The tables change only by ingesting journal lines (ingest owns
them; renames and moves are journal lines too) or by another DuckDB file taking the
store's place (a restore from the backup, a store rebuilt from the journal). So each
answer is saved with a stamp made of

- every journal file (``*.ndjson``) as it was *before* the store was opened to compute
  the answer: name, size, mtime, ctime, inode. The ingest then reads at least that
  much, and a line appended meanwhile (or a torn line completed) changes a size, so a
  stamp taken later never matches again; a file removed by compaction changes the list;
- the DuckDB file and its WAL after the store was closed (inode, size, mtime, ctime);
- the code: the version, the size and mtime of every module of ``mlprod_nb``, Python's
  version (an upgrade or an edit of the code reads the store again);
- the notebook's path as given (absolute) and resolved, and the kind of answer.

``stale`` answers also keep the read files' paths and a digest of the inputs computed
outside the store (their current hashes, the page order), checked again on every use.
Checking a stamp is a few hundred ``stat`` calls: no duckdb import, no lock (each file
is written to a temporary and renamed into place, so a reader sees a whole file).
Compaction and a restore remove every saved answer as well.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Sequence

from .._version import __version__
from ..paths import Layout

FORMAT = 1  # bump when the file's layout changes
MAX_FILES = 64  # answers kept per store, the most recently saved
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

Inputs = Callable[[Sequence[str]], str]  # read paths -> digest of what else the answer used


def _stat(path: str) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _code() -> list[object]:
    """The version and every module's size and mtime: any edit of the code counts."""
    found: list[object] = [__version__, sys.version]
    for folder, subfolders, names in os.walk(_PACKAGE):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__")
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                found.append((path[len(_PACKAGE) :], _stat(path)))
    return found


def journal_state(layout: Layout) -> str:
    """A digest of the journal files the ingest would read (``ingest._pending``'s choice)."""
    files = []
    try:
        entries = list(os.scandir(layout.journal_dir))
    except OSError:
        entries = []
    for entry in entries:
        if not entry.name.endswith(".ndjson"):
            continue
        try:
            if not entry.is_file():
                continue
            st = entry.stat()
        except OSError:
            continue
        files.append((entry.name, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
    files.sort()
    return hashlib.sha256(repr(files).encode()).hexdigest()


def clear(layout: Layout) -> None:
    """Remove every saved answer (compaction and a restore call this)."""
    import shutil

    shutil.rmtree(layout.answers_dir, ignore_errors=True)


class Answers:
    """The saved answers about one notebook in one store."""

    def __init__(self, layout: Layout, given: str, resolved: str) -> None:
        self.layout = layout
        self._notebook = (given, resolved)

    def _path(self, kind: str) -> str:
        name = hashlib.sha256(repr((kind, self._notebook)).encode()).hexdigest()[:32]
        return os.path.join(self.layout.answers_dir, f"{name}.txt")

    def _stamp(self, kind: str, journal: str) -> str:
        db = str(self.layout.db_path)
        parts = [FORMAT, kind, self._notebook, journal, _stat(db), _stat(db + ".wal"), _code()]
        return hashlib.sha256(repr(parts).encode()).hexdigest()

    def journal(self) -> str:
        """The journal's state now: take it before opening the store to compute an answer."""
        return journal_state(self.layout)

    def get(self, kind: str, inputs: Inputs | None = None) -> str | None:
        """The saved answer of ``kind`` if the store and the code are as they were when it
        was saved (and ``inputs(read paths)`` gives the digest saved with it), else None."""
        try:
            with open(self._path(kind), encoding="utf-8", newline="") as f:
                stamp = f.readline().rstrip("\n")
                if stamp != self._stamp(kind, self.journal()):
                    return None
                reads = json.loads(f.readline())
                if not isinstance(reads, list):
                    return None
                digest = f.readline().rstrip("\n")
                if inputs is not None and digest != inputs(reads):
                    return None
                return f.read()
        except (OSError, ValueError):
            return None

    def put(
        self,
        kind: str,
        journal: str,
        text: str,
        reads: Sequence[str] = (),
        inputs: str = "",
    ) -> None:
        """Save ``text`` as the answer of ``kind``; ``journal`` is ``journal()`` as it was
        before the store was opened for it (the store is closed now). Where the store's
        folder cannot be written, nothing is saved."""
        import tempfile  # (and shutil under it: not on the way to a saved answer)

        head = f"{self._stamp(kind, journal)}\n{json.dumps(list(reads))}\n{inputs}\n"
        folder = str(self.layout.answers_dir)
        try:
            os.makedirs(folder, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=folder, prefix=".saving-")
            try:
                with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
                    f.write(head)
                    f.write(text)
                os.replace(temporary, self._path(kind))
            except BaseException:
                os.unlink(temporary)
                raise
            _keep_newest(folder, self._path(kind))
        except (OSError, UnicodeError):  # not writable, full; a path that is not UTF-8
            return


_ABANDONED_NS = 3600 * 10**9  # a temporary this old was left by a killed process


def _keep_newest(folder: str, saved_now: str) -> None:
    """At most ``MAX_FILES`` answers: the ones saved longest ago go (never ``saved_now``:
    a clock tick can give many the same mtime)."""
    found, old = [], []
    now = time.time_ns()
    for entry in os.scandir(folder):
        try:
            saved = entry.stat().st_mtime_ns
        except OSError:
            continue
        if entry.path == saved_now:
            continue
        if entry.name.endswith(".txt"):
            found.append((saved, entry.path))
        elif now - saved > _ABANDONED_NS:
            old.append(entry.path)
    found.sort(reverse=True)
    for path in old + [path for _, path in found[MAX_FILES - 1 :]]:
        try:
            os.unlink(path)
        except OSError:
            continue
