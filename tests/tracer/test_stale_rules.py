"""The staleness rules of the README, end to end: cells run in a real IPython shell with
the tracer, the journal ingested into a real store, the stale list asked of it.

Each case runs (cell id, code) pairs in order; ``page`` is the order of the cells on
the page (default: the order they first ran). ``stale`` maps a cell to substrings of
its reasons, in order; every other cell must not be stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlprod_nb.lineage.staleness import Order, stale_cells
from mlprod_nb.store.commands import notebook_lineage

from .conftest import Traced


@dataclass(frozen=True)
class Case:
    name: str
    cells: tuple[tuple[str, str], ...]
    stale: dict[str, list[str]] = field(default_factory=dict)
    page: tuple[str, ...] | None = None
    order: Order = "run-all"
    states: dict[str, str] = field(default_factory=dict)


SECTIONS = (
    ("load1", "X = [1, 2]\ny = [0, 1]"),
    ("fit1", "m1 = len(X) + len(y)"),
    ("load2", "X = [3, 4, 5]\ny = [1, 0, 1]"),
    ("fit2", "m2 = len(X) + len(y)"),
    ("report", "print(m1, m2)"),
)

CASES = [
    Case("a clean top-to-bottom run: no cell is stale", SECTIONS),
    Case(
        "the live view of the same run: a later re-binding stales the readers",
        SECTIONS,
        {"fit1": ["X re-bound by cell load2", "y re-bound"], "report": ["uses m1 from stale"]},
        order="any",
    ),
    Case(
        "a cell above re-ran: its reader is stale, downstream only through what it passed on",
        (
            ("p", "a = [1]\nb = [2]"),
            ("ra", "ta = a + [0]"),
            ("rb", "tb = b + [0]"),
            ("sa", "ua = ta"),
            ("sb", "ub = tb"),
            ("q", "b = [3]"),
        ),
        {"rb": ["b re-bound by cell q"], "sb": ["uses tb from stale cell rb"]},
        page=("p", "q", "ra", "rb", "sa", "sb"),
        states={"rb": "stale", "sb": "downstream"},
    ),
    Case(
        "a name only defined below: Run All would fail here",
        (("below", "x = [1]"), ("above", "z = x")),
        {"above": ["x comes from cell below"]},
        page=("above", "below"),
        states={"above": "order"},
    ),
    Case(
        "re-running an imports cell binds the same modules: nothing changes",
        (
            ("imp", "import json, os"),
            ("use", "s = json.dumps({}) + os.sep"),
            ("imp", "import json, os"),
        ),
    ),
    Case(
        "re-assigning the identical object changes nothing",
        (("flag", "flag = None"), ("use", "seen = flag"), ("flag", "flag = None")),
    ),
    Case(
        "re-assigning an equal but new object is a write",
        (("xs", "xs = [1]"), ("use", "n = len(xs)"), ("xs", "xs = [1]")),
        {"use": ["xs re-bound by cell xs (In [3])"]},
    ),
    Case(
        "del x is a write of x",
        (("a", "x = [1]"), ("b", "y = x"), ("d", "del x")),
        {"b": ["x deleted by cell d"]},
        page=("a", "d", "b"),
    ),
    Case(
        "a cell that failed on a missing name can run once a cell above defines it",
        (("use", "total = rate * 2"), ("define", "rate = 0.5")),
        {"use": ["can run now: cell define (In [2]) defines rate"]},
        page=("define", "use"),
    ),
    Case(
        "a name shadowing a builtin makes the builtin's earlier readers stale",
        (("count", "n = len([1, 2])"), ("shadow", "len = lambda xs: 0")),
        {"count": ["len re-bound (shadowing the builtin) by cell shadow"]},
        page=("shadow", "count"),
    ),
    Case(
        "... but not when it shadows it below them: Run All reads the builtin there",
        (("count", "n = len([1, 2])"), ("shadow", "len = lambda xs: 0")),
    ),
    Case(
        "an attribute set on an imported module is a write of it",
        (
            ("make", "import sys, types\nsys.modules['cfg'] = types.ModuleType('cfg')"),
            ("imp", "import cfg\ncfg.threshold = 5"),
            ("read", "limit = cfg.threshold"),
            ("set", "cfg.threshold = 7"),
        ),
        {"read": ["cfg changed in place by cell set"]},
        page=("make", "imp", "set", "read"),
    ),
    Case(
        "free names of a function body are uses of the defining cell",
        (("a", "rate = 2"), ("f", "def scale(v):\n    return v * rate"), ("c", "rate = 3")),
        {"f": ["rate re-bound by cell c"]},
        page=("a", "c", "f"),
    ),
    Case(
        "free names of a class body and its methods are uses of the defining cell",
        (
            ("a", "size = 2\nunit = 'm'"),
            ("k", "class Box:\n    width = size\n    def label(self):\n        return unit"),
            ("c", "size = 4\nunit = 'cm'"),
        ),
        {"k": ["size re-bound by cell c", "unit re-bound by cell c"]},
        page=("a", "c", "k"),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_staleness_rules_on_a_traced_shell(traced: Traced, tmp_path: Path, case: Case) -> None:
    notebook = tmp_path / "n.ipynb"
    notebook.write_text("{}")
    traced.shell.user_ns["__session__"] = str(notebook)
    for cell_id, code in case.cells:
        traced.run(code, cell_id=cell_id)
    lineage = notebook_lineage(notebook)
    found = stale_cells(lineage, {}, order=case.order, page=case.page)
    got = {cell.cell_id: [r.detail for r in cell.reasons] for cell in found}
    assert set(got) == set(case.stale), got
    for cell, expected in case.stale.items():
        assert len(got[cell]) == len(expected), got[cell]
        for detail, part in zip(got[cell], expected, strict=True):
            assert part in detail, got[cell]
    assert {c.cell_id: c.state for c in found if c.cell_id in case.states} == case.states
