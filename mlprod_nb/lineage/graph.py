"""Assembling a notebook's lineage from its executions: edges, datasets, latest cells.

Name edges come from the tracer's resolved dependencies. File edges link a read
of ``(path, sha256)`` to the latest execution, of any notebook or session, that
wrote exactly that content before the read started.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from .model import Dataset, DatasetVersion, Edge, Execution, NotebookLineage, Writer


def order(executions: Iterable[Execution]) -> list[Execution]:
    """Executions in the order they ran."""
    return sorted(executions, key=lambda e: (e.started, e.session, e.seq))


def latest_by_cell(executions: Sequence[Execution]) -> dict[str, Execution]:
    """The latest execution of every cell (``executions`` in run order)."""
    latest: dict[str, Execution] = {}
    for e in executions:
        latest[e.cell_key] = e
    return latest


def _writers(executions: Sequence[Execution], external: Iterable[Writer]) -> list[Writer]:
    found = {
        (w.path, w.sha256, w.execution): w
        for w in external
        if w.sha256 is not None  # defensive: the store only gives hashed writes
    }
    for e in executions:
        for f in e.writes():
            if f.sha256 is not None:
                found[(f.path, f.sha256, e.id)] = Writer(
                    f.path, f.sha256, e.id, e.notebook, e.cell_id, e.started
                )
    return sorted(found.values(), key=lambda w: (w.started, w.execution))


def file_edges(executions: Sequence[Execution], writers: Sequence[Writer]) -> list[Edge]:
    """One edge per read whose content some earlier execution wrote."""
    by_content: dict[tuple[str, str], list[Writer]] = defaultdict(list)
    for w in writers:
        by_content[(w.path, w.sha256)].append(w)
    edges: list[Edge] = []
    for e in executions:
        for f in e.reads():
            if f.sha256 is None:
                continue
            earlier = [
                w
                for w in by_content.get((f.path, f.sha256), ())
                if w.execution != e.id and w.started <= e.started
            ]
            if earlier:
                edges.append(Edge(earlier[-1].execution, e.id, "file", f.path))
    return edges


def name_edges(executions: Sequence[Execution]) -> list[Edge]:
    return [Edge(d.execution, e.id, "name", d.name) for e in executions for d in e.deps]


def datasets(executions: Sequence[Execution], writers: Sequence[Writer]) -> list[Dataset]:
    """Every file the executions touched, with its versions, readers and writers."""
    readers: dict[str, dict[str | None, list[str]]] = defaultdict(lambda: defaultdict(list))
    writes: dict[str, dict[str | None, list[str]]] = defaultdict(lambda: defaultdict(list))
    sizes: dict[tuple[str, str | None], int | None] = {}
    for e in executions:
        for f in e.files:
            table = readers if f.mode == "read" else writes
            table[f.path][f.sha256].append(e.id)
            # make sure the version exists in both maps, in first-seen order
            (writes if f.mode == "read" else readers)[f.path][f.sha256]
            sizes[(f.path, f.sha256)] = f.size
    own = {e.id for e in executions}
    for w in writers:
        if w.path in readers and w.sha256 in readers[w.path] and w.execution not in own:
            writes[w.path][w.sha256].insert(0, w.execution)
    result = []
    for path, versions in readers.items():
        result.append(
            Dataset(
                path,
                tuple(
                    DatasetVersion(
                        sha,
                        sizes.get((path, sha)),
                        tuple(dict.fromkeys(ids)),
                        tuple(dict.fromkeys(writes[path][sha])),
                    )
                    for sha, ids in versions.items()
                ),
            )
        )
    return sorted(result, key=lambda d: d.path)


def build(
    notebook: str, executions: Iterable[Execution], external_writers: Iterable[Writer] = ()
) -> NotebookLineage:
    """The lineage of ``notebook`` from its executions and outside writers of its inputs."""
    ran = order(executions)
    writers = _writers(ran, external_writers)
    own = {e.id for e in ran}
    return NotebookLineage(
        notebook=notebook,
        executions=tuple(ran),
        datasets=tuple(datasets(ran, writers)),
        edges=tuple(name_edges(ran) + file_edges(ran, writers)),
        cells={key: e.id for key, e in latest_by_cell(ran).items()},
        writers=tuple(w for w in writers if w.execution not in own),
    )
