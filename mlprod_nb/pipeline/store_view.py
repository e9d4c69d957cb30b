"""What the exporter and runner ask the lineage store (typed calls, no SQL here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MlprodError
from ..paths import Layout, find_home
from .trace import Trace, build

if TYPE_CHECKING:
    from ..lineage.model import NotebookLineage, RunDetail, RunSummary
    from .dataflow import Observed

__all__ = ["Trace", "observed_trace", "observed_uses", "runs"]


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


def observed_uses(notebook: Path, timeout: float = 5.0) -> Observed | None:
    """Per cell id, the names the tracer saw it use and the cell that bound each.

    Only cells whose traced id is the notebook's own: ``observed_trace`` also matches
    cells without ids. None when the notebook has no traced executions or the store is
    unavailable.
    """
    lineage = _lineage(notebook, timeout)
    if lineage is None:
        return None
    by_id = {e.id: e for e in lineage.executions}
    observed: dict[str, list[tuple[str, str | None]]] = {}
    for cell_id, execution_id in lineage.cells.items():
        execution = by_id.get(execution_id)
        if execution is None:
            continue
        deps = {d.name: by_id.get(d.execution) for d in execution.deps}
        observed[cell_id] = [
            (name, dep.cell_id if dep is not None else None)
            for name in execution.uses
            for dep in [deps.get(name)]
        ]
    for edge in lineage.edges:  # reads of files another cell wrote: "file:<path>" entries
        target, source = by_id.get(edge.target), by_id.get(edge.source)
        if edge.kind != "file" or target is None or source is None or not target.cell_id:
            continue
        if lineage.cells.get(target.cell_id) == target.id:
            observed.setdefault(target.cell_id, []).append((f"file:{edge.label}", source.cell_id))
    return observed


def runs(layout: Layout, pipeline: Path | None, timeout: float = 60.0) -> list[RunSummary]:
    """Runs, newest first; a cached step's metrics come from the run that computed it."""
    from ..store import Store
    from .liveness import settled_runs

    with Store.open(layout, timeout=timeout) as store:
        found = settled_runs(layout, store.runs(pipeline))
        details: dict[str, RunDetail | None] = {}

        def logged(run_id: str, step: str) -> dict[str, float]:
            if run_id not in details:
                try:
                    details[run_id] = store.run(run_id)
                except MlprodError:
                    details[run_id] = None
            detail = details[run_id]
            history = detail.metric_history if detail is not None else ()
            ordered = sorted(history, key=lambda m: m.step or 0)
            return {m.name: m.value for m in ordered if m.pipeline_step == step}

        result = []
        for run in found:
            carried: dict[str, float] = {}
            for step in run.steps:
                if step.cached and step.cached_from:
                    carried.update(logged(step.cached_from, step.name))
            metrics = {**carried, **run.metrics}
            result.append(replace(run, metrics=metrics) if metrics != run.metrics else run)
        return result
