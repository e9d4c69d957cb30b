"""Plain-text views of a notebook's lineage and stale cells (for the CLI)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..textable import render
from .model import Execution, FileAccess, NotebookLineage, StaleCell

SHORT = 12


def _where(path: str, base: str) -> str:
    """``path`` relative to the notebook's folder when inside it."""
    try:
        rel = os.path.relpath(path, base)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _count(e: Execution | None) -> str:
    if e is None:
        return "?"
    return f"[{e.execution_count}]" if e.execution_count is not None else e.id


def _file(f: FileAccess, base: str) -> str:
    sha = f.sha256[:SHORT] if f.sha256 else "(gone)"
    via = f" via {f.via}" if f.via and f.via != "open" else ""
    return f"{_where(f.path, base)}@{sha}{via}"


def lineage_text(lineage: NotebookLineage) -> str:
    base = os.path.dirname(lineage.notebook)
    by_id = {e.id: e for e in lineage.executions}
    sessions = {e.session for e in lineage.executions}
    head = (
        f"{lineage.notebook}: {len(lineage.executions)} executions of "
        f"{len(lineage.cells)} cells in {len(sessions)} session(s)"
    )
    rows = []
    for e in lineage.executions:
        status = e.status if e.status == "ok" else f"{e.status}: {e.error_name or ''}".strip()
        rows.append(
            (
                _count(e),
                e.cell_id or "-",
                status,
                f"{e.duration_ms:.0f}",
                ", ".join(e.defines),
                ", ".join(f"{d.name}<-{_count(by_id.get(d.execution))}" for d in e.deps),
                ", ".join(_file(f, base) for f in e.reads()),
                ", ".join(_file(f, base) for f in e.writes()),
            )
        )
    table = render(["In", "cell", "status", "ms", "defines", "deps", "reads", "writes"], rows)
    parts = [head, "", table]
    if lineage.datasets:
        data_rows = []
        for d in lineage.datasets:
            for v in d.versions:
                data_rows.append(
                    (
                        _where(d.path, base),
                        v.sha256[:SHORT] if v.sha256 else "(gone)",
                        "" if v.size is None else str(v.size),
                        " ".join(_count(by_id.get(w)) if w in by_id else w for w in v.writers),
                        " ".join(_count(by_id.get(r)) for r in v.readers),
                    )
                )
        parts += ["", render(["dataset", "sha256", "bytes", "written by", "read by"], data_rows)]
    return "\n".join(parts)


def stale_text(lineage: NotebookLineage, stale: Sequence[StaleCell]) -> str:
    if not stale:
        return f"{lineage.notebook}: no stale cells ({len(lineage.cells)} cells checked)"
    rows = []
    for cell in stale:
        label = f"[{cell.execution_count}]" if cell.execution_count is not None else "-"
        for i, reason in enumerate(cell.reasons):
            first = i == 0
            rows.append(
                (
                    label if first else "",
                    (cell.cell_id or cell.execution) if first else "",
                    reason.detail,
                )
            )
    head = f"{lineage.notebook}: {len(stale)} of {len(lineage.cells)} cells are stale"
    return "\n".join([head, "", render(["In", "cell", "why"], rows)])
