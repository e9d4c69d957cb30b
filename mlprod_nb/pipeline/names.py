"""Static names of a piece of cell code: what it reads from outside and what it binds.

Pure and cheap: one ``ast`` walk per cell, statement by statement, so a name bound
earlier in the same code does not count as an input. IPython syntax (magics, ``!``
lines) is stripped before parsing. Names read inside function bodies count as
inputs (conservative: the function may be called). An in-place change of a name
(``x[k] = v``, ``x.attr = v``, ``x.append(...)``, ``inplace=True``) counts as a
binding too, so a later step sees the changed value.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

# Names IPython puts in every user namespace.
IPYTHON_NAMES = frozenset(
    {"get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___", "_i", "_ii"}
)
BUILTIN_NAMES = frozenset(dir(builtins)) | IPYTHON_NAMES

# Methods known to change their receiver (a registry: extend as needed).
MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "clear",
        "sort",
        "reverse",
        "update",
        "add",
        "discard",
        "setdefault",
        "fit",
        "partial_fit",
        "set_params",
    }
)

_MAGIC = re.compile(r"^(\s*)([%!]|\w+\s*=\s*[%!])")


@dataclass(frozen=True)
class Binding:
    """How a name was bound, when it is something that cannot cross a step boundary."""

    name: str
    what: str  # "module", "lambda", "generator", "open file", "connection"
    line: int


@dataclass
class Names:
    """Free names read (inputs), names bound (defines), and unsendable bindings."""

    uses: list[str] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)
    star_import: bool = False
    unsendable: dict[str, Binding] = field(default_factory=dict)
    writes: list[str] = field(default_factory=list)  # literal paths passed to writers
    strings: list[str] = field(default_factory=list)  # literal strings (maybe paths read)
    imports: list[str] = field(default_factory=list)  # modules imported at top level

    def merge(self, other: Names) -> None:
        """Append ``other`` (code that runs after this one)."""
        bound = set(self.defines)
        for name in other.uses:
            if name not in bound and name not in self.uses:
                self.uses.append(name)
        for name in other.defines:
            if name not in bound:
                self.defines.append(name)
                bound.add(name)
            if name in other.unsendable:
                self.unsendable[name] = other.unsendable[name]
            else:
                self.unsendable.pop(name, None)
        self.star_import = self.star_import or other.star_import
        self.writes += [w for w in other.writes if w not in self.writes]
        self.strings += [t for t in other.strings if t not in self.strings]
        self.imports += [m for m in other.imports if m not in self.imports]


def strip_ipython(source: str) -> str:
    """Blank out magic and shell lines (keeping line numbers) so ``ast`` can parse."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return ""
    return "\n".join("pass" if _MAGIC.match(line) else line for line in lines)


def _target_names(node: ast.AST) -> list[str]:
    """Names bound by an assignment target (tuples unpacked)."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    if isinstance(node, ast.Tuple | ast.List):
        return [n for elt in node.elts for n in _target_names(elt)]
    return []


def _root_name(node: ast.AST) -> str | None:
    """``x`` for ``x``, ``x.a``, ``x[k]``, ``x.a[k].b``."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


_CONNECTORS = frozenset({"connect"})
_QUOTED = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"")
# Calls whose first argument is a file they write (a registry: extend as needed).
WRITERS = frozenset(
    {
        "to_parquet",
        "to_csv",
        "to_json",
        "to_pickle",
        "to_feather",
        "to_excel",
        "write_parquet",
        "write_csv",
        "write_table",
        "save",
        "savez",
        "savez_compressed",
        "savetxt",
        "savefig",
        "dump_model",
    }
)


def _written_path(call: ast.Call) -> str | None:
    """The literal path a call writes to, if it is a known writer."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    first = call.args[0] if call.args else None
    if name == "open" and isinstance(first, ast.Constant):
        mode = call.args[1] if len(call.args) > 1 else None
        mode = mode or next((k.value for k in call.keywords if k.arg == "mode"), None)
        if isinstance(mode, ast.Constant) and set(str(mode.value)) & set("wax"):
            return str(first.value)
        return None
    if name in WRITERS and isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def _unsendable(value: ast.AST) -> str | None:
    if isinstance(value, ast.Lambda):
        return "lambda"
    if isinstance(value, ast.GeneratorExp):
        return "generator"
    if isinstance(value, ast.Call):
        func = value.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name == "open":
            return "open file"
        if name in _CONNECTORS:
            return "connection"
    return None


class _Statement(ast.NodeVisitor):
    """Loads and stores of one top-level statement (function bodies included)."""

    def __init__(self) -> None:
        self.loads: list[str] = []
        self.stores: list[str] = []
        self.local: set[str] = set()
        self.globals: set[str] = set()
        self.star = False
        self.writes: list[str] = []
        self.strings: list[str] = []

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and len(node.value) < 4096:
            self.strings.append(node.value)
            self.strings += [a or b for a, b in _QUOTED.findall(node.value)]

    def _load(self, name: str) -> None:
        if name not in self.loads and name not in self.stores:
            self.loads.append(name)

    def _store(self, name: str) -> None:
        if name not in self.stores:
            self.stores.append(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._load(node.id)
        else:
            self._store(node.id)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._store(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star = True
            else:
                self._store(alias.asname or alias.name)

    def _scope(self, node: ast.AST, params: ast.arguments | None) -> None:
        """A nested scope: its own bindings are local, its free names are loads."""
        inner = _Statement()
        if params is not None:
            for arg in [*params.posonlyargs, *params.args, *params.kwonlyargs]:
                inner.local.add(arg.arg)
            for extra in (params.vararg, params.kwarg):
                if extra is not None:
                    inner.local.add(extra.arg)
        body = getattr(node, "body", [])
        for child in body if isinstance(body, list) else [body]:
            inner.visit(child)
        for gen in getattr(node, "generators", []):
            inner.visit(gen)
        for attr in ("elt", "key", "value"):
            if isinstance(node, ast.DictComp | ast.ListComp | ast.SetComp | ast.GeneratorExp):
                part = getattr(node, attr, None)
                if isinstance(part, ast.AST):
                    inner.visit(part)
        bound = inner.local | (set(inner.stores) - inner.globals)
        for name in inner.loads:
            if name not in bound:
                self._load(name)
        for name in inner.globals & set(inner.stores):
            self._store(name)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        if not isinstance(node, ast.Lambda):
            for deco in node.decorator_list:
                self.visit(deco)
            self._store(node.name)
        self._scope(node, node.args)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
            self.visit(expr)
        self._scope(node, None)
        self._store(node.name)

    def _comprehension(self, node: ast.AST) -> None:
        self._scope(node, None)

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_DictComp = _comprehension
    visit_GeneratorExp = _comprehension

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        name = _root_name(node.target)
        if name is not None:
            self._load(name)
            self._store(name)
        self.visit(node.value)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        written = _written_path(node)
        if written is not None:
            self.writes.append(written)
        func = node.func
        if isinstance(func, ast.Attribute):
            inplace = any(
                k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
                for k in node.keywords
            )
            name = _root_name(func.value)
            if name is not None and (func.attr in MUTATING_METHODS or inplace):
                self._load(name)
                self._store(name)

    def _mutate_target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript):
            name = _root_name(target)
            if name is not None:
                self._load(name)
                self._store(name)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._mutate_target(target)
            self.visit(target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self._load(target.id)
            else:
                self._mutate_target(target)
                self.visit(target)


def analyse(source: str) -> Names:
    """Inputs and bindings of ``source``, statement by statement. Raises ``SyntaxError``."""
    tree = ast.parse(strip_ipython(source))
    names = Names()
    bound: set[str] = set()
    for stmt in tree.body:
        visitor = _Statement()
        visitor.visit(stmt)
        for name in visitor.loads:
            if name not in bound and name not in BUILTIN_NAMES and name not in names.uses:
                names.uses.append(name)
        for name in visitor.stores:
            if name not in bound:
                names.defines.append(name)
                bound.add(name)
            names.unsendable.pop(name, None)
        names.star_import = names.star_import or visitor.star
        names.writes += [w for w in visitor.writes if w not in names.writes]
        names.strings += [t for t in visitor.strings if t not in names.strings]
        if isinstance(stmt, ast.Import):
            names.imports += [a.name for a in stmt.names if a.name not in names.imports]
        elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
            names.imports += [stmt.module] if stmt.module not in names.imports else []
        for name, what in _unsendable_bindings(stmt):
            names.unsendable[name] = Binding(name, what, stmt.lineno)
    return names


def _unsendable_bindings(stmt: ast.stmt) -> list[tuple[str, str]]:
    if isinstance(stmt, ast.Import):
        return [(alias.asname or alias.name.split(".")[0], "module") for alias in stmt.names]
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return [(stmt.name, "function defined in a step")]
    if isinstance(stmt, ast.ClassDef):
        return [(stmt.name, "class defined in a step")]
    if isinstance(stmt, ast.Assign):
        what = _unsendable(stmt.value)
        if what:
            return [(n, what) for t in stmt.targets for n in _target_names(t)]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        found = []
        for item in stmt.items:
            what = _unsendable(item.context_expr)
            if what and item.optional_vars is not None:
                found += [(n, what) for n in _target_names(item.optional_vars)]
        return found
    return []
