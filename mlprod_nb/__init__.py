"""mlprod-nb: notebooks into traceable, reproducible, schedulable ML pipelines.

``%load_ext mlprod_nb`` turns the tracer on in a kernel; ``log_param``,
``log_metric``, ``require`` and the data gates ``expect_schema`` and ``expect_drift``
are the public API for notebook code. Importing
this package stays cheap: no duckdb, pandas, papermill or jupyter_server.
"""

from __future__ import annotations

from typing import Any

from ._version import __version__
from .data.expect import expect_drift, expect_schema
from .tracer.api import log_metric, log_param, require

__all__ = [
    "__version__",
    "expect_drift",
    "expect_schema",
    "log_metric",
    "log_param",
    "require",
]


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
