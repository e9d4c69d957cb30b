"""Plain-text views of a notebook's lineage and stale cells (for the CLI)."""

from __future__ import annotations

import os
from collections.abc import Sequence

from ..textable import render
from .model import Execution, FileAccess, Metric, NotebookLineage, Session, StaleCell

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


def _session(s: Session) -> str:
    where = " ".join(
        f
        for f in (
            f"Python {s.python}" if s.python else "",
            f"on {s.hostname}" if s.hostname else "",
        )
        if f
    )
    facts = [where]
    if s.git_commit:
        facts.append(f"git {s.git_commit[:10]}{' (dirty)' if s.git_dirty else ''}")
    if s.packages_hash:
        facts.append(f"packages {s.packages_hash[:SHORT]}")
    if s.gpus:
        facts.append(f"GPUs {', '.join(s.gpus)}")
    return f"{s.id[:12]}: " + ", ".join(f for f in facts if f)


def _metric(m: Metric) -> str:
    at = f" (step {m.step})" if m.step is not None else ""
    return f"{m.name}={m.value:.4g}{at}"


def lineage_text(lineage: NotebookLineage) -> str:
    base = os.path.dirname(lineage.notebook)
    by_id = {e.id: e for e in lineage.executions}
    sessions = {e.session for e in lineage.executions}
    head = (
        f"{lineage.notebook}: {len(lineage.executions)} executions of "
        f"{len(lineage.cells)} cells in {len(sessions)} session(s)"
    )
    parts = [head]
    parts += [f"  session {_session(s)}" for s in lineage.sessions]
    session = None
    for e in lineage.executions:
        if len(sessions) > 1 and e.session != session:
            session = e.session
            parts += ["", f"-- session {session[:12]} --"]
        status = e.status if e.status == "ok" else f"{e.status}: {e.error_name or ''}".strip()
        parts.append("")
        parts.append(f"{_count(e)} cell {e.cell_id or '-'}  {status}  {e.duration_ms:.0f} ms")
        if e.status != "ok" and e.error_message:
            parts.append(f"    error    {e.error_message.splitlines()[0][:100]}")
        # each detail only when there is something to say (most executions: two of six)
        if e.defines:
            parts.append(f"    defines  {', '.join(e.defines)}")
        if e.deps:
            by_source: dict[str, list[str]] = {}
            for dep in e.deps:
                by_source.setdefault(dep.execution, []).append(dep.name)
            deps = "; ".join(
                f"{_count(by_id.get(source))} {', '.join(names)}"
                for source, names in by_source.items()
            )
            parts.append(f"    deps     {deps}")
        if e.files:
            for label, mode in (("reads   ", "read"), ("writes  ", "write")):
                files = ", ".join(_file(f, base) for f in e.files if f.mode == mode)
                if files:
                    parts.append(f"    {label} {files}")
        if e.params:
            parts.append(f"    params   {', '.join(f'{k}={v!r}' for k, v in e.params.items())}")
        if e.metrics:
            parts.append(f"    metrics  {', '.join(_metric(m) for m in e.metrics)}")
    outside = {
        w.execution: (
            f"{os.path.basename(w.notebook)}:{w.cell_id or w.execution}"
            if w.notebook
            else f"pipeline:{w.cell_id or w.execution}"
        )
        for w in lineage.writers
    }

    def labels(ids: Sequence[str]) -> str:
        seen = dict.fromkeys(_count(by_id[i]) if i in by_id else outside.get(i, i) for i in ids)
        return " ".join(seen)

    if lineage.datasets:
        data_rows = [
            (
                _where(d.path, base),
                v.sha256[:SHORT] if v.sha256 else "(gone)",
                "" if v.size is None else str(v.size),
                labels(v.writers),
                labels(v.readers),
            )
            for d in lineage.datasets
            for v in d.versions
        ]
        headers = ["dataset", "sha256", "bytes", "written by", "read by"]
        parts += ["", render(headers, data_rows)]
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
                    _STATES[cell.state] if first else "",
                    reason.detail,
                )
            )
    head = f"{lineage.notebook}: {len(stale)} of {len(lineage.cells)} cells are stale"
    return "\n".join([head, "", render(["In", "cell", "state", "why"], rows)])


_STATES = {"stale": "input changed", "downstream": "downstream", "order": "out of order"}
