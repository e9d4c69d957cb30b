"""Static facts of cell code, statement by statement: table-driven."""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import pytest

from mlprod_nb.pipeline.names import BUILTIN_NAMES, code, statements
from mlprod_nb.tracer.analysis import analyse


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    loads: set[str]  # free names read at module level, any statement
    binds: set[str]
    mutates: set[str] = field(default_factory=set)
    definitions: dict[str, tuple[set[str], set[str]]] = field(
        default_factory=dict
    )  # needs, changes
    unsendable: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)


CASES = [
    Case("assign", "y = x + 1", {"x"}, {"y"}),
    Case("use-then-rebind", "x = x + 1", {"x"}, {"x"}),
    Case("augassign", "total += 1", {"total"}, {"total"}),
    Case("builtins-ignored", "n = len(range(3))\nprint(n)", {"n"}, {"n"}),
    Case("item-mutation", "df['c'] = 1", {"df"}, set(), {"df"}),
    Case("attr-mutation", "model.alpha = 2", {"model"}, set(), {"model"}),
    Case("method-mutation", "items.append(3)", {"items"}, set(), {"items"}),
    Case("registry-mutation", "model.fit(X, y)", {"model", "X", "y"}, set(), {"model"}),
    Case("inplace", "df.dropna(inplace=True)", {"df"}, set(), {"df"}),
    Case("pure-method", "h = df.head()", {"df"}, {"h"}),
    Case(
        "function-reads-when-called",
        "def f(a):\n    return a + k\n",
        set(),
        {"f"},
        definitions={"f": ({"k"}, set())},
    ),
    Case(
        "function-changes-a-free-frame",
        "def add():\n    df['b'] = df['a'] * 2\n",
        set(),
        {"add"},
        definitions={"add": ({"df"}, {"df"})},
    ),
    Case(
        "function-assigns-a-global",
        "def reset():\n    global n\n    n = 0\n",
        set(),
        {"reset"},
        definitions={"reset": (set(), {"n"})},
    ),
    Case(
        "decorator-and-default-are-needs",
        "@cache(size)\ndef f(a=LIMIT):\n    return a\n",
        set(),
        {"f"},
        definitions={"f": ({"cache", "size", "LIMIT"}, set())},
    ),
    Case(
        "class",
        "class C(Base):\n    def m(self):\n        return helper(self)\n",
        set(),
        {"C"},
        definitions={"C": ({"Base", "helper"}, set())},
    ),
    Case("lambda", "f = lambda a: a + off", set(), {"f"}, definitions={"f": ({"off"}, set())}),
    Case("lambda-inline-is-read-now", "r = xs.map(lambda a: a + off)", {"xs", "off"}, {"r"}),
    Case(
        "import",
        "import numpy as np\nimport os.path\nfrom math import pi",
        set(),
        {"np", "os", "pi"},
        definitions={"np": (set(), set()), "os": (set(), set()), "pi": (set(), set())},
    ),
    Case(
        "try-import-is-code",
        "try:\n    import ujson as js\nexcept ImportError:\n    js = None",
        set(),
        {"js"},
        definitions={"js": (set(), set())},
    ),
    Case("comprehension", "sq = [i * i for i in xs if i > lim]", {"xs", "lim"}, {"sq"}),
    Case(
        "with-open",
        "with open(p) as fh:\n    data = fh.read()",
        {"p"},
        {"fh", "data"},
        unsendable={"fh"},
    ),
    Case("generator", "g = (i for i in xs)", {"xs"}, {"g"}, unsendable={"g"}),
    Case(
        "connection",
        "con = sqlite3.connect(path)",
        {"sqlite3", "path"},
        {"con"},
        unsendable={"con"},
    ),
    Case("shell-assignment", "files = !ls", set(), {"files"}),
    Case("time-line-magic", "%time model = fit(data)", {"fit", "data"}, {"model"}),
    Case("time-cell-magic", "%%time\ny = x * 2\n", {"x"}, {"y"}),
    Case("capture-cell-magic", "%%capture out\nprint(q)\n", {"q"}, {"out"}),
    Case("writefile", "%%writefile -a notes.txt\nhello\n", set(), set(), writes={"notes.txt"}),
    Case("other-cell-magic", "%%bash\necho $x\n", set(), set()),
    Case("query-at-name", "r = df.query('year == @year')", {"df", "year"}, {"r"}),
    Case("writer-call", "df.to_csv('out/x.csv')", {"df"}, set(), writes={"out/x.csv"}),
    Case("del", "del x", {"x"}, set()),
    Case("walrus", "if (n := len(xs)) > 1:\n    pass", {"xs"}, {"n"}),
    # what the shared analyser (tracer/analysis) decides for the exporter too
    Case(
        "except-as-is-not-a-load",
        "try:\n    import nope\nexcept ImportError as e:\n    why = str(e)",
        set(),
        {"nope", "why"},
    ),
    Case(
        "walrus-in-a-comprehension-binds-outside",
        "_ = [(last := d) for d in data]",
        {"data"},
        {"_", "last"},
    ),
    Case("annotations-are-left-to-the-run", "x: Frame = load()", {"load"}, {"x"}),
    Case(
        "match-captures-bind",
        "match p:\n    case (a, *rest):\n        b = a",
        {"p"},
        {"a", "rest", "b"},
    ),
    Case(
        "class-body-runs-now",
        "class C:\n    size = LIMIT\n",
        set(),
        {"C"},
        definitions={"C": ({"LIMIT"}, set())},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_statement_facts(case: Case) -> None:
    found = statements(case.source)
    assert {n for s in found for n in s.loads} == case.loads
    assert {n for s in found for n in s.binds} == case.binds
    assert {n for s in found for n in s.mutates} == case.mutates
    definitions = {d.name: (set(d.needs), set(d.changes)) for s in found for d in s.definitions}
    assert definitions == case.definitions
    unsendable = {b.name for s in found for b in s.unsendable if not b.what.startswith("call:")}
    assert unsendable == case.unsendable
    assert {w for s in found for w in s.writes} == case.writes


AGREEING = [
    "x = 1\ny = x + z",
    "items.append(1)\nd['k'] = v\nmodel.fit(X)\nh = frame.head()",
    "def f(a):\n    return a + k\nr = f(2)",
    "for i in range(3):\n    total += i",
    "try:\n    import nope\nexcept ImportError as e:\n    why = str(e)",
    "_ = [(last := d) for d in data if d]",
    "class C(Base):\n    size = LIMIT\n    def m(self):\n        return OTHER",
    "del old\nm.fit(X)\nm.frobnicate()",
    "with open(p) as fh:\n    rows = [line.split() for line in fh]",
]


@pytest.mark.parametrize("source", AGREEING)
def test_the_tracer_and_the_exporter_read_code_alike(source: str) -> None:
    """One analyser: what the tracer records of a cell is what the exporter's statements
    say, folded (builtins aside; the exporter's definitions read their needs when called)."""
    traced = analyse(ast.parse(source))
    exported = code(source).statements
    bound: set[str] = set()
    uses: dict[str, None] = {}
    for stmt in exported:
        uses.update(dict.fromkeys(n for n in stmt.loads if n not in bound))
        bound.update(stmt.binds)
    needs = (n for s in exported for d in s.definitions for n in d.needs)
    uses.update(dict.fromkeys(n for n in needs if n not in bound))
    assert set(traced.defines) | set(traced.deletes) == bound | set(traced.deletes)
    assert {n for n in traced.uses if n not in BUILTIN_NAMES} == set(uses)
    known = {name for (name, _), is_known in traced.mutations.items() if is_known}
    assert known == {n for s in exported for n in s.mutates}


def test_definitions_keep_their_statement_for_replay() -> None:
    source = "x = 1\n\n@decorate\ndef f(a):\n    return a\n"
    (definition,) = [d for s in statements(source, "c3", 2) for d in s.definitions]
    assert definition.source == "@decorate\ndef f(a):\n    return a"
    assert (definition.cell_id, definition.index, definition.line) == ("c3", 2, 4)


def test_calls_are_recorded_by_dotted_name_for_the_type_registry() -> None:
    (binding,) = [b for s in statements("d = xgb.core.DMatrix(X)") for b in s.unsendable]
    assert (binding.name, binding.what) == ("d", "call:xgb.core.DMatrix")


def test_star_import_is_flagged() -> None:
    assert code("from os.path import *").star_import


def test_syntax_error_raises() -> None:
    with pytest.raises(SyntaxError):
        statements("x = (")
