"""Read-only copies of a run's executed step notebooks and log, for Lab to open.

A run's folder lives in the store (``.mlprod/runs/<run>/``), a hidden folder that
Jupyter's contents API refuses to serve by default (``allow_hidden``). Rather than
ask users to change that setting, the server copies what a user wants to read into
a visible folder under its root (``mlprod-runs/<run>/``) and marks the copies
read-only, so Lab opens them as such and a user cannot mistake them for the source.
A cached step's notebook is the one the producing run executed.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NotFoundError
from ..paths import Layout
from ..pipeline.rundir import LOG_FILE, read_summary, run_folder

READ_ONLY = stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH


@dataclass(frozen=True)
class RunCopy:
    log: Path | None
    steps: dict[str, Path] = field(default_factory=dict)


def _step_sources(layout: Layout, run_id: str) -> dict[str, Path]:
    """Each step's executed notebook: in the run's folder, else in the run it was cached from."""
    folder = run_folder(layout, run_id)
    found = {p.stem: p for p in sorted((folder / "steps").glob("*.ipynb"))}
    try:
        recorded = read_summary(layout, run_id)  # the final record, else the live one
    except NotFoundError:
        recorded = {}
    steps = recorded.get("steps")
    for step in steps if isinstance(steps, list) else []:
        name, origin = step.get("name"), step.get("cached_from")
        if not isinstance(name, str) or name in found or not isinstance(origin, str):
            continue
        if "/" in origin or ".." in origin:  # a run id, never a path
            continue
        cached = run_folder(layout, origin) / "steps" / f"{name}.ipynb"
        if cached.is_file():
            found[name] = cached
    return found


def _copy(source: Path, target: Path) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        os.chmod(target, READ_ONLY | stat.S_IWUSR)  # so it can be replaced
    shutil.copyfile(source, target)
    os.chmod(target, READ_ONLY)
    return target


def copy_run(layout: Layout, run_id: str, target: Path) -> RunCopy:
    """Copy the run's step notebooks and ``driver.log`` into ``target`` (refreshed each call)."""
    folder = run_folder(layout, run_id)
    if not folder.is_dir():
        raise NotFoundError("no such run", run_id=run_id, hint="pick one from the runs list")
    log = folder / LOG_FILE
    steps = {
        name: _copy(path, target / "steps" / f"{name}.ipynb")
        for name, path in _step_sources(layout, run_id).items()
    }
    return RunCopy(_copy(log, target / LOG_FILE) if log.is_file() else None, steps)
