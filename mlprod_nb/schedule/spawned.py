"""Whether the run of a claimed fire was started already, by a claimer since gone.

A claimer starts the runner (``mlprod-nb run PIPELINE --run-id RUN``), then writes the
run folder's ``launch.json``; the runner writes ``status.json`` once it runs. A claimer
killed between starting the runner and writing ``launch.json`` leaves neither for a
moment: the runner is then found by its command line (``/proc/PID/cmdline``, Linux),
so the next tick does not start that run a second time. Left open: the instant between
fork and exec (the child still has the claimer's command line), and, without ``/proc``
(macOS), the whole instant before ``launch.json``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..paths import Layout
from ..pipeline.launch import LAUNCH_FILE
from ..pipeline.rundir import STATUS_FILE


def started(layout: Layout, run_id: str) -> bool:
    """The run's runner was started: its folder says so, or it is running here."""
    folder = layout.runs_dir / run_id
    if (folder / LAUNCH_FILE).exists() or (folder / STATUS_FILE).exists():
        return True
    return running_here(run_id)


def running_here(run_id: str) -> bool:
    """A process of this machine has ``--run-id RUN_ID`` in its command line."""
    wanted = b"\0--run-id\0" + run_id.encode() + b"\0"
    try:
        entries = list(os.scandir("/proc"))
    except OSError:
        return False
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            line = Path(entry.path, "cmdline").read_bytes()
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if wanted in b"\0" + line:
            return True
    return False
