"""What the tracer in a run's step kernels recorded, read straight from their journals.

The runner needs, per step, the data files read and written (for the cache key)
and the metrics logged. Each step kernel is a fresh process with its own journal
file (``<host>-<pid>-<random>.ndjson``, see ``mlprod_nb.journal``), so reading
those few files' execution records costs milliseconds, where opening the store
(importing duckdb, taking its lock, ingesting) costs a third of a second or more.
The store ingests the same records whenever it is next opened.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .. import journal
from ..paths import Layout
from ..records import metric_key


@dataclass
class StepTrace:
    reads: dict[str, str | None] = field(default_factory=dict)
    writes: dict[str, str | None] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    executions: int = 0


def journals_of(journal_dir: Path, pids: Iterable[int]) -> list[Path]:
    host = socket.gethostname()
    found: list[Path] = []
    for pid in pids:
        found += journal_dir.glob(f"{host}-{pid}-*.ndjson")
    return found


def read_traces(layout: Layout, pids: Iterable[int], run_id: str) -> dict[str, StepTrace]:
    # A few hundred lines per step kernel: cheap enough to re-read after every step.
    """Per step of ``run_id``: files read and written (store files left out) and metrics."""
    traces: dict[str, StepTrace] = {}
    for path in journals_of(layout.journal_dir, pids):
        try:
            found = list(journal.records(path))  # a torn last line is skipped
        except OSError:
            continue
        for record in found:
            if not isinstance(record, dict):
                continue
            if record.get("kind") != "execution" or record.get("run") != run_id:
                continue
            trace = traces.setdefault(str(record.get("step")), StepTrace())
            trace.executions += 1
            for access in record.get("files") or []:
                if layout.owns(access["path"]):
                    continue
                table = trace.reads if access.get("mode") == "read" else trace.writes
                table[access["path"]] = access.get("sha256")
            for metric in record.get("metrics") or []:
                trace.metrics[metric_key(metric["name"], metric.get("slice"))] = metric["value"]
    return traces
