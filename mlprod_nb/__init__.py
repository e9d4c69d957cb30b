"""mlprod-nb: notebooks into traceable, reproducible, schedulable ML pipelines.

``%load_ext mlprod_nb`` turns the tracer on in a kernel; ``log_param``,
``log_metric``, ``require`` and the data gates ``expect_schema`` and ``expect_drift``
are the public API for notebook code. Importing
this package stays cheap: no duckdb, pandas, papermill or jupyter_server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .tracer.api import log_metric, log_param, require

if TYPE_CHECKING:
    from .data.expect import expect_drift, expect_schema

__all__ = [
    "__version__",
    "expect_drift",
    "expect_schema",
    "log_metric",
    "log_param",
    "require",
]


def __getattr__(name: str) -> Any:
    """The data gates, imported on first use (most notebooks never call them)."""
    if name in ("expect_drift", "expect_schema"):
        from .data import expect

        return getattr(expect, name)
    raise AttributeError(f"module 'mlprod_nb' has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    from .tracer.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .tracer.extension import unload

    unload(ipython)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "mlprod-nb"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .server.app import MlprodApp

    return [{"module": "mlprod_nb.server.app", "app": MlprodApp}]
