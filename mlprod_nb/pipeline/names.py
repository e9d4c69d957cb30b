"""Static facts of cell code, statement by statement: what it reads, binds, changes, defines.

Pure and cheap: one ``ast`` walk per cell, on the Python IPython really runs (see
``ipysyntax``). The exporter's data flow (``dataflow``) walks these facts in page
order; this module only describes one piece of code.

- **Loads** are the free names a statement reads at module level. Names read inside a
  function body are not loads of the statement that defines the function: they are the
  function's *needs*, read when it is called (``def fit(q): return mod.fit(q)`` needs
  ``mod`` wherever ``fit`` is called).
- **Definitions** are code, not values: imports, ``def``, ``class`` and ``f = lambda``.
  They are replayed in the steps that use them, never passed.
- **Mutations**: ``x[k] = v``, ``x.a = v``, ``del x[k]``, ``x += v`` and calls the tracer's
  mutation registry knows (``x.append``, ``model.fit``, ``inplace=True``) change ``x``
  in place; a function changing a global (``global n``, ``df['b'] = ...`` on a free
  ``df``) lists it in ``changes``.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, replace

from ..tracer.mutations import classify
from .ipysyntax import cell_magic, inner_code, to_python

# Names IPython puts in every user namespace.
IPYTHON_NAMES = frozenset(
    {"get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___", "_i", "_ii"}
)
BUILTIN_NAMES = frozenset(dir(builtins)) | IPYTHON_NAMES

_MAGIC = re.compile(r"^(\s*)([%!]|\w+\s*=\s*[%!])")
_QUOTED = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"")
_AT_NAME = re.compile(r"@([A-Za-z_]\w*)")  # pandas query/eval: df.query('year == @year')

# Calls whose first argument is a file they write (a registry: extend as needed).
WRITERS = {
    "to_parquet",
    "to_csv",
    "to_json",
    "to_pickle",
    "to_feather",
    "to_excel",
    "to_hdf",
    "write_parquet",
    "write_csv",
    "write_table",
    "write_text",
    "write_bytes",
    "save",
    "savez",
    "savez_compressed",
    "savetxt",
    "savefig",
    "dump_model",
    "save_model",
}
# Calls whose value cannot cross a step boundary, by what they return; other calls are
# recorded by dotted name (``xgb.DMatrix``) for the type registry (``unsendable.py``).
_UNSENDABLE_CALLS = {"open": "an open file", "connect": "a connection"}


@dataclass(frozen=True)
class Definition:
    """Code that binds a name and is replayed where the name is used."""

    name: str
    kind: str  # "import", "function", "class"
    source: str  # the whole statement
    cell_id: str
    index: int  # the cell's position in the notebook (page order)
    line: int
    needs: tuple[str, ...] = ()  # globals read, when defined or when called
    changes: tuple[str, ...] = ()  # globals a call changes
    eager: tuple[str, ...] = ()  # needs read when the statement runs (decorators, defaults)
    calls: tuple[str, ...] = ()  # dotted names its body calls
    module: str = ""  # for imports: the module imported (warmed up in new kernels)
    target: str = ""  # for imports: the dotted object the name stands for ("xgboost.DMatrix")


@dataclass(frozen=True)
class Binding:
    """A name bound to something that can never cross a step boundary."""

    name: str
    what: str  # "a generator", "an open file", "a connection", or "call:<dotted callee>"
    line: int
    cell_id: str = ""


@dataclass(frozen=True)
class Statement:
    line: int
    loads: tuple[str, ...]  # free names read (including those changed in place)
    binds: tuple[str, ...]  # names (re)bound
    mutates: tuple[str, ...]  # names changed in place
    definitions: tuple[Definition, ...] = ()
    unsendable: tuple[Binding, ...] = ()
    writes: tuple[str, ...] = ()  # literal paths passed to writers
    strings: tuple[str, ...] = ()  # literal strings (maybe paths read, maybe query text)
    star_import: bool = False
    calls: tuple[str, ...] = ()  # dotted names called (``np.random.seed``)


@dataclass(frozen=True)
class Code:
    """One cell's statements, in order."""

    cell_id: str
    statements: tuple[Statement, ...]

    @property
    def star_import(self) -> bool:
        return any(s.star_import for s in self.statements)


def strip_ipython(source: str) -> str:
    """Blank out magic and shell lines (keeping line numbers) so ``ast`` can parse."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        return ""
    return "\n".join("pass" if _MAGIC.match(line) else line for line in lines)


def _root_name(node: ast.AST) -> str | None:
    """``x`` for ``x``, ``x.a``, ``x[k]``, ``x.a[k].b``."""
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _written_path(call: ast.Call) -> str | None:
    """The literal path a call writes to, if it is a known writer."""
    name = _call_name(call)
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


def _inplace(call: ast.Call) -> bool:
    return any(
        k.arg == "inplace" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    )


class _Scope(ast.NodeVisitor):
    """Loads, stores and in-place changes of code in one scope (nested scopes folded in)."""

    def __init__(self, local: set[str] | None = None) -> None:
        self.loads: dict[str, None] = {}
        self.stores: dict[str, None] = {}
        self.mutated: dict[str, None] = {}
        self.local = set(local or ())
        self.globals: set[str] = set()
        self.star = False
        self.writes: list[str] = []
        self.strings: list[str] = []
        self.calls: list[str] = []

    def load(self, name: str) -> None:
        if name not in self.stores:
            self.loads.setdefault(name, None)

    def store(self, name: str) -> None:
        self.stores.setdefault(name, None)

    def mutate(self, target: ast.AST) -> None:
        name = _root_name(target)
        if name is not None:
            self.load(name)
            self.mutated.setdefault(name, None)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and len(node.value) < 4096:
            self.strings.append(node.value)
            self.strings += [a or b for a, b in _QUOTED.findall(node.value)]
            for name in _AT_NAME.findall(node.value):
                self.load(name)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.load(node.id)
        else:
            self.store(node.id)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.store(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star = True
            else:
                self.store(alias.asname or alias.name)

    def nested(self, node: ast.AST, params: ast.arguments | None) -> None:
        """A nested scope: its bindings are its own; its free reads and changes are ours."""
        inner = _Scope(_params(params))
        body = getattr(node, "body", [])
        for child in body if isinstance(body, list) else [body]:
            inner.visit(child)
        if isinstance(node, ast.DictComp | ast.ListComp | ast.SetComp | ast.GeneratorExp):
            for gen in node.generators:
                inner.visit(gen)
            parts = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
            for part in parts:
                inner.visit(part)
        for name, read, changed in inner.free():
            if read:
                self.load(name)
            if changed:
                self.mutated.setdefault(name, None)
        self.writes += inner.writes
        self.strings += inner.strings
        self.calls += inner.calls

    def free(self) -> list[tuple[str, bool, bool]]:
        """Names this scope reads or changes outside itself: (name, read, changed)."""
        bound = self.local | (set(self.stores) - self.globals)
        changed = set(self.mutated) | (self.globals & set(self.stores))
        names = [n for n in self.loads if n not in bound]
        written = [*sorted(self.globals & set(self.stores)), *self.mutated]
        names += [n for n in dict.fromkeys(written) if n not in self.loads and n not in bound]
        return [(n, n in self.loads, n in changed) for n in names]

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for default in [*node.args.defaults, *node.args.kw_defaults]:
            if default is not None:
                self.visit(default)
        if not isinstance(node, ast.Lambda):
            for deco in node.decorator_list:
                self.visit(deco)
            self.store(node.name)
        self.nested(node, node.args)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for expr in [*node.bases, *node.decorator_list, *(k.value for k in node.keywords)]:
            self.visit(expr)
        self.nested(node, None)
        self.store(node.name)

    def _comprehension(self, node: ast.AST) -> None:
        self.nested(node, None)

    visit_ListComp = _comprehension
    visit_SetComp = _comprehension
    visit_DictComp = _comprehension
    visit_GeneratorExp = _comprehension

    def visit_Global(self, node: ast.Global) -> None:
        self.globals.update(node.names)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        if isinstance(node.target, ast.Name):
            self.load(node.target.id)
            self.store(node.target.id)
        else:
            self.mutate(node.target)
            self.visit(node.target)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        written = _written_path(node)
        if written is not None:
            self.writes.append(written)
        dotted = _dotted(node.func)
        if dotted is not None:
            self.calls.append(dotted)
        func = node.func
        if isinstance(func, ast.Attribute) and classify(func.attr, _inplace(node)):
            self.mutate(func.value)

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._target(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target)

    def _target(self, target: ast.AST) -> None:
        if isinstance(target, ast.Attribute | ast.Subscript):
            self.mutate(target)
        elif isinstance(target, ast.Tuple | ast.List):
            for element in target.elts:
                self._target(element)
            return
        self.visit(target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.load(target.id)
            else:
                self.mutate(target)
                self.visit(target)


def _params(params: ast.arguments | None) -> set[str]:
    if params is None:
        return set()
    names = {a.arg for a in [*params.posonlyargs, *params.args, *params.kwonlyargs]}
    return names | {a.arg for a in (params.vararg, params.kwarg) if a is not None}


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    """A top-level statement's source lines, decorators included."""
    first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
    return "\n".join(lines[first - 1 : stmt.end_lineno or stmt.lineno])


def _definitions(
    stmt: ast.stmt,
    lines: list[str],
    cell_id: str,
    index: int,
    facts: _Scope,
    eager_loads: tuple[str, ...],
) -> tuple[Definition, ...]:
    def make(name: str, kind: str, module: str = "", target: str = "") -> Definition:
        free = facts.free()
        eager = tuple(n for n in eager_loads if n != name and n not in BUILTIN_NAMES)
        return Definition(
            name,
            kind,
            _segment(lines, stmt),
            cell_id,
            index,
            stmt.lineno,
            needs=tuple(n for n, read, _ in free if read and n != name and n not in BUILTIN_NAMES),
            changes=tuple(n for n, _, changed in free if changed and n != name),
            eager=eager,
            calls=tuple(dict.fromkeys(facts.calls)) if kind != "import" else (),
            module=module,
            target=target,
        )

    if isinstance(stmt, ast.Import):  # import a.b binds a (for a); import a.b as c: c is a.b
        found = []
        for alias in stmt.names:
            top = alias.name.split(".")[0]
            target = alias.name if alias.asname else top
            found.append(make(alias.asname or top, "import", alias.name, target))
        return tuple(found)
    if isinstance(stmt, ast.ImportFrom):
        module = stmt.module if stmt.level == 0 and stmt.module else ""
        return tuple(
            make(a.asname or a.name, "import", module, f"{module}.{a.name}" if module else "")
            for a in stmt.names
            if a.name != "*"
        )
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return (make(stmt.name, "function"),)
    if isinstance(stmt, ast.ClassDef):
        return (make(stmt.name, "class"),)
    if isinstance(stmt, ast.Try | ast.If) and _only_definitions(stmt):
        # try: import x / except ImportError: x = None: code that binds modules
        return tuple(make(n, "import") for n in facts.stores)
    if (
        isinstance(stmt, ast.Assign)
        and isinstance(stmt.value, ast.Lambda)
        and all(isinstance(t, ast.Name) for t in stmt.targets)
    ):
        return tuple(make(t.id, "function") for t in stmt.targets if isinstance(t, ast.Name))
    return ()


_DEFINING = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _only_definitions(stmt: ast.Try | ast.If) -> bool:
    """A ``try``/``if`` whose bodies only import, define, pass, or bind constants."""
    imports = False
    for node in ast.walk(stmt):
        if isinstance(node, ast.stmt) and node is not stmt:
            if isinstance(node, ast.Import | ast.ImportFrom):
                imports = True
            elif isinstance(node, ast.Assign):
                if not isinstance(node.value, ast.Constant):
                    return False
            elif not isinstance(node, (*_DEFINING, ast.Pass, ast.Expr, ast.Raise)):
                return False
    return imports


def _dotted(node: ast.AST) -> str | None:
    """``a.b.C`` for the expression ``a.b.C``, None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return ".".join([node.id, *reversed(parts)])


def _unsendable(stmt: ast.stmt) -> list[tuple[str, str]]:
    def what(value: ast.AST) -> str | None:
        if isinstance(value, ast.GeneratorExp):
            return "a generator"
        if isinstance(value, ast.Call):
            known = _UNSENDABLE_CALLS.get(_call_name(value) or "")
            dotted = _dotted(value.func)
            return known or (f"call:{dotted}" if dotted else None)
        return None

    def targets(node: ast.AST) -> list[str]:
        if isinstance(node, ast.Name):
            return [node.id]
        if isinstance(node, ast.Tuple | ast.List):
            return [n for elt in node.elts for n in targets(elt)]
        return []

    found: list[tuple[str, str]] = []
    if isinstance(stmt, ast.Assign) and (kind := what(stmt.value)):
        found += [(n, kind) for t in stmt.targets for n in targets(t)]
    if isinstance(stmt, ast.With | ast.AsyncWith):
        for item in stmt.items:
            if (kind := what(item.context_expr)) and item.optional_vars is not None:
                found += [(n, kind) for n in targets(item.optional_vars)]
    return found


def _statement(stmt: ast.stmt, lines: list[str], cell_id: str, index: int) -> list[Statement]:
    code = inner_code(stmt)
    if code is not None:  # %time x = f(), %%time, %%capture: the code runs in the namespace
        inner = statements(code, cell_id, index, line=stmt.lineno)
        magic = cell_magic(stmt)
        extra = Statement(stmt.lineno, (), magic.binds if magic else (), ())
        return [*inner, extra] if magic and magic.binds else inner
    is_definition = isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    facts = _Scope()
    if is_definition:
        assert isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        facts.nested(stmt, getattr(stmt, "args", None))
        outer = _Scope()  # what runs when the def statement runs: decorators, defaults, bases
        for expr in getattr(stmt, "decorator_list", []):
            outer.visit(expr)
        if isinstance(stmt, ast.ClassDef):
            for expr in [*stmt.bases, *(k.value for k in stmt.keywords)]:
                outer.visit(expr)
        else:
            for expr in [*stmt.args.defaults, *stmt.args.kw_defaults]:
                if expr is not None:
                    outer.visit(expr)
        for name in outer.loads:
            facts.load(name)
        facts.store(stmt.name)
        eager = tuple(outer.loads)
    else:
        facts.visit(stmt)
        eager = ()
    definitions = _definitions(stmt, lines, cell_id, index, facts, eager)
    magic = cell_magic(stmt)
    if definitions and not isinstance(stmt, ast.Import | ast.ImportFrom):
        loads: tuple[str, ...] = ()  # a def's reads happen when it is called
    else:
        loads = tuple(n for n in facts.loads if n not in BUILTIN_NAMES)
    binds = tuple(n for n in facts.stores if n not in facts.globals)
    return [
        Statement(
            line=stmt.lineno,
            loads=loads,
            binds=binds + (magic.binds if magic else ()),
            mutates=() if definitions else tuple(facts.mutated),
            definitions=definitions,
            unsendable=tuple(Binding(n, w, stmt.lineno) for n, w in _unsendable(stmt)),
            writes=tuple(facts.writes) + (magic.writes if magic else ()),
            strings=tuple(dict.fromkeys(facts.strings)),
            star_import=facts.star,
            calls=() if definitions else tuple(dict.fromkeys(facts.calls)),
        )
    ]


def statements(source: str, cell_id: str = "", index: int = 0, line: int = 0) -> list[Statement]:
    """The facts of each top-level statement of ``source``. Raises ``SyntaxError``."""
    python = to_python(source)
    tree = ast.parse(python)
    lines = python.splitlines()
    found: list[Statement] = []
    for stmt in tree.body:
        found += _statement(stmt, lines, cell_id, index)
    if line:  # code nested in a magic: report the magic's line
        found = [replace(s, line=line) for s in found]
    return found


def code(source: str, cell_id: str = "", index: int = 0) -> Code:
    """One cell's facts. Raises ``SyntaxError``."""
    return Code(cell_id, tuple(statements(source, cell_id, index)))
