"""A small pipeline exported for Airflow: three steps, typed parameters, a secret, files."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from pipeline.conftest import Cell, project, step, traced_shell, write_notebook

CELLS: list[Cell] = [
    ("import json", ["setup"]),
    ("scale = 2\nrate = 0.5\nlabel = 'run'\nflags = [1, 2]\napi_token = ''", ["parameters"]),
    step("load", "with open('data.csv') as f:\n    rows = [int(x) for x in f.read().split()]"),
    step("train", "model = sum(rows) * scale * rate"),
    step(
        "report",
        "with open('report.json', 'w') as f:\n"
        "    json.dump({'model': model, 'label': label, 'flags': flags}, f)",
    ),
]


def notebook(base: Path) -> Path:
    """The notebook in a project of its own (with ``data.csv``, the file ``load`` reads)."""
    root = project(base)
    (root / "data.csv").write_text("1 2 3\n")
    return write_notebook(root / "nb.ipynb", CELLS)


def dag_call(tree: ast.Module) -> ast.Call:
    """The ``DAG(...)`` of the file's ``with`` statement."""
    found = next(n for n in tree.body if isinstance(n, ast.With))
    call = found.items[0].context_expr
    assert isinstance(call, ast.Call)
    return call


def keyword(call: ast.Call, name: str) -> Any:
    """The value of keyword ``name`` of ``call``, as an AST node."""
    return next(k.value for k in call.keywords if k.arg == name)


__all__ = ["traced_shell"]  # the fixture: a real IPython shell with the tracer loaded
