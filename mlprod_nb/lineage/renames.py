"""Where a recorded notebook path is now, given the renames and moves since (pure).

An execution is recorded under the path its notebook had when it ran. A rename
``old -> new`` at time ``at`` moves every execution recorded under ``old`` (or
under the folder ``old``) before ``at`` to ``new``; renames apply in time order,
so chains (``Untitled.ipynb -> a.ipynb -> work/a.ipynb``) are followed, and a
new notebook created later at an old path does not inherit the old lineage.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rename:
    old: str
    new: str
    at: float


def _under(path: str, folder: str) -> str | None:
    """``path`` relative to ``folder`` ('' for the folder itself), or None if outside it."""
    if path == folder:
        return ""
    prefix = folder.rstrip("/") + "/"
    return path[len(prefix) - 1 :] if path.startswith(prefix) else None


class Renames:
    """The renames recorded in a store, in time order."""

    def __init__(self, renames: Iterable[Rename]) -> None:
        self.renames = sorted(renames, key=lambda r: r.at)

    def __bool__(self) -> bool:
        return bool(self.renames)

    def now(self, path: str, recorded: float) -> str:
        """Where a notebook recorded as ``path`` at time ``recorded`` is now."""
        for rename in self.renames:
            if rename.at <= recorded:
                continue
            rest = _under(path, rename.old)
            if rest is not None:
                path = rename.new + rest
        return path

    def earlier_names(self, path: str) -> set[str]:
        """``path`` and every path whose executions may have been renamed into it."""
        names = {path}
        for rename in reversed(self.renames):
            for name in list(names):
                rest = _under(name, rename.new)
                if rest is not None:
                    names.add(rename.old + rest)
        return names
