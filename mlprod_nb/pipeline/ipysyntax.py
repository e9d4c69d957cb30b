"""IPython syntax turned into the Python a kernel really runs, for the exporter's analysis.

``files = !ls`` binds ``files`` and ``%time model = fit()`` binds ``model``: reading
the cell as IPython does (its own ``TransformerManager``) makes those bindings
visible. Code-running magics (``%time``, ``%%time``, ``%%capture``) carry their code
as a string argument; ``inner_code`` hands it back so it is analysed like the cell.
IPython is imported only for cells that contain such syntax.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

# A line that IPython rewrites: a magic, a shell escape, or an assignment from one.
_SPECIAL = re.compile(r"^\s*([%!]|[\w.,\s]+=\s*[%!])|\?\s*$", re.M)

# Magics whose argument is Python code run in the user's namespace.
CODE_LINE_MAGICS = frozenset({"time"})
CODE_CELL_MAGICS = frozenset({"time", "capture"})


@dataclass(frozen=True)
class Magic:
    """What a cell magic does: ``%%writefile path`` writes, ``%%capture out`` binds."""

    binds: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()


def to_python(source: str) -> str:
    """The cell's source as the kernel runs it (unchanged when there is no IPython syntax)."""
    if not _SPECIAL.search(source):
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return str(TransformerManager().transform_cell(source))  # type: ignore[no-untyped-call]


def _magic_call(node: ast.AST) -> tuple[str, str, list[ast.expr]] | None:
    """``("line"|"cell", magic name, args)`` for ``get_ipython().run_*_magic(...)``."""
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        return None
    owner = node.func.value
    if not (
        isinstance(owner, ast.Call)
        and isinstance(owner.func, ast.Name)
        and owner.func.id == "get_ipython"
    ):
        return None
    kind = {"run_line_magic": "line", "run_cell_magic": "cell"}.get(node.func.attr)
    first = node.args[0] if node.args else None
    if kind is None or not isinstance(first, ast.Constant) or not isinstance(first.value, str):
        return None
    return kind, first.value, list(node.args[1:])


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def inner_code(stmt: ast.stmt) -> str | None:
    """The Python code a code-running magic statement runs, or None."""
    value = stmt.value if isinstance(stmt, ast.Expr | ast.Assign) else None
    found = _magic_call(value) if value is not None else None
    if found is None:
        return None
    kind, name, args = found
    if kind == "line" and name in CODE_LINE_MAGICS:
        return _text(args[0] if args else None)
    if kind == "cell" and name in CODE_CELL_MAGICS and len(args) >= 2:
        return _text(args[1])
    return None


def cell_magic(stmt: ast.stmt) -> Magic | None:
    """What a non-code cell magic does to the namespace and the disk."""
    found = _magic_call(stmt.value) if isinstance(stmt, ast.Expr) else None
    if found is None or found[0] != "cell":
        return None
    _, name, args = found
    line = (_text(args[0]) if args else None) or ""
    words = [w for w in line.split() if not w.startswith("-")]
    if name == "capture" and words:
        return Magic(binds=(words[0],))
    if name == "writefile" and words:
        return Magic(writes=(words[-1],))
    return Magic()
