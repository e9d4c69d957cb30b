"""What the exporter and runner ask the lineage store (typed calls, no SQL here)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MlprodError
from ..paths import Layout, find_home
from .trace import Trace, build

if TYPE_CHECKING:
    from ..lineage.model import NotebookLineage, RunSummary

__all__ = ["Trace", "observed_trace", "runs"]


def _lineage(notebook: Path, timeout: float) -> NotebookLineage | None:
    """The notebook's lineage; None without traced executions or a usable store."""
    layout = find_home(notebook)
    if not layout.db_path.exists() and not layout.journal_dir.exists():
        return None
    try:
        from ..store import Store

        with Store.open(layout, timeout=timeout) as store:
            return store.notebook_lineage(notebook)
    except (ImportError, MlprodError):
        return None


def observed_trace(
    notebook: Path, cells: Sequence[tuple[str, str]], timeout: float = 5.0
) -> Trace | None:
    """What the tracer saw each of ``cells`` (exporter cell id, source; every code cell
    in page order) use and bind, matched by id or else by source (``trace.py``).

    None when the notebook has no traced executions or the store is unavailable.
    """
    lineage = _lineage(notebook, timeout)
    return build(lineage, cells) if lineage is not None else None


def runs(layout: Layout, pipeline: Path | None, timeout: float = 60.0) -> list[RunSummary]:
    """Runs, newest first, dead drivers' runs settled; a cached step's metrics come from
    the run that computed it (``Store.runs``, as the server's runs route answers)."""
    from ..store import Store
    from .liveness import settled_runs

    with Store.open(layout, timeout=timeout) as store:
        return settled_runs(layout, store.runs(pipeline))
