"""Records from the store and the pipeline package as JSON, and answers kept for reuse."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any, TypeVar

T = TypeVar("T")

_PLAIN = (str, int, bool, type(None))
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(kind: type) -> tuple[str, ...]:
    names = _FIELDS.get(kind)
    if names is None:
        names = _FIELDS[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def jsonable(value: Any) -> Any:
    """Dataclasses (or anything with ``to_json``), mappings and sequences, recursively.

    Non-finite floats become ``None`` (JSON has no NaN); paths become strings. Hot
    on large lineages, so plain values and known dataclasses take the short way.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is float:
        return value if math.isfinite(value) else None
    if kind is tuple or kind is list:
        return [jsonable(v) for v in value]
    if kind in _FIELDS or (dataclasses.is_dataclass(value) and not hasattr(value, "to_json")):
        return {name: jsonable(getattr(value, name)) for name in _fields(kind)}
    to_json = getattr(value, "to_json", None)
    if callable(to_json) and not isinstance(value, type):
        return jsonable(to_json())
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def encode(value: Any) -> bytes:
    """The JSON text of ``value`` (after ``jsonable``)."""
    return json.dumps(jsonable(value), allow_nan=False, separators=(",", ":")).encode()


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    return len(a) == len(b) and all(x is y or x == y for x, y in zip(a, b, strict=True))


class Memo:
    """The last value computed for each key, reused while its inputs stay the same.

    Inputs compare by identity first (store results are cached objects), then by
    equality. Thread-safe; at most ``size`` keys, least recently used dropped.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._items: OrderedDict[Any, tuple[tuple[Any, ...], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, inputs: tuple[Any, ...], compute: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and _same(hit[0], inputs):
                self._items.move_to_end(key)
                value: T = hit[1]
                return value
        value = compute()
        with self._lock:
            self._items[key] = (inputs, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
