"""The rooms of DESIGN.md, checked on the source: who may import what, and where SQL lives.

- The tracer runs inside the user's kernel: it imports nothing of ``store``, ``server``
  or ``pipeline``, and not duckdb (``tracer/duckdb_log.py`` reads DuckDB's own log of a
  connection the user opened: the one documented exception).
- Only ``store/`` imports duckdb or holds SQL; everyone else calls its typed methods.
- ``import mlprod_nb`` and loading the tracer stay light: no duckdb, pandas, papermill,
  networkx or jupyter_server.

Imports are read from each module's AST, inside functions too (lazy imports count).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "mlprod_nb"
SQL = re.compile(
    r"^\s*(SELECT\s.+\sFROM|INSERT\s+INTO|CREATE\s+(TABLE|VIEW|INDEX)|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b",
    re.S,
)
DUCKDB_EXCEPTION = {"tracer/duckdb_log.py"}


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts)


def _module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, root: Path = PACKAGE) -> set[str]:
    """Absolute names of every module ``path`` imports, anywhere in it."""
    tree = ast.parse(path.read_text())
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module.split(".") if node.module else [])])
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _under(name: str, *roots: str) -> bool:
    return any(name == root or name.startswith(f"{root}.") for root in roots)


@pytest.mark.parametrize("path", [p for p in _modules() if _rel(p).startswith("tracer/")], ids=_rel)
def test_the_tracer_imports_nothing_of_store_server_or_pipeline(path: Path) -> None:
    banned = [
        name
        for name in imports_of(path)
        if _under(name, "mlprod_nb.store", "mlprod_nb.server", "mlprod_nb.pipeline")
        or (_under(name, "duckdb") and _rel(path) not in DUCKDB_EXCEPTION)
    ]
    assert banned == []


@pytest.mark.parametrize("path", _modules(), ids=_rel)
def test_only_the_store_imports_duckdb_or_holds_sql(path: Path) -> None:
    if _rel(path).startswith("store/"):
        return
    if _rel(path) not in DUCKDB_EXCEPTION:
        assert not any(_under(name, "duckdb") for name in imports_of(path))
        strings = [
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        ]
        assert [s for s in strings if SQL.search(s)] == []


def test_the_rules_see_a_violation(tmp_path: Path) -> None:
    """The checks above can fail: lazy relative and absolute imports are resolved."""
    probe = tmp_path / "mlprod_nb" / "tracer" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("def f():\n    from ..store import Store\n    import duckdb\n")
    names = imports_of(probe, tmp_path / "mlprod_nb")
    assert {"mlprod_nb.store", "mlprod_nb.store.Store", "duckdb"} <= names


def test_importing_the_package_and_the_tracer_stays_light() -> None:
    heavy = ["duckdb", "pandas", "papermill", "networkx", "jupyter_server", "nbformat"]
    code = (
        "import sys, mlprod_nb, mlprod_nb.tracer.extension\n"
        f"print([m for m in {heavy!r} if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
