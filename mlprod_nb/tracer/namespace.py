"""The user namespace between two moments: what was rebound, what is gone, what is IPython's,
what a function defined there writes to it, and the type of a value left there.

Rebinding is found by identity (``is``) against a shallow copy taken before the
cell: of the names the cell's code can bind (``watched_diff``), or of the whole
namespace (``namespace_diff``) for a cell that may bind names its code does not show
(``exec``, magics, star imports). ``id()`` is avoided: with an audit hook installed
every call raises an event.
"""

from __future__ import annotations

import dis
import itertools
import operator
import re
import types
from collections.abc import Iterable, Iterator
from typing import Any

from .analysis import OPAQUE_CALLS

MISSING = object()
_NO_WRITES: frozenset[str] = frozenset()
MAX_REMEMBERED = 100_000
_PATTERN = re.compile(r"^(_+|_i+|_i?\d+|__\w*__)$")  # _, __, _i, _ii, _i3, _3, dunders
_IPYTHON = frozenset(
    {"_exit_code", "_sh", "_oh", "_ih", "_dh", "In", "Out", "get_ipython", "exit", "quit"}
)


class HiddenNames:
    """Names IPython keeps in the user namespace for itself (output history and the like)."""

    def __init__(self, hidden: Iterable[str]) -> None:
        self._names = frozenset(hidden) | _IPYTHON
        self._seen: dict[str, bool] = {}  # answers so far: names repeat from cell to cell

    def __call__(self, name: str) -> bool:
        answer = self._seen.get(name)
        return self._learn(name) if answer is None else answer

    def visible(self, names: Iterable[str]) -> list[str]:
        """``names`` without the hidden ones, in order."""
        seen = self._seen
        learn = self._learn
        return [name for name in names if not (seen[name] if name in seen else learn(name))]

    def _learn(self, name: str) -> bool:
        answer = name in self._names or _PATTERN.match(name) is not None
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()
        self._seen[name] = answer
        return answer


def namespace_diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(names new or bound to another object, names gone), compared by identity.

    Dicts keep insertion order and rebinding keeps a key's place, so usually the
    old keys are a prefix of the new ones and the comparison runs in C.
    """
    old_keys = list(before)
    new_keys = list(after)
    if new_keys[: len(old_keys)] == old_keys:
        changed = itertools.compress(
            old_keys, map(operator.is_not, before.values(), after.values())
        )
        return [*changed, *new_keys[len(old_keys) :]], []
    rebound = [k for k, v in after.items() if before.get(k, MISSING) is not v]
    return rebound, list(before.keys() - after.keys())


def watched_diff(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """``namespace_diff`` for the names of ``before`` only (``MISSING``: not bound then)."""
    changed: list[str] = []
    gone: list[str] = []
    for name, old in before.items():
        new = after.get(name, MISSING)
        if new is not old:
            (gone if new is MISSING else changed).append(name)
    return changed, gone


CODE_TYPES = (type, types.FunctionType)  # a tuple: isinstance is faster with it than a union


def holds_code(value: object) -> bool:
    """A function or a class: what ``global_reach`` reads."""
    return isinstance(value, CODE_TYPES)


def global_reach(value: object, ns: dict[str, Any]) -> tuple[frozenset[str], bool]:
    """(names of ``ns`` that ``value``'s code assigns or deletes with ``global``, whether
    it calls ``exec``, ``globals()`` & co) for a function, or a class's methods, whose
    globals are ``ns``; nothing for anything else. Read once from the bytecode when the
    value is bound: a later cell that only calls it shows neither in its own code.
    """
    if not holds_code(value):
        return _NO_WRITES, False
    writes: set[str] = set()
    opaque = False
    for code in _codes(value, ns):
        for instruction in dis.get_instructions(code):
            if instruction.opname in ("STORE_GLOBAL", "DELETE_GLOBAL"):
                writes.add(instruction.argval)
            elif instruction.opname == "LOAD_GLOBAL" and instruction.argval in OPAQUE_CALLS:
                opaque = True
    return frozenset(writes), opaque


def _codes(value: object, ns: dict[str, Any]) -> Iterator[types.CodeType]:
    if isinstance(value, type):
        functions = [getattr(v, "__func__", v) for v in vars(value).values()]
    else:
        functions = [value]
    for function in functions:
        if isinstance(function, types.FunctionType) and function.__globals__ is ns:
            stack = [function.__code__]
            while stack:
                code = stack.pop()
                yield code
                stack += (c for c in code.co_consts if isinstance(c, types.CodeType))


def type_names(ns: dict[str, Any], names: list[str]) -> dict[str, str]:
    """``{name: type_name(ns[name])}``, each type named once (cells bind many of a kind)."""
    known: dict[type, str] = {}
    out: dict[str, str] = {}
    for name in names:
        value = ns[name]
        kind = type(value)
        label = known.get(kind)
        if label is None:
            label = known[kind] = type_name(value)
        out[name] = label
    return out


def type_name(value: object) -> str:
    """``module.QualName`` of ``value``'s type, as pickle would look the class up.

    ``type()``, not ``__class__``: a proxy may claim another class, and the exporter
    asks this to know whether a serializer can store the value. Cheap (two attribute
    reads), since it runs for every name a cell binds.
    """
    kind = type(value)
    module = getattr(kind, "__module__", None)
    qualname = getattr(kind, "__qualname__", None) or kind.__name__
    return f"{module}.{qualname}" if isinstance(module, str) else str(qualname)
