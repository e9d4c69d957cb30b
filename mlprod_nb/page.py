"""The order of a notebook's code cells on the page, as the staleness rules name cells.

A cell is named by its nbformat id, or by ``source:HASH`` (blake2b-128 of its source, as
the tracer records it) when the notebook predates cell ids. Reading is plain JSON, not
nbformat validation: this runs on every staleness answer and must stay cheap on long
notebooks; the answer is cached on the file's (inode, size, mtime_ns).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .records import source_hash

_cache: dict[str, tuple[tuple[int, int, int], tuple[str, ...] | None]] = {}


def page_order(notebook: str | Path) -> tuple[str, ...] | None:
    """The cell keys of ``notebook``'s code cells, top to bottom; None if it cannot be read."""
    path = os.fspath(notebook)
    try:
        st = os.stat(path)
    except OSError:
        return None
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    cached = _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    try:
        with open(path, "rb") as f:
            order = _keys(json.load(f))
    except (OSError, ValueError, RecursionError):
        order = None
    _cache[path] = (stamp, order)
    return order


def _keys(notebook: Any) -> tuple[str, ...] | None:
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        return None
    keys = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        cell_id = cell.get("id")
        if isinstance(cell_id, str) and cell_id:
            keys.append(cell_id)
            continue
        source = cell.get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        keys.append(f"source:{source_hash(text)}")
    return tuple(keys)
