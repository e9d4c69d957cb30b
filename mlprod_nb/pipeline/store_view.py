"""What the exporter and runner ask the lineage store (typed calls, no SQL here)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MlprodError
from ..paths import Layout, find_home

if TYPE_CHECKING:
    from ..lineage.model import RunDetail, RunSummary
    from .compiler import Observed


def observed_uses(notebook: Path, timeout: float = 5.0) -> Observed | None:
    """Per cell id, the names the tracer saw it use and the cell that bound each.

    None when the notebook has no traced executions or the store is unavailable.
    """
    layout = find_home(notebook)
    if not layout.db_path.exists() and not layout.journal_dir.exists():
        return None
    try:
        from ..store import Store

        with Store.open(layout, timeout=timeout) as store:
            lineage = store.notebook_lineage(notebook)
    except (ImportError, MlprodError):
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
