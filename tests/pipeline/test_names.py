"""Static names of cell code: table-driven."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlprod_nb.pipeline.names import analyse


@dataclass(frozen=True)
class Case:
    id: str
    source: str
    uses: set[str]
    defines: set[str]
    unsendable: set[str] = frozenset()  # type: ignore[assignment]


CASES = [
    Case("assign", "y = x + 1", {"x"}, {"y"}),
    Case("rebind-before-use", "x = 1\ny = x", set(), {"x", "y"}),
    Case("use-then-rebind", "x = x + 1", {"x"}, {"x"}),
    Case("augassign", "total += 1", {"total"}, {"total"}),
    Case("builtins-ignored", "n = len(range(3))\nprint(n)", set(), {"n"}),
    Case("item-mutation", "df['c'] = 1", {"df"}, {"df"}),
    Case("attr-mutation", "model.alpha = 2", {"model"}, {"model"}),
    Case("method-mutation", "items.append(3)", {"items"}, {"items"}),
    Case("inplace", "df.dropna(inplace=True)", {"df"}, {"df"}),
    Case("pure-method", "h = df.head()", {"df"}, {"h"}),
    Case("function-free-names", "def f(a):\n    return a + k\n", {"k"}, {"f"}, {"f"}),
    Case("function-locals", "def f(a):\n    b = a\n    return b\n", set(), {"f"}, {"f"}),
    Case("class", "class C(Base):\n    x = 1\n", {"Base"}, {"C"}, {"C"}),
    Case("comprehension", "sq = [i * i for i in xs if i > lim]", {"xs", "lim"}, {"sq"}),
    Case("dict-comprehension", "d = {k: v for k, v in pairs}", {"pairs"}, {"d"}),
    Case("lambda", "f = lambda a: a + off", {"off"}, {"f"}, {"f"}),
    Case("import", "import numpy as np\nimport os.path", set(), {"np", "os"}, {"np", "os"}),
    Case("from-import", "from math import pi", set(), {"pi"}),
    Case("with-open", "with open(p) as fh:\n    data = fh.read()", {"p"}, {"fh", "data"}, {"fh"}),
    Case("for-loop", "for i in items:\n    acc = i", {"items"}, {"i", "acc"}),
    Case("generator", "g = (i for i in xs)", {"xs"}, {"g"}, {"g"}),
    Case("connection", "con = sqlite3.connect(path)", {"sqlite3", "path"}, {"con"}, {"con"}),
    Case("magics-stripped", "%matplotlib inline\n!ls\ny = x", {"x"}, {"y"}),
    Case("cell-magic", "%%bash\necho $x", set(), set()),
    Case("global", "def f():\n    global g\n    g = 1\n", set(), {"f", "g"}, {"f"}),
    Case("del", "del x", {"x"}, set()),
    Case("walrus", "if (n := len(xs)) > 1:\n    pass", {"xs"}, {"n"}),
    Case("ipython-names", "display(df)", {"df"}, set()),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_names(case: Case) -> None:
    names = analyse(case.source)
    assert set(names.uses) == case.uses
    assert set(names.defines) == case.defines
    assert set(names.unsendable) == set(case.unsendable)


def test_star_import_is_flagged() -> None:
    assert analyse("from os.path import *").star_import


def test_syntax_error_raises() -> None:
    with pytest.raises(SyntaxError):
        analyse("x = (")
