"""Definitions, uses, deletions, mutations and dependency edges, cell by cell.

Each case runs its cells in order through a real shell with the tracer loaded
and checks the record of the last one. ``deps`` maps a name to the index of the
cell (in ``cells``) whose execution it must resolve to.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlprod_nb.tracer import mutations, session
from mlprod_nb.tracer.analysis import analyse

from .conftest import Traced

BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class Case:
    name: str
    cells: tuple[str, ...]
    defines: frozenset[str] = frozenset()
    uses: frozenset[str] = frozenset()
    deletes: frozenset[str] = frozenset()
    deps: dict[str, int] = field(default_factory=dict)
    mutations: frozenset[tuple[str, str, bool]] = frozenset()
    status: str = "ok"
    error_name: str | None = None
    defines_at_least: bool = False  # star imports bind more than we list


def case(name: str, *cells: str, **expected: object) -> Case:
    for key in ("defines", "uses", "deletes", "mutations"):
        if key in expected:
            expected[key] = frozenset(expected[key])  # type: ignore[arg-type]
    return Case(name, cells, **expected)  # type: ignore[arg-type]


CASES = [
    case("assignment", "x = 1", defines={"x"}),
    case("use", "x = 1", "y = x + 1", defines={"y"}, uses={"x"}, deps={"x": 0}),
    case("redefinition", "x = 1", "x = 2", "y = x", defines={"y"}, uses={"x"}, deps={"x": 1}),
    case(
        "out of order: the latest execution wins, not the page order",
        "a = 1",
        "b = a * 2",
        "a = 3",
        "b = a * 2",
        defines={"b"},
        uses={"a"},
        deps={"a": 2},
    ),
    case(
        "uses two producers",
        "a = 1",
        "b = 2",
        "c = a + b",
        defines={"c"},
        uses={"a", "b"},
        deps={"a": 0, "b": 1},
    ),
    case("used after bound in the same cell", "x = 1", "x = 5\ny = x", defines={"x", "y"}),
    case("del", "x = 1", "del x", uses={"x"}, deletes={"x"}, deps={"x": 0}),
    case(
        "deleted then redefined",
        "x = 1",
        "del x",
        "x = 2",
        "y = x",
        defines={"y"},
        uses={"x"},
        deps={"x": 2},
    ),
    case("augmented assignment", "n = 1", "n += 1", defines={"n"}, uses={"n"}, deps={"n": 0}),
    case(
        "comprehension targets are local",
        "items = [1, 2]",
        "squares = [i * i for i in items]",
        defines={"squares"},
        uses={"items"},
        deps={"items": 0},
    ),
    case(
        "comprehension reads outer names",
        "k = 3",
        "items = [1, 5]",
        "big = {i: k for i in items if i > k}",
        defines={"big"},
        uses={"k", "items"},
        deps={"k": 0, "items": 1},
    ),
    case(
        "walrus in a comprehension binds outside",
        "data = [1, 2]",
        "_ = [(last := d) for d in data]",
        defines={"last"},
        uses={"data"},
        deps={"data": 0},
    ),
    case(
        "function: globals in the body are uses",
        "scale = 2",
        "def f(v, w=1):\n    local = v * w\n    return local * scale",
        defines={"f"},
        uses={"scale"},
        deps={"scale": 0},
    ),
    case(
        "function: names bound later in the cell are not outside uses",
        "def g():\n    return helper()\n\ndef helper():\n    return 1",
        defines={"g", "helper"},
    ),
    case(
        "calling a function uses it",
        "def f():\n    return 1",
        "r = f()",
        defines={"r"},
        uses={"f"},
        deps={"f": 0},
    ),
    case(
        "class: body runs now, methods read globals",
        "base = 1",
        "class C:\n    k = base\n    j = k + 1\n    def m(self):\n        return self.k + offset",
        defines={"C"},
        uses={"base", "offset"},
        deps={"base": 0},
    ),
    case("import a.b binds a", "import os.path", defines={"os"}),
    case(
        "import as / from import",
        "from json import dumps as jd, loads\nimport numpy as np",
        defines={"jd", "loads", "np"},
    ),
    case(
        "global inside a function: the call rebinds",
        "counter = 0",
        "def bump():\n    global counter\n    counter += 1",
        "bump()",
        defines={"counter"},
        uses={"bump"},
        deps={"bump": 1},
    ),
    case(
        "star import resolved by the namespace",
        "from math import *",
        defines={"pi", "sqrt", "floor"},
        defines_at_least=True,
    ),
    case("exec binds through the namespace", "exec('hidden = 1')", defines={"hidden"}),
    case("line magic", "x = 5", "%time y = x * 2", defines={"y"}, uses={"x"}, deps={"x": 0}),
    case("cell magic", "x = 5", "%%time\ny = x * 2", defines={"y"}, uses={"x"}, deps={"x": 0}),
    case("shell escape", "files = !echo hi", defines={"files"}),
    case("builtins read are uses without a producer", "print(len([1, 2]))", uses={"print", "len"}),
    case(
        "a builtin's name bound by a user cell: later readers take it from that cell",
        "len = lambda xs: 0",
        "n = len([1])",
        defines={"n"},
        uses={"len"},
        deps={"len": 0},
    ),
    case(
        "except ... as e is local to the handler",
        "try:\n    import not_a_module\nexcept ImportError as e:\n    why = str(e)",
        defines={"why"},
    ),
    case(
        "loops, with and f-strings",
        "import io\ntotal = 0",
        "path = 'p'",
        "for i in range(3):\n    total += i\n"
        "with io.StringIO(path) as fh:\n    fh.write(f'{total}')",
        defines={"total", "i", "fh"},
        uses={"total", "path", "io"},
        deps={"total": 0, "path": 1, "io": 0},
    ),
    case("syntax error", "x = 1", "y = (x", status="error", error_name="SyntaxError"),
    case(
        "cell that raises keeps what it bound before the error",
        "x = 1",
        "y = 2\nz = x / 0",
        defines={"y"},
        uses={"x"},
        deps={"x": 0},
        status="error",
        error_name="ZeroDivisionError",
    ),
    case(
        "known mutation",
        "lst = []",
        "lst.append(1)",
        uses={"lst"},
        deps={"lst": 0},
        mutations={("lst", "call:append", True)},
    ),
    case(
        "a known mutation re-defines the name for later uses",
        "lst = []",
        "lst.append(1)",
        "total = sum(lst)",
        defines={"total"},
        uses={"lst"},
        deps={"lst": 1},
    ),
    case(
        "attribute and item assignment",
        "class O:\n    pass\no = O()\nd = {}",
        "o.size = 3\nd['k'] = 1\nd['k'] += 1",
        uses={"o", "d"},
        deps={"o": 0, "d": 0},
        mutations={("o", "attr", True), ("d", "item", True)},
    ),
    case(
        "del of an item",
        "d = {'a': 1}",
        "del d['a']",
        uses={"d"},
        deps={"d": 0},
        mutations={("d", "del-item", True)},
    ),
    case(
        "unknown method: may mutate, does not re-define",
        "class O:\n    def poke(self):\n        pass\no = O()",
        "o.poke()",
        "p = o",
        defines={"p"},
        uses={"o"},
        deps={"o": 0},
    ),
    case(
        "unknown method is recorded as may-mutate",
        "class O:\n    def poke(self):\n        pass\no = O()",
        "o.poke()",
        uses={"o"},
        deps={"o": 0},
        mutations={("o", "call:poke", False)},
    ),
    case(
        "pure method",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1.0, None]})",
        "df.head()\ndf.describe()",
        uses={"df"},
        deps={"df": 0},
    ),
    case(
        "inplace=True mutates",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1.0, None]})",
        "df.fillna(0, inplace=True)",
        uses={"df"},
        deps={"df": 0},
        mutations={("df", "call:fillna(inplace)", True)},
    ),
    case(
        "indexer assignment",
        "import pandas as pd\ndf = pd.DataFrame({'a': [1.0]})",
        "df.loc[0, 'a'] = 2.0",
        uses={"df"},
        deps={"df": 0},
        mutations={("df", "item", True)},
    ),
    case(
        "estimator fit",
        "from sklearn.linear_model import LinearRegression\n"
        "m = LinearRegression()\nX = [[0.0], [1.0]]\ny = [0.0, 1.0]",
        "m.fit(X, y)",
        uses={"m", "X", "y"},
        deps={"m": 0, "X": 0, "y": 0},
        mutations={("m", "call:fit", True)},
    ),
    case(
        "a re-run import binds the same module: its readers keep their producer",
        "import json",
        "import json",
        "s = json.dumps({})",
        defines={"s"},
        uses={"json"},
        deps={"json": 0},
    ),
    case(
        "re-assigning the identical object is no new binding",
        "flag = None",
        "flag = None",
        "print(flag)",
        uses={"flag"},
        deps={"flag": 0},
    ),
    case(
        "re-assigning another object is a new binding",
        "xs = [1]",
        "xs = [1]",
        "n = len(xs)",
        defines={"n"},
        uses={"xs"},
        deps={"xs": 1},
    ),
    case(
        "setting an attribute on an imported module is a write of it",
        "import sys, types\nsys.modules['cfg'] = types.ModuleType('cfg')",
        "import cfg",
        "cfg.threshold = 7",
        uses={"cfg"},
        deps={"cfg": 1},
        mutations={("cfg", "attr", True)},
    ),
    case(
        "calls on modules are not mutations",
        "import json",
        "s = json.dumps({})",
        defines={"s"},
        uses={"json"},
        deps={"json": 0},
    ),
]


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_definitions_uses_and_edges(traced: Traced, c: Case) -> None:
    records = [traced.run(cell) for cell in c.cells]
    last = records[-1]
    assert last["status"] == c.status
    assert last["error_name"] == c.error_name
    if c.defines_at_least:
        assert c.defines <= set(last["defines"])
    else:
        assert set(last["defines"]) == c.defines
    # builtins read are uses too (for ``len = ...`` later); checked where a case lists them
    assert {n for n in last["uses"] if n not in BUILTINS or n in c.uses} == c.uses
    assert set(last["deletes"]) == c.deletes
    assert {d["name"]: d["execution"] for d in last["deps"]} == {
        name: records[index]["id"] for name, index in c.deps.items()
    }
    if c.mutations or not c.defines_at_least:
        assert {(m["name"], m["how"], m["known"]) for m in last["mutations"]} == c.mutations
    assert "get_ipython" not in last["uses"]
    assert last["seq"] == records[0]["seq"] + len(c.cells) - 1


def test_record_identity_and_source_once(traced: Traced) -> None:
    first = traced.run("x = 1", cell_id="cell-a")
    again = traced.run("x = 1", cell_id="cell-a")
    other = traced.run("y = 2")
    digest = hashlib.blake2b(b"x = 1", digest_size=16).hexdigest()
    assert first["source_hash"] == again["source_hash"] == digest
    assert first["source"] == "x = 1"
    assert again["source"] is None
    assert other["source"] == "y = 2"
    assert first["cell_id"] == again["cell_id"] == "cell-a"
    assert other["cell_id"] is None
    assert first["session"] == other["session"]
    assert first["id"] == f"{first['session']}:{first['seq']}"
    assert again["execution_count"] == first["execution_count"] + 1
    assert first["duration_ms"] >= 0
    assert first["started"] <= again["started"]


def test_silent_cells_are_not_recorded(traced: Traced) -> None:
    traced.run("x = 1")
    traced.shell.run_cell("x = 2", silent=True)
    assert len(traced.executions()) == 1


def test_names_rebound_between_recorded_cells_have_no_producer(traced: Traced) -> None:
    traced.run("x = 1\nkeep = 2")
    traced.shell.run_cell("x = 10", silent=True)  # the runner's set-up, a widget callback, ...
    record = traced.run("y = x + keep")
    assert record["uses"] == ["x", "keep"]
    assert [d["name"] for d in record["deps"]] == ["keep"]
    traced.shell.run_cell("%reset -f", silent=True)
    record = traced.run("z = 1")
    assert traced.run("w = z")["deps"] == [{"name": "z", "execution": record["id"]}]


def test_a_re_run_cell_is_not_analysed_again(
    traced: Traced, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[ast.AST] = []

    def counting(tree: ast.AST) -> Any:
        calls.append(tree)
        return analyse(tree)

    monkeypatch.setattr(session, "analyse", counting)
    code = "items = [1]\nitems.frobnicate(2)"
    first = traced.run(code)
    second = traced.run(code)
    assert len(calls) == 1
    assert {k: first[k] for k in ("defines", "uses", "mutations")} == {
        k: second[k] for k in ("defines", "uses", "mutations")
    }
    assert second["mutations"] == []  # ``items`` is defined by the cell itself
    traced.run("items.frobnicate(3)")
    mutations.register_mutating("frobnicate")  # the cached analyses are out of date now
    try:
        again = traced.run("items.frobnicate(3)")
    finally:
        mutations.MUTATING.discard("frobnicate")
    assert again["mutations"] == [{"name": "items", "how": "call:frobnicate", "known": True}]
    assert len(calls) == 3


class _Rename(ast.NodeTransformer):
    """A user's AST transformer: ``a`` is read as ``b``."""

    def visit_Name(self, node: ast.Name) -> ast.Name:
        return ast.Name(id="b", ctx=node.ctx) if node.id == "a" else node


def test_the_tree_after_the_users_ast_transformers_is_analysed_each_time(traced: Traced) -> None:
    traced.shell.user_ns.update(a=1, b=2)
    traced.shell.ast_transformers.append(_Rename())
    try:
        records = [traced.run("c = a + 1") for _ in range(2)]
    finally:
        traced.shell.ast_transformers.clear()
    assert [r["uses"] for r in records] == [["b"], ["b"]]
    assert traced.shell.user_ns["c"] == 3
    assert traced.run("c = a + 1")["uses"] == ["a"]


# statements of the shapes ``analyse`` reads without a full walk (``a = <names only>``),
# next to ones that look alike but need the walk: (source, defines, uses in order, opaque)
PLAIN_SHAPES = [
    ("a = b + c.d[e]", ["a"], ["b", "c", "e"], False),
    ("a, b = f(x, k=y)", ["a", "b"], ["f", "x", "y"], False),
    ("[a, b] = -m[1:n], (p < q) and not r", ["a", "b"], ["m", "n", "p", "q", "r"], False),
    ("a = 1\nb = a + z", ["a", "b"], ["z"], False),
    ("a = a + 1", ["a"], ["a"], False),
    ("del a\nb = a", ["b"], ["a"], False),
    ("def f():\n    return y\ny = 1", ["f", "y"], [], False),
    ("x = globals", ["x"], ["globals"], True),
    ("x = vars(m)", ["x"], ["vars", "m"], True),
    ("x = get_ipython()", ["x"], [], True),
    ("x = '__main__'", ["x"], [], True),
    ("x = df.query('v > @lim')", ["x"], ["df"], False),
    ("x = [a, *b]", ["x"], ["a", "b"], False),
    ("x = a if c else b", ["x"], ["c", "a", "b"], False),
    ("x = [i for i in a]", ["x"], ["a"], False),
    ("x.y = a", [], ["a", "x"], False),
    ("x, y.z = a", ["x"], ["a", "y"], False),
    ("x = lambda: w", ["x"], ["w"], False),
]


@pytest.mark.parametrize(("source", "defines", "uses", "opaque"), PLAIN_SHAPES)
def test_plain_assignments_read_as_the_full_walk_reads_them(
    source: str, defines: list[str], uses: list[str], opaque: bool
) -> None:
    found = analyse(ast.parse(source))
    assert (list(found.defines), list(found.uses), found.opaque) == (defines, uses, opaque)
    # the same statements inside ``if True:`` always take the full walk
    nested = analyse(
        ast.parse("if True:\n" + "".join(f"    {line}\n" for line in source.split("\n")))
    )
    assert (nested.defines, nested.uses, nested.deletes) == (
        found.defines,
        found.uses,
        found.deletes,
    )
    assert (nested.mutations, nested.opaque) == (found.mutations, found.opaque)
