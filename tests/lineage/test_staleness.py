"""Staleness and lineage graph, table-driven over small made-up histories (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from mlprod_nb.lineage import graph
from mlprod_nb.lineage.model import Dependency, Execution, FileAccess, Mutation, Writer
from mlprod_nb.lineage.staleness import Order, files_read, stale_cells

A, B, C = "a" * 64, "b" * 64, "c" * 64


def ex(
    seq: int,
    cell: str,
    defines: tuple[str, ...] = (),
    deps: dict[str, int] | None = None,
    reads: dict[str, str] | None = None,
    writes: dict[str, str] | None = None,
    mutates: tuple[tuple[str, bool], ...] = (),
    session: str = "s1",
    deletes: tuple[str, ...] = (),
) -> Execution:
    files = [FileAccess(p, "read", h, 1, "open") for p, h in (reads or {}).items()]
    files += [FileAccess(p, "write", h, 1, "open") for p, h in (writes or {}).items()]
    return Execution(
        id=f"{session}:{seq}",
        session=session,
        seq=seq,
        notebook="/nb/n.ipynb",
        cell_id=cell,
        execution_count=seq,
        started=float(seq),
        duration_ms=1.0,
        status="ok",
        error_name=None,
        error_message=None,
        source_hash=cell,
        defines=defines,
        uses=tuple((deps or {}).keys()),
        deps=tuple(Dependency(n, f"{session}:{s}") for n, s in (deps or {}).items()),
        files=tuple(files),
        mutations=tuple(Mutation(n, "call:append", known) for n, known in mutates),
        deletes=deletes,
    )


@dataclass
class Case:
    name: str
    history: list[Execution]
    stale: dict[str, list[str]]  # cell -> substrings of its reasons, in order
    current: dict[str, str | None] = field(default_factory=dict)
    order: Order = "any"
    page: tuple[str, ...] | None = None
    states: dict[str, str] = field(default_factory=dict)  # cell -> state, where checked


CASES = [
    Case(
        "linear run, nothing changed",
        [ex(1, "a", ("x",)), ex(2, "b", ("y",), {"x": 1}), ex(3, "c", (), {"y": 2})],
        {},
    ),
    Case(
        "a re-run of the defining cell makes direct and transitive users stale",
        [
            ex(1, "a", ("x",)),
            ex(2, "b", ("y",), {"x": 1}),
            ex(3, "c", (), {"y": 2}),
            ex(4, "a", ("x",)),
        ],
        {"b": ["x re-bound by cell a (In [4])"], "c": ["uses y from stale cell b"]},
    ),
    Case(
        "another cell re-binding a used name",
        [ex(1, "a", ("x",)), ex(2, "b", (), {"x": 1}), ex(3, "z", ("x",))],
        {"b": ["x re-bound by cell z"]},
    ),
    Case(
        "re-running the user after the re-binding makes it fresh again",
        [
            ex(1, "a", ("x",)),
            ex(2, "b", (), {"x": 1}),
            ex(3, "a", ("x",)),
            ex(4, "b", (), {"x": 3}),
        ],
        {},
    ),
    Case(
        "a cell re-binding its own input is not stale by itself",
        [ex(1, "a", ("df",)), ex(2, "b", ("df",), {"df": 1})],
        {},
    ),
    Case(
        "a known mutation counts, a may-mutate call does not",
        [
            ex(1, "a", ("xs", "ys")),
            ex(2, "b", (), {"xs": 1}),
            ex(3, "c", (), {"ys": 1}),
            ex(4, "m", (), {"xs": 1, "ys": 1}, mutates=(("xs", True), ("ys", False))),
        ],
        {"b": ["xs changed in place by cell m"]},
    ),
    Case(
        "a re-binding in another session does not count by name",
        [ex(1, "a", ("x",)), ex(2, "b", (), {"x": 1}), ex(1, "z", ("x",), session="s2")],
        {},
    ),
    Case(
        "the defining cell re-ran in a later session",
        [
            ex(1, "a", ("x",)),
            ex(2, "b", (), {"x": 1}),
            Execution(**{**ex(1, "a", ("x",), session="s2").__dict__, "started": 9.0}),
        ],
        {"b": ["x comes from cell a"]},
    ),
    Case(
        "a file read has changed on disk",
        [ex(1, "a", ("df",), reads={"/d/in.csv": A}), ex(2, "b", (), {"df": 1})],
        {"a": ["/d/in.csv changed (aaaaaaaaaaaa -> bbbbbbbbbbbb)"], "b": ["uses df from stale"]},
        {"/d/in.csv": B},
    ),
    Case(
        "a file read is gone",
        [ex(1, "a", reads={"/d/in.csv": A})],
        {"a": ["/d/in.csv is gone"]},
        {"/d/in.csv": None},
    ),
    Case(
        "unchanged file",
        [ex(1, "a", reads={"/d/in.csv": A})],
        {},
        {"/d/in.csv": A},
    ),
    Case(
        "a cell that rewrites the file it read compares with what it wrote",
        [ex(1, "a", reads={"/d/f": A}, writes={"/d/f": B})],
        {},
        {"/d/f": B},
    ),
    Case(
        "staleness flows through a file written by one cell and read by another",
        [
            ex(1, "a", ("x",)),
            ex(2, "w", (), {"x": 1}, writes={"/d/mid.parquet": A}),
            ex(3, "r", ("t",), reads={"/d/mid.parquet": A}),
            ex(4, "a", ("x",)),
        ],
        {"w": ["x re-bound"], "r": ["reads /d/mid.parquet from stale cell w"]},
        {"/d/mid.parquet": A},
    ),
    Case(
        "only the latest execution of a cell counts",
        [
            ex(1, "a", reads={"/d/in.csv": A}),
            ex(2, "a", reads={"/d/in.csv": C}),
        ],
        {},
        {"/d/in.csv": C},
    ),
]


SECTIONS = [  # two sections of one notebook reuse X and y, run top to bottom
    ex(1, "load1", ("X", "y")),
    ex(2, "fit1", ("m1",), {"X": 1, "y": 1}),
    ex(3, "load2", ("X", "y")),
    ex(4, "fit2", ("m2",), {"X": 3, "y": 3}),
    ex(5, "report", (), {"m1": 2, "m2": 4}),
]
PAGE = ("load1", "fit1", "load2", "fit2", "report")

RUN_ALL = [
    Case("a clean top-to-bottom run: nothing stale", SECTIONS, {}, order="run-all", page=PAGE),
    Case(
        "the same history in the live view: the first section's readers are stale",
        SECTIONS,
        {
            "fit1": ["X re-bound by cell load2", "y re-bound by cell load2"],
            "report": ["uses m1 from stale cell fit1"],
        },
    ),
    Case(
        "a cell above re-ran: its readers and theirs are stale, per name",
        [*SECTIONS, ex(6, "load1", ("X", "y"))],
        {
            "fit1": ["X re-bound by cell load1", "y re-bound by cell load1"],
            "report": ["uses m1 from stale cell fit1"],
        },
        order="run-all",
        page=PAGE,
        states={"fit1": "stale", "report": "downstream"},
    ),
    Case(
        "a re-binding above the producer is overwritten again by Run All",
        [ex(1, "z", ("x",)), ex(2, "a", ("x",)), ex(3, "b", (), {"x": 2}), ex(4, "z", ("x",))],
        {},
        order="run-all",
        page=("z", "a", "b"),
    ),
    Case(
        "a name only defined below: Run All would fail here",
        [ex(1, "below", ("x",)), ex(2, "above", ("y",), {"x": 1}), ex(3, "after", (), {"y": 2})],
        {"above": ["x comes from cell below (In [1]) below it: Run All would fail here"]},
        order="run-all",
        page=("above", "below", "after"),
        states={"above": "order"},
    ),
    Case(
        "a name defined both above and below is just stale, not out of order",
        [
            ex(1, "top", ("x",)),
            ex(2, "bottom", ("x",)),
            ex(3, "middle", (), {"x": 2}),
        ],
        {},
        order="run-all",
        page=("top", "middle", "bottom"),
    ),
    Case(
        "del x by a cell above the reader is a write of x",
        [ex(1, "a", ("x",)), ex(2, "b", (), {"x": 1}), ex(3, "d", deletes=("x",))],
        {"b": ["x deleted by cell d"]},
        order="run-all",
        page=("a", "d", "b"),
    ),
    Case(
        "a changed input file: the reader is stale, its users downstream",
        [ex(1, "a", ("df",), reads={"/d/in.csv": A}), ex(2, "b", (), {"df": 1})],
        {"a": ["/d/in.csv changed"], "b": ["uses df from stale cell a"]},
        {"/d/in.csv": B},
        order="run-all",
        page=("a", "b"),
        states={"a": "stale", "b": "downstream"},
    ),
    Case(
        "a cell that failed on a missing name can run once a cell above defines it",
        [
            Execution(
                **{
                    **ex(1, "use").__dict__,
                    "status": "error",
                    "error_name": "NameError",
                    "error_message": "name 'rate' is not defined",
                }
            ),
            ex(2, "define", ("rate",)),
        ],
        {"use": ["can run now: cell define (In [2]) defines rate"]},
        order="run-all",
        page=("define", "use"),
    ),
    Case(
        "without a page, the order cells first ran in stands in for it",
        [ex(1, "a", ("x",)), ex(2, "b", (), {"x": 1}), ex(3, "c", ("x",)), ex(4, "a", ("x",))],
        {"b": ["x re-bound by cell a (In [4])"]},
        order="run-all",
    ),
]


@pytest.mark.parametrize("case", CASES + RUN_ALL, ids=[c.name for c in CASES + RUN_ALL])
def test_stale_cells(case: Case) -> None:
    lineage = graph.build("/nb/n.ipynb", case.history)
    found = stale_cells(lineage, case.current, order=case.order, page=case.page)
    assert {c.cell_id: c.state for c in found if c.cell_id in case.states} == case.states
    got = {cell.cell_id: [r.detail for r in cell.reasons] for cell in found}
    assert set(got) == set(case.stale), got
    for cell, expected in case.stale.items():
        assert len(got[cell]) == len(expected), got[cell]
        for detail, part in zip(got[cell], expected, strict=True):
            assert part in detail


def test_files_read_lists_only_latest_reads() -> None:
    lineage = graph.build(
        "/nb/n.ipynb",
        [
            ex(1, "a", reads={"/old": A}),
            ex(2, "a", reads={"/new": A}),
            ex(3, "b", writes={"/w": A}),
        ],
    )
    assert files_read(lineage) == ["/new"]


def test_file_edges_link_reads_to_the_latest_earlier_writer() -> None:
    history = [
        ex(2, "w1", writes={"/d/x": A}),
        ex(3, "w2", writes={"/d/x": B}),
        ex(4, "r1", reads={"/d/x": A}),
        ex(5, "r2", reads={"/d/x": B}),
        ex(6, "r3", reads={"/d/y": C}),
    ]
    outside = [Writer("/d/y", C, "other:1", "/nb/other.ipynb", "cx", 1.0)]
    lineage = graph.build("/nb/n.ipynb", history, outside)
    files = {(e.source, e.target) for e in lineage.edges if e.kind == "file"}
    assert files == {("s1:2", "s1:4"), ("s1:3", "s1:5"), ("other:1", "s1:6")}
    (x,) = [d for d in lineage.datasets if d.path == "/d/x"]
    assert [(v.sha256, v.writers, v.readers) for v in x.versions] == [
        (A, ("s1:2",), ("s1:4",)),
        (B, ("s1:3",), ("s1:5",)),
    ]
    (y,) = [d for d in lineage.datasets if d.path == "/d/y"]
    assert y.versions[0].writers == ("other:1",)
    assert lineage.cells == {c: f"s1:{i}" for i, c in enumerate(["w1", "w2", "r1", "r2", "r3"], 2)}


def test_a_write_after_the_read_is_not_its_source() -> None:
    lineage = graph.build(
        "/nb/n.ipynb", [ex(1, "r", reads={"/d/x": A}), ex(2, "w", writes={"/d/x": A})]
    )
    assert [e for e in lineage.edges if e.kind == "file"] == []


def test_cells_without_ids_are_told_apart_by_source() -> None:
    one = Execution(**{**ex(1, "a", ("x",)).__dict__, "cell_id": None, "source_hash": "h1"})
    two = Execution(**{**ex(2, "b", ("y",)).__dict__, "cell_id": None, "source_hash": "h2"})
    again = Execution(**{**ex(3, "a", ("x",)).__dict__, "cell_id": None, "source_hash": "h1"})
    lineage = graph.build("/nb/n.ipynb", [one, two, again])
    assert lineage.cells == {"source:h1": "s1:3", "source:h2": "s1:2"}


@pytest.mark.parametrize(
    ("cell_id", "source", "expected"),
    [
        ("load", "x = 1", "cell load (In [3])"),
        (
            "3f2a9c1e-8b7d-4e2f-9a61-0c5d7e8f9a10",
            "# Clean up\ndf = df.dropna()",
            "cell 'Clean up' (In [3])",
        ),
        (
            "3f2a9c1e-8b7d-4e2f-9a61-0c5d7e8f9a10",
            "%time\ndf = df.dropna()",
            "cell 'df = df.dropna()' (In [3])",
        ),
        ("3f2a9c1e-8b7d-4e2f-9a61-0c5d7e8f9a10", None, "cell '3f2a9c1e' (In [3])"),
    ],
)
def test_cells_with_generated_ids_are_named_by_their_first_words(
    cell_id: str, source: str | None, expected: str
) -> None:
    e = Execution(**{**ex(3, "x").__dict__, "cell_id": cell_id, "source": source})
    assert e.label == expected
