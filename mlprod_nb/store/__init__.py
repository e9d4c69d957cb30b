"""The lineage store: the only package that imports duckdb or holds SQL."""

from __future__ import annotations

from .store import Store

__all__ = ["Store"]
