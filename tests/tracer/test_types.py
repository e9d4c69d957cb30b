"""The type of each value a cell binds, recorded so the exporter can refuse unsendable ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from mlprod_nb.records import source_hash

from .conftest import Traced


@dataclass(frozen=True)
class Case:
    name: str
    code: str
    types: dict[str, str]
    before: Sequence[str] = field(default_factory=tuple)  # cells run first


CASES = [
    Case("a number and a string", "a, b = 1.5, 'x'", {"a": "builtins.float", "b": "builtins.str"}),
    Case("a generator", "g = (i for i in [1, 2])", {"g": "builtins.generator"}),
    Case("a dict", "d = {'k': [1]}", {"d": "builtins.dict"}),
    Case("None", "flag = None", {"flag": "builtins.NoneType"}),
    Case(
        "a lock",
        "import threading\nlock = threading.Lock()",
        {"threading": "builtins.module", "lock": "_thread.lock"},
    ),
    Case("a function", "def f():\n    return 1", {"f": "builtins.function"}),
    Case(
        "a class that claims to be another: the real type, as pickle sees it",
        "class Liar:\n    __class__ = dict\n\nliar = Liar()",
        {"Liar": "builtins.type", "liar": "__main__.Liar"},
    ),
    Case(
        "a nested class",
        "class A:\n    class B:\n        pass\n\nb = A.B()",
        {"A": "builtins.type", "b": "__main__.A.B"},
    ),
    Case("bound by exec, unseen by the parse", "exec('hidden = [1]')", {"hidden": "builtins.list"}),
    Case("a mutation binds nothing", "rows.append(1)", {}, before=["rows = []"]),
    Case("rebound to the same object: nothing new", "x = x", {}, before=["x = 1"]),
    Case("a value rebound to another type", "x = str(x)", {"x": "builtins.str"}, before=["x = 1"]),
    Case(
        "a cell that fails keeps what it bound",
        "partial = [1]\n1 / 0",
        {"partial": "builtins.list"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_defined_name_has_its_type(traced: Traced, case: Case) -> None:
    for code in case.before:
        traced.run(code)
    record = traced.run(case.code)
    assert record["types"] == case.types
    assert sorted(record["types"]) == sorted(record["defines"])


def test_the_record_hash_is_the_shared_source_hash(traced: Traced) -> None:
    """The exporter finds a cell's executions by this hash: one function computes it."""
    code = "total = 1  # é"
    assert traced.run(code)["source_hash"] == source_hash(code)
