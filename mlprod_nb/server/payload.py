"""Records from the store and the pipeline package as JSON, and answers kept for reuse."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from ..jsondata import jsonable

T = TypeVar("T")


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
