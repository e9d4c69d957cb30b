"""Whether a run's driver is still alive, and recording the runs whose driver died.

A driver (``mlprod-nb run``) writes its identity into ``status.json`` (host, boot
id, pid and the process's start time) and refreshes the file's mtime every
``HEARTBEAT_SECONDS`` while it runs. A run whose status still says "running" is
alive when, on the same host and boot, that pid is still the same process (a pid
reused after a reboot or by another program does not count); seen from another
host, or without an identity, when its heartbeat is fresh.

Every reader (``mlprod-nb runs``, the server's runs and run routes, a new run)
calls ``settle``: a dead run gets one ``run_end`` record with status
"interrupted" and the time of its last heartbeat, in a journal file of its own
created with ``os.link`` (exclusive: two lookers never both record it), and its
``status.json`` is rewritten to say so.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..journal import dumps
from ..paths import Layout
from ..records import INTERRUPTED, RUNNING, SCHEMA, UNSETTLED, RunEndRecord, RunId
from .rundir import STATUS_FILE, SUMMARY_FILE, read_json, run_folder

if TYPE_CHECKING:
    from ..lineage.model import RunSummary

HEARTBEAT_SECONDS = 2.0
STALE_SECONDS = 30.0  # a heartbeat older than this: the driver is gone (remote hosts)
UNFINISHED = UNSETTLED  # a dead driver's steps in these are recorded as aborted


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _start_ticks(pid: int) -> int | None:
    """When ``pid`` started (clock ticks since boot), None if unknown or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    if not fields or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, finished but not yet reaped, counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


def identity(pid: int | None = None) -> dict[str, Any]:
    """Who a process is, for ``alive`` to recognise it later (this process by default)."""
    pid = os.getpid() if pid is None else pid
    return {
        "host": socket.gethostname(),
        "boot": _boot_id(),
        "pid": pid,
        "start": _start_ticks(pid),
    }


def heartbeat_of(status: Mapping[str, Any], path: Path | None) -> float:
    """The driver's last sign of life: the status file's mtime or its heartbeat field."""
    times = [status.get("heartbeat"), status.get("started")]
    if path is not None:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            pass
    return max((t for t in times if isinstance(t, int | float)), default=0.0)


def alive(status: Mapping[str, Any], beat: float, now: float | None = None) -> bool:
    """Is the driver that wrote ``status`` (last heard of at ``beat``) still running?"""
    fresh = ((now or time.time()) - beat) < STALE_SECONDS
    driver = status.get("driver")
    if not isinstance(driver, Mapping):  # written before drivers said who they are
        pid = status.get("pid")
        return pid_alive(pid) if isinstance(pid, int) else fresh
    if driver.get("host") != socket.gethostname():
        return fresh  # another machine sharing the folder: only the heartbeat tells
    if driver.get("boot") is not None and driver["boot"] != _boot_id():
        return False  # the machine rebooted since
    pid = driver.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return False
    recorded, now_ticks = driver.get("start"), _start_ticks(pid)
    return recorded is None or now_ticks is None or recorded == now_ticks  # not a reused pid


class Heartbeat:
    """A thread of the driver touching ``status.json`` every ``interval`` seconds."""

    def __init__(self, folder: Path, interval: float = HEARTBEAT_SECONDS) -> None:
        self.path = folder / STATUS_FILE
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="mlprod-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                os.utime(self.path)
            except OSError:
                pass  # not written yet, or the folder was removed

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.interval + 1)


def end_journal(layout: Layout, run_id: str) -> Path:
    """The journal file holding the "interrupted" record of a run (one per run)."""
    return layout.journal_dir / f"run-{run_id}-interrupted.ndjson"


def _record_once(layout: Layout, run_id: str, finished: float, error: str) -> None:
    """Write the run's interrupted ``run_end`` exactly once, whoever else tries."""
    final = end_journal(layout, run_id)
    if final.exists():
        return
    record = RunEndRecord(
        v=SCHEMA,
        kind="run_end",
        id=RunId(run_id),
        status=INTERRUPTED,
        finished=finished,
        error=error,
    )
    layout.journal_dir.mkdir(parents=True, exist_ok=True)
    temp = final.with_name(f".{final.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_bytes(dumps(record))
    try:
        os.link(temp, final)  # complete or absent: never a half-written file to ingest
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)


def _interrupted(status: dict[str, Any], beat: float, error: str) -> dict[str, Any]:
    steps = [
        {**s, "status": INTERRUPTED} if s.get("status") in UNFINISHED else s
        for s in status.get("steps") or []
        if isinstance(s, dict)
    ]
    progress = dict(status.get("progress") or {})
    progress["current"] = None
    return status | {
        "status": INTERRUPTED,
        "finished": beat,
        "error": error,
        "steps": steps,
        "progress": progress,
    }


def settle_one(layout: Layout, run_id: str) -> dict[str, Any] | None:
    """The status of a run, recorded as interrupted first when its driver died.

    None when the run left no status (its driver has not written one yet).
    """
    folder = run_folder(layout, run_id)
    path = folder / STATUS_FILE
    status = read_json(path)
    if status is None:
        if folder.is_dir() or not (layout.journal_dir / f"run-{run_id}.ndjson").exists():
            return None
        # the run's folder was deleted: only its journal says when it was last heard of
        beat = (layout.journal_dir / f"run-{run_id}.ndjson").stat().st_mtime
        error = _message(run_id, None, beat)
        _record_once(layout, run_id, beat, error)
        return {"id": run_id, "status": INTERRUPTED, "finished": beat, "error": error}
    if status.get("status") != RUNNING:
        return status
    beat = heartbeat_of(status, path)
    if alive(status, beat):
        return status
    again = read_json(path)  # it may have finished between our read and the check
    if again is not None and again.get("status") != RUNNING:
        return again
    pid = status.get("pid")
    error = _message(run_id, pid if isinstance(pid, int) else None, beat)
    _record_once(layout, run_id, beat, error)
    settled = _interrupted(status, beat, error)
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.settle")
    temp.write_text(json.dumps(settled, indent=1))
    os.replace(temp, path)
    return settled


def _message(run_id: str, pid: int | None, beat: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(beat))
    who = f"the run's driver (pid {pid})" if pid is not None else "the run's driver"
    return (
        f"interrupted: {who} stopped without finishing (killed, out of memory or a reboot); "
        f"last heartbeat {when}; finish it with `mlprod-nb run PIPELINE --resume {run_id}`"
    )


def settle(layout: Layout, run_ids: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Settle these runs (default: every run folder without a summary); dead ones by id."""
    if run_ids is None:
        try:
            folders = [f for f in layout.runs_dir.iterdir() if not (f / SUMMARY_FILE).exists()]
        except OSError:
            return {}
        run_ids = [f.name for f in folders]
    found: dict[str, dict[str, Any]] = {}
    for run_id in run_ids:
        status = settle_one(layout, run_id)
        if status is not None and status.get("status") == INTERRUPTED:
            found[run_id] = status
    return found


def settled_runs(layout: Layout, found: list[RunSummary]) -> list[RunSummary]:
    """The store's runs with those it still calls running settled first (see ``settle``).

    The store learns of an interruption when it next ingests its journal; until then
    the answer is corrected here, so no reader shows a dead run as running.
    """
    from dataclasses import replace

    dead = settle(layout, [r.id for r in found if r.status == RUNNING])
    if not dead:
        return found
    result = []
    for run in found:
        status = dead.get(run.id)
        if status is None:
            result.append(run)
            continue
        finished = float(status.get("finished") or run.started)
        result.append(
            replace(
                run,
                status=INTERRUPTED,
                finished=finished,
                duration_ms=(finished - run.started) * 1000.0,
                error=status.get("error"),
            )
        )
    return result
