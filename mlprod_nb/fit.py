"""Shortening a record's largest values so that its journal line fits a limit.

A cell with megabytes of source, or ``log_param`` of a huge list, must not make
a journal line the store refuses (``store.ingest.MAX_RECORD_BYTES``). Every field
is kept; the largest values are shortened until the line fits (text is cut,
lists and objects keep their first items), small values are never touched, and
the record's ``truncated`` field names what was cut: ``"source"``,
``"params.weights"``, ``"files"``.
"""

from __future__ import annotations

import json
from typing import Any

MAX_NAMES = 20  # names kept in ``truncated``
_NAME_CHARS = 200
_RESERVE = MAX_NAMES * (_NAME_CHARS + 10) + 64  # room for the ``truncated`` field


def _size(value: Any) -> int:
    """Bytes of ``value`` as the journal writes it (compact JSON, ASCII only)."""
    return len(json.dumps(value, separators=(",", ":"), allow_nan=False))


def _cap(sizes: list[int], budget: int) -> int:
    """The largest ``c`` with ``sum(min(s, c) for s in sizes) <= budget``."""
    left = budget
    ordered = sorted(sizes)
    for index, size in enumerate(ordered):
        share = left // (len(ordered) - index)
        if size > share:
            return max(share, 0)
        left -= size
    return ordered[-1] if ordered else 0


def _text(text: str, budget: int) -> str:
    count = max(budget - 2, 0)
    while count > 0:
        size = _size(text[:count])
        if size <= budget:
            break
        count = min(count - 1, count * budget // size)  # escapes take more than a byte
    return text[: max(count, 0)]


def _items(items: list[Any], size: int, budget: int, path: str, cut: list[str]) -> list[Any]:
    count = len(items) * budget // max(size, 1)  # a first guess, then closer
    while count > 0:
        size = _size(items[:count])
        if size <= budget:
            break
        count = min(count - 1, count * budget // size)
    if count <= 0 and items:  # not even the first fits whole: shorten it
        first = _shrink(items[0], _size(items[0]), budget - 2, f"{path}[0]", cut)
        return [first] if _size(first) <= budget - 2 else []
    return items[:count]


def _object(value: dict[str, Any], budget: int, path: str, cut: list[str]) -> dict[str, Any]:
    keys = {k: _size(k) + 1 for k in value}  # "name":
    sizes = {k: _size(v) for k, v in value.items()}
    fixed = 2 + max(len(value) - 1, 0) + sum(keys.values())  # braces, commas, names
    if fixed + 2 * len(value) > budget:  # too many names: keep the first entries only
        cut.append(path)
        kept: dict[str, Any] = {}
        used = 2
        for k, v in value.items():
            size = keys[k] + sizes[k] + (1 if kept else 0)
            if used + size > budget:
                break
            kept[k] = v
            used += size
        return kept
    cap = _cap(list(sizes.values()), budget - fixed)
    return {
        k: v if sizes[k] <= cap else _shrink(v, sizes[k], cap, f"{path}.{k}" if path else k, cut)
        for k, v in value.items()
    }


def _shrink(value: Any, size: int, budget: int, path: str, cut: list[str]) -> Any:
    """``value`` (of JSON ``size``) shortened to at most ``budget`` bytes if it can be."""
    if size <= budget:
        return value
    if isinstance(value, dict):
        return _object(value, budget, path, cut)
    if isinstance(value, str):
        cut.append(path)
        return _text(value, budget)
    if isinstance(value, list):
        cut.append(path)
        return _items(value, size, budget, path, cut)
    return value  # a number, true, false or null: as small as it gets


def fit(record: dict[str, Any], limit: int, size: int | None = None) -> dict[str, Any]:
    """``record`` (plain JSON values, ``size`` bytes if known) with its largest values cut
    to serialise in ``limit`` bytes, and ``truncated`` naming them; as it is if it fits."""
    size = _size(record) if size is None else size
    if size <= limit:
        return record
    budget = limit - _RESERVE
    for _ in range(3):  # values that cannot be cut (numbers) may leave it a little long
        cut: list[str] = []
        fitted = dict(_shrink(record, size, budget, "", cut))
        fitted["truncated"] = [name[:_NAME_CHARS] for name in cut[:MAX_NAMES]]
        over = _size(fitted) - limit
        if over <= 0:
            break
        budget -= over
    return fitted
