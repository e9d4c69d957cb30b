"""The tracer of one kernel: IPython hooks in, one journal record per cell out.

``pre_run_cell`` starts file capture; a tap on ``transform_ast`` reads IPython's own
parse of the cell without changing it and, before the cell runs, snapshots the names
it can bind, delete or read (or the whole namespace when its code may bind names it
does not show: ``CellAnalysis.opaque``, or a function bound earlier that calls ``exec``
& co); ``post_run_cell`` compares them by identity, works out definitions, uses,
mutations, dependencies and files, and appends an ``ExecutionRecord``. Every hook body
is guarded: a tracer failure is logged and counted in ``failures``, never raised into
the user's cell.
"""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
import time
import types
from dataclasses import dataclass
from typing import Any

from .. import journal
from ..hashing import FileHasher
from ..paths import Layout, find_home
from ..records import (
    SCHEMA,
    Dependency,
    Environment,
    ExecutionId,
    ExecutionRecord,
    FileAccess,
    Mutation,
    SessionId,
    SessionRecord,
    source_hash,
)
from ..redaction import redact_source
from . import context, mutations
from .adapters import Patcher
from .analysis import CellAnalysis, analyse
from .duckdb_log import DuckLog
from .environment import finish_capture, start_capture
from .files import FileCapture, route_audit_events
from .namespace import (
    CODE_TYPES,
    MISSING,
    HiddenNames,
    global_reach,
    namespace_diff,
    type_names,
    watched_diff,
)
from .outbox import Outbox

log = logging.getLogger("mlprod_nb.tracer")

MAX_LOGGED_FAILURES = 10
ENV_WAIT_S = 15.0
MAX_CACHED_ANALYSES = 512
# sources sent once per session: past this many, one may be sent again (the store keeps
# one per hash) rather than the kernel keeping every hash it ever ran
MAX_SENT_SOURCES = 4096
SHARED_HASHES = "filehashes"  # in the store's home: FileHasher.share


@dataclass
class _Cell:
    started: float
    raw: str
    cell_id: str | None
    t0: float = 0.0
    analysis: CellAnalysis | None = None
    # taken when the tree is seen, before the cell runs: the watched names (or all of
    # them when ``whole``) as the cell found them, and as the last recorded cell left them
    before: dict[str, Any] | None = None
    last: dict[str, Any] | None = None
    whole: bool = False
    size: int = 0  # names in the namespace, IPython's output history left out


_MODULE_WRITES = frozenset({"attr", "del-attr"})
_NOTHING = CellAnalysis()


class _AstTap:
    """Sees each tree IPython parses, after its ``ast_transformers``, without changing it.

    Wraps ``shell.transform_ast`` (a transformer in ``ast_transformers`` would make
    IPython walk every tree once more to fix locations) and ``shell.compile.ast_parse``,
    which tells the source a tree was parsed from: when no transformer ran, the tree is
    the plain parse of that source and its analysis can be reused.
    """

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer
        self._shell = tracer.shell
        self._parse: Any = None
        self._transform: Any = None
        self._tree: ast.AST | None = None
        self._source: str | None = None

    def install(self) -> None:
        compiler = getattr(self._shell, "compile", None)
        parse = getattr(compiler, "ast_parse", None)
        if callable(parse) and parse != self.ast_parse:
            self._parse = parse
            compiler.ast_parse = self.ast_parse  # type: ignore[union-attr]
        if self._shell.transform_ast != self.transform_ast:
            self._transform = self._shell.transform_ast
            self._shell.transform_ast = self.transform_ast

    def uninstall(self) -> None:
        # only our own wrappers are removed; one wrapped again by someone else passes through
        compiler = getattr(self._shell, "compile", None)
        if compiler is not None and vars(compiler).get("ast_parse") == self.ast_parse:
            del compiler.ast_parse
        if vars(self._shell).get("transform_ast") == self.transform_ast:
            del self._shell.transform_ast
        self._tree = self._source = None

    def ast_parse(self, source: str, *args: Any, **kwargs: Any) -> ast.AST:
        tree: ast.AST = self._parse(source, *args, **kwargs)
        self._tree, self._source = tree, source
        return tree

    def transform_ast(self, node: ast.AST) -> ast.AST:
        node = self._transform(node)
        tracer = self._tracer
        if tracer.enabled:
            plain = node is self._tree and not self._shell.ast_transformers
            tracer.on_ast(node, self._source if plain else None)
        self._tree = self._source = None
        return node


class Tracer:
    """Records every cell execution of ``shell`` while ``enabled``."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.session = SessionId(os.urandom(16).hex())  # a uuid4 hex, without importing uuid
        self.pid = os.getpid()
        self.started = time.time()
        self.cwd = os.getcwd()
        self.failures = 0
        self.enabled = False
        self.hasher = FileHasher()
        self.capture = FileCapture(hasher=self.hasher, on_error=self._fail)
        self.duck = DuckLog()
        self.patcher = Patcher(self.capture, self.duck, self._fail)
        self.environment: Environment | None = None
        self._tap = _AstTap(self)
        self._analyses: dict[str, CellAnalysis] = {}  # by parsed source
        self._analyses_generation = mutations.generation
        self._cells: list[_Cell | None] = []  # a stack: cells may run cells
        self._seq = 0
        self._binder: dict[str, ExecutionId] = {}
        self._last: dict[str, Any] = {}  # the namespace as the last recorded cell left it
        self._writes: dict[str, frozenset[str]] = {}  # function -> globals it assigns
        self._opaque: set[str] = set()  # names bound to functions that call exec & co
        self._sources: set[str] = set()
        self._hashes: dict[str, str] = {}  # raw source -> source_hash
        self._layouts: dict[str | None, Layout] = {}
        self.outbox = Outbox(self._session_record)
        self._is_hidden = HiddenNames(getattr(shell, "user_ns_hidden", {}))
        self._env_child: subprocess.Popen[str] | None = None
        # ipykernel: the request being answered (a kernel's shell keeps its kernel)
        get_parent = getattr(getattr(shell, "kernel", None), "get_parent", None)
        self._get_parent: Any = get_parent if callable(get_parent) else None
        self._notebook_raw: str | None = None
        self._notebook: str | None = None
        # the kernel's session as the server started it (ipykernel also sets ``__session__``)
        self._session_name = os.environ.get("JPY_SESSION_NAME")

    # -- life cycle
    def start(self) -> None:
        if self.enabled:
            return
        self.enabled = True
        self._last = dict(self.shell.user_ns)
        self._binder.clear()  # what changed while stopped is unknown
        events = self.shell.events
        events.register("pre_run_cell", self.pre_run_cell)
        events.register("post_run_cell", self.post_run_cell)
        self._tap.install()
        self.capture.ignore(*self._runtime_dirs())
        self._layout(self.notebook())  # the store's own files are noise from the first cell
        route_audit_events(self.capture)
        self.patcher.install()
        self._env_child = start_capture(self._environment_dir())

    def stop(self) -> None:
        """Stop recording and remove every hook (the audit hook only goes idle)."""
        if not self.enabled:
            return
        self.enabled = False
        self._cells.clear()
        self._last = {}
        self.capture.active = False
        for event, callback in (
            ("pre_run_cell", self.pre_run_cell),
            ("post_run_cell", self.post_run_cell),
        ):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        self._tap.uninstall()
        route_audit_events(None)
        self.patcher.uninstall()
        self.outbox.close()
        child, self._env_child = self._env_child, None
        if child is not None:  # no record needed it: nothing waits for its answer
            child.kill()
            child.communicate()

    def _runtime_dirs(self) -> list[str]:
        dirs = [os.environ.get("IPYTHONDIR"), os.environ.get("JUPYTER_RUNTIME_DIR")]
        dirs.append(getattr(self.shell, "ipython_dir", None))
        profile = getattr(self.shell, "profile_dir", None)
        dirs.append(getattr(profile, "location", None))
        # a kernel has imported jupyter_core already; a plain shell has no runtime dir
        paths = sys.modules.get("jupyter_core.paths")
        try:
            dirs.append(paths.jupyter_runtime_dir() if paths is not None else None)
        except Exception:
            pass
        return [d for d in dirs if d]

    def _environment_dir(self) -> str:
        notebook = self.notebook()
        return os.path.dirname(notebook) if notebook else self.cwd

    # -- hooks
    def pre_run_cell(self, info: Any) -> None:
        cell: _Cell | None = None
        try:
            cell = _Cell(
                started=time.time(),
                raw=info.raw_cell if isinstance(info.raw_cell, str) else "",
                cell_id=self._cell_id(info),
            )
            if not self._cells:
                self.capture.begin()
            cell.t0 = time.perf_counter()
        except Exception as exc:
            cell = None
            self._fail(exc)
        self._cells.append(cell)  # None keeps pre/post paired after a failure

    def on_ast(self, tree: ast.AST, source: str | None = None) -> None:
        """Analyse a tree of the running cell; ``source``: the tree is its plain parse."""
        try:
            cell = self._cells[-1] if self._cells else None
            if cell is None:
                return
            if source is None or type(tree) is not ast.Module:
                found = analyse(tree)
            else:  # reused for a source analysed before: cells are re-run often
                if self._analyses_generation != mutations.generation:
                    self._analyses.clear()
                    self._analyses_generation = mutations.generation
                found = self._analyses.get(source) or self._analyse_new(tree, source)
            cell.analysis = found if cell.analysis is None else cell.analysis.merged(found)
            if cell.before is None:
                self._snapshot(cell, found)
        except Exception as exc:
            self._fail(exc)

    def _snapshot(self, cell: _Cell, found: CellAnalysis) -> None:
        ns = self.shell.user_ns
        cell.size = len(ns) - self._outputs()
        if found.opaque or self._opaque:
            cell.whole = True
            cell.before = dict(ns)
            cell.last = dict(self._last)
            return
        watched = [*found.defines, *found.deletes, *found.uses]
        for names in self._writes.values():
            watched += names
        cell.before = {name: ns.get(name, MISSING) for name in watched}
        last = self._last
        cell.last = {name: last.get(name, MISSING) for name in found.uses}

    def _outputs(self) -> int:
        """Entries of IPython's output history: each has its ``_<n>`` in the namespace."""
        history = getattr(self.shell, "history_manager", None)
        return len(getattr(history, "output_hist", ()))

    def _changes(self, cell: _Cell) -> tuple[list[str], list[str]]:
        """(names bound anew, names gone) by the cell, watched or not when it could tell."""
        ns = self.shell.user_ns
        before = cell.before
        if before is None:  # no tree: the cell did not run
            return [], []
        if cell.whole:
            return namespace_diff(before, ns)
        changed, gone = watched_diff(before, ns)
        added = sum(1 for name in changed if before[name] is MISSING)
        if len(ns) - self._outputs() == cell.size + added - len(gone):
            return changed, gone
        # a name came or went that the cell's code does not show (a library writing
        # into ``__main__``): compare what the last recorded cell left
        more, lost = namespace_diff(self._last, ns)
        return list(dict.fromkeys([*changed, *more])), list(dict.fromkeys([*gone, *lost]))

    def _learn(self, changed: list[str], gone: list[str]) -> None:
        """Keep the namespace as this cell left it, and what its new functions write."""
        ns = self.shell.user_ns
        last = self._last
        known = self._writes.keys() | self._opaque
        for name in changed:
            value = last[name] = ns[name]
            if isinstance(value, CODE_TYPES) or name in known:  # holds_code, inlined
                writes, opaque = global_reach(value, ns)
                self._remember(name, writes, opaque)
        for name in gone:
            last.pop(name, None)
            self._remember(name, frozenset(), False)

    def _remember(self, name: str, writes: frozenset[str], opaque: bool) -> None:
        if writes:
            self._writes[name] = writes
        else:
            self._writes.pop(name, None)
        if opaque:
            self._opaque.add(name)
        else:
            self._opaque.discard(name)

    def _analyse_new(self, tree: ast.AST, source: str) -> CellAnalysis:
        found = analyse(tree)
        if len(self._analyses) >= MAX_CACHED_ANALYSES:
            del self._analyses[next(iter(self._analyses))]
        self._analyses[source] = found
        return found

    def post_run_cell(self, result: Any) -> None:
        end = time.perf_counter()
        cell = self._cells.pop() if self._cells else None
        if cell is None:
            return
        try:
            self._record(cell, result, (end - cell.t0) * 1000.0, nested=bool(self._cells))
        except Exception as exc:
            self.capture.active = False
            self._fail(exc)

    # -- identity
    def _cell_id(self, info: Any) -> str | None:
        cell_id = getattr(info, "cell_id", None)
        if not cell_id:
            meta = getattr(info, "cell_meta", None)
            if isinstance(meta, dict):
                cell_id = meta.get("cellId")
        if not cell_id and self._get_parent is not None:
            parent = self._get_parent()
            if isinstance(parent, dict):
                cell_id = (parent.get("metadata") or {}).get("cellId")
        return str(cell_id) if cell_id else None

    def notebook(self) -> str | None:
        """The notebook's absolute path, from ``__session__`` or ``JPY_SESSION_NAME``."""
        raw = self.shell.user_ns.get("__session__") or self._session_name
        if not isinstance(raw, str) or not raw:
            return None
        if raw != self._notebook_raw:
            self._notebook_raw = raw
            self._notebook = os.path.normpath(os.path.join(self.cwd, os.path.expanduser(raw)))
        return self._notebook

    def moved(self, old: str, new: str) -> str:
        """The notebook was renamed or moved from ``old`` to ``new`` (both relative to the
        server root, as JupyterLab names them); returns the new absolute path.

        The root is what the current absolute path has before ``old``; a kernel that did
        not know its notebook takes its working folder (where Lab starts it) for the
        folder of ``old``.
        """
        here = self.notebook()
        tail = os.path.normpath(old)
        if here is not None and (here == tail or here.endswith(os.sep + tail)):
            root = here[: len(here) - len(tail)]
        else:
            folder = os.path.dirname(tail)
            inside = folder and self.cwd.endswith(os.sep + folder)
            root = self.cwd[: len(self.cwd) - len(folder)] if inside else self.cwd
        target = os.path.normpath(os.path.join(root or os.sep, new))
        self.shell.user_ns["__session__"] = target
        self._session_name = target
        return target

    def _layout(self, notebook: str | None) -> Layout:
        layout = self._layouts.get(notebook)
        if layout is None:
            layout = self._layouts[notebook] = find_home(notebook or self.cwd)
            self.capture.ignore(str(layout.home))
            # data files hashed once for all kernels of the store (the last store found wins)
            self.hasher.share(layout.home / SHARED_HASHES)
        return layout

    # -- the record
    def _record(self, cell: _Cell, result: Any, duration_ms: float, nested: bool) -> None:
        files: list[FileAccess] = []
        if not nested:  # files of a cell run by a cell belong to the outer one
            if self.duck.used:
                self.duck.collect(self.capture, self._fail)
            files = self.capture.finish()
        ns = self.shell.user_ns
        hidden = self._is_hidden
        changed, gone = self._changes(cell)
        rebound = hidden.visible(changed)
        deleted = sorted(hidden.visible(gone)) if gone else []
        error = _error_of(result)
        found = cell.analysis or _NOTHING
        binder = self._binder
        if error is None:
            # a name bound again to the identical object (a re-run import, ``flag = None``)
            # changes nothing for its readers: it stays with the execution that bound it
            same = set(found.defines).difference(changed) if found.defines else ()
            defines = hidden.visible(
                n for n in found.defines if n in ns and not (n in same and n in binder)
            )
            defines += [n for n in rebound if n not in found.defines]
        else:
            defines = rebound
        # builtins read stay in ``uses`` (without a producer): a later ``len = ...`` is a
        # write of ``len`` for them (lineage.staleness)
        uses = hidden.visible(found.uses)
        mutations: list[Mutation] = []
        if found.mutations:
            defined = set(defines)
            mutations = [
                Mutation(name=name, how=how, known=known)
                for (name, how), known in found.mutations.items()
                if name not in defined
                and not hidden(name)
                # calls on modules (np.random.seed) are not writes; setting an attribute
                # on one (cfg.threshold = 7) is
                and (how in _MODULE_WRITES or not isinstance(ns.get(name), types.ModuleType))
            ]
        self._seq += 1
        execution = ExecutionId(f"{self.session}:{self._seq}")
        before = cell.before or {}
        last = cell.last or {}
        deps: list[Dependency] = []
        for name in uses:
            if name in binder:
                if before.get(name, MISSING) is last.get(name, MISSING):
                    deps.append(Dependency(name=name, execution=binder[name]))
                else:  # rebound between recorded cells (silent executions, %reset, ...)
                    del binder[name]
        for name in defines:
            binder[name] = execution
        for mutation in mutations:
            if mutation["known"]:
                binder[mutation["name"]] = execution
        for name in deleted:
            binder.pop(name, None)
        self._learn(changed, gone)
        digest = self._source_hash(cell.raw)
        first = digest not in self._sources
        if first:
            if len(self._sources) >= MAX_SENT_SOURCES:  # kernel memory stays flat
                self._sources.clear()
            self._sources.add(digest)
        pending = context.drain()
        notebook = self.notebook()
        record: ExecutionRecord = {
            "v": SCHEMA,
            "kind": "execution",
            "id": execution,
            "session": self.session,
            "seq": self._seq,
            "notebook": notebook,
            "cell_id": cell.cell_id,  # type: ignore[typeddict-item]
            "execution_count": getattr(result, "execution_count", None),
            "source_hash": digest,
            "source": redact_source(cell.raw) if first else None,  # no secret literals
            "started": cell.started,
            "duration_ms": round(duration_ms, 3),
            "status": "ok" if error is None else "error",
            "error_name": type(error).__name__ if error is not None else None,
            "error_message": _message(error) if error is not None else None,
            "defines": defines,
            "types": type_names(ns, defines),
            "uses": uses,
            "deletes": deleted,
            "mutations": mutations,
            "deps": deps,
            "files": files,
            "params": _jsonable(pending.params) if pending is not None else {},
            "metrics": pending.metrics if pending is not None else [],
            "checks": pending.checks if pending is not None else [],
        }
        run, step = context.current_context()
        if run is not None or step is not None:
            record["run"] = run  # type: ignore[typeddict-item]
            record["step"] = step
        self.outbox.write(self._layout(notebook), record)

    def _source_hash(self, raw: str) -> str:
        memo = self._hashes
        digest = memo.get(raw)
        if digest is None:
            digest = source_hash(raw)
            if len(memo) >= MAX_CACHED_ANALYSES:
                del memo[next(iter(memo))]
            memo[raw] = digest
        return digest

    @property
    def journal_failures(self) -> int:
        """Failed journal writes (records wait in ``outbox`` meanwhile)."""
        return self.outbox.failures

    def _session_record(self) -> SessionRecord:
        if self.environment is None:
            child, self._env_child = self._env_child, None
            self.environment = finish_capture(child, self._environment_dir(), ENV_WAIT_S)
        return SessionRecord(
            v=SCHEMA,
            kind="session",
            session=self.session,
            pid=self.pid,
            started=self.started,
            notebook=self.notebook(),
            cwd=self.cwd,
            env=self.environment,
        )

    def _fail(self, exc: BaseException) -> None:
        self.failures += 1
        level = logging.WARNING if self.failures <= MAX_LOGGED_FAILURES else logging.DEBUG
        log.log(level, "mlprod-nb tracer failure (#%d): %r", self.failures, exc, exc_info=exc)


def _error_of(result: Any) -> BaseException | None:
    if result is None:
        return None
    error = getattr(result, "error_before_exec", None) or getattr(result, "error_in_exec", None)
    return error if isinstance(error, BaseException) else None


def _message(error: BaseException) -> str:
    text = str(error)
    return text if len(text) <= 2000 else text[:2000] + "..."


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """Parameter values as JSON can hold them (repr for what it cannot)."""
    out: dict[str, Any] = {}
    for name, value in params.items():
        try:
            json.loads(journal.dumps({"v": value}))
            out[name] = value
        except (TypeError, ValueError):
            out[name] = repr(value)
    return out
