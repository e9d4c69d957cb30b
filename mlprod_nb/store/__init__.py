"""The lineage store: the only package that imports duckdb or holds SQL.

``Store`` is imported on first use: a saved answer (``answers``) is checked and printed
without the store's modules (or the lineage records they build) being imported at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store

__all__ = ["Store"]


def __getattr__(name: str) -> Any:
    if name == "Store":
        from .store import Store

        return Store
    raise AttributeError(f"module 'mlprod_nb.store' has no attribute {name!r}")
