"""Append-only NDJSON journal files: one per writing process, one write per record.

Writers never touch DuckDB. A record is serialised to one line and written with
a single ``os.write`` on an ``O_APPEND`` descriptor, so a killed writer leaves at
worst a torn last line, which the store skips until it is complete.

No line is longer than ``MAX_LINE_BYTES``: a record that would be has its largest
values cut, and says so in its ``truncated`` field (``mlprod_nb.fit``).
"""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NotRequired, Required, Union

from .records import SCHEMA, ExecutionRecord, Key, Rows

MAX_LINE_BYTES = 4 << 20  # with the newline; the store accepts up to 16 MiB


def _default(value: object) -> object:
    """JSON fallback: numbers and arrays from numpy & co, else the repr."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            pass
    tolist = getattr(value, "tolist", None)
    if callable(tolist):
        return tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _refuse(value: object) -> object:
    raise TypeError(f"not JSON: {type(value).__name__}")


def _plain_encoder() -> Callable[[Any], str]:
    """The encoder ``json.dumps`` builds per call, built once, without the fallback.

    Raises ``TypeError`` on values JSON lacks (``dumps`` then takes the slow path with
    ``_default``). No cycle check: records are trees. Same bytes as ``json.dumps``;
    it saves the tracer ~10 µs a cell.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode
    encode = make(
        None, _refuse, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, False
    )
    return lambda record: "".join(encode(record, 0))


_plain = _plain_encoder()


# an execution's fields kept one row per item (records.py ``Rows``), left out when empty,
# with the empty value they stand for; and those left out when None (long form)
_EXECUTION_ROWS: dict[str, list[Any] | dict[str, Any]] = {
    "defines": [],
    "types": {},
    "uses": [],
    "deletes": [],
    "mutations": [],
    "deps": [],
    "files": [],
    "params": {},
    "metrics": [],
    "checks": [],
}
_EXECUTION_NULLS = (
    "notebook",
    "cell_id",
    "execution_count",
    "source",
    "error_name",
    "error_message",
)
_ENVELOPE = ("v", "kind")  # left out of the short form


@dataclass(frozen=True)
class LineKey:
    """How one field of a record is said in the short form (``records.Key``)."""

    field: str
    key: str
    default: Any  # left out when the value is this (None: when it is None)
    same_as: str | None  # ... or when it equals this field of the same record
    optional: bool  # ``NotRequired``: absent from the record when absent from the line
    empty: list[Any] | dict[str, Any] | None  # a ``Rows`` list or object: left out empty
    items: dict[str, LineKey] | None  # a list of records: the keys of their fields


def _line_key(name: str, hint: Any) -> LineKey | None:
    optional = False
    markers: list[Any] = []
    while True:  # NotRequired[Annotated[X | None, markers...]]
        origin = typing.get_origin(hint)
        if origin in (NotRequired, Required):
            optional = optional or origin is NotRequired
            hint = typing.get_args(hint)[0]
        elif origin is Annotated:
            hint, *extra = typing.get_args(hint)
            markers.extend(extra)
        elif origin in (Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        else:
            break
    key = next((m for m in markers if isinstance(m, Key)), None)
    if key is None:
        return None
    rows = any(isinstance(m, Rows) for m in markers)
    origin = typing.get_origin(hint)
    empty: list[Any] | dict[str, Any] | None = None
    if rows and origin in (list, dict):
        empty = [] if origin is list else {}
    items = None
    if origin is list:
        (item,) = typing.get_args(hint)
        if typing.is_typeddict(item):
            items = line_keys(item)
    return LineKey(name, key.name, key.default, key.same_as, optional, empty, items)


@functools.cache
def line_keys(record: type) -> dict[str, LineKey]:
    """The short form's key of each field of ``record`` (a TypedDict of records.py), by
    field name, in the order of its definition: the fields marked ``Key``."""
    hints = typing.get_type_hints(record, include_extras=True)
    found = (_line_key(name, hint) for name, hint in hints.items())
    return {k.field: k for k in found if k is not None}


_KEYS = line_keys(ExecutionRecord)
_SEQ = _KEYS["seq"].key  # a line without ``kind`` but with this key: an execution, short
_SESSION = _KEYS["session"].key
_DEP_EXECUTION = (_KEYS["deps"].items or {})["execution"].key


class FileContext:
    """What earlier lines of one journal file tell its later ones: the session and the
    notebook of its latest session record (an execution's short form may leave them out).
    """

    __slots__ = ("notebook", "session")

    def __init__(self) -> None:
        self.session: str | None = None
        self.notebook: str | None = None

    def learn(self, record: Any) -> None:
        """Take ``record`` (the next record of the file) into account."""
        if isinstance(record, dict) and record.get("kind") == "session":
            session, notebook = record.get("session"), record.get("notebook")
            self.session = session if isinstance(session, str) else None
            self.notebook = notebook if isinstance(notebook, str) else None


def _same(value: Any, other: Any) -> bool:
    return type(value) is type(other) and value == other  # True is not 1


def _short_items(keys: dict[str, LineKey], items: Any) -> list[dict[str, Any]] | None:
    """Items of a list of records in the short form; None when they cannot be said so."""
    if not isinstance(items, list):
        return None
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            return None
        short: dict[str, Any] = {}
        for name, value in item.items():
            k = keys.get(name)
            if k is None:
                return None
            if value is None:
                if k.default is not None or k.optional:
                    return None
                continue
            if k.default is not None and _same(value, k.default):
                continue
            short[k.key] = value
        out.append(short)
    return out


def _short(record: Mapping[str, Any], context: FileContext | None) -> dict[str, Any] | None:
    """The short form of an execution record; None when it cannot say it exactly (the
    record is then written in the long form)."""
    session, seq = record.get("session"), record.get("seq")
    if record.get("v") != SCHEMA or not isinstance(session, str) or type(seq) is not int:
        return None
    known = (
        context is not None
        and context.session == session
        and context.notebook == record.get("notebook")
    )
    line: dict[str, Any] = {}
    for name, value in record.items():
        k = _KEYS.get(name)
        if k is None:
            if name in _ENVELOPE:
                continue
            return None  # a field the short form has no key for
        if value is None:
            if k.default is not None or k.same_as is not None:
                return None  # None cannot be told from the default
            continue
        if k.empty is not None:
            if not value:
                continue
        elif k.default is not None and _same(value, k.default):
            continue
        if k.same_as is not None and _same(value, record.get(k.same_as)):
            continue
        if name == "id":
            if value == f"{session}:{seq}":
                continue
        elif name in ("session", "notebook"):
            if known:
                continue
        elif k.items is not None:
            value = _short_items(k.items, value)
            if value is None:
                return None
            if name == "deps":  # a dependency on the same session: ":<seq>"
                mine, cut = session + ":", len(session)
                for dep in value:
                    here = dep.get(_DEP_EXECUTION)
                    if isinstance(here, str) and here.startswith(mine):
                        dep[_DEP_EXECUTION] = here[cut:]
        line[k.key] = value
    return line


def long_form(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """An execution record in the long form: every key spelled out, without what the
    store can tell (None values, empty ``Rows`` fields, the id ``session:seq``, the
    session of a dependency on the same session)."""
    kept = {k: v for k, v in record.items() if v is not None and (v or k not in _EXECUTION_ROWS)}
    session = kept.get("session")
    if not isinstance(session, str):
        return kept
    if kept.get("id") == f"{session}:{kept.get('seq')}":
        del kept["id"]
    deps = kept.get("deps")
    if deps:
        mine = session + ":"
        kept["deps"] = [
            {**d, "execution": d["execution"][len(session) :]}
            if isinstance(d.get("execution"), str) and d["execution"].startswith(mine)
            else d
            for d in deps
        ]
    return kept


def slim(record: Mapping[str, Any], context: FileContext | None = None) -> Mapping[str, Any]:
    """An execution record as it is written: the short form (records.py ``Key``), or the
    long form when the short one cannot say it exactly. Other kinds are written as they are.

    Short form: no ``v`` nor ``kind``, each field under its key, left out when None, empty
    (``Rows`` fields) or its default, the ``id`` when it is ``session:seq``, ``session``
    and ``notebook`` when they are ``context``'s (the file's latest session record), and a
    dependency on the same session as ``":<seq>"``. ``loads`` puts it all back.
    """
    if record.get("kind") != "execution":
        return record
    short = _short(record, context)
    return short if short is not None else long_form(record)


def _expand_items(keys: dict[str, LineKey], items: Any) -> Any:
    if not isinstance(items, list):
        return items
    out: list[Any] = []
    for item in items:
        if not isinstance(item, dict):
            out.append(item)
            continue
        whole: dict[str, Any] = {}
        for k in keys.values():
            if k.key in item:
                whole[k.field] = item[k.key]
            elif not k.optional:
                whole[k.field] = k.default
        out.append(whole)
    return out


def _expand(line: dict[str, Any], context: FileContext | None) -> dict[str, Any]:
    """The execution record of a short line."""
    seq = line.get(_SEQ)
    if _SESSION in line:
        session, notebook = line[_SESSION], line.get(_KEYS["notebook"].key)
    elif context is not None:
        session, notebook = context.session, context.notebook
    else:
        session = notebook = None
    record: dict[str, Any] = {"v": SCHEMA, "kind": "execution"}
    for name, k in _KEYS.items():
        if name == "session":
            record[name] = session
        elif name == "notebook":
            record[name] = notebook
        elif k.key in line:
            value = line[k.key]
            record[name] = value if k.items is None else _expand_items(k.items, value)
        elif k.empty is not None:
            record[name] = type(k.empty)()
        elif name == "id":
            record[name] = f"{session}:{seq}" if isinstance(session, str) else None
        elif k.same_as is not None:
            record[name] = line.get(_KEYS[k.same_as].key)
        elif not k.optional:
            record[name] = k.default
    if isinstance(session, str):
        for dep in record["deps"] if isinstance(record["deps"], list) else ():
            here = dep.get("execution") if isinstance(dep, dict) else None
            if isinstance(here, str) and here.startswith(":"):
                dep["execution"] = session + here
    return record


def loads(line: bytes | str, context: FileContext | None = None) -> Any:
    """The record of one journal line, with what ``slim`` left out put back.

    ``context``: what the earlier lines of the same file told (``FileContext``); without
    it, a short line that leaves its session out gets None. ``records`` reads a whole
    file with it.
    """
    record = json.loads(line)
    if not isinstance(record, dict):
        return record
    kind = record.get("kind")
    if kind is None and _SEQ in record:
        return _expand(record, context)
    if kind != "execution":
        return record
    session = record.get("session")
    for name, empty in _EXECUTION_ROWS.items():
        if name not in record:
            record[name] = type(empty)()
    for name in _EXECUTION_NULLS:
        record.setdefault(name, None)
    if isinstance(session, str):
        record.setdefault("id", f"{session}:{record.get('seq')}")
        for dep in record["deps"] if isinstance(record["deps"], list) else ():
            here = dep.get("execution") if isinstance(dep, dict) else None
            if isinstance(here, str) and here.startswith(":"):
                dep["execution"] = session + here
    return record


def records(path: Path) -> Iterator[Any]:
    """The records of one journal file, in order, each whole (``loads`` with the file's
    context). Lines that are not JSON (a torn last line, say) are skipped. Raises
    ``OSError`` when the file cannot be read."""
    context = FileContext()
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            record = loads(line, context)
        except ValueError:
            continue
        context.learn(record)
        yield record


def dumps(record: Mapping[str, Any]) -> bytes:
    """One JSON line (with its newline), whatever its length."""
    try:
        text = _plain(record)
    except (TypeError, ValueError, RecursionError):  # numpy values, paths, sets, NaN...
        text = json.dumps(record, default=_default, separators=(",", ":"), allow_nan=False)
    return text.encode() + b"\n"


def line_of(record: Mapping[str, Any], context: FileContext | None = None) -> bytes:
    """The journal line of ``record`` (``dumps(slim(record, context))``), its largest values
    cut to fit in ``MAX_LINE_BYTES`` when it would be longer (``mlprod_nb.fit``; the cut
    fields are named as in the record, not by their short keys)."""
    line = dumps(slim(record, context))
    if len(line) <= MAX_LINE_BYTES:
        return line
    from .fit import fit

    whole = fit(json.loads(dumps(record)), MAX_LINE_BYTES - 1)
    line = dumps(slim(whole, context))
    if len(line) <= MAX_LINE_BYTES:
        return line
    return dumps(fit(json.loads(line), MAX_LINE_BYTES - 1, size=len(line) - 1))


class JournalWriter:
    """Appends records to ``<journal_dir>/<name>.ndjson``; thread-safe.

    ``durable``: each record is on disk (fsync, and the folder's entry of a new file)
    before ``append`` returns, about 1 ms more a record (the tracer's writers are not).
    """

    def __init__(
        self, journal_dir: Path, name: str | None = None, *, durable: bool = False
    ) -> None:
        self.journal_dir = journal_dir
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{os.urandom(4).hex()}"
        self.path = journal_dir / f"{self.name}.ndjson"
        self.durable = durable
        self._fd: int | None = None
        self._lock = threading.Lock()
        # the file's latest session record, as written by this writer: a file is one
        # writer's (a file written to before it was opened here is not read)
        self._context = FileContext()

    def _open(self) -> int:
        self.journal_dir.mkdir(parents=True, exist_ok=True)
        new = self.durable and not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        if new:  # the file's entry in its folder is on disk too
            folder = os.open(self.journal_dir, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        return fd

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as one line. Raises ``OSError``/``ValueError`` on failure."""
        with self._lock:
            line = line_of(record, self._context)
            if self._fd is None:
                self._fd = self._open()
            view = memoryview(line)
            while view:  # os.write may be short on some file systems
                written = os.write(self._fd, view)
                view = view[written:]
            if self.durable:
                os.fsync(self._fd)
            self._context.learn(record)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
