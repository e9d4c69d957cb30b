"""Named, ordered plug-in points: serializers, executors, read-capture adapters.

One small type, like papermill's engine registry: ``register(name, item)`` adds
(or replaces) an item, ``get(name)`` finds one or says which names exist, and
iterating gives the items in the order they are tried. A registry with an
entry-point ``group`` also takes what installed packages declare under that
group (``[project.entry-points."mlprod_nb.executors"]``), read once, on the
first lookup, so importing a registry costs nothing: the tracer and every step
kernel import this module, which imports nothing heavy at its top.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import MlprodError

T = TypeVar("T")


class RegistryError(MlprodError):
    """No item of that name, or an installed plug-in that does not load."""


class Registry(Generic[T]):
    """Items by name, in the order they are tried.

    ``fallback`` names an item that stays last whatever is added after it (the
    catch-all serializer, pickle): ``register(..., first=False)`` goes before it.
    """

    def __init__(self, kind: str, *, group: str | None = None, fallback: str | None = None) -> None:
        self.kind = kind  # "serializer", "executor": the word errors use
        self.group = group  # Python entry-point group, or None
        self.fallback = fallback
        self._items: dict[str, T] = {}
        self._plugins_read = False

    def register(self, name: str, item: T, *, first: bool = False) -> None:
        """Add ``item`` as ``name``: first, or last but the fallback; a name again replaces."""
        items = [(n, i) for n, i in self._items.items() if n != name]
        if first:
            items.insert(0, (name, item))
        elif self.fallback is not None and self.fallback in self._items and name != self.fallback:
            at = next(k for k, (n, _) in enumerate(items) if n == self.fallback)
            items.insert(at, (name, item))
        else:
            items.append((name, item))
        self._items = dict(items)

    def get(self, name: str) -> T:
        """The item ``name``; one registered in code is found without reading plug-ins."""
        if name not in self._items:
            self._read_plugins()
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(self._items) or "none"
            raise RegistryError(
                f"no {self.kind} named {name!r} (known: {known})",
                hint=f"use one of them, or install the package that provides the {self.kind}"
                + (f" (entry-point group {self.group!r})" if self.group else ""),
            ) from None

    def names(self) -> list[str]:
        self._read_plugins()
        return list(self._items)

    def __iter__(self) -> Iterator[T]:
        self._read_plugins()
        return iter(list(self._items.values()))

    def __len__(self) -> int:
        self._read_plugins()
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        if name not in self._items:
            self._read_plugins()
        return name in self._items

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self._items)})"

    def _read_plugins(self) -> None:
        """Register what installed packages declare under ``group`` (once; code wins on a name,
        so a name registered in code never needs them)."""
        group = self.group
        if self._plugins_read or group is None:
            return
        self._plugins_read = True
        from importlib.metadata import entry_points  # ~5 ms: only when a plug-in may matter

        for point in entry_points(group=group):
            if point.name in self._items:
                continue
            try:
                item = point.load()
            except Exception as error:  # a broken plug-in: say which one, not a traceback
                package = point.dist.name if point.dist is not None else "?"
                raise RegistryError(
                    f"the {self.kind} {point.name!r} of package {package!r} does not load: "
                    f"{type(error).__name__}: {error}",
                    hint=f"fix or uninstall {package!r} (entry point {point.value!r})",
                ) from error
            self.register(point.name, item)
