"""What the next execution record carries besides what the tracer observes.

The pipeline runner stamps ``run``/``step`` with ``set_context`` (in a silent
execution before a step's cells). ``log_param``, ``log_metric`` and ``require``
add to a pending buffer that the tracer drains into the record of the cell that
finishes next: values logged inside a cell belong to that cell; values logged
between cells (or before the tracer is loaded) go to the next recorded cell.
Importable without loading the extension; imports nothing heavy.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ..records import Check, Metric

MAX_PENDING = 100_000  # metrics kept while nothing drains them (oldest dropped)


@dataclass
class Pending:
    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[Metric] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)


@dataclass
class _Context:
    run: str | None = None
    step: str | None = None
    pending: Pending = field(default_factory=Pending)
    lock: threading.Lock = field(default_factory=threading.Lock)


_CONTEXT = _Context()


def set_context(run: str | None, step: str | None) -> None:
    """Stamp ``run`` and ``step`` on the execution records written from now on."""
    _CONTEXT.run = run
    _CONTEXT.step = step


def current_context() -> tuple[str | None, str | None]:
    return _CONTEXT.run, _CONTEXT.step


def add_param(name: str, value: Any) -> None:
    with _CONTEXT.lock:
        _CONTEXT.pending.params[name] = value


def add_metric(metric: Metric) -> None:
    with _CONTEXT.lock:
        metrics = _CONTEXT.pending.metrics
        metrics.append(metric)
        if len(metrics) > MAX_PENDING:
            del metrics[0]


def add_check(check: Check) -> None:
    with _CONTEXT.lock:
        _CONTEXT.pending.checks.append(check)


def drain() -> Pending | None:
    """Take everything pending (the tracer calls this when a cell ends); None: nothing."""
    with _CONTEXT.lock:
        pending = _CONTEXT.pending
        if not (pending.params or pending.metrics or pending.checks):
            return None
        _CONTEXT.pending = Pending()
    return pending
