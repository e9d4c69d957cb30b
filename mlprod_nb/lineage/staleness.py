"""Which cells are stale: what they saw when they last ran is no longer what they would see.

Only the latest execution of each cell counts. Two views answer two questions:

``run-all`` (the default of ``mlprod-nb stale`` and the panel) asks "would Run All from the
top change what this cell saw?". It needs the page order of the cells. A cell is stale when
- a name it used was re-bound, deleted or changed in place (by a known mutating call) since,
  by a cell *above* it on the page, no higher than the cell it took the name from (a
  re-binding further down, as in a later section reusing ``X``, changes nothing for it;
  one above its producer is overwritten again by the producer on Run All);
- it read a builtin (``len``) that a cell above it has bound a value of its own to since;
- the cell it took a name from (above it) has re-run since (and bound the name again: a
  re-run binding the identical object, as a re-run import does, changes nothing);
- a file it read now has different content (current hashes come from the caller);
- it took a name from a stale cell above it (``downstream``: through that name or file only);
- it failed on a name that did not exist, and a cell above it defines that name since
  ("can run now").
A cell that used a name which only a cell *below* it defines is flagged ``order``: Run All
would fail there. After a clean top-to-bottom run no cell is stale.

``any`` is the live-namespace view for people who work out of order: any later re-binding
by another cell in the same session makes a reader stale, wherever that cell is.
"""

from __future__ import annotations

import builtins
import re
from bisect import bisect_right
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from .graph import latest_by_cell
from .model import Execution, NotebookLineage, StaleCell, StaleReason

Order = Literal["run-all", "any"]
ORDERS: tuple[Order, ...] = ("run-all", "any")


def files_read(lineage: NotebookLineage) -> list[str]:
    """Paths the latest executions read: the caller hashes these for ``stale_cells``."""
    latest = latest_by_cell(lineage.executions).values()
    return sorted({f.path for e in latest for f in e.reads()})


Binding = tuple[int, str, Execution]  # (position in run order, how, the execution)


def _bindings(ran: Sequence[Execution]) -> dict[tuple[str, str], list[Binding]]:
    """Per (session, name), every execution that re-bound, deleted or known-mutated it."""
    found: dict[tuple[str, str], list[Binding]] = defaultdict(list)
    for i, e in enumerate(ran):
        for name in e.defines:
            found[(e.session, name)].append((i, "re-bound", e))
        for name in e.deletes:
            found[(e.session, name)].append((i, "deleted", e))
        for m in e.mutations:
            if m.known:
                found[(e.session, m.name)].append((i, "changed in place", e))
    return found


@dataclass(frozen=True)
class _Context:
    """Everything the rules look up, built once per call."""

    ran: Sequence[Execution]
    index: Mapping[str, int]  # execution id -> position in run order
    latest: Mapping[str, Execution]  # cell key -> its latest execution
    bindings: Mapping[tuple[str, str], list[Binding]]
    page: Mapping[str, int] | None  # cell key -> position on the page (run-all view)

    def cell_of(self, execution_id: str) -> str | None:
        at = self.index.get(execution_id)
        return None if at is None else self.ran[at].cell_key

    def above(self, cell: str | None, than: str) -> bool:
        """Whether ``cell`` is above ``than`` on the page (always, in the ``any`` view)."""
        if self.page is None:
            return True
        here, there = self.page.get(than), self.page.get(cell) if cell else None
        return here is not None and there is not None and there < here


def _name_reasons(e: Execution, ctx: _Context) -> list[StaleReason]:
    used = {d.name: d.execution for d in e.deps}
    here = ctx.index[e.id]
    reasons: list[StaleReason] = []
    hits: list[tuple[int, str, str, Execution]] = []
    for name, source in used.items():
        producer = ctx.cell_of(source)
        if producer is not None and producer != e.cell_key and not ctx.above(producer, e.cell_key):
            if not _defined_above(name, e, ctx):
                where = ctx.ran[ctx.index[source]].label
                reasons.append(
                    StaleReason(
                        "order",
                        f"{name} comes from {where} below it: Run All would fail here",
                        name=name,
                    )
                )
            continue
        entries = ctx.bindings.get((e.session, name), [])
        for position, how, later in entries[bisect_right(entries, here, key=lambda b: b[0]) :]:
            if later.cell_key == e.cell_key or not ctx.above(later.cell_key, e.cell_key):
                continue
            if (
                producer is not None
                and ctx.page is not None
                and ctx.above(later.cell_key, producer)
            ):
                continue  # Run All re-runs the producer after it: overwritten again
            hits.append((position, name, how, later))
            break
    hits += _shadowed(e, ctx, used)
    for _, name, how, later in sorted(hits, key=lambda h: (h[0], h[1])):
        reasons.append(StaleReason("name", f"{name} {how} by {later.label}", name=name))
    reported = {h[1] for h in hits} | {r.name for r in reasons}
    for name, source in used.items():
        producer = ctx.cell_of(source)
        if name in reported or producer is None:
            continue
        newest = ctx.latest.get(producer)
        if newest is None or newest.id == source or ctx.index[newest.id] < here:
            continue
        # in the same session, a re-run that did not bind the name again (it failed first,
        # or bound the identical object) left the value this cell used in place
        if newest.session != e.session or name in newest.defines:
            reported.add(name)
            reasons.append(
                StaleReason("name", f"{name} comes from {newest.label}, which re-ran", name=name)
            )
    return reasons


def _shadowed(
    e: Execution, ctx: _Context, used: Mapping[str, str]
) -> list[tuple[int, str, str, Execution]]:
    """Builtins ``e`` read that another cell (above it, in run-all) bound since: ``len = 3``
    is a write of ``len`` for the cells that called the builtin before."""
    hits: list[tuple[int, str, str, Execution]] = []
    here = ctx.index[e.id]
    for name in e.uses:
        if name in used or name not in _BUILTINS:
            continue
        entries = ctx.bindings.get((e.session, name), [])
        for position, how, later in entries[bisect_right(entries, here, key=lambda b: b[0]) :]:
            mine = later.cell_key == e.cell_key
            if how == "re-bound" and not mine and ctx.above(later.cell_key, e.cell_key):
                hits.append((position, name, "re-bound (shadowing the builtin)", later))
                break
    return hits


_BUILTINS = frozenset(dir(builtins))
_MISSING_NAME = re.compile(r"name '([^']+)' is not defined")


def _can_run_now(e: Execution, ctx: _Context) -> list[StaleReason]:
    """A cell that failed on a missing name which a cell (above it, in run-all) now defines."""
    if e.status != "error" or e.error_name not in ("NameError", "UnboundLocalError"):
        return []
    match = _MISSING_NAME.search(e.error_message or "")
    if match is None:
        return []
    name = match.group(1)
    here = ctx.index[e.id]
    for later in ctx.ran[here + 1 :]:
        if later.session != e.session or name not in later.defines:
            continue
        if later.cell_key != e.cell_key and ctx.above(later.cell_key, e.cell_key):
            detail = f"can run now: {later.label} defines {name}"
            return [StaleReason("name", detail, name=name)]
    return []


def _defined_above(name: str, e: Execution, ctx: _Context) -> bool:
    """Whether a cell above ``e`` defines ``name`` in its latest execution."""
    return any(
        name in other.defines and ctx.above(key, e.cell_key) for key, other in ctx.latest.items()
    )


def _file_reasons(
    e: Execution, current: Mapping[str, str | None], show: Callable[[str], str]
) -> list[StaleReason]:
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
            detail = f"{show(f.path)} is gone"
        else:
            detail = f"{show(f.path)} changed ({expected[:12]} -> {now[:12]})"
        reasons.append(StaleReason("file", detail, path=f.path))
    return reasons


def stale_cells(
    lineage: NotebookLineage,
    current: Mapping[str, str | None],
    *,
    order: Order = "any",
    page: Sequence[str] | None = None,
    show_path: Callable[[str], str] = str,
) -> list[StaleCell]:
    """Stale cells in run order. ``current`` maps read paths to their sha256 now (None: gone).

    ``page`` lists the cell keys (ids, or ``source:HASH`` for cells without one) in page
    order, for the ``run-all`` view; without it the order in which the cells first ran
    stands in for the page. ``show_path`` turns a recorded (absolute) path into the form
    the reasons' text shows (the server shows paths relative to its root); the reasons'
    ``path`` field keeps the recorded path.
    """
    ran = list(lineage.executions)
    latest = latest_by_cell(ran)
    positions: dict[str, int] | None = None
    if order == "run-all":
        keys = page if page is not None else list(dict.fromkeys(e.cell_key for e in ran))
        positions = {key: i for i, key in enumerate(keys)}
    ctx = _Context(ran, {e.id: i for i, e in enumerate(ran)}, latest, _bindings(ran), positions)
    reasons: dict[str, list[StaleReason]] = {}
    for e in latest.values():
        found = _name_reasons(e, ctx) + _file_reasons(e, current, show_path) + _can_run_now(e, ctx)
        if found:
            reasons[e.id] = found
    own = set(reasons)

    # downstream of a stale latest execution, through the name or file it passed on
    downstream: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for edge in lineage.edges:
        downstream[edge.source].append((edge.target, edge.kind, edge.label))
    latest_ids = {e.id: e for e in latest.values()}
    # a cell flagged only as out of order is where Run All would stop: nothing flows on
    queue = deque(i for i, found in reasons.items() if any(r.kind != "order" for r in found))
    while queue:
        source = queue.popleft()
        source_cell = ran[ctx.index[source]].cell_key
        for target, kind, label in downstream.get(source, ()):
            reader = latest_ids.get(target)
            if reader is None or target == source:
                continue
            if not ctx.above(source_cell, reader.cell_key):
                continue  # already flagged out of order, or not on the page
            verb, what = ("uses", label) if kind == "name" else ("reads", show_path(label))
            detail = f"{verb} {what} from stale {ran[ctx.index[source]].label}"
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
        StaleCell(
            e.cell_id,
            e.id,
            e.execution_count,
            tuple(reasons[e.id]),
            _state(reasons[e.id], e.id in own),
        )
        for e in ran
        if e.id in reasons
    ]


State = Literal["stale", "downstream", "order"]


def _state(reasons: Sequence[StaleReason], own: bool) -> State:
    if any(r.kind == "order" for r in reasons):
        return "order"
    return "stale" if own else "downstream"
