"""Append-only NDJSON journal files: one per writing process, one write per record.

Writers never touch DuckDB. A record is serialised to one line and written with
a single ``os.write`` on an ``O_APPEND`` descriptor, so a killed writer leaves at
worst a torn last line, which the store skips until it is complete.

No line is longer than ``MAX_LINE_BYTES``: a record that would be has its largest
values cut, and says so in its ``truncated`` field (``mlprod_nb.fit``).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

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
# with the empty value they stand for; and those left out when None
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


def slim(record: Mapping[str, Any]) -> Mapping[str, Any]:
    """An execution record as it is written: without what the store can tell.

    Left out: top-level ``None`` values, empty ``Rows`` lists and objects, the ``id``
    when it is ``session:seq``; a dependency on an execution of the same session names
    it ``":<seq>"``. ``loads`` puts them back; the store reads lines with and without
    (docs/contracts.md, "Journal lines"). Other kinds are written as they are.
    """
    if record.get("kind") != "execution":
        return record
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


def loads(line: bytes | str) -> Any:
    """The record of one journal line, with what ``slim`` left out put back."""
    record = json.loads(line)
    if not isinstance(record, dict) or record.get("kind") != "execution":
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


def dumps(record: Mapping[str, Any]) -> bytes:
    """One JSON line (with its newline), whatever its length."""
    try:
        text = _plain(record)
    except (TypeError, ValueError, RecursionError):  # numpy values, paths, sets, NaN...
        text = json.dumps(record, default=_default, separators=(",", ":"), allow_nan=False)
    return text.encode() + b"\n"


def fitted(line: bytes) -> bytes:
    """``line`` when it is at most ``MAX_LINE_BYTES``, else its record with the largest
    values cut to fit (``mlprod_nb.fit``)."""
    if len(line) <= MAX_LINE_BYTES:
        return line
    from .fit import fit

    record = fit(json.loads(line), MAX_LINE_BYTES - 1, size=len(line) - 1)
    return json.dumps(record, separators=(",", ":"), allow_nan=False).encode() + b"\n"


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
        line = fitted(dumps(slim(record)))
        with self._lock:
            if self._fd is None:
                self._fd = self._open()
            view = memoryview(line)
            while view:  # os.write may be short on some file systems
                written = os.write(self._fd, view)
                view = view[written:]
            if self.durable:
                os.fsync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
