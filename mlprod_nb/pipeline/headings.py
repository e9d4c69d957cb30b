"""Markdown headings as step boundaries: ``mlprod-nb export --split headings``.

For notebooks written without tags. Ploomber's soorgeon splits a notebook at its H2
headings (``## Load``), an H1 title joining the first section, and refuses a notebook
without H2. We keep that rule where it applies and carry it over to notebooks written
with other levels: the split level is the top heading level (fewest ``#``) found in
more than one markdown cell, or the top level present when none repeats. A notebook
with one ``# Title`` and ``##`` sections splits at H2, as soorgeon does; one whose
sections are ``#`` headings splits at H1; one ``# Title`` above ``###`` sections splits
at H3.

Each markdown cell holding a heading of that level starts a step named from its first
such heading (see ``step_name``). Only ATX headings count (``#`` at the start of a
line), and not inside fenced code.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import PipelineError
from .stepnames import slug

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](url) -> text
_HTML = re.compile(r"<[^>]+>")  # <a id="setup"></a>, <br>


def headings(markdown: str) -> list[tuple[int, str]]:
    """The (level, text) of each ATX heading in a markdown cell, outside fenced code."""
    found: list[tuple[int, str]] = []
    fence: str | None = None
    for line in markdown.splitlines():
        opening = _FENCE.match(line)
        if opening:
            mark = opening.group(1)[0] * 3
            fence = None if fence == mark else (fence or mark)
            continue
        match = None if fence else _HEADING.match(line)
        if match:
            found.append((len(match.group(1)), match.group(2)))
    return found


def step_name(heading: str) -> str:
    """``slug`` of the heading's words: links keep their text, HTML tags go."""
    return slug(_HTML.sub("", _LINK.sub(r"\1", heading)))


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def boundaries(cells: Sequence[Mapping[str, Any]], path: Path) -> dict[int, str]:
    """The index of each markdown cell that starts a step, with the step's name.

    Names are not yet unique: the caller adds ``-2``, ``-3`` to repeats.
    """
    found = {
        index: headings(_source(cell))
        for index, cell in enumerate(cells)
        if cell.get("cell_type") == "markdown"
    }
    counts = Counter(level for marks in found.values() for level in {lv for lv, _ in marks})
    if not counts:
        raise PipelineError(
            "--split headings found no markdown heading to split the notebook at",
            path=path,
            hint="add markdown headings (## Load data) above each part, or tag the first "
            "cell of each step with step:<name> and export without --split headings",
        )
    repeated = [level for level, n in counts.items() if n > 1]
    level = min(repeated or counts)
    return {
        index: step_name(next(text for lv, text in marks if lv == level))
        for index, marks in found.items()
        if any(lv == level for lv, _ in marks)
    }
