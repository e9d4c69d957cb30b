"""Which cells are stale: their inputs changed since their latest execution ran.

Only the latest execution of each cell counts. It is stale when
- a name it used was re-bound (or mutated by a known mutating call) by a later
  execution of another cell in the same session, or the cell that bound it has
  re-run since;
- a file it read now has different content (current hashes come from the caller);
- it depends, by name or through a file, on a cell that is stale.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence

from .graph import latest_by_cell
from .model import Execution, NotebookLineage, StaleCell, StaleReason


def _label(e: Execution) -> str:
    count = f" (In [{e.execution_count}])" if e.execution_count is not None else ""
    return f"cell {e.cell_id or e.id}{count}"


def files_read(lineage: NotebookLineage) -> list[str]:
    """Paths the latest executions read: the caller hashes these for ``stale_cells``."""
    latest = latest_by_cell(lineage.executions).values()
    return sorted({f.path for e in latest for f in e.reads()})


Binding = tuple[int, str, Execution]  # (position in run order, how, the execution)


def _bindings(ran: Sequence[Execution]) -> dict[tuple[str, str], list[Binding]]:
    """Per (session, name), every execution that re-bound or known-mutated it, in order."""
    found: dict[tuple[str, str], list[Binding]] = defaultdict(list)
    for i, e in enumerate(ran):
        for name in e.defines:
            found[(e.session, name)].append((i, "re-bound", e))
        for m in e.mutations:
            if m.known:
                found[(e.session, m.name)].append((i, "changed in place", e))
    return found


def _name_reasons(
    e: Execution,
    bindings: Mapping[tuple[str, str], list[Binding]],
    index: Mapping[str, int],
    cell_of: Mapping[str, str],
    latest: Mapping[str, Execution],
) -> list[StaleReason]:
    reasons: list[StaleReason] = []
    used = {d.name: d.execution for d in e.deps}
    if not used:
        return reasons
    here = index[e.id]
    hits: list[tuple[int, str, str, Execution]] = []
    for name in used:
        entries = bindings.get((e.session, name), [])
        for position, how, later in entries[bisect_right(entries, here, key=lambda b: b[0]) :]:
            if later.cell_key != e.cell_key:
                hits.append((position, name, how, later))
                break
    for _, name, how, later in sorted(hits, key=lambda h: (h[0], h[1])):
        reasons.append(StaleReason("name", f"{name} {how} by {_label(later)}", name=name))
    reported = {h[1] for h in hits}
    for name, source in used.items():
        if name in reported or source not in cell_of:
            continue
        newest = latest.get(cell_of[source])
        if newest is not None and newest.id != source and index[newest.id] > index[e.id]:
            reported.add(name)
            reasons.append(
                StaleReason("name", f"{name} comes from {_label(newest)}, which re-ran", name=name)
            )
    return reasons


def _file_reasons(e: Execution, current: Mapping[str, str | None]) -> list[StaleReason]:
    written = {f.path: f.sha256 for f in e.writes()}
    reasons = []
    for f in e.reads():
        if f.path not in current or f.sha256 is None:
            continue  # not checked by the caller, or unreadable when it ran
        expected = written.get(f.path) or f.sha256
        now = current[f.path]
        if now == expected:
            continue
        if now is None:
            detail = f"{f.path} is gone"
        else:
            detail = f"{f.path} changed ({expected[:12]} -> {now[:12]})"
        reasons.append(StaleReason("file", detail, path=f.path))
    return reasons


def stale_cells(lineage: NotebookLineage, current: Mapping[str, str | None]) -> list[StaleCell]:
    """Stale cells in run order. ``current`` maps read paths to their sha256 now (None: gone)."""
    ran = list(lineage.executions)
    index = {e.id: i for i, e in enumerate(ran)}
    cell_of = {e.id: e.cell_key for e in ran}
    latest = latest_by_cell(ran)
    bindings = _bindings(ran)
    reasons: dict[str, list[StaleReason]] = {}
    for e in latest.values():
        found = _name_reasons(e, bindings, index, cell_of, latest) + _file_reasons(e, current)
        if found:
            reasons[e.id] = found

    # downstream of a stale latest execution, by name or by file edge
    downstream: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for edge in lineage.edges:
        downstream[edge.source].append((edge.target, edge.kind, edge.label))
    latest_ids = {e.id for e in latest.values()}
    queue = deque(reasons)
    while queue:
        source = queue.popleft()
        for target, kind, label in downstream.get(source, ()):
            if target not in latest_ids or target == source:
                continue
            verb = "uses" if kind == "name" else "reads"
            detail = f"{verb} {label} from stale {_label(ran[index[source]])}"
            reason = (
                StaleReason("name", detail, name=label)
                if kind == "name"
                else StaleReason("file", detail, path=label)
            )
            first = target not in reasons
            mine = reasons.setdefault(target, [])
            if reason not in mine:
                mine.append(reason)
            if first:
                queue.append(target)
    return [
        StaleCell(e.cell_id, e.id, e.execution_count, tuple(reasons[e.id]))
        for e in ran
        if e.id in reasons
    ]
