"""What the tracer saw of a notebook, in the exporter's cell ids.

The exporter names a cell by its nbformat id, or ``cell-{index}`` when the notebook
predates ids (nbformat 4.4, most notebooks in the wild). A traced execution carries the
id its front end sent: the file's id, a random one JupyterLab gave the cell in memory,
or none (nbclient, the terminal). So an execution is matched to a cell by id when the
ids agree, else by its ``source_hash``; among cells with the same source the one after
the cell the session ran just before wins (a top-to-bottom run walks them in order).
Pure: takes the store's executions, opens nothing.
"""

from __future__ import annotations

import builtins
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..lineage.model import Execution, NotebookLineage
from ..records import source_hash

_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Trace:
    """The latest traced execution of each notebook cell, as the exporter names cells."""

    # cell id -> (name used, id of the cell that bound it, None if not a cell of this
    # notebook); reads of a file another cell wrote appear as ("file:<path>", writer)
    uses: Mapping[str, Sequence[tuple[str, str | None]]]
    # cell id -> name it defined -> "module.QualName" of the value after the cell
    types: Mapping[str, Mapping[str, str]]
    matched: int  # notebook cells with a traced execution
    by_source: int  # of those, matched by source hash (the ids differed or were missing)


@dataclass(frozen=True)
class _Match:
    position: int  # of the cell in the notebook's code cells
    by_source: bool


class _Cells:
    """The notebook's code cells, looked up by id and by source hash."""

    def __init__(self, cells: Sequence[tuple[str, str]]) -> None:
        self.ids = [cell_id for cell_id, _ in cells]
        self._by_id = {cell_id: index for index, cell_id in enumerate(self.ids)}
        self._by_hash: dict[str, list[int]] = defaultdict(list)
        for index, (_, source) in enumerate(cells):
            self._by_hash[source_hash(source)].append(index)

    def find(self, execution: Execution, after: int) -> _Match | None:
        """The cell ``execution`` ran; ``after``: the cell its session ran before it."""
        if execution.cell_id is not None and execution.cell_id in self._by_id:
            return _Match(self._by_id[execution.cell_id], by_source=False)
        same = self._by_hash.get(execution.source_hash)
        if not same:
            return None
        next_one = bisect_right(same, after)
        # none below: a cell run again (the last of them is the likeliest)
        return _Match(same[next_one] if next_one < len(same) else same[-1], by_source=True)


def match(executions: Sequence[Execution], cells: Sequence[tuple[str, str]]) -> dict[str, _Match]:
    """Execution id -> the cell it ran, for the executions that match a cell."""
    known = _Cells(cells)
    by_session: dict[str, list[Execution]] = defaultdict(list)
    for e in executions:
        by_session[e.session].append(e)
    found: dict[str, _Match] = {}
    for session in by_session.values():
        last = -1
        for e in sorted(session, key=lambda e: e.seq):
            hit = known.find(e, last)
            if hit is not None:
                found[e.id] = hit
                last = hit.position
    return found


def build(lineage: NotebookLineage, cells: Sequence[tuple[str, str]]) -> Trace:
    """The trace of ``lineage`` for the notebook whose code cells are ``cells``
    (exporter id, source) in page order; the latest execution of each cell wins."""
    matches = match(lineage.executions, cells)
    ids = [cell_id for cell_id, _ in cells]
    by_id = {e.id: e for e in lineage.executions}
    latest: dict[int, Execution] = {}
    for e in lineage.executions:  # in the order they ran
        hit = matches.get(e.id)
        if hit is not None:
            latest[hit.position] = e

    def cell_of(execution_id: str) -> str | None:
        hit = matches.get(execution_id)
        return ids[hit.position] if hit is not None else None

    uses: dict[str, list[tuple[str, str | None]]] = {}
    types: dict[str, dict[str, str]] = {}
    for position, e in sorted(latest.items()):
        binders = {d.name: d.execution for d in e.deps}
        uses[ids[position]] = [
            (name, cell_of(binders[name]) if name in binders else None)
            for name in e.uses
            if name in binders or name not in _BUILTINS  # the tracer keeps builtins read
        ]
        if e.types:
            types[ids[position]] = dict(e.types)
    winners = {e.id: ids[position] for position, e in latest.items()}
    for edge in lineage.edges:  # reads of a file another cell wrote
        reader = winners.get(edge.target)
        if edge.kind == "file" and reader is not None and edge.source in by_id:
            uses[reader].append((f"file:{edge.label}", cell_of(edge.source)))
    by_source = sum(1 for e in latest.values() if matches[e.id].by_source)
    return Trace(uses=uses, types=types, matched=len(latest), by_source=by_source)
