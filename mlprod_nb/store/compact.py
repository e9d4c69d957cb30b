"""Compaction: journal files the store holds fully are folded into the store's backup.

The journal is how the store is rebuilt when its DuckDB file is lost or broken, so a
journal file may only go once something else can rebuild its records: the backup,
an ``EXPORT DATABASE`` of the whole store (zstd Parquet, a fraction of the DuckDB
file) in ``.mlprod/backup/<time>/``, complete once its ``COMPLETE`` file exists.
A store opened without its DuckDB file starts from the newest complete backup and
ingests the journal files left (their offsets are in the backup): nothing twice,
nothing lost.

Under the store's lock, in this order (a kill at any point loses nothing):

1. ingest every new line;
2. pick the files whose every byte is ingested and whose writer is gone: a file
   named after its process (``<host>-<pid>-...``, ``schedules-``, ``moves-``) whose
   process is not running on this host, or a run's file once the run recorded its
   end (a live writer keeps appending through its open descriptor: removing its
   file would lose those lines, so such files stay; unknown names stay too);
3. export the store into a new backup folder, every file synced, then ``COMPLETE``;
4. remove older backups, then the picked journal files (each checked again: still
   exactly as long as ingested).

A kill before 3 ends leaves an incomplete folder (removed next time) and every
journal file; after it, the next compaction finishes 4.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..paths import Layout
from . import answers

if TYPE_CHECKING:
    import duckdb

BACKUP_DIR = "backup"
COMPLETE = "COMPLETE"  # written last: the backup folder holds the whole store
# ``<host>-<pid>-<8 hex>`` (tracer), ``schedules-`` the same, ``moves-<host>-<pid>``
_PROCESS_FILE = (
    r"^(?:schedules-{host}-(?P<s>\d+)-[0-9a-f]{{8}}"
    r"|moves-{host}-(?P<m>\d+)"
    r"|{host}-(?P<t>\d+)-[0-9a-f]{{8}})$"
)
_LOAD = re.compile(r"^COPY (\S+) FROM '([^']+)'", re.MULTILINE)
_RUN_FILE = re.compile(r"^run-(?P<run>.+?)(?P<interrupted>-interrupted)?$")

Progress = Callable[[str], None]


@dataclass
class Compaction:
    """What one compaction did."""

    backup: Path | None = None  # the backup folder written
    removed: list[str] = field(default_factory=list)  # journal files folded into it
    removed_bytes: int = 0
    kept: dict[str, str] = field(default_factory=dict)  # journal file -> why it stays


def backup_root(layout: Layout) -> Path:
    return layout.home / BACKUP_DIR


def latest_backup(layout: Layout) -> Path | None:
    """The newest complete backup folder, if any."""
    try:
        folders = sorted(p for p in backup_root(layout).iterdir() if (p / COMPLETE).is_file())
    except OSError:
        return None
    return folders[-1] if folders else None


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _writer_alive(name: str, ended_runs: set[str]) -> str | None:
    """Why the journal file ``name`` (without ``.ndjson``) may still be written to, or
    None when its writer is gone for sure."""
    from ..pipeline.liveness import pid_alive

    run = _RUN_FILE.match(name)
    if run is not None:
        if run["interrupted"] or run["run"] in ended_runs:
            return None  # written once (``interrupted``), or the driver closed it
        return "its run has not ended"
    found = re.match(_PROCESS_FILE.format(host=re.escape(socket.gethostname())), name)
    if found is None:
        return "not named after a process of this host (cannot tell whether it still writes)"
    pid = int(found["s"] or found["m"] or found["t"])
    if pid_alive(pid):
        return f"its writer (pid {pid}) is running"
    return None


def _candidates(con: duckdb.DuckDBPyConnection, layout: Layout, done: Compaction) -> dict[str, int]:
    """Journal files to fold into the backup, with their size (all of it ingested)."""
    offsets = {
        str(f): int(o)
        for f, o in con.execute('SELECT file, "offset" FROM journal_offsets').fetchall()
    }
    ended = {str(r[0]) for r in con.execute("SELECT DISTINCT id FROM run_ends").fetchall()}
    picked: dict[str, int] = {}
    try:
        entries = sorted(os.scandir(layout.journal_dir), key=lambda e: e.name)
    except FileNotFoundError:
        return picked
    for entry in entries:
        if not entry.name.endswith(".ndjson") or not entry.is_file():
            continue
        why = _writer_alive(entry.name.removesuffix(".ndjson"), ended)
        if why is not None:
            done.kept[entry.name] = why
            continue
        size = entry.stat().st_size
        if offsets.get(entry.name, -1) != size:
            done.kept[entry.name] = "not all of it is ingested (its writer died mid-line?)"
            continue
        picked[entry.name] = size
    return picked


def _export(con: duckdb.DuckDBPyConnection, layout: Layout) -> Path:
    """The whole store exported into a new backup folder, durably, marked complete."""
    root = backup_root(layout)
    root.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    folder = root / f"{stamp}-{os.urandom(3).hex()}"
    quoted = str(folder).replace("'", "''")
    con.execute(f"EXPORT DATABASE '{quoted}' (FORMAT parquet, COMPRESSION zstd)")
    for part in folder.iterdir():
        _sync(part)
    (folder / COMPLETE).write_text(f"{time.time()}\n")
    _sync(folder / COMPLETE)
    _sync(folder)
    _sync(root)
    return folder


def _remove_other_backups(layout: Layout, keep: Path) -> None:
    for folder in backup_root(layout).iterdir():
        if folder != keep and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)


def compact(
    con: duckdb.DuckDBPyConnection, layout: Layout, progress: Progress = lambda _: None
) -> Compaction:
    """Fold the fully ingested journal files of finished writers into a new backup.

    The caller holds the store's lock and has ingested the journal.
    """
    done = Compaction()
    answers.clear(layout)  # their stamps name journal files about to go: none would match
    picked = _candidates(con, layout, done)
    if not picked:  # the backup there is (if any) and the journal hold everything
        progress("no journal file to fold into the backup")
        done.backup = latest_backup(layout)
        return done
    rows = con.execute("SELECT count(*) FROM executions").fetchone()
    progress(
        f"backing up the store ({rows[0] if rows else 0:,} executions) into "
        f"{backup_root(layout)}/ ..."
    )
    con.execute("CHECKPOINT")
    done.backup = _export(con, layout)
    _remove_other_backups(layout, done.backup)
    progress(f"removing {len(picked)} journal file(s) now held by the backup ...")
    for name, size in picked.items():
        path = layout.journal_dir / name
        try:
            if path.stat().st_size != size:  # cannot happen (its writer is gone): keep it
                done.kept[name] = "it grew during compaction"
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        done.removed.append(name)
        done.removed_bytes += size
    if done.removed:
        _sync(layout.journal_dir)
    return done


def restore(layout: Layout, backup: Path) -> None:
    """Build the store's DuckDB file from ``backup`` (the caller holds the store's lock).

    Built aside and renamed into place, so a killed restore leaves no half store.
    """
    import duckdb

    aside = layout.db_path.with_name(layout.db_path.name + ".restoring")
    for stale in (aside, aside.with_name(aside.name + ".wal")):
        stale.unlink(missing_ok=True)
    # load.sql names each table's file by the path it was exported to: take the file's
    # name only, so a backup moved with its .mlprod folder still loads
    loads = _LOAD.findall((backup / "load.sql").read_text())
    con = duckdb.connect(str(aside))
    try:
        con.execute((backup / "schema.sql").read_text())
        for table, exported in loads:
            part = str(backup / Path(exported).name).replace("'", "''")
            con.execute(f"COPY {table} FROM '{part}' (FORMAT parquet)")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    _sync(aside)
    os.replace(aside, layout.db_path)
    _sync(layout.home)
    answers.clear(layout)
