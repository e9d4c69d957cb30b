"""What code says it does to module names: the one analyser of the tracer and the exporter.

``statement_facts`` describes one top-level statement: the names it reads (in order,
before it binds them), binds, deletes and changes in place (``x.a =``, ``x[k] =``,
``del x[k]``, and method calls as the mutation registry ``mutations`` classifies them),
what the bodies of the functions and classes it defines read and change, and the
literal strings and dotted callees it holds. ``analyse`` folds a cell's statements into
the tracer's ``CellAnalysis``; the exporter (``pipeline/names``) turns each statement's
facts into its own ``Statement``, so both see the same names and the same registry.

Scopes as Python has them: a function or lambda body reads its free names when it is
called (``LATER``); a class body runs now, in its own scope; comprehension targets are
local to the comprehension, a walrus inside binds outside. ``@name`` in a string (pandas
``query``/``eval``) is kept apart: the exporter must load it, the tracer would record
noise from ``'me@example.com'``.

The tracer gets IPython's tree (magics arrive as ``get_ipython()`` calls), the exporter
the same Python through ``pipeline/ipysyntax``. The registry is read at every walk, so
``register_mutating`` changes staleness and export edges alike.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .mutations import classify

_INTERNAL = frozenset({"get_ipython"})
# builtins that can bind or delete module names no statement shows: the tracer then
# compares the whole namespace instead of the names the cell's code binds
OPAQUE_CALLS = frozenset({"exec", "eval", "globals", "locals", "vars", "get_ipython"})
_AT_NAME = re.compile(r"@([A-Za-z_]\w*)")  # pandas query/eval: df.query('year == @year')
_LONGEST_STRING = 4096  # longer literals are data, not paths or query text

# How a name is read (``Facts.reads`` holds their union): when the statement runs, when
# a function it defines is called, or by an annotation (evaluated now on Python 3.11, not
# at all after ``from __future__ import annotations``: the tracer counts it, the exporter,
# which must not refuse a notebook for a name no run reads, leaves it to the run).
NOW, LATER, ANNOTATION = 1, 2, 4


@dataclass(frozen=True)
class Facts:
    """One top-level statement; dicts are ordered sets."""

    line: int
    reads: dict[str, int]  # name -> how it is read: NOW | LATER | ANNOTATION
    binds: tuple[str, ...]
    deletes: tuple[str, ...]
    mutations: dict[tuple[str, str], bool]  # (name, how) -> known (False: may mutate)
    changes: tuple[str, ...]  # globals the bodies of its functions and classes change
    may_change: tuple[str, ...] = ()  # ... or call a method of the registry does not know
    strings: tuple[str, ...] = ()  # literal strings anywhere in it
    string_reads: tuple[str, ...] = ()  # ``@name`` inside them (pandas query/eval), free
    calls: tuple[str, ...] = ()  # dotted names it calls (``np.random.seed``), bodies too
    star_import: bool = False

    def changed(self) -> list[str]:
        """Names changed in place, known to be (not merely may be), in order."""
        return list(dict.fromkeys(name for (name, _), known in self.mutations.items() if known))


@dataclass
class CellAnalysis:
    """What one cell's code says it does; dicts are ordered sets."""

    defines: dict[str, None] = field(default_factory=dict)
    uses: dict[str, None] = field(default_factory=dict)
    deletes: dict[str, None] = field(default_factory=dict)
    mutations: dict[tuple[str, str], bool] = field(default_factory=dict)
    # it may bind or delete names its statements do not show: a star import, ``exec``,
    # ``eval``, ``globals()``, ``locals()``, ``vars()``, a magic (``get_ipython()``) or
    # the string ``"__main__"`` (``sys.modules["__main__"]``), also in a body it defines
    opaque: bool = False

    def merged(self, other: CellAnalysis) -> CellAnalysis:
        """This plus what a nested parse in the same cell found (``%%time`` and friends).

        Returns a new analysis: both may be shared through the tracer's cache.
        """
        uses = dict(self.uses)
        for name in other.uses:
            if name not in self.defines:
                uses[name] = None
        mutations = dict(self.mutations)
        for key, known in other.mutations.items():
            mutations[key] = mutations.get(key, False) or known
        return CellAnalysis(
            defines={**self.defines, **other.defines},
            uses=uses,
            deletes={**self.deletes, **other.deletes},
            mutations=mutations,
            opaque=self.opaque or other.opaque,
        )


def facts(tree: ast.AST) -> list[Facts]:
    """The facts of each top-level statement of a parsed cell, in order."""
    return [statement_facts(stmt) for stmt in _statements(tree)]


def analyse(tree: ast.AST) -> CellAnalysis:
    """Definitions, uses, deletions and mutations of a parsed cell: its statements folded."""
    result = CellAnalysis()
    bound: set[str] = set()
    bound_anywhere: set[str] = set()
    later: dict[str, None] = {}  # read inside function bodies: uses unless the cell binds them
    for stmt in _statements(tree):
        plain = _plain_assign(stmt)
        if plain is not None:  # most statements of a long cell: no walk, no ``Facts``
            reads, targets = plain
            for name in reads:
                if name not in bound:
                    result.uses.setdefault(name, None)
                if name in OPAQUE_CALLS:
                    result.opaque = True
            for name in targets:
                bound.add(name)
                result.defines[name] = None
                result.deletes.pop(name, None)
            bound_anywhere.update(targets)
            continue
        found = statement_facts(stmt)
        for name, how in found.reads.items():
            if not how & (NOW | ANNOTATION):
                later.setdefault(name, None)
            elif name not in bound:
                result.uses.setdefault(name, None)
        for name in found.deletes:
            bound.discard(name)
            result.defines.pop(name, None)
            result.deletes[name] = None
        for name in found.binds:
            bound.add(name)
            result.defines[name] = None
            result.deletes.pop(name, None)
        bound_anywhere.update(found.binds)
        for key, known in found.mutations.items():
            result.mutations[key] = result.mutations.get(key, False) or known
        result.opaque = result.opaque or _opaque(found)
    for name in later:
        if name not in bound_anywhere:
            result.uses.setdefault(name, None)
    return result


def _statements(tree: ast.AST) -> list[ast.stmt]:
    if isinstance(tree, ast.Module | ast.Interactive):
        return tree.body
    if isinstance(tree, ast.stmt):
        return [tree]
    if isinstance(tree, ast.Expression):
        return [ast.Expr(tree.body, lineno=1, col_offset=0)]
    return []


# expressions that only read the names in them: no call, no string, no scope of their own
_PLAIN_EXPR = frozenset(
    (ast.BoolOp, ast.Compare, ast.Tuple, ast.List, ast.Set, ast.Subscript, ast.Slice)
)


def _plain_assign(stmt: ast.stmt) -> tuple[list[str], list[str]] | None:
    """(names read, names bound) of ``a = <expr>`` or ``a, b = <expr>`` whose value reads
    names and nothing else (what ``statement_facts`` would find, without its walk);
    None for any other statement."""
    if type(stmt) is not ast.Assign:
        return None
    reads: list[str] = []
    todo: list[Any] = [stmt.value]
    while todo:  # depth first, children pushed last to first: names in source order
        node = todo.pop()
        kind = type(node)
        if kind is ast.Name:
            if node.id not in _INTERNAL:
                reads.append(node.id)
        elif kind is ast.Constant:
            if isinstance(node.value, str):
                return None  # strings are facts of their own (``"__main__"``, ``@name``)
        elif kind is ast.BinOp:
            todo += (node.right, node.left)
        elif kind is ast.UnaryOp:
            todo.append(node.operand)
        elif kind is ast.Attribute:
            todo.append(node.value)
        elif kind is ast.Call and type(node.func) is ast.Name:  # ``f(x)``: not a method
            if node.func.id in _INTERNAL:
                return None  # a magic
            todo += [kw.value for kw in reversed(node.keywords)]
            todo += reversed(node.args)
            todo.append(node.func)
        elif kind in _PLAIN_EXPR:
            children: list[Any] = []
            for field_name in node._fields:
                value = getattr(node, field_name)
                if isinstance(value, list):
                    children += [v for v in value if isinstance(v, ast.expr)]
                elif isinstance(value, ast.expr):
                    children.append(value)
            children.reverse()
            todo += children
        else:
            return None
    targets: list[str] = []
    for target in stmt.targets:
        kind = type(target)
        if kind is ast.Name:
            targets.append(target.id)  # type: ignore[attr-defined]
        elif kind is ast.Tuple or kind is ast.List:
            for element in target.elts:  # type: ignore[attr-defined]
                if type(element) is not ast.Name:
                    return None
                targets.append(element.id)
        else:
            return None
    return reads, targets


def _opaque(found: Facts) -> bool:
    return (
        found.star_import
        or "__main__" in found.binds
        or "__main__" in found.strings
        or "get_ipython" in found.calls  # not in ``reads``: magics would all be uses
        or any(name in OPAQUE_CALLS for name in found.reads)
    )


def statement_facts(stmt: ast.stmt) -> Facts:
    """What one top-level statement reads, binds, deletes and changes."""
    scan = _Scope()
    scan.visit(stmt)
    return Facts(
        line=stmt.lineno,
        reads=scan.reads,
        binds=tuple(scan.binds),
        deletes=tuple(scan.deletes),
        mutations=scan.mutations,
        changes=tuple(scan.changes),
        may_change=tuple(scan.may_change),
        strings=tuple(scan.strings),
        string_reads=tuple(scan.string_reads),
        calls=tuple(scan.calls),
        star_import=scan.star,
    )


def _root(node: ast.AST) -> str | None:
    """``x`` for ``x``, ``x.a``, ``x[k]``, ``x.a[k].b`` (not through calls)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def dotted(node: ast.AST) -> str | None:
    """``a.b.C`` for the expression ``a.b.C``, None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _inplace(call: ast.Call) -> bool:
    """``inplace=True`` among the call's keywords."""
    return any(
        kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True
        for kw in call.keywords
    )


def _params(args: ast.arguments) -> set[str]:
    names = {a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]}
    return names | {a.arg for a in (args.vararg, args.kwarg) if a is not None}


class _Scope(ast.NodeVisitor):
    """Order-aware walk of one scope; nested function and class bodies are scopes of
    their own whose free reads and changes are folded in; comprehensions hide targets."""

    def __init__(self, local: set[str] | None = None) -> None:
        self.reads: dict[str, int] = {}
        self.binds: dict[str, None] = {}
        self.deletes: dict[str, None] = {}
        self.mutations: dict[tuple[str, str], bool] = {}
        self.changes: dict[str, None] = {}
        self.may_change: dict[str, None] = {}
        self.strings: list[str] = []
        self.string_reads: dict[str, None] = {}
        self.calls: list[str] = []
        self.star = False
        self.bound = set(local or ())
        self.params = set(local or ())
        self.declared: set[str] = set()  # ``global`` in a function body
        self.hidden: set[str] = set()  # comprehension targets being walked
        self.how = NOW  # ANNOTATION while an annotation is walked

    # the walk: ``NodeVisitor``'s, with the method of each node type looked up once
    def visit(self, node: ast.AST) -> None:
        kind = type(node)
        method = _METHODS.get(kind)
        if method is None:
            found: Callable[[_Scope, Any], None] = getattr(
                _Scope, f"visit_{kind.__name__}", _Scope.generic_visit
            )
            method = _METHODS[kind] = found
        method(self, node)

    def generic_visit(self, node: ast.AST) -> None:
        for name in node._fields:
            value = getattr(node, name, None)
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST) and value._fields:
                self.visit(value)

    # names
    def read(self, name: str, how: int = 0) -> None:
        if name in self.bound or name in self.hidden or name in _INTERNAL:
            return
        self.reads[name] = self.reads.get(name, 0) | (how or self.how)

    def bind(self, name: str) -> None:
        self.bound.add(name)
        self.binds[name] = None
        self.deletes.pop(name, None)

    def unbind(self, name: str) -> None:
        self.bound.discard(name)
        self.binds.pop(name, None)
        self.deletes[name] = None

    def mutate(self, target: ast.AST, how: str, known: bool) -> None:
        name = _root(target)
        if name is not None and name not in _INTERNAL and name not in self.hidden:
            key = (name, how)
            self.mutations[key] = self.mutations.get(key, False) or known

    def nested(self, inner: _Scope, called: bool) -> None:
        """Fold in a nested scope: what it reads from outside and what it changes there.

        ``called``: a function body, run when it is called, not now."""
        local = inner.params | (set(inner.binds) - inner.declared)
        for name, how in inner.reads.items():
            if name not in local:
                self.read(name, (how & ANNOTATION) | LATER if called and how & ~ANNOTATION else how)
        changed = [*sorted(inner.declared & set(inner.binds)), *inner.changes]
        changed += [name for (name, _), known in inner.mutations.items() if known]
        unknown = [
            *inner.may_change,
            *(n for (n, _), known in inner.mutations.items() if not known),
        ]
        for names, into in ((changed, self.changes), (unknown, self.may_change)):
            for name in names:
                if name not in local and name not in self.hidden:
                    into.setdefault(name, None)
        self.strings += inner.strings
        for name in inner.string_reads:
            if name not in local and name not in self.bound and name not in self.hidden:
                self.string_reads.setdefault(name, None)
        self.calls += inner.calls

    def body(self, nodes: list[ast.stmt]) -> None:
        for node in nodes:
            self.visit(node)

    # statements
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.target(target)

    def annotation(self, node: ast.expr) -> None:
        self.how = ANNOTATION
        self.visit(node)
        self.how = NOW

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.annotation(node.annotation)
        if node.value is not None:
            self.visit(node.value)
            self.target(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.read(node.target.id)
            self.bind(node.target.id)
        else:
            self.target(node.target)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self.target(node.target)
        self.body(node.body)
        self.body(node.orelse)

    visit_AsyncFor = visit_For

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name and node.name not in self.bound:
            self.bound.add(node.name)  # ``as e`` is unbound again when the handler ends
            self.body(node.body)
            self.bound.discard(node.name)
        else:
            self.body(node.body)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.bind(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star = True
            else:
                self.bind(alias.asname or alias.name)

    def visit_Global(self, node: ast.Global) -> None:
        self.declared.update(node.names)  # matters in function bodies only

    def visit_withitem(self, node: ast.withitem) -> None:
        self.visit(node.context_expr)
        if node.optional_vars is not None:
            self.target(node.optional_vars)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.read(target.id)
                self.unbind(target.id)
            elif isinstance(target, ast.Tuple | ast.List):
                self.visit_Delete(ast.Delete(targets=list(target.elts)))
            else:
                self.visit(target)
                how = "del-attr" if isinstance(target, ast.Attribute) else "del-item"
                self.mutate(target, how, True)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        self.signature(node.args)
        if node.returns is not None:
            self.annotation(node.returns)
        inner = _Scope(_params(node.args))
        inner.body(node.body)
        self.nested(inner, called=True)
        self.bind(node.name)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.signature(node.args)
        inner = _Scope(_params(node.args))
        inner.visit(node.body)
        self.nested(inner, called=True)

    def signature(self, args: ast.arguments) -> None:
        """What a ``def`` or ``lambda`` evaluates when it runs: defaults, annotations."""
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.visit(default)
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None and arg.annotation is not None:
                self.annotation(arg.annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in (*node.decorator_list, *node.bases, *(kw.value for kw in node.keywords)):
            self.visit(expr)
        inner = _Scope()  # the body runs now, in its own scope that reads module globals
        inner.body(node.body)
        self.nested(inner, called=False)
        self.bind(node.name)

    def visit_MatchAs(self, node: ast.MatchAs) -> None:
        if node.pattern is not None:
            self.visit(node.pattern)
        if node.name:
            self.bind(node.name)

    def visit_MatchStar(self, node: ast.MatchStar) -> None:
        if node.name:
            self.bind(node.name)

    def visit_MatchMapping(self, node: ast.MatchMapping) -> None:
        self.generic_visit(node)
        if node.rest:
            self.bind(node.rest)

    # targets and expressions
    def target(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            self.bind(node.id)
        elif isinstance(node, ast.Tuple | ast.List):
            for element in node.elts:
                self.target(element)
        elif isinstance(node, ast.Starred):
            self.target(node.value)
        elif isinstance(node, ast.Attribute | ast.Subscript):
            self.visit(node)
            self.mutate(node, "attr" if isinstance(node, ast.Attribute) else "item", True)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read(node.id)
        else:
            self.bind(node.id)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node.target.id)

    def visit_Constant(self, node: ast.Constant) -> None:
        text = node.value
        if isinstance(text, str) and len(text) < _LONGEST_STRING:
            self.strings.append(text)
            if "@" in text:
                for name in _AT_NAME.findall(text):
                    if name not in self.bound and name not in self.hidden:
                        self.string_reads.setdefault(name, None)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            flag = _inplace(node)
            known = classify(func.attr, flag)
            if known is not None:
                suffix = "(inplace)" if flag else ""
                self.mutate(func.value, f"call:{func.attr}{suffix}", known)
        self.generic_visit(node)
        name = dotted(func)
        if name is not None:
            self.calls.append(name)

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self.comprehension(node.generators, [node.elt])

    visit_SetComp = visit_ListComp
    visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self.comprehension(node.generators, [node.key, node.value])

    def comprehension(self, generators: list[ast.comprehension], parts: list[ast.expr]) -> None:
        # the first iterable is evaluated outside; targets stay local to the comprehension
        outer = set(self.hidden)
        for generator in generators:
            self.visit(generator.iter)
            self.hidden.update(n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name))
            for condition in generator.ifs:
                self.visit(condition)
        for part in parts:
            self.visit(part)
        self.hidden = outer


_METHODS: dict[type[ast.AST], Callable[[_Scope, Any], None]] = {}
