"""Cell tags of a notebook, grouped into setup, parameters and steps.

Tags (in ``metadata.tags``): ``parameters``, ``step:<name>`` (starts a step;
untagged code cells join the step above), ``after:<name>`` (an extra ordering
edge), ``setup`` (prepended to every step), ``skip`` (left out), ``check`` (a
validation gate inside its step). Code cells before the first ``step:`` tag form
a step named after the notebook's first heading, or ``main``.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import NotebookError, PipelineError
from .source import read_notebook

STEP_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
PARAMETERS, SETUP, SKIP, CHECK = "parameters", "setup", "skip", "check"
STEP_PREFIX, AFTER_PREFIX = "step:", "after:"
KNOWN = (PARAMETERS, SETUP, SKIP, CHECK, "step:<name>", "after:<name>")


@dataclass(frozen=True)
class SourceCell:
    id: str
    index: int  # position in the source notebook
    source: str
    tags: tuple[str, ...]

    @property
    def is_check(self) -> bool:
        return CHECK in self.tags


@dataclass(frozen=True)
class StepCells:
    name: str
    cells: tuple[SourceCell, ...]
    after: tuple[tuple[str, str], ...]  # (step named in an after: tag, cell id carrying it)


@dataclass(frozen=True)
class TaggedNotebook:
    path: Path
    sha256: str
    metadata: dict[str, Any]
    setup: tuple[SourceCell, ...]
    parameters: tuple[SourceCell, ...]
    steps: tuple[StepCells, ...]


def _source(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def slug(text: str) -> str:
    """A valid step name from free text (a heading)."""
    name = re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-_")
    return name if name and STEP_NAME.match(name) else "main"


def _check_tag(tag: str, path: Path, index: int, cell_id: str) -> None:
    """Refuse a tag that looks like one of ours but is not (``setp:train``, ``step``).

    Other tools' tags (``hide-input``, ``remove-cell``) are left alone.
    """
    head = tag.split(":", 1)[0].strip().lower()
    prefixes = [STEP_PREFIX[:-1], AFTER_PREFIX[:-1]]
    ours = prefixes if ":" in tag else [PARAMETERS, SETUP, SKIP, CHECK, *prefixes]
    if tag in (PARAMETERS, SETUP, SKIP, CHECK) or tag.startswith((STEP_PREFIX, AFTER_PREFIX)):
        return
    close = difflib.get_close_matches(head, ours, n=1, cutoff=0.75)
    if head in ours or close:
        word = close[0] if close else head
        meant = f"{word}:{tag.split(':', 1)[1] if ':' in tag else '<name>'}"
        if word in (PARAMETERS, SETUP, SKIP, CHECK):
            meant = word
        raise PipelineError(
            f"unknown tag {tag!r} on cell {index}",
            path=path,
            cell_id=cell_id,
            hint=f"did you mean {meant}? The tags export reads are: {', '.join(KNOWN)}",
        )


def parse(path: Path, split: str = "tags") -> TaggedNotebook:
    """Group a notebook's code cells by their tags. Raises ``NotebookError``/``PipelineError``."""
    data, raw = read_notebook(path)
    heading: str | None = None
    setup: list[SourceCell] = []
    params: list[SourceCell] = []
    groups: list[tuple[str, list[SourceCell], list[tuple[str, str]], str | None]] = []
    seen: dict[str, str] = {}
    any_code = False
    for index, cell in enumerate(data["cells"]):
        kind = cell.get("cell_type")
        text = _source(cell)
        if kind == "markdown" and heading is None:
            match = re.search(r"^#+\s+(.+)$", text, re.M)
            heading = match.group(1).strip() if match else None
        if kind != "code":
            continue
        any_code = True
        meta = cell.get("metadata") or {}
        tags = tuple(meta.get("tags") or [])
        cell_id = str(cell.get("id") or f"cell-{index}")
        for tag in tags:
            _check_tag(tag, path, index, cell_id)
        source = SourceCell(cell_id, index, text, tags)
        if SKIP in tags:
            continue
        step_tags = [t[len(STEP_PREFIX) :] for t in tags if t.startswith(STEP_PREFIX)]
        roles = [t for t in (SETUP, PARAMETERS) if t in tags] + (["step:"] if step_tags else [])
        if len(roles) > 1 or len(step_tags) > 1:
            raise PipelineError(
                f"a cell cannot carry both {' and '.join(roles + step_tags)} tags",
                path=path,
                cell_id=cell_id,
                hint="keep one of setup, parameters or step:<name> on the cell",
            )
        if SETUP in tags:
            setup.append(source)
            continue
        if PARAMETERS in tags:
            params.append(source)
            continue
        if step_tags:
            name = step_tags[0]
            if not STEP_NAME.match(name):
                raise PipelineError(
                    f"invalid step name {name!r}",
                    path=path,
                    cell_id=cell_id,
                    hint="use lowercase letters, digits, '-' and '_' (for example step:train)",
                )
            if name in seen:
                raise PipelineError(
                    f"duplicate step name {name!r} (also on cell {seen[name]})",
                    path=path,
                    cell_id=cell_id,
                    step=name,
                    hint="give each step:<name> tag a different name",
                )
            seen[name] = cell_id
            groups.append((name, [], [], cell_id))
        elif not groups:
            groups.append(("", [], [], None))
        groups[-1][1].append(source)
        for tag in tags:
            if tag.startswith(AFTER_PREFIX):
                groups[-1][2].append((tag[len(AFTER_PREFIX) :], cell_id))
    if not any_code:
        raise NotebookError(
            "the notebook has no code cell", path=path, hint="add code cells and tag them"
        )
    steps: list[StepCells] = []
    for name, cells, after, _ in groups:
        if not name:  # cells before the first step tag
            name = slug(heading) if heading else "main"
            if name in seen:
                name = f"{name}-0"
            seen[name] = cells[0].id
        steps.append(StepCells(name, tuple(cells), tuple(after)))
    if not steps:
        raise PipelineError(
            "the notebook has no step: every code cell is setup, parameters or skip",
            path=path,
            hint="tag the first cell of each step with step:<name>",
        )
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    return TaggedNotebook(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        metadata=dict(metadata or {}),
        setup=tuple(setup),
        parameters=tuple(params),
        steps=tuple(steps),
    )
