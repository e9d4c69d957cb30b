"""Files a cell read or wrote: audit-hook and adapter events, filtered and merged.

``FileCapture`` collects accesses while a cell runs (``begin`` .. ``finish``):
``open`` and ``sqlite3.connect`` audit events (PEP 578) plus whatever the
adapters report for readers that open files in native code. Noise (Python
sources, site-packages, ``/proc``, ``/sys``, ``/dev``, the store's own files,
IPython and Jupyter runtime folders, directories) is dropped; repeated accesses
to one path merge into at most one read and one write. ``finish`` hashes what
was touched, after the cell; a large file's hash starts in a thread when it is opened
for reading (``hashlib`` leaves the GIL: it runs beside the reader that parses it), and
``finish`` waits for it.
"""

from __future__ import annotations

import glob
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from ..hashing import FileHasher, FileVersion, StatKey
from ..records import FileAccess

Mode = Literal["read", "write"]

_SKIP_SUFFIXES = (".py", ".pyc", ".pyi", ".pyd", ".so", ".pth", ".wal", ".tmp")
_SKIP_PARTS = ("/site-packages/", "/dist-packages/", "/__pycache__/", "/.ipynb_checkpoints/")
_SYSTEM_PREFIXES = ("/proc/", "/sys/", "/dev/", "/etc/", "/usr/lib/", "/usr/share/", "/run/")
_USER_TOOL_DIRS = ("~/.cache", "~/.config", "~/.local", "~/.ipython", "~/.jupyter", "~/.matplotlib")
_GLOB_CHARS = frozenset("*?[")
MAX_EXPANDED = 10_000
COARSE_CLOCK_NS = 50_000_000  # file times come from a clock that ticks every few ms
PREFETCH_BYTES = 4 << 20  # smaller files hash faster than a thread starts


@dataclass
class _Access:
    read_via: str | None = None
    write_via: str | None = None
    before: StatKey | None = None  # stat at the first read, to name the version read
    sense_write: bool = False  # sqlite: a changed file after the cell is also a write


@dataclass
class FileCapture:
    """Accesses of the running cell. ``active`` is False between cells."""

    ignore_prefixes: tuple[str, ...] = ()
    hasher: FileHasher = field(default_factory=FileHasher)
    on_error: Callable[[BaseException], None] | None = None
    active: bool = False
    _accesses: dict[str, _Access] = field(default_factory=dict)
    _hashing: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        prefixes = {*_SYSTEM_PREFIXES, *self.ignore_prefixes}
        for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
            prefixes.add(os.path.join(prefix, ""))
        for folder in _USER_TOOL_DIRS:  # caches and settings of tools (matplotlib fonts, ...)
            prefixes.add(os.path.join(os.path.expanduser(folder), ""))
        self._prefixes = tuple(sorted(p if p.endswith("/") else p + "/" for p in prefixes))

    def ignore(self, *prefixes: str) -> None:
        """Drop everything under these folders (store homes, runtime folders)."""
        extra = tuple(os.path.join(os.path.abspath(p), "") for p in prefixes)
        self._prefixes = tuple(sorted({*self._prefixes, *extra}))

    def wanted(self, path: str) -> bool:
        if path.endswith(_SKIP_SUFFIXES) or path.startswith(self._prefixes):
            return False
        return not any(part in path for part in _SKIP_PARTS)

    # -- events while the cell runs
    def begin(self) -> None:
        self._accesses = {}
        self.active = True

    def on_audit(self, event: str, args: tuple[Any, ...]) -> None:
        try:
            if event == "open":
                self._on_open(args)
            elif event == "sqlite3.connect":
                self._on_sqlite(args[0])
            elif event == "os.rename":
                self._on_rename(args[0], args[1])
        except Exception as exc:  # never into the user's code
            if self.on_error is not None:
                self.on_error(exc)

    def _on_open(self, args: tuple[Any, ...]) -> None:
        target, mode, flags = args[0], args[1], args[2]
        if isinstance(target, int):
            return
        if isinstance(mode, str):
            reads = "r" in mode or ("a" in mode and "+" in mode)
            writes = "r" not in mode or "+" in mode
        else:
            access = flags & os.O_ACCMODE
            reads = access != os.O_WRONLY and not flags & os.O_TRUNC
            writes = access != os.O_RDONLY
        if reads:
            self.add(target, "read", "open")
        if writes:
            self.add(target, "write", "open")

    def _on_sqlite(self, database: Any) -> None:
        name = os.fsdecode(database) if isinstance(database, str | bytes) else database
        if isinstance(name, str) and (not name or name.startswith((":", "file:"))):
            return
        access = self.add(name, "read", "sqlite3")
        if access is not None:
            access.sense_write = True

    def _on_rename(self, source: Any, target: Any) -> None:
        src = self._normalise(source)
        if src is not None and src in self._accesses and self._accesses[src].write_via:
            via = self._accesses.pop(src).write_via or "open"
            self.add(target, "write", via)

    # -- reports from adapters (and the DuckDB log) --
    def add(self, target: Any, mode: Mode, via: str) -> _Access | None:
        """Record one access to one path-like ``target``; returns None when filtered."""
        path = self._normalise(target)
        if path is None or not self.wanted(path):
            return None
        access = self._accesses.get(path)
        if access is None:
            access = self._accesses[path] = _Access()
        if mode == "read":
            if access.read_via is None:
                access.read_via = via
                if access.write_via is None:
                    access.before = self.hasher.stat(path)
                    self._prefetch(path, access.before)
        elif access.write_via is None:
            access.write_via = via
        return access

    def add_sources(self, source: Any, mode: Mode, via: str, since_ns: int | None = None) -> None:
        """Record paths, lists of paths, globs and folders of data files.

        For a folder written by a partitioned writer, ``since_ns`` keeps only the
        files changed since the call began.
        """
        folder = isinstance(source, str | os.PathLike) and os.path.isdir(source)
        cutoff = since_ns - COARSE_CLOCK_NS if since_ns is not None and folder else None
        for path in _expand(source):
            if cutoff is not None and mode == "write" and _older(path, cutoff):
                continue
            self.add(path, mode, via)

    def _prefetch(self, path: str, key: StatKey | None) -> None:
        if key is None or key[2] < PREFETCH_BYTES or self.hasher.cached(path, key) is not None:
            return
        thread = threading.Thread(
            target=self.hasher.version, args=(path,), name="mlprod-nb-hash", daemon=True
        )
        thread.start()
        self._hashing.append(thread)

    @staticmethod
    def _normalise(target: Any) -> str | None:
        if isinstance(target, str):
            path = target
        elif isinstance(target, bytes):
            path = os.fsdecode(target)
        elif isinstance(target, os.PathLike):
            path = os.fsdecode(os.fspath(target))
        else:
            return None
        if not path or "://" in path:
            return None
        return os.path.abspath(path)

    # -- after the cell
    def finish(self) -> list[FileAccess]:
        """Stop collecting and return the accesses with content hashes."""
        self.active = False
        accesses, self._accesses = self._accesses, {}
        hashing, self._hashing = self._hashing, []
        for thread in hashing:  # their versions are in the hasher's cache now
            thread.join()
        out: list[FileAccess] = []
        for path, access in accesses.items():
            now = self.hasher.stat(path)
            changed = access.before is not None and access.before != now
            earlier = self.hasher.cached(path, access.before) if changed and access.before else None
            current = self.hasher.version(path) if now is not None else None
            if access.read_via is not None:
                read = earlier if changed else current
                if access.before is not None:  # else the file did not exist when read
                    out.append(_entry(path, "read", access.read_via, read))
                if access.sense_write and access.before != now and current is not None:
                    out.append(_entry(path, "write", access.read_via, current))
            if access.write_via is not None and current is not None:
                out.append(_entry(path, "write", access.write_via, current))
        return out


_EVENTS = frozenset({"open", "sqlite3.connect", "os.rename"})
_TARGET: list[FileCapture | None] = [None]
_INSTALLED: list[bool] = [False]


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in _EVENTS:
        capture = _TARGET[0]
        if capture is not None and capture.active:
            capture.on_audit(event, args)


def route_audit_events(capture: FileCapture | None) -> None:
    """Send audit events to ``capture`` (None: ignore them).

    The hook is added once per process; audit hooks cannot be removed, so
    unloading only clears the target and the hook returns at once.
    """
    _TARGET[0] = capture
    if capture is not None and not _INSTALLED[0]:
        sys.addaudithook(_audit)
        _INSTALLED[0] = True


def _entry(path: str, mode: Mode, via: str, version: FileVersion | None) -> FileAccess:
    return FileAccess(
        path=path,
        mode=mode,
        sha256=version.sha256 if version else None,
        size=version.size if version else None,
        mtime_ns=version.mtime_ns if version else None,
        via=via,
    )


def _expand(source: Any) -> Iterator[Any]:
    if isinstance(source, list | tuple):
        for item in source:
            yield from _expand(item)
        return
    if isinstance(source, bytes):
        source = os.fsdecode(source)
    elif isinstance(source, os.PathLike):
        source = os.fsdecode(os.fspath(source))
    elif not isinstance(source, str):
        source = _open_file_path(source)
        if source is None:
            return
    if os.path.isdir(source):
        yield from _data_files(source)
    elif not os.path.exists(source) and _GLOB_CHARS.intersection(source):
        for match in sorted(glob.glob(source, recursive=True))[:MAX_EXPANDED]:
            yield from _data_files(match) if os.path.isdir(match) else (match,)
    else:
        yield source


def _older(path: str, since_ns: int) -> bool:
    try:
        return os.stat(path).st_mtime_ns < since_ns
    except OSError:
        return True


def _open_file_path(handle: Any) -> str | None:
    """The path behind an open native file (``pa.OSFile`` has no name, only a descriptor)."""
    fileno = getattr(handle, "fileno", None)
    if not callable(fileno):
        return None
    try:
        return os.readlink(f"/proc/self/fd/{int(fileno())}")
    except Exception:  # closed, not a real file, no /proc
        return None


def _data_files(folder: str) -> Iterable[str]:
    """Files of a dataset folder, skipping hidden and ``_``-prefixed ones like pyarrow."""
    found: list[str] = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) or "=" in d)
        for name in sorted(files):
            if not name.startswith((".", "_")):
                found.append(os.path.join(root, name))
                if len(found) >= MAX_EXPANDED:
                    return found
    return found
