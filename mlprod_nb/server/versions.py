"""Versions of a notebook's lineage answer, and what changed between two of them.

A polling panel already holds most of the lineage: executions and edges never
change once recorded, and a new execution adds a few of each. Every answer gets a
version tag (a hash of its JSON); the panel sends back the tag it holds, and is
answered 304 while nothing changed, else only the executions, edges, cells and
datasets that are new or changed since that version (a *delta*). The panel's merge
of a delta into its copy gives the same lineage as a full answer: a delta is only
made when the old answer's executions, edges, cells and datasets are an ordered
prefix of the new one's; otherwise (a rename, a deleted store) the full answer goes.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .payload import encode

if TYPE_CHECKING:
    from ..lineage.model import Edge, NotebookLineage

KEPT_VERSIONS = 6  # per notebook: panels a few polls behind still get a delta
KEPT_NOTEBOOKS = 8
Members = Sequence[tuple[str, bytes]]  # (name, its value as JSON text)


def splice(members: Members) -> bytes:
    """The JSON object of ``members``, whose values are JSON text already.

    The one place answers are joined from JSON bytes instead of encoded whole, because
    executions and edges never change once recorded: each is encoded once and kept.
    Measured with bench_panel's store (5,000 executions): encoding the lineage answer
    whole takes ~240 ms, splicing the kept executions' JSON ~15 ms, against the panel's
    target of p95 <= 100 ms. ``tests/server/test_lineage_versions.py`` checks that a
    spliced answer equals the plain encoding (``payload.encode``) of the same data.
    """
    return b"{" + b",".join(encode(name) + b":" + value for name, value in members) + b"}"


def _array(items: Iterable[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def _flagged(execution: bytes, stale: bool) -> bytes:
    """An execution's kept JSON object with the panel's stale mark as its last member."""
    return execution[:-1] + (b',"stale":true}' if stale else b',"stale":false}')


@dataclass
class Fragments:
    """The JSON of a notebook's executions (by id) and edges, reused between versions."""

    executions: dict[str, bytes] = field(default_factory=dict)
    edges: dict[Edge, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class LineageVersion:
    """One answer of the lineage route: its full JSON and the parts a delta is made of."""

    tag: str
    body: bytes
    executions: Mapping[str, bytes]  # id -> JSON without the stale mark, in answer order
    edges: Mapping[Edge, bytes]
    cells: tuple[tuple[str, str], ...]
    datasets: Mapping[str, bytes]  # path -> JSON
    stale: frozenset[str]
    head: Members  # the notebook and its outside writers


def build_version(
    notebook: str, lineage: NotebookLineage, stale: frozenset[str], known: Fragments
) -> tuple[LineageVersion, Fragments]:
    """The full answer for ``lineage`` (``notebook`` as the panel names it), tagged."""
    pieces = {e.id: known.executions.get(e.id) or encode(e) for e in lineage.executions}
    edges = {e: known.edges.get(e) or encode(e) for e in lineage.edges}
    datasets = {d.path: encode(d) for d in lineage.datasets}
    head = (("notebook", encode(notebook)), ("writers", encode(lineage.writers)))
    cells = tuple(lineage.cells.items())
    members = [
        ("executions", _array(_flagged(p, i in stale) for i, p in pieces.items())),
        ("edges", _array(edges.values())),
        ("datasets", _array(datasets.values())),
        ("cells", encode(dict(cells))),
        *head,
    ]
    tag = hashlib.blake2b(splice(members), digest_size=10).hexdigest()
    tagged = splice([("version", encode(tag)), *members])
    version = LineageVersion(tag, tagged, pieces, edges, cells, datasets, stale, head)
    return version, Fragments(pieces, edges)


def _prefix(old: tuple[object, ...], new: tuple[object, ...]) -> bool:
    return len(old) <= len(new) and new[: len(old)] == old


def delta(base: LineageVersion, current: LineageVersion) -> bytes | None:
    """What changed from ``base`` to ``current`` as JSON; ``None`` when only a full
    answer can say it (something of ``base`` is gone or moved)."""
    old_ids, new_ids = tuple(base.executions), tuple(current.executions)
    old_edges, new_edges = tuple(base.edges), tuple(current.edges)
    old_cells = tuple(cell for cell, _ in base.cells)
    new_cells = tuple(cell for cell, _ in current.cells)
    if not (
        _prefix(old_ids, new_ids)
        and _prefix(old_edges, new_edges)
        and _prefix(old_cells, new_cells)
        and _prefix(tuple(base.datasets), tuple(current.datasets))
    ):
        return None
    was = dict(base.cells)
    cells = {cell: latest for cell, latest in current.cells if was.get(cell) != latest}
    datasets = [text for path, text in current.datasets.items() if base.datasets.get(path) != text]
    added = new_ids[len(old_ids) :]
    return splice(
        [
            ("version", encode(current.tag)),
            ("since", encode(base.tag)),
            (
                "executions",
                _array(_flagged(current.executions[i], i in current.stale) for i in added),
            ),
            ("edges", _array(current.edges[e] for e in new_edges[len(old_edges) :])),
            ("datasets", _array(datasets)),
            ("cells", encode(cells)),
            ("stale", encode(sorted(current.stale))),
            *current.head,
        ]
    )


class VersionLog:
    """The last few versions answered for each notebook, to make deltas from."""

    def __init__(self) -> None:
        self._kept: OrderedDict[Path, OrderedDict[str, LineageVersion]] = OrderedDict()
        self._fragments: dict[Path, Fragments] = {}
        self._lock = threading.Lock()

    def fragments(self, notebook: Path) -> Fragments:
        with self._lock:
            return self._fragments.get(notebook) or Fragments()

    def remember(self, notebook: Path, version: LineageVersion, fragments: Fragments) -> None:
        with self._lock:
            kept = self._kept.pop(notebook, None) or OrderedDict()
            kept.pop(version.tag, None)
            kept[version.tag] = version
            while len(kept) > KEPT_VERSIONS:
                kept.popitem(last=False)
            self._kept[notebook] = kept
            self._fragments[notebook] = fragments
            while len(self._kept) > KEPT_NOTEBOOKS:
                gone, _ = self._kept.popitem(last=False)
                self._fragments.pop(gone, None)

    def find(self, notebook: Path, tag: str) -> LineageVersion | None:
        with self._lock:
            kept = self._kept.get(notebook)
            return kept.get(tag) if kept is not None else None
