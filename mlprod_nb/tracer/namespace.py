"""The user namespace between two moments: what was rebound, what is gone, what is IPython's,
and the type of a value left there.

Rebinding is found by identity (``is``) against a shallow copy taken before the
cell, which also catches names bound by ``exec``, magics and star imports.
``id()`` is avoided: with an audit hook installed every call raises an event.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Iterable
from typing import Any

MISSING = object()
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
        out: list[str] = []
        for name in names:
            answer = seen.get(name)
            if answer is None:
                answer = self._learn(name)
            if not answer:
                out.append(name)
        return out

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
