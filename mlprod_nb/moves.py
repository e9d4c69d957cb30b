"""Renames and moves of notebooks, told to the store so their lineage follows them.

JupyterLab renames are recorded by the server extension as they happen; a file
moved while Lab was closed is told with ``mlprod-nb mv`` (which moves it too) or
``mlprod-nb mv --record-only`` (when it has been moved already). The record goes
to the journal of the store at the old place and, if another, the new one.
"""

from __future__ import annotations

import os
import shutil
import socket
import time
from pathlib import Path

from .errors import MlprodError
from .journal import JournalWriter
from .paths import Layout, find_home
from .records import SCHEMA, RenameRecord


class MoveError(MlprodError):
    """A notebook cannot be moved where the user asked."""


def _absolute(path: str | Path) -> str:
    # as the tracer records notebook paths: absolute and normalised, symlinks kept
    return os.path.normpath(os.path.abspath(os.path.expanduser(path)))


def record_move(old: str | Path, new: str | Path, home: Layout | None = None) -> RenameRecord:
    """Journal that the notebook or folder ``old`` is now ``new``."""
    record: RenameRecord = {
        "v": SCHEMA,
        "kind": "rename",
        "old_path": _absolute(old),
        "new_path": _absolute(new),
        "renamed": time.time(),
    }
    layouts = {home} if home is not None else {find_home(old), find_home(new)}
    name = f"moves-{socket.gethostname()}-{os.getpid()}"  # one journal file per process
    for layout in layouts:
        writer = JournalWriter(layout.journal_dir, name=name)
        try:
            writer.append(record)
        finally:
            writer.close()
    return record


def move(old: str | Path, new: str | Path, *, record_only: bool = False) -> RenameRecord:
    """Move ``old`` to ``new`` (into ``new`` if it is a folder) and record it."""
    source, target = Path(old), Path(new)
    if not record_only and target.is_dir():
        target = target / source.name
    if record_only:
        if source.exists():
            raise MoveError(
                "the old path still exists",
                path=source,
                hint="drop --record-only to move it, or name the path it had before",
            )
        if not target.exists():
            raise MoveError("nothing at the new path", path=target, hint="check the new path")
    else:
        if not source.exists():
            raise MoveError("no such notebook or folder", path=source, hint="check the path")
        if target.exists():
            raise MoveError(
                "the new path exists already",
                path=target,
                hint="choose another name; nothing was moved",
            )
        shutil.move(source, target)
    try:
        return record_move(source, target)
    except OSError as error:
        raise MoveError(
            f"moved, but the store's journal cannot be written ({error.strerror})",
            path=target,
            hint=f"fix that, then run: mlprod-nb mv --record-only {source} {target}",
        ) from error
