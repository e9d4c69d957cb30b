"""Public API for notebook code: ``log_param``, ``log_metric``, ``require``.

Values attach to the cell execution that is running (the tracer writes them with
that execution's record). Without the tracer loaded they are kept for the process
and written by the tracer when it loads; ``require`` works either way.
"""

from __future__ import annotations

from typing import Any

from ..errors import CheckFailedError


def log_param(name: str, value: Any) -> None:
    """Record a parameter of this execution (secret-looking names are redacted)."""
    raise NotImplementedError  # implemented with the tracer


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Record a numeric metric (optionally at a training step) of this execution."""
    raise NotImplementedError  # implemented with the tracer


def require(condition: object, message: str) -> None:
    """A validation gate: raise ``CheckFailedError(message)`` unless ``condition`` holds."""
    if not condition:
        raise CheckFailedError(message, hint="fix the data or model, or relax the check")
