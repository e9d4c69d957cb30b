"""mlprod-nb: notebooks into traceable, reproducible, schedulable ML pipelines.

``%load_ext mlprod_nb`` turns the tracer on in a kernel; ``log_param``,
``log_metric``, ``require`` and the data gates ``expect_schema`` and ``expect_drift``
are the public API for notebook code, each imported on first use, so importing this
package (as every ``mlprod-nb`` command does) costs almost nothing: no duckdb, pandas,
papermill or jupyter_server, and not even the record types until they are needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
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


def __getattr__(name: str) -> Any:
    """The public API, imported on first use (most notebooks never call the data gates)."""
    if name in ("log_metric", "log_param", "require"):
        from .tracer import api

        return getattr(api, name)
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
