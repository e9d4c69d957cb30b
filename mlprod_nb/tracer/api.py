"""Public API for notebook code: ``log_param``, ``log_metric``, ``require``.

Values attach to the cell execution that is running: the tracer writes them
with that execution's record. Called between cells, or before ``%load_ext
mlprod_nb``, they wait for the next recorded cell (see ``tracer.context``).
Parameter names that look like secrets are stored as ``<redacted>``; metrics
with such names are refused. ``require`` records a check, passed or not, and
raises ``CheckFailedError`` when the condition does not hold.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from ..errors import CheckFailedError, MlprodError
from ..records import REDACTED, Check, Metric, is_secret_name
from ..redaction import scrub
from . import context


def log_param(name: str, value: Any) -> None:
    """Record a parameter of this execution (secret-looking names are redacted)."""
    if not isinstance(name, str) or not name:
        raise MlprodError(f"parameter name must be a non-empty string, got {name!r}")
    context.add_param(name, REDACTED if is_secret_name(name) else scrub(value))


def log_metric(name: str, value: float, step: int | None = None, slice: str | None = None) -> None:
    """Record a numeric metric (optionally at a training step) of this execution.

    ``slice`` names the part of the data it was measured on (``"plan=pro"``): runs list
    and compare it as ``name[slice]``, beside the metric over all the data, so a gate
    can look at every slice, not only the average. Non-finite values (NaN, infinity)
    are recorded as ``null``.
    """
    if not isinstance(name, str) or not name:
        raise MlprodError(f"metric name must be a non-empty string, got {name!r}")
    if is_secret_name(name):
        raise MlprodError(
            f"metric {name!r} looks like a secret and is not recorded",
            hint="rename the metric (names with token/password/key are redacted)",
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            number = float(value)  # numpy scalars, 0-d arrays
        except (TypeError, ValueError):
            raise MlprodError(
                f"metric {name!r} must be a number, got {type(value).__name__}",
                hint="pass a float, e.g. float(score)",
            ) from None
    else:
        number = float(value)
    if step is not None and (isinstance(step, bool) or not isinstance(step, numbers.Integral)):
        raise MlprodError(f"metric {name!r}: step must be an integer or None, got {step!r}")
    if slice is not None and (not isinstance(slice, str) or not slice.strip()):
        raise MlprodError(
            f"metric {name!r}: slice must be a non-empty string or None, got {slice!r}",
            hint='name the part of the data, e.g. slice="plan=pro"',
        )
    metric = Metric(
        name=name,
        value=number if math.isfinite(number) else None,  # type: ignore[typeddict-item]
        step=int(step) if step is not None else None,
    )
    if slice is not None:
        metric["slice"] = slice.strip()
    context.add_metric(metric)


def require(condition: object, message: str) -> None:
    """A validation gate: raise ``CheckFailedError(message)`` unless ``condition`` holds."""
    passed = bool(condition)
    context.add_check(Check(message=message, passed=passed))
    if not passed:
        raise CheckFailedError(message, hint="fix the data or model, or relax the check")
