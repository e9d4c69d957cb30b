"""Step names: what a valid one looks like, and one made from free text.

A step name becomes a file name (``steps/<name>.ipynb``) and a word on the command line
(``--only train``), so it stays lowercase letters, digits, ``-`` and ``_``. Names that
come from elsewhere (a heading, a Kale block) go through ``slug``.
"""

from __future__ import annotations

import re

STEP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
MAX_SLUG = 60  # a heading can be a sentence; a step name should stay readable


def slug(text: str) -> str:
    """A valid step name from free text (a heading, a Kale block name); ``main`` if none."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    name = name[:MAX_SLUG].rstrip("-_")
    return name if name and STEP_NAME.match(name) else "main"


def unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name-2``, ``name-3``... the first not in ``taken`` (which it joins)."""
    found, n = name, 1
    while found in taken:
        n += 1
        found = f"{name}-{n}"
    taken.add(found)
    return found
