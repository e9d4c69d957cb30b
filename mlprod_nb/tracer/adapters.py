"""Readers and writers that open files in native code, wrapped when user code imports them.

``ADAPTERS`` is data (a ``Registry``, by name): which function or method of
which module reads or writes which argument. ``Patcher`` is a ``sys.meta_path``
finder that patches a watched module right after it executes (so ``from
pyarrow.parquet import read_table`` in user code gets the wrapper) and patches
watched modules already imported.
The tracer never imports these libraries itself. DuckDB is special: calls only
mark the cell as having used DuckDB; the files come from DuckDB's own
file-system log (``duckdb_log.DuckLog``) read after the cell.
"""

from __future__ import annotations

import functools
import importlib.machinery
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal

from ..registry import Registry
from .duckdb_log import DuckLog
from .files import FileCapture, Mode

Kind = Literal["path", "duckdb", "duckdb-connect", "duckdb-connection", "duckdb-relation"]


@dataclass(frozen=True)
class Adapter:
    """``target`` (``"read_table"`` or ``"DataFrame.write_csv"``) in ``modules``."""

    modules: tuple[str, ...]
    target: str
    mode: Mode = "read"
    via: str = "native"
    index: int | None = 0  # positional index of the path argument (``self`` counts)
    keyword: str | None = None
    from_result: str | None = None  # attribute of the result that lists the files
    kind: Kind = "path"

    @property
    def name(self) -> str:
        """Its name in ``ADAPTERS``: ``"pyarrow.csv:read_csv"``."""
        return f"{self.modules[0]}:{self.target}"


def _paths(
    modules: tuple[str, ...], via: str, mode: Mode, specs: Sequence[tuple[str, int, str]]
) -> list[Adapter]:
    return [Adapter(modules, target, mode, via, index, kw) for target, index, kw in specs]


_PQ = ("pyarrow.parquet.core", "pyarrow.parquet")
_POLARS = ("polars",)
_READ_POLARS = ("csv", "parquet", "ipc", "json", "ndjson", "avro", "excel", "delta")
_WRITE_PL = ("csv", "parquet", "ipc", "json", "ndjson", "avro", "excel")
_DUCK_FUNCTIONS = (
    *("sql", "query", "execute", "executemany", "query_df", "from_query", "table"),
    *("read_csv", "read_parquet", "read_json", "from_parquet", "from_csv_auto", "from_df"),
)
_DUCK_RELATION = (
    *("df", "fetchdf", "to_df", "fetchall", "fetchone", "fetchmany", "fetchnumpy"),
    *("arrow", "fetch_arrow_table", "pl", "show", "execute", "create", "insert_into"),
    *("write_parquet", "to_parquet", "write_csv", "to_csv"),
)

_BUILTIN: list[Adapter] = [
    *_paths(_PQ, "pyarrow", "read", [("read_table", 0, "source")]),
    *_paths(_PQ, "pyarrow", "read", [("ParquetFile.__init__", 1, "source")]),
    *_paths(_PQ, "pyarrow", "read", [("ParquetDataset.__init__", 1, "path_or_paths")]),
    *_paths(_PQ, "pyarrow", "write", [("write_table", 1, "where")]),
    *_paths(_PQ, "pyarrow", "write", [("ParquetWriter.__init__", 1, "where")]),
    *_paths(_PQ, "pyarrow", "write", [("write_to_dataset", 1, "root_path")]),
    *_paths(("pyarrow.dataset",), "pyarrow", "write", [("write_dataset", 1, "base_dir")]),
    *_paths(("pyarrow.csv",), "pyarrow", "read", [("read_csv", 0, "input_file")]),
    *_paths(("pyarrow.csv",), "pyarrow", "read", [("open_csv", 0, "input_file")]),
    *_paths(("pyarrow.csv",), "pyarrow", "write", [("write_csv", 1, "output_file")]),
    *_paths(("pyarrow.json",), "pyarrow", "read", [("read_json", 0, "input_file")]),
    *_paths(("pyarrow.feather",), "pyarrow", "read", [("read_table", 0, "source")]),
    *_paths(("pyarrow.feather",), "pyarrow", "write", [("write_feather", 1, "dest")]),
    Adapter(("pyarrow.dataset",), "dataset", "read", "pyarrow", None, None, "files"),
    *_paths(_POLARS, "polars", "read", [(f"read_{k}", 0, "source") for k in _READ_POLARS]),
    *_paths(_POLARS, "polars", "read", [(f"scan_{k}", 0, "source") for k in _READ_POLARS]),
    *_paths(_POLARS, "polars", "write", [(f"DataFrame.write_{k}", 1, "file") for k in _WRITE_PL]),
    *_paths(_POLARS, "polars", "write", [(f"LazyFrame.sink_{k}", 1, "path") for k in _WRITE_PL]),
    *(Adapter(("duckdb",), name, via="duckdb", kind="duckdb") for name in _DUCK_FUNCTIONS),
    *(
        Adapter(("duckdb",), f"DuckDBPyConnection.{name}", via="duckdb", kind="duckdb-connection")
        for name in _DUCK_FUNCTIONS
    ),
    *(
        Adapter(("duckdb",), f"DuckDBPyRelation.{name}", via="duckdb", kind="duckdb-relation")
        for name in _DUCK_RELATION
    ),
    Adapter(("duckdb",), "connect", via="duckdb", kind="duckdb-connect"),
]


ADAPTERS: Registry[Adapter] = Registry("read-capture adapter")
for _adapter in _BUILTIN:
    ADAPTERS.register(_adapter.name, _adapter)


def register(adapter: Adapter) -> None:
    """Add an adapter (one of the same name is replaced); it applies from the next tracer load."""
    ADAPTERS.register(adapter.name, adapter)


_WRAPPED = "__mlprod_wrapped__"


class Patcher:
    """Patches watched modules as they are imported; ``uninstall`` restores them.

    A meta-path finder by its ``find_spec`` alone: ``importlib.abc`` costs ~0.5 MB.
    """

    def __init__(
        self,
        capture: FileCapture,
        duck: DuckLog,
        report: Callable[[BaseException], None],
        adapters: Sequence[Adapter] | None = None,
    ) -> None:
        self.capture = capture
        self.duck = duck
        self.report = report
        self.adapters = list(ADAPTERS if adapters is None else adapters)
        self.watched: dict[str, list[Adapter]] = {}
        for adapter in self.adapters:
            for module in adapter.modules:
                self.watched.setdefault(module, []).append(adapter)
        self._wrappers: dict[Any, Any] = {}
        self._patched: list[tuple[Any, str, Any]] = []
        self.enabled = False

    def install(self) -> None:
        self.enabled = True
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        for name in self.watched:
            module = sys.modules.get(name)
            if module is not None:
                self.patch(module)

    def uninstall(self) -> None:
        self.enabled = False
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        for owner, attr, original in reversed(self._patched):
            try:
                setattr(owner, attr, original)
            except (AttributeError, TypeError) as exc:
                self.report(exc)
        self._patched.clear()

    # the meta-path finder protocol
    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.watched or not self.enabled:
            return None
        try:
            return self._find_and_hook(fullname, path, target)
        except Exception as exc:  # let the normal import machinery try
            self.report(exc)
            return None

    def _find_and_hook(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None
    ) -> importlib.machinery.ModuleSpec | None:
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        exec_module = getattr(loader, "exec_module", None)
        if exec_module is None:
            return spec

        def exec_then_patch(module: ModuleType) -> None:
            exec_module(module)
            self.patch(module)

        try:
            loader.exec_module = exec_then_patch  # type: ignore[union-attr,method-assign]
        except (AttributeError, TypeError):
            pass
        return spec

    def patch(self, module: ModuleType) -> None:
        for adapter in self.watched.get(module.__name__, ()):
            try:
                self._patch_one(module, adapter)
            except Exception as exc:
                self.report(exc)

    def _patch_one(self, module: ModuleType, adapter: Adapter) -> None:
        *owners, attr = adapter.target.split(".")
        owner: Any = module
        for name in owners:
            owner = getattr(owner, name, None)
            if owner is None:
                return
        current = owner.__dict__.get(attr) if owners else getattr(owner, attr, None)
        if current is None or hasattr(current, _WRAPPED):
            return
        try:
            wrapper = self._wrappers.get(current)
        except TypeError:
            wrapper = None
        if wrapper is None:
            wrapper = self._wrap(current, adapter)
            try:
                self._wrappers[current] = wrapper
            except TypeError:
                pass
        setattr(owner, attr, wrapper)
        self._patched.append((owner, attr, current))

    def _wrap(self, original: Callable[..., Any], adapter: Adapter) -> Callable[..., Any]:
        capture, duck, report = self.capture, self.duck, self.report

        if adapter.kind == "duckdb-connect":

            def connect(*args: Any, **kwargs: Any) -> Any:
                connection = original(*args, **kwargs)
                duck.adopt(connection, report)
                return connection

            wrapper = connect
        elif adapter.kind == "duckdb":

            def duckdb_call(*args: Any, **kwargs: Any) -> Any:
                if capture.active:
                    duck.touch(report)
                return original(*args, **kwargs)

            wrapper = duckdb_call
        elif adapter.kind == "duckdb-connection":

            def connection_call(*args: Any, **kwargs: Any) -> Any:
                if capture.active and args:
                    duck.adopt(args[0], report)  # also connections made before loading
                return original(*args, **kwargs)

            wrapper = connection_call
        elif adapter.kind == "duckdb-relation":

            def relation_call(*args: Any, **kwargs: Any) -> Any:
                if capture.active:
                    duck.mark()  # lazy relations read when they are materialised
                return original(*args, **kwargs)

            wrapper = relation_call
        else:

            def data_call(*args: Any, **kwargs: Any) -> Any:
                since = time.time_ns()
                result = original(*args, **kwargs)
                if capture.active:
                    try:
                        if adapter.from_result is not None:
                            source = getattr(result, adapter.from_result, None)
                        elif adapter.keyword is not None and adapter.keyword in kwargs:
                            source = kwargs[adapter.keyword]
                        elif adapter.index is not None and len(args) > adapter.index:
                            source = args[adapter.index]
                        else:
                            source = None
                        if source is not None:
                            capture.add_sources(source, adapter.mode, adapter.via, since)
                    except Exception as exc:
                        report(exc)
                return result

            wrapper = data_call
        try:
            functools.update_wrapper(wrapper, original)
        except (AttributeError, TypeError):
            pass
        setattr(wrapper, _WRAPPED, original)
        return wrapper
