"""Ordering edges from files, so steps touching one file run in the notebook's order.

Three hazards, as in any build system: a step reads a file an earlier step writes
(read after write), a step writes a file an earlier step reads (write after read:
the reader must finish first), two steps write one file (write after write). A
file is known from the literal paths a step passes to writers, and from the strings
it mentions (a path, or a glob such as ``out/*.csv``); the tracer adds what it saw.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fnmatch import fnmatch

from .dataflow import StepFlow

Links = dict[tuple[str, str], list[str]]
_GLOB = set("*?[")


def _matches(mentioned: str, path: str) -> bool:
    return mentioned == path or bool(_GLOB & set(mentioned) and fnmatch(path, mentioned))


def file_links(steps: Sequence[StepFlow]) -> Links:
    """``(earlier, later) -> paths`` for every file hazard between two steps."""
    links: Links = {}
    written = [{os.path.normpath(w) for w in s.writes} for s in steps]
    mentioned = [
        {os.path.normpath(t) for t in s.strings if "/" in t or "." in t} - own
        for s, own in zip(steps, written, strict=True)
    ]

    def add(earlier: int, later: int, path: str) -> None:
        found = links.setdefault((steps[earlier].name, steps[later].name), [])
        if path not in found:
            found.append(path)

    for later in range(len(steps)):
        for earlier in range(later):
            for path in sorted(written[earlier]):
                if any(_matches(m, path) for m in mentioned[later]):
                    add(earlier, later, path)  # read after write
                if path in written[later]:
                    add(earlier, later, path)  # write after write
            for path in sorted(written[later]):
                if any(_matches(m, path) for m in mentioned[earlier]):
                    add(earlier, later, path)  # write after read
    return links
