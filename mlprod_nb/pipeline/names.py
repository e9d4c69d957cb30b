"""The exporter's facts of cell code, statement by statement: reads, binds, definitions.

Pure and cheap: one ``ast`` parse per cell, on the Python IPython really runs (see
``ipysyntax``). Which names a statement reads, binds and changes in place is decided by
the analyser the tracer uses too (``tracer/analysis``, with the mutation registry of
``tracer/mutations``: ``register_mutating`` changes export edges and staleness alike);
this module adds what only the exporter asks. The data flow (``dataflow``) walks these
facts in page order.

- **Loads** are the free names a statement reads at module level. Names read inside a
  function body are not loads of the statement that defines the function: they are the
  function's *needs*, read when it is called (``def fit(q): return mod.fit(q)`` needs
  ``mod`` wherever ``fit`` is called).
- **Definitions** are code, not values: imports, ``def``, ``class`` and ``f = lambda``.
  They are replayed in the steps that use them, never passed.
- **Mutations** are those the registry knows (``x[k] = v``, ``x.append``, ``model.fit``,
  ``inplace=True``); a function changing a global (``global n``, ``df['b'] = ...`` on a
  free ``df``) lists it in ``changes``.
- **Writes** and **strings**: literal paths passed to writers, and literal strings that
  may name files or parameters (``fileedges``).
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, replace

from ..tracer.analysis import LATER, NOW, Facts, dotted, statement_facts
from .ipysyntax import cell_magic, inner_code, to_python

# Names IPython puts in every user namespace.
IPYTHON_NAMES = frozenset(
    {"get_ipython", "display", "In", "Out", "exit", "quit", "_", "__", "___", "_i", "_ii"}
)
BUILTIN_NAMES = frozenset(dir(builtins)) | IPYTHON_NAMES

_MAGIC = re.compile(r"^(\s*)([%!]|\w+\s*=\s*[%!])")
_QUOTED = re.compile(r"'([^'\n]+)'|\"([^\"\n]+)\"")

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


def _segment(lines: list[str], stmt: ast.stmt) -> str:
    """A top-level statement's source lines, decorators included."""
    first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
    return "\n".join(lines[first - 1 : stmt.end_lineno or stmt.lineno])


def _definitions(
    stmt: ast.stmt, lines: list[str], cell_id: str, index: int, facts: Facts
) -> tuple[Definition, ...]:
    # what the def statement itself evaluates (decorators, defaults, bases, a class body)
    runs_now = isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    free = [n for n in _reads(facts) if n not in facts.binds]
    changed = [n for n in (*facts.changed(), *facts.changes) if n not in facts.binds]

    def make(name: str, kind: str, module: str = "", target: str = "") -> Definition:
        eager = [n for n in free if facts.reads.get(n, 0) & NOW] if runs_now else []
        return Definition(
            name,
            kind,
            _segment(lines, stmt),
            cell_id,
            index,
            stmt.lineno,
            needs=tuple(n for n in free if n != name),
            changes=tuple(n for n in dict.fromkeys(changed) if n != name),
            eager=tuple(n for n in eager if n != name),
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
        return tuple(make(n, "import") for n in facts.binds)
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


def _unsendable(stmt: ast.stmt) -> list[tuple[str, str]]:
    def what(value: ast.AST) -> str | None:
        if isinstance(value, ast.GeneratorExp):
            return "a generator"
        if isinstance(value, ast.Call):
            known = _UNSENDABLE_CALLS.get(_call_name(value) or "")
            callee = dotted(value.func)
            return known or (f"call:{callee}" if callee else None)
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
    facts = statement_facts(stmt)
    definitions = _definitions(stmt, lines, cell_id, index, facts)
    magic = cell_magic(stmt)
    if definitions and not isinstance(stmt, ast.Import | ast.ImportFrom):
        loads: tuple[str, ...] = ()  # a def's reads happen when it is called
    else:
        loads = _reads(facts)
    return [
        Statement(
            line=stmt.lineno,
            loads=loads,
            binds=facts.binds + (magic.binds if magic else ()),
            mutates=() if definitions else tuple(dict.fromkeys([*facts.changed(), *facts.changes])),
            definitions=definitions,
            unsendable=tuple(Binding(n, w, stmt.lineno) for n, w in _unsendable(stmt)),
            writes=_writes(stmt) + (magic.writes if magic else ()),
            strings=_strings(facts.strings),
            star_import=facts.star_import,
            calls=() if definitions else tuple(dict.fromkeys(facts.calls)),
        )
    ]


def _reads(facts: Facts) -> tuple[str, ...]:
    """Free names code reads (annotations left to the run), ``@name`` in query strings too."""
    code = [n for n, how in facts.reads.items() if how & (NOW | LATER)]
    found = dict.fromkeys([*code, *facts.string_reads])
    return tuple(n for n in found if n not in BUILTIN_NAMES)


def _writes(stmt: ast.stmt) -> tuple[str, ...]:
    """Literal paths the statement's calls write to (function bodies too)."""
    found = (_written_path(n) for n in ast.walk(stmt) if isinstance(n, ast.Call))
    return tuple(w for w in found if w is not None)


def _strings(literals: tuple[str, ...]) -> tuple[str, ...]:
    """Literal strings and the quoted ones inside them (``"SELECT * FROM 'a.csv'"``)."""
    found: list[str] = []
    for text in literals:
        found.append(text)
        found += [a or b for a, b in _QUOTED.findall(text)]
    return tuple(dict.fromkeys(found))


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
