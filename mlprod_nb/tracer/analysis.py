"""Static definitions, uses, deletions and possible mutations of one cell's AST.

Works on the tree IPython already parsed (magics and ``!`` lines arrive as
``get_ipython()`` calls). Statements are read in order at module level: a name
loaded before this cell binds it is a use; a name bound is a definition. Names
inside function and lambda bodies that are not local count as uses of the
globals they read (unless this cell binds them); comprehension targets are local.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from .mutations import classify

_INTERNAL = frozenset({"get_ipython"})


@dataclass(frozen=True)
class MutationFact:
    name: str
    how: str
    known: bool


@dataclass
class CellAnalysis:
    """What one cell's code says it does; dicts are ordered sets."""

    defines: dict[str, None] = field(default_factory=dict)
    uses: dict[str, None] = field(default_factory=dict)
    deletes: dict[str, None] = field(default_factory=dict)
    mutations: dict[tuple[str, str], bool] = field(default_factory=dict)
    star_import: bool = False

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
            star_import=self.star_import or other.star_import,
        )

    def mutation_facts(self) -> list[MutationFact]:
        return [MutationFact(name, how, known) for (name, how), known in self.mutations.items()]


def analyse(tree: ast.AST) -> CellAnalysis:
    """Definitions, uses, deletions and mutations of a parsed cell."""
    scan = _ModuleScan()
    if isinstance(tree, ast.Module | ast.Interactive):
        scan.statements(tree.body)
    elif isinstance(tree, ast.stmt):
        scan.statement(tree)
    elif isinstance(tree, ast.Expression):
        scan.expr(tree.body)
    for name in scan.deferred:
        if name not in scan.bound_anywhere and name not in _INTERNAL:
            scan.result.uses.setdefault(name, None)
    return scan.result


def _root(node: ast.expr) -> ast.Name | None:
    """The name at the base of ``a.b[c].d`` (not through calls)."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node if isinstance(node, ast.Name) else None


def _inplace(call: ast.Call) -> bool:
    return any(
        kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True
        for kw in call.keywords
    )


class _ModuleScan:
    """Order-aware walk of module-level code (loops and branches share the scope)."""

    def __init__(self) -> None:
        self.result = CellAnalysis()
        self.bound: set[str] = set()
        self.bound_anywhere: set[str] = set()
        self.deferred: dict[str, None] = {}

    # names
    def use(self, name: str) -> None:
        if name not in self.bound and name not in _INTERNAL:
            self.result.uses.setdefault(name, None)

    def bind(self, name: str) -> None:
        self.bound.add(name)
        self.bound_anywhere.add(name)
        self.result.defines[name] = None
        self.result.deletes.pop(name, None)

    def unbind(self, name: str) -> None:
        self.bound.discard(name)
        self.result.defines.pop(name, None)
        self.result.deletes[name] = None

    def mutate(self, target: ast.expr, how: str, known: bool) -> None:
        root = _root(target)
        if root is not None and root.id not in _INTERNAL:
            key = (root.id, how)
            self.result.mutations[key] = self.result.mutations.get(key, False) or known

    # statements
    def statements(self, nodes: list[ast.stmt]) -> None:
        for node in nodes:
            self.statement(node)

    def statement(self, node: ast.stmt) -> None:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is not None:
            handler(node)
        else:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.expr):
                    self.expr(child)
                elif isinstance(child, ast.stmt):
                    self.statement(child)

    def _Assign(self, node: ast.Assign) -> None:
        self.expr(node.value)
        for target in node.targets:
            self.target(target)

    def _AnnAssign(self, node: ast.AnnAssign) -> None:
        self.expr(node.annotation)
        if node.value is not None:
            self.expr(node.value)
            self.target(node.target)

    def _AugAssign(self, node: ast.AugAssign) -> None:
        self.expr(node.value)
        if isinstance(node.target, ast.Name):
            self.use(node.target.id)
            self.bind(node.target.id)
        else:
            self.target(node.target)

    def _For(self, node: ast.For | ast.AsyncFor) -> None:
        self.expr(node.iter)
        self.target(node.target)
        self.statements(node.body)
        self.statements(node.orelse)

    _AsyncFor = _For

    def _With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.expr(item.context_expr)
            if item.optional_vars is not None:
                self.target(item.optional_vars)
        self.statements(node.body)

    _AsyncWith = _With

    def _Try(self, node: ast.Try) -> None:
        self.statements(node.body)
        for handler in node.handlers:
            if handler.type is not None:
                self.expr(handler.type)
            if handler.name and handler.name not in self.bound:
                self.bound.add(handler.name)  # ``as e`` is unbound again when it ends
                self.statements(handler.body)
                self.bound.discard(handler.name)
            else:
                self.statements(handler.body)
        self.statements(node.orelse)
        self.statements(node.finalbody)

    _TryStar = _Try

    def _Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.bind(alias.asname or alias.name.split(".")[0])

    def _ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.result.star_import = True
            else:
                self.bind(alias.asname or alias.name)

    def _Global(self, node: ast.Global) -> None:
        pass  # module level: no effect

    _Nonlocal = _Global

    def _Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.use(target.id)
                self.unbind(target.id)
            elif isinstance(target, ast.Tuple | ast.List):
                self._Delete(ast.Delete(targets=list(target.elts)))
            else:
                self.expr(target)
                how = "del-attr" if isinstance(target, ast.Attribute) else "del-item"
                self.mutate(target, how, True)

    def _FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        args = node.args
        for default in (*args.defaults, *args.kw_defaults):
            if default is not None:
                self.expr(default)
        if not isinstance(node, ast.Lambda):
            for decorator in node.decorator_list:
                self.expr(decorator)
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is not None and arg.annotation is not None:
                    self.expr(arg.annotation)
            if node.returns is not None:
                self.expr(node.returns)
            self.bind(node.name)
        for name in _free_names(node):
            self.deferred.setdefault(name, None)

    _AsyncFunctionDef = _FunctionDef

    def _ClassDef(self, node: ast.ClassDef) -> None:
        for expr in (*node.decorator_list, *node.bases, *(kw.value for kw in node.keywords)):
            self.expr(expr)
        # the class body runs now, in its own scope that reads module globals
        body = _ModuleScan()
        body.bound = set()
        body.statements(node.body)
        for name in body.result.uses:
            self.use(name)
        for name in body.deferred:
            self.deferred.setdefault(name, None)
        self.bind(node.name)

    def _Match(self, node: ast.Match) -> None:
        self.expr(node.subject)
        for case in node.cases:
            for child in ast.walk(case.pattern):
                if isinstance(child, ast.MatchAs | ast.MatchStar) and child.name:
                    self.bind(child.name)
                elif isinstance(child, ast.MatchMapping) and child.rest:
                    self.bind(child.rest)
                elif isinstance(child, ast.MatchValue | ast.MatchClass):
                    self.expr(child.value if isinstance(child, ast.MatchValue) else child.cls)
            if case.guard is not None:
                self.expr(case.guard)
            self.statements(case.body)

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
            self.expr(node)
            self.mutate(node, "attr" if isinstance(node, ast.Attribute) else "item", True)

    def expr(self, node: ast.expr) -> None:
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                self.use(node.id)
            return
        if isinstance(node, ast.Lambda):
            self._FunctionDef(node)
            return
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp):
            self.comprehension(node)
            return
        if isinstance(node, ast.NamedExpr):
            self.expr(node.value)
            self.bind(node.target.id)
            return
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            known = classify(node.func.attr, _inplace(node))
            if known is not None:
                suffix = "(inplace)" if _inplace(node) else ""
                self.mutate(node.func.value, f"call:{node.func.attr}{suffix}", known)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self.expr(child)
            elif isinstance(child, ast.keyword):
                self.expr(child.value)

    def comprehension(
        self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp | ast.DictComp
    ) -> None:
        # the first iterable is evaluated outside; targets stay local to the comprehension
        outer_bound = set(self.bound)
        local: set[str] = set()
        for index, generator in enumerate(node.generators):
            self.bound = outer_bound | local if index else outer_bound
            self.expr(generator.iter)
            for name_node in ast.walk(generator.target):
                if isinstance(name_node, ast.Name):
                    local.add(name_node.id)
            self.bound = outer_bound | local
            for condition in generator.ifs:
                self.expr(condition)
        parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for part in parts:
            self.expr(part)
        # walrus targets inside bind in the enclosing scope and stay bound
        self.bound = outer_bound | (self.bound - outer_bound - local)


def _free_names(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> list[str]:
    """Names a function body reads that are not its own locals (nested scopes merged)."""
    local: set[str] = set()
    declared_global: set[str] = set()
    loads: dict[str, None] = {}
    body: list[ast.AST] = [node.body] if isinstance(node, ast.Lambda) else list(node.body)
    scopes: list[ast.AST] = [node.args, *body]
    for root in scopes:
        for child in ast.walk(root):
            if isinstance(child, ast.Name):
                if isinstance(child.ctx, ast.Load):
                    loads.setdefault(child.id, None)
                else:
                    local.add(child.id)
            elif isinstance(child, ast.arg):
                local.add(child.arg)
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                local.add(child.name)
            elif isinstance(child, ast.alias):
                local.add(child.asname or child.name.split(".")[0])
            elif isinstance(child, ast.Global):
                declared_global.update(child.names)
            elif isinstance(child, ast.ExceptHandler) and child.name:
                local.add(child.name)
    local -= declared_global
    return [name for name in loads if name not in local]
