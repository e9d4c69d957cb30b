"""Pipeline runs started from the panel: spawned detached, read back from their folder.

The runner is a separate process in its own session (``start_new_session``),
its output going to ``driver.log`` in the run's folder, so it outlives the
request and a restart of the server. Its progress is read from the
``status.json`` it keeps replacing (docs/contracts.md, section 5). A runner that
died without finishing is recorded as interrupted (``pipeline/liveness.py``); one
that died before it wrote any status is reported as failed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import MlprodError, NotFoundError
from ..paths import Layout
from ..pipeline import launch
from ..pipeline.executors import DEFAULT
from ..pipeline.launch import LAUNCH_FILE
from ..pipeline.liveness import alive, settle_one
from ..pipeline.rundir import LOG_FILE, STATUS_FILE, new_run_id, read_json, run_folder, valid_run_id
from ..records import FAILED, RUNNING
from .confine import BadRequestError

TAIL_BYTES = 16_384


class LaunchError(MlprodError):
    """The runner process cannot be started (the server's ``run_command`` is wrong)."""


class RunEndedError(MlprodError):
    """A run that is no longer running cannot be cancelled."""


def check_run_id(run_id: str) -> str:
    """``run_id`` if it is a safe folder name, else ``BadRequestError``."""
    if not valid_run_id(run_id):
        raise BadRequestError(f"invalid run id {run_id!r}", hint="use an id from the runs list")
    return run_id


def _starting(run_id: str, launch: dict[str, Any] | None, folder: Path) -> dict[str, Any]:
    """The status of a run whose runner has not written ``status.json`` (yet)."""
    if launch is None:
        if not folder.is_dir():
            raise NotFoundError("no such run", run_id=run_id, hint="pick one from the runs list")
        return {"id": run_id, "status": FAILED, "error": "the run left no status"}
    return {
        "id": run_id,
        "status": RUNNING,
        "pid": launch.get("pid"),
        "started": launch.get("started"),
        "steps": [],
        "progress": {"done": 0, "total": 0, "current": None},
        "error": None,
    }


def log_tail(path: Path, lines: int) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            data = handle.read()
    except OSError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def executor_flags(executor: str, scheduler_address: str) -> list[str]:
    """The runner's flags for the server's executor settings (none for the default)."""
    flags = [] if executor == DEFAULT else ["--executor", executor]
    return flags + (["--scheduler-address", scheduler_address] if scheduler_address else [])


class Launcher:
    """Starts runner processes and reports on runs by reading their folders."""

    def __init__(self, command: Sequence[str], tail_lines: int = 40) -> None:
        self.command = list(command)
        self.tail_lines = tail_lines
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._layouts: dict[str, Layout] = {}

    def start(self, layout: Layout, pipeline: Path, params: Mapping[str, Any], cwd: Path) -> str:
        """Spawn ``run_command PIPELINE --run-id ID [-f params.yaml]`` as pipeline/launch.py
        does (secrets in the runner's environment, never in a file); return the run id."""

        run_id = new_run_id()
        folder = run_folder(layout, run_id)
        folder.mkdir(parents=True, exist_ok=False)
        try:
            child = launch.start(
                self.command, pipeline, run_id, folder, home=layout.home, params=params, cwd=cwd
            )
        except OSError as error:
            shutil.rmtree(folder, ignore_errors=True)
            raise LaunchError(
                f"cannot start the pipeline runner {self.command[0]!r}: {error.strerror}",
                hint="check the server setting MlprodApp.run_command",
            ) from None
        self._children[run_id] = child
        self._layouts[run_id] = layout
        return run_id

    def layout_of(self, run_id: str, default: Layout) -> Layout:
        """Where a run lives: the layout it was started in, else ``default``."""
        return self._layouts.get(run_id, default)

    def status(self, layout: Layout, run_id: str) -> dict[str, Any]:
        """``status.json`` of a run plus ``log_tail``; a dead unfinished runner is failed."""
        check_run_id(run_id)
        self._reap()
        folder = run_folder(layout, run_id)
        launch = read_json(folder / LAUNCH_FILE)
        status = settle_one(layout, run_id)  # a dead driver's run is recorded as interrupted
        if status is None:
            status = _starting(run_id, launch, folder)
            if launch is not None and not alive(launch, float(launch.get("started") or 0)):
                # it may have written its status between our read and the check
                status = settle_one(layout, run_id) or status
                if status.get("status") == RUNNING:
                    status["status"] = FAILED
                    status["error"] = "the runner stopped before it started (see log_tail)"
        status.setdefault("id", run_id)
        status.setdefault("steps", [])
        status.setdefault("progress", {"done": 0, "total": len(status["steps"]), "current": None})
        status["log_tail"] = log_tail(folder / LOG_FILE, self.tail_lines)
        return status

    def cancel(self, layout: Layout, run_id: str) -> dict[str, Any]:
        """Ask a running run's driver to stop (SIGTERM: it records the run as aborted).

        The driver is recognised by the identity it recorded (pid and start time), so a
        pid reused by another process is never signalled.
        """
        status = self.status(layout, run_id)
        if status.get("status") != RUNNING:
            raise RunEndedError(
                f"the run is {status.get('status')}, not running",
                run_id=run_id,
                hint="only a running run can be cancelled",
            )
        folder = run_folder(layout, run_id)
        recorded = read_json(folder / STATUS_FILE) or {}
        launch = read_json(folder / LAUNCH_FILE) or {}
        driver = recorded.get("driver") or launch.get("driver")
        pid = driver.get("pid") if isinstance(driver, dict) else None
        if not isinstance(pid, int) or not alive({"driver": driver}, time.time()):
            raise RunEndedError(
                "the run's driver is not running here",
                run_id=run_id,
                hint="refresh the runs list: it is recorded as interrupted",
            )
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass  # ended meanwhile; its status says how
        return {"id": run_id, "status": "cancelling"}

    def _reap(self) -> None:
        for run_id, child in list(self._children.items()):
            if child.poll() is not None:
                del self._children[run_id]
