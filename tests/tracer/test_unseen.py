"""Names a cell binds or deletes where its code does not show them are still recorded.

The tracer compares only the names a cell's code binds, deletes or reads, unless the
cell (or a function it may call) can reach the namespace another way; each case here
binds a name that way and checks the record still has it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import Traced


@dataclass(frozen=True)
class Case:
    name: str
    before: tuple[str, ...]
    cell: str
    defines: tuple[str, ...] = ()
    deletes: tuple[str, ...] = ()


CASES = [
    Case("exec", (), "exec('hidden = 1')", defines=("hidden",)),
    Case("eval with a walrus", (), "eval('(w := 5)')", defines=("w",)),
    Case("globals() item", (), "globals()['g'] = 2", defines=("g",)),
    Case("vars() item", (), "vars()['v'] = 3", defines=("v",)),
    Case("locals() item", (), "locals()['loc'] = 4", defines=("loc",)),
    Case("del through globals()", ("d0 = 1",), "del globals()['d0']", deletes=("d0",)),
    Case("star import", (), "from math import *", defines=("pi", "sqrt")),
    Case("user_ns through get_ipython()", (), "get_ipython().user_ns['m'] = 5", defines=("m",)),
    Case("a magic", ("keep = 1",), "%reset_selective -f ^keep$", deletes=("keep",)),
    Case(
        "sys.modules['__main__']",
        ("import sys",),
        "setattr(sys.modules['__main__'], 'mm', 6)",
        defines=("mm",),
    ),
    Case(
        "a function with ``global`` defined earlier",
        ("def bump():\n    global count\n    count = 1",),
        "bump()",
        defines=("count",),
    ),
    Case(
        "a method with ``global`` defined earlier",
        ("class Box:\n    def put(self):\n        global boxed\n        boxed = 1",),
        "Box().put()",
        defines=("boxed",),
    ),
    Case(
        "a function deleting a global",
        ("gone = 1", "def drop():\n    global gone\n    del gone"),
        "drop()",
        deletes=("gone",),
    ),
    Case(
        "a function calling exec, defined earlier",
        ("def make():\n    exec('made = 1', globals())",),
        "make()",
        defines=("made",),
    ),
    Case(
        "a function with ``global`` defined by exec",
        ("exec('def set_it():\\n    global it\\n    it = 1')",),
        "set_it()",
        defines=("it",),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_name_bound_out_of_sight_is_recorded(traced: Traced, case: Case) -> None:
    for code in case.before:
        traced.run(code)
    record = traced.run(case.cell)
    assert record["status"] == "ok", record["error_message"]
    assert set(case.defines) <= set(record["defines"])
    assert set(case.deletes) <= set(record["deletes"])
    if case.defines:
        producer = traced.run(f"probe = {case.defines[0]}")["deps"]
        assert producer == [{"name": case.defines[0], "execution": record["id"]}]


def test_run_magic_records_the_script_names(traced: Traced, tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("ran = 1\n")
    record = traced.run(f"%run -i {script}")
    assert "ran" in record["defines"]


def test_a_module_writing_into_main_is_recorded(
    traced: Traced, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing in the cell's code says so: the namespace grew by a name it does not bind
    (tmp_path / "planter.py").write_text(
        "import sys\n\ndef plant():\n    sys.modules['__main__'].planted = 1\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    traced.run("import planter")
    record = traced.run("planter.plant()")
    assert record["defines"] == ["planted"]
    sys.modules.pop("planter", None)


def test_plain_cells_leave_unrelated_names_alone(traced: Traced) -> None:
    traced.run("a = 1\nb = 2")
    record = traced.run("c = a + 1")
    assert record["defines"] == ["c"]
    assert [d["name"] for d in record["deps"]] == ["a"]
