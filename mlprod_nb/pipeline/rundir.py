"""A run's folder ``.mlprod/runs/<run_id>/`` (docs/contracts.md, section 5).

``status.json`` is replaced atomically after every change; ``summary.json`` is
written once at the end; ``driver.log`` holds the runner's progress lines. The one
module that names these files: the runner, liveness and the server's launcher read
and write a run's folder through it.

A run given its id (``--run-id``) may be continued by later drivers of some of its
steps (one Airflow task per step, each ``--only STEP`` with the DAG run's id):
``claim`` makes them take turns on ``claim.lock``, so each sees the last one's
finished record.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import NotFoundError, ParameterError
from ..journal import _default
from ..paths import Layout

# The one rule for run ids, for the runner, the CLI and the server: a safe folder name.
RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
STATUS_FILE = "status.json"
SUMMARY_FILE = "summary.json"
LOG_FILE = "driver.log"
CLAIM_FILE = "claim.lock"


def valid_run_id(run_id: str) -> bool:
    return bool(RUN_ID.match(run_id)) and ".." not in run_id


def new_run_id() -> str:
    """``YYYYmmdd-HHMMSS-xxxxxx``: the start time in UTC (sorts by time on any machine)."""
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


def run_folder(layout: Layout, run_id: str) -> Path:
    """Where a run's files live (the id is not checked here: see ``valid_run_id``)."""
    return layout.runs_dir / run_id


def read_json(path: Path) -> dict[str, Any] | None:
    """A run file's JSON object; None when it is missing, torn or not an object."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _write_json(path: Path, data: Any) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temp.write_text(json.dumps(data, indent=1, default=_default))
    os.replace(temp, path)


class RunDir:
    def __init__(self, layout: Layout, run_id: str) -> None:
        if not valid_run_id(run_id):
            raise ParameterError(
                f"invalid run id {run_id!r}",
                hint="use letters, digits, '.', '_' and '-' (at most 100 characters)",
            )
        self.run_id = run_id
        self.layout = layout
        self.folder = run_folder(layout, run_id)
        self._lock = threading.Lock()
        self._log_fd: int | None = None
        self._claim_fd: int | None = None

    @property
    def steps_dir(self) -> Path:
        return self.folder / "steps"

    def artifacts_dir(self, step: str) -> Path:
        return self.folder / "artifacts" / step

    def claim(self) -> None:
        """Wait until no other driver works on this run id, then hold it until ``close``."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder / CLAIM_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._claim_fd = fd

    def exists(self) -> bool:
        """The run has a record: a driver started it already."""
        return (self.folder / STATUS_FILE).exists()

    def create(self, *, continued: bool = False) -> None:
        """Make the folder; one the server pre-created for this id is fine, a used one is
        not, unless the run is ``continued`` (its summary goes: it runs again)."""
        if continued:
            (self.folder / SUMMARY_FILE).unlink(missing_ok=True)
        elif self.exists():
            raise ParameterError(
                f"run {self.run_id!r} already exists",
                path=self.folder,
                hint="choose another --run-id, or leave it out (--only or --from STEP "
                "with that id continue the run)",
            )
        self.steps_dir.mkdir(parents=True, exist_ok=True)
        log = self.folder / LOG_FILE
        try:  # the server sends our stdout to driver.log already: do not write it twice
            out = os.fstat(sys.stdout.fileno())
            same = log.exists() and (lambda s: (s.st_dev, s.st_ino))(log.stat()) == (
                out.st_dev,
                out.st_ino,
            )
        except (OSError, ValueError, AttributeError):
            same = False
        if not same:
            self._log_fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def log(self, line: str) -> None:
        if self._log_fd is not None:
            os.write(self._log_fd, (line.rstrip("\n") + "\n").encode())

    def write_status(self, status: dict[str, Any]) -> None:
        with self._lock:
            _write_json(self.folder / STATUS_FILE, status)

    def write_summary(self, summary: dict[str, Any]) -> None:
        with self._lock:
            _write_json(self.folder / SUMMARY_FILE, summary)

    def close(self) -> None:
        for fd in (self._log_fd, self._claim_fd):
            if fd is not None:
                os.close(fd)
        self._log_fd = self._claim_fd = None


def read_summary(layout: Layout, run_id: str) -> dict[str, Any]:
    """A finished run's summary (or its last status when it has no summary)."""
    folder = run_folder(layout, run_id)
    for name in (SUMMARY_FILE, STATUS_FILE):
        data = read_json(folder / name)
        if data is not None:
            return data
    raise NotFoundError(
        f"no run {run_id!r}",
        path=folder,
        run_id=run_id,
        hint="list runs with `mlprod-nb runs`",
    )


def recent_durations(layout: Layout, pipeline: Path, runs: int = 20) -> dict[str, float]:
    """How long each step of ``pipeline`` took when it last ran (ms), from recent summaries."""
    try:
        summaries = sorted(
            layout.runs_dir.glob(f"*/{SUMMARY_FILE}"), key=lambda p: p.stat().st_mtime, reverse=True
        )[:runs]
    except OSError:
        return {}
    found: dict[str, float] = {}
    for path in reversed(summaries):  # oldest first: newer runs overwrite
        data = read_json(path)
        if data is None or data.get("pipeline") != str(pipeline):
            continue
        for step in data.get("steps", []):
            if step.get("status") == "ok" and isinstance(step.get("duration_ms"), int | float):
                found[step["name"]] = float(step["duration_ms"])
    return found
