"""Whether a step's cells may run together although other cells sat between them.

Kale merges every cell of a block into one step, wherever the cells are. Our steps run
one after another in the order of their first cells, so a block whose cells are not
adjacent runs its later cells before cells of other blocks that came earlier in the
notebook. ``check_order`` allows that only when each pair of cells that swaps places
commutes: neither binds or changes a name the other reads or binds, and no file one
writes is mentioned by the other. Anything else would silently compute something other
than Run All, so export stops, naming both cells and what they share.

These facts are coarse on purpose, and conservative: the shared analyser's
(``tracer/analysis``) facts of every statement, folded with every scope in: a name read
inside a function body counts as read; a method call the mutation registry does not know
to be pure counts as a change of its receiver; a call of a function defined anywhere in
the notebook adds what that body reads and changes.
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
from ..tracer.analysis import Facts, statement_facts
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


def _touch(found: list[Facts], calls: list[ast.Call]) -> Touch:
    """The facts of some statements, coarsened: every name read or changed, in any scope."""
    touch = Touch()
    for facts in found:
        touch.reads.update(facts.reads)
        touch.changes.update(facts.binds, facts.deletes, facts.changes, facts.may_change)
        touch.changes.update(name for name, _ in facts.mutations)
        touch.calls.update(c for c in facts.calls if "." not in c)
        touch.paths.update(
            t for t in facts.strings if ("/" in t or "." in t) and _PATH_LIKE.match(t)
        )
    touch.writes_files = any(_writes_files(call) for call in calls)
    return touch


def _writes_files(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return bool(_WRITER.match(name)) or (name == "open" and len(call.args) + len(call.keywords) > 1)


def touch(source: str, functions: dict[str, Touch] | None = None) -> Touch:
    """The coarse facts of a cell; ``functions`` collects the bodies of its ``def``s."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        source = "\n".join(lines[1:])  # a cell magic's body (%%time, %%capture) is Python
    try:
        tree = ast.parse(strip_ipython(source))
    except SyntaxError:
        return Touch(known=False)
    found = [statement_facts(stmt) for stmt in tree.body]
    for stmt, facts in zip(tree.body, found, strict=True):
        if functions is not None and isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            body = _touch([facts], [n for n in ast.walk(stmt) if isinstance(n, ast.Call)])
            body.changes.discard(stmt.name)
            functions[stmt.name] = body
    return _touch(found, [n for n in ast.walk(tree) if isinstance(n, ast.Call)])


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
