"""Whether a step's cells may run together although other cells sat between them.

Kale merges every cell of a block into one step, wherever the cells are. Our steps run
one after another in the order of their first cells, so a block whose cells are not
adjacent runs its later cells before cells of other blocks that came earlier in the
notebook. ``check_order`` allows that only when each pair of cells that swaps places
commutes: neither binds or changes a name the other reads or binds, and no file one
writes is mentioned by the other. Anything else would silently compute something other
than Run All, so export stops, naming both cells and what they share.

These facts are coarse on purpose, and conservative (``names`` serves the data flow):
every name a cell mentions counts as read, inside function bodies too; a method call
the mutation registry does not know to be pure counts as a change of its receiver; a
call of a function defined anywhere in the notebook adds what that body reads and
changes.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PipelineError
from ..tracer.mutations import classify
from .names import strip_ipython

if TYPE_CHECKING:
    from .tags import SourceCell, StepCells

_PATH_LIKE = re.compile(r"^[\w.~/\\*?-]+$")
_WRITER = re.compile(r"^(to_|save|write|dump|savefig$)")


@dataclass
class Touch:
    """What one piece of code may read and change (names, literal paths)."""

    reads: set[str] = field(default_factory=set)
    changes: set[str] = field(default_factory=set)
    paths: set[str] = field(default_factory=set)
    writes_files: bool = False
    calls: set[str] = field(default_factory=set)
    known: bool = True  # False: the code does not parse, so it may touch anything

    def add(self, other: Touch) -> None:
        self.reads |= other.reads
        self.changes |= other.changes
        self.paths |= other.paths
        self.writes_files |= other.writes_files
        self.known &= other.known


def _root(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Walk(ast.NodeVisitor):
    def __init__(self, touch: Touch, functions: dict[str, Touch] | None) -> None:
        self.touch = touch
        self.functions = functions  # filled with each top-level def's body, when given
        self.local: list[set[str]] = []  # names local to the enclosing function bodies

    def visit_Name(self, node: ast.Name) -> None:
        if any(node.id in scope for scope in self.local):
            return
        if isinstance(node.ctx, ast.Load):
            self.touch.reads.add(node.id)
        else:
            self.touch.changes.add(node.id)

    def visit_alias(self, node: ast.alias) -> None:
        if not self.local and node.name != "*":
            self.touch.changes.add(node.asname or node.name.split(".")[0])

    def visit_Global(self, node: ast.Global) -> None:
        self.touch.changes.update(node.names)

    def _body(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        params = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
        params |= {a.arg for a in (args.vararg, args.kwarg) if a is not None}
        declared = {n for s in ast.walk(node) if isinstance(s, ast.Global) for n in s.names}
        stored = {
            n.id
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        }
        self.local.append(params | (stored - declared))
        self.generic_visit(node)
        self.local.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if not self.local:
            self.touch.changes.add(node.name)
            if self.functions is not None:
                body = Touch()
                _Walk(body, None)._body(node)
                self.functions[node.name] = body
        self._body(node)

    visit_AsyncFunctionDef = visit_FunctionDef
    visit_Lambda = _body

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if not self.local:
            self.touch.changes.add(node.name)
        self.generic_visit(node)

    def _target(self, target: ast.AST) -> None:
        root = _root(target) if isinstance(target, ast.Attribute | ast.Subscript) else None
        if root is not None:
            self.touch.changes.add(root)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._target(node.target)
        self.generic_visit(node)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            self._target(target)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            self.touch.calls.add(func.id)
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        if _WRITER.match(name) or (name == "open" and len(node.args) + len(node.keywords) > 1):
            self.touch.writes_files = True
        if isinstance(func, ast.Attribute):
            inplace = any(k.arg == "inplace" for k in node.keywords)
            root = _root(func.value)
            if root is not None and classify(func.attr, inplace) is not None:
                self.touch.changes.add(root)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value
        if isinstance(text, str) and ("/" in text or "." in text) and _PATH_LIKE.match(text):
            self.touch.paths.add(text)


def touch(source: str, functions: dict[str, Touch] | None = None) -> Touch:
    """The coarse facts of a cell; ``functions`` collects the bodies of its ``def``s."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        source = "\n".join(lines[1:])  # a cell magic's body (%%time, %%capture) is Python
    found = Touch()
    try:
        tree = ast.parse(strip_ipython(source))
    except SyntaxError:
        return Touch(known=False)
    _Walk(found, functions).visit(tree)
    return found


def _with_calls(base: Touch, functions: dict[str, Touch]) -> Touch:
    full = Touch()
    full.add(base)
    todo, seen = list(base.calls), set()
    while todo:
        name = todo.pop()
        if name in seen or name not in functions:
            continue
        seen.add(name)
        full.add(functions[name])
        todo += functions[name].calls
    return full


def _clash(first: Touch, second: Touch) -> str | None:
    """What two pieces of code both touch, when at least one changes it."""
    if not (first.known and second.known):
        return "code that does not parse"
    for name in sorted(first.changes & (second.reads | second.changes)):
        return repr(name)
    for name in sorted(second.changes & first.reads):
        return repr(name)
    if first.writes_files or second.writes_files:
        for path in sorted(first.paths & second.paths):
            return f"the file {path!r}"
    return None


def check_order(steps: Sequence[StepCells], setup: Iterable[SourceCell], path: Path) -> None:
    """Refuse steps whose cells, run step by step, would not commute with notebook order."""
    flat = [(cell, step.name) for step in steps for cell in step.cells]
    if all(a.index <= b.index for (a, _), (b, _) in itertools.pairwise(flat)):
        return
    functions: dict[str, Touch] = {}
    facts = {cell.id: touch(cell.source, functions) for cell in [*setup, *(c for c, _ in flat)]}
    for position, (late, late_step) in enumerate(flat):
        for early, early_step in flat[position + 1 :]:
            if early.index >= late.index:
                continue  # these two keep their notebook order
            shared = _clash(
                _with_calls(facts[late.id], functions), _with_calls(facts[early.id], functions)
            )
            if shared is None:
                continue
            raise PipelineError(
                f"block {late_step!r} has cells on both sides of block {early_step!r}: merged "
                f"into one step as Kale does, cell {late.id} would run before cell "
                f"{early.id}, which comes first in the notebook, and both touch {shared}",
                path=path,
                cell_id=late.id,
                step=late_step,
                hint=f"give the cells from cell {late.id} on a block name of their own (for "
                f"example block:{late_step.replace('-', '_')}_2), or move them up next to "
                f"the rest of block {late_step!r}",
            )
