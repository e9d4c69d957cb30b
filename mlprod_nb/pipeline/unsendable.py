"""Unsendable values: the types no serializer can store, known by their names.

A value crosses a step boundary as a file. Some values are live handles into
this process (a lock, an open file, a socket, a database connection, a native
xgboost ``DMatrix``): no file can hold them, and pickle fails on them only
after the step's whole compute. Naming them by type lets export refuse them
before anything runs, from a type name it saw statically or in the trace, and
lets ``save`` refuse them with the same words: both read this one registry.

A key is a full type name (``"sqlite3.Connection"``) or a dotted prefix of one
(``"threading"`` covers ``threading.Event`` and ``threading.Condition``); a few
keys name factories as code calls them (``"sqlite3.connect"``, ``"xgboost.DMatrix"``),
for export, which sees the call and not yet the type.
"""

from __future__ import annotations

import pickle
import types
from collections.abc import Iterator

A_LOCK = "a lock or thread"
AN_OPEN_FILE = "an open file"
A_CONNECTION = "a database connection"
A_SOCKET = "a socket"
A_NATIVE_HANDLE = "a native handle that pickle cannot store"
A_SPARK_HANDLE = "a handle into the Spark driver"

_FILES = ("TextIOWrapper", "BufferedReader", "BufferedWriter", "BufferedRandom", "BufferedRWPair")

UNSENDABLE: dict[str, str] = {
    "builtins.module": "a module",
    "builtins.generator": "a generator",
    "builtins.async_generator": "a generator",
    "builtins.coroutine": "a coroutine",
    "builtins.frame": "an interpreter frame",
    "builtins.traceback": "a traceback",
    "builtins.code": "a code object",
    "builtins.memoryview": "a memory view",
    "builtins.mappingproxy": "a mapping proxy",
    "weakref.ReferenceType": "a weak reference",
    "_thread": A_LOCK,
    "threading": A_LOCK,
    "multiprocessing.synchronize": A_LOCK,
    "multiprocessing.pool": "a worker pool",
    "multiprocessing.queues": "a queue between processes",
    "concurrent.futures": "a worker pool or a future",
    "queue.Queue": "a queue",
    "queue.LifoQueue": "a queue",
    "queue.PriorityQueue": "a queue",
    "_queue.SimpleQueue": "a queue",
    "asyncio": "an event loop or task",
    "_asyncio": "an event loop or task",
    "subprocess.Popen": "a running process",
    "socket.socket": A_SOCKET,
    "_socket.socket": A_SOCKET,
    "ssl.SSLSocket": A_SOCKET,
    "ssl.SSLContext": "a TLS context",
    "select": "a selector",
    "selectors": "a selector",
    "mmap.mmap": "a memory map",
    **{f"{module}.{name}": AN_OPEN_FILE for module in ("_io", "io") for name in _FILES},
    "_io.FileIO": AN_OPEN_FILE,
    "io.FileIO": AN_OPEN_FILE,
    "gzip.GzipFile": AN_OPEN_FILE,
    "bz2.BZ2File": AN_OPEN_FILE,
    "lzma.LZMAFile": AN_OPEN_FILE,
    "zipfile.ZipFile": AN_OPEN_FILE,
    "tarfile.TarFile": AN_OPEN_FILE,
    "tempfile._TemporaryFileWrapper": AN_OPEN_FILE,
    "h5py._hl.files.File": "an open HDF5 file",
    "h5py._hl.group.Group": "an open HDF5 file",
    "h5py._hl.dataset.Dataset": "an open HDF5 file",
    "_hashlib.HASH": "a running hash",
    "sqlite3.Connection": A_CONNECTION,
    "sqlite3.Cursor": A_CONNECTION,
    "sqlite3.Blob": A_CONNECTION,
    "duckdb": "a DuckDB connection or relation",
    "_duckdb": "a DuckDB connection or relation",
    "psycopg2.extensions.connection": A_CONNECTION,
    "psycopg2.extensions.cursor": A_CONNECTION,
    "psycopg.connection.Connection": A_CONNECTION,
    "psycopg.cursor.Cursor": A_CONNECTION,
    "pymysql.connections.Connection": A_CONNECTION,
    "pymysql.cursors.Cursor": A_CONNECTION,
    "pyodbc.Connection": A_CONNECTION,
    "pyodbc.Cursor": A_CONNECTION,
    "sqlalchemy.engine.base.Engine": A_CONNECTION,
    "sqlalchemy.engine.base.Connection": A_CONNECTION,
    "xgboost.core.DMatrix": A_NATIVE_HANDLE,
    "xgboost.core.QuantileDMatrix": A_NATIVE_HANDLE,
    "xgboost.core.DeviceQuantileDMatrix": A_NATIVE_HANDLE,
    "xgboost.core.ExtMemQuantileDMatrix": A_NATIVE_HANDLE,
    "xgboost.core._ProxyDMatrix": A_NATIVE_HANDLE,
    "pyspark.context.SparkContext": A_SPARK_HANDLE,
    "pyspark.sql.session.SparkSession": A_SPARK_HANDLE,
    "pyspark.sql.dataframe.DataFrame": A_SPARK_HANDLE,
    "pyspark.sql.classic.dataframe.DataFrame": A_SPARK_HANDLE,
    "pyspark.rdd.RDD": A_SPARK_HANDLE,
    # factories, by the public name code calls them with: what they return is unsendable
    "builtins.open": AN_OPEN_FILE,
    "io.open": AN_OPEN_FILE,
    "gzip.open": AN_OPEN_FILE,
    "bz2.open": AN_OPEN_FILE,
    "lzma.open": AN_OPEN_FILE,
    "tempfile.TemporaryFile": AN_OPEN_FILE,
    "tempfile.NamedTemporaryFile": AN_OPEN_FILE,
    "h5py.File": "an open HDF5 file",
    "socket.create_connection": A_SOCKET,
    "sqlite3.connect": A_CONNECTION,
    "duckdb.connect": "a DuckDB connection or relation",
    "psycopg2.connect": A_CONNECTION,
    "psycopg.connect": A_CONNECTION,
    "pymysql.connect": A_CONNECTION,
    "pyodbc.connect": A_CONNECTION,
    "sqlalchemy.create_engine": A_CONNECTION,
    "multiprocessing.Pool": "a worker pool",
    "multiprocessing.Lock": A_LOCK,
    "multiprocessing.RLock": A_LOCK,
    "multiprocessing.Queue": "a queue between processes",
    "xgboost.DMatrix": A_NATIVE_HANDLE,
    "xgboost.QuantileDMatrix": A_NATIVE_HANDLE,
}


def register_unsendable(prefix_or_name: str, reason: str) -> None:
    """Declare a type (or every type under a dotted prefix) unsendable, with the reason shown.

    ``reason`` completes "value 'x' is ...": "a license server session", say.
    """
    UNSENDABLE[prefix_or_name.strip(".")] = reason


def unsendable_type(type_name: str) -> str | None:
    """Why a value of type ``type_name`` ("module.QualName") can never cross a step, or None.

    The most specific registered key wins ("duckdb.X" before "duckdb"). A class
    defined inside a function is unsendable too: pickle cannot find it again.
    """
    parts = type_name.split(".")
    for end in range(len(parts), 0, -1):
        reason = UNSENDABLE.get(".".join(parts[:end]))
        if reason is not None:
            return reason
    if "<locals>" in parts:
        return "an instance of a class defined inside a function"
    return None


def type_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def unsendable_value(value: object) -> str | None:
    """Why ``value`` can never cross a step, from its class and base classes, or None.

    Functions are looked at by name too: a lambda or a nested function has no
    importable name, so pickle could only fail on it.
    """
    if isinstance(value, types.FunctionType):
        if value.__name__ == "<lambda>":
            return "a lambda"
        if "<locals>" in value.__qualname__:
            return "a function defined inside another function"
    for cls in type(value).__mro__[:-1]:
        reason = unsendable_type(type_name(cls))
        if reason is not None:
            return reason
    return None


class _Discard:
    """A sink for a trial pickling: only whether it fails matters."""

    def write(self, data: bytes) -> int:
        return len(data)


def _pickles(value: object) -> bool:
    try:
        pickle.Pickler(_Discard(), protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    except Exception:  # any exception from any __reduce__ means "pickle cannot store it"
        return False
    return True


def _parts(value: object) -> Iterator[tuple[str, object]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"[{key!r}]", item
    elif isinstance(value, list | tuple):
        for position, item in enumerate(value):
            yield f"[{position}]", item
    elif isinstance(value, set | frozenset):
        for item in value:
            yield "{…}", item
    else:
        for key, item in getattr(value, "__dict__", {}).items():
            yield f".{key}", item


def culprit(value: object, depth: int = 6) -> tuple[str, object] | None:
    """The part of ``value`` pickle fails on, as a path (".steps[0][1].func") and the part.

    Only called after pickling failed, so trial picklings cost nothing in a
    step that works; None when the failing part cannot be told apart.
    """
    for where, part in _parts(value):
        if unsendable_value(part) is None and _pickles(part):
            continue
        deeper = culprit(part, depth - 1) if depth > 1 else None
        if deeper is not None:
            return where + deeper[0], deeper[1]
        return where, part
    return None
