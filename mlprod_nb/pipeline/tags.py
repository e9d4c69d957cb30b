"""Cell tags of a notebook, grouped into setup, parameters and steps.

Tags (in ``metadata.tags``): ``parameters``, ``step:<name>`` (starts a step;
untagged code cells join the step above), ``after:<name>`` (an extra ordering
edge), ``setup`` (prepended to every step), ``skip`` (left out), ``check`` (a
validation gate inside its step). Code cells before the first step form a step
named after the notebook's first heading, or ``main``.

Kale's tags are read as aliases of these (``aliases``). Where steps start is a
registry, ``SPLITS``: ``tags`` (only ``step:`` tags) or ``headings`` (also each
markdown heading of the split level, see ``headings``); the other tags mean the same
under both.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import NotebookError, PipelineError
from . import aliases
from .headings import boundaries
from .reorder import check_order
from .source import content_notebook, read_notebook
from .stepnames import STEP_NAME, slug, unique

__all__ = ["SPLITS", "STEP_NAME", "SourceCell", "StepCells", "TaggedNotebook", "parse", "slug"]

PARAMETERS, SETUP, SKIP, CHECK = "parameters", "setup", "skip", "check"
STEP_PREFIX, AFTER_PREFIX = "step:", "after:"
KNOWN = (PARAMETERS, SETUP, SKIP, CHECK, "step:<name>", "after:<name>")
KALE_KNOWN = ("block:<name>", "prev:<name>", *aliases.CARRIED)
_BARE = (PARAMETERS, SETUP, SKIP, CHECK, *aliases.CARRIED)  # tags without a ':<name>'
_PREFIXED = ("step", "after", "block", "prev")


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


def _source(cell: Mapping[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _tag_boundaries(cells: Sequence[Mapping[str, Any]], path: Path) -> dict[int, str]:
    return {}  # only step: (and Kale's block:) tags start steps


# How a notebook is split into steps: markdown cell index -> name of the step it starts.
SPLITS: dict[str, Callable[[Sequence[Mapping[str, Any]], Path], dict[int, str]]] = {
    "tags": _tag_boundaries,
    "headings": boundaries,
}


def _check_tag(tag: str, path: Path, index: int, cell_id: str) -> None:
    """Refuse a tag that looks like one of ours or Kale's but is not (``setp:train``, ``step``).

    Other tools' tags (``hide-input``, ``remove-cell``) are left alone.
    """
    if tag in _BARE or tag.startswith((STEP_PREFIX, AFTER_PREFIX)) or aliases.is_kale_tag(tag):
        return
    head = tag.split(":", 1)[0].strip().lower()
    ours = list(_PREFIXED) if ":" in tag else [*_BARE, *_PREFIXED]
    close = difflib.get_close_matches(head, ours, n=1, cutoff=0.75)
    if head in ours or close:
        word = close[0] if close else head
        meant = (
            word if word in _BARE else f"{word}:{tag.split(':', 1)[1] if ':' in tag else '<name>'}"
        )
        raise PipelineError(
            f"unknown tag {tag!r} on cell {index}",
            path=path,
            cell_id=cell_id,
            hint=f"did you mean {meant}? The tags export reads are: {', '.join(KNOWN)} "
            f"(and Kale's {', '.join(KALE_KNOWN)})",
        )


@dataclass
class _Group:
    name: str
    named_by: str  # "tag", "heading", or "" for the cells before the first step
    cells: list[SourceCell] = field(default_factory=list)
    after: list[tuple[str, str]] = field(default_factory=list)


class _Grouping:
    """One walk over the cells, in order: which step (or role) each code cell joins."""

    def __init__(self, path: Path, kale: aliases.KaleNames | None) -> None:
        self.path, self.kale = path, kale
        self.setup: list[SourceCell] = []
        self.params: list[SourceCell] = []
        self.metrics: list[SourceCell] = []
        self.groups: list[_Group] = []
        self.tagged: dict[str, _Group] = {}
        self.current: _Group | None = None
        self.pending: str | None = None  # a heading's step, until its first code cell
        self.carry: str | None = None  # a Kale role passed on to untagged cells
        self.heading: str | None = None  # the notebook's first heading, any level

    def markdown(self, text: str, starts: str | None) -> None:
        if self.heading is None:
            match = re.search(r"^#+\s+(.+)$", text, re.M)
            self.heading = match.group(1).strip() if match else None
        if starts is not None:
            self.pending = starts

    def code(self, cell: SourceCell) -> None:
        for tag in cell.tags:
            _check_tag(tag, self.path, cell.index, cell.id)
        reading = (
            aliases.translate(cell.tags, self.kale, cell.id)
            if self.kale
            else aliases.Reading(cell.tags, False)
        )
        if SKIP in reading.tags:
            return  # left out; in Kale's dialect it passes no role on either
        step_tags = [t[len(STEP_PREFIX) :] for t in reading.tags if t.startswith(STEP_PREFIX)]
        roles = [t for t in (SETUP, PARAMETERS, aliases.METRICS) if t in reading.tags]
        roles += ["step:"] if step_tags else []
        if len(roles) > 1 or len(step_tags) > 1:
            raise PipelineError(
                f"a cell cannot carry both {' and '.join(roles + step_tags)} tags",
                path=self.path,
                cell_id=cell.id,
                hint="keep one of setup, parameters or step:<name> on the cell",
            )
        role = roles[0] if roles else self.carry
        if roles:
            self.carry = role if reading.carries else None
        if role == SETUP:
            self.setup.append(cell)
        elif role == PARAMETERS:
            self.params.append(cell)
        elif role == aliases.METRICS:
            self.metrics.append(cell)
        else:
            group = self._start(step_tags[0], cell) if step_tags else self._join()
            group.cells.append(cell)
            group.after += [
                (t[len(AFTER_PREFIX) :], cell.id)
                for t in reading.tags
                if t.startswith(AFTER_PREFIX)
            ]

    def _start(self, name: str, cell: SourceCell) -> _Group:
        self.pending = None
        if self.metrics:
            raise PipelineError(
                f"block {name!r} comes after the pipeline-metrics cell {self.metrics[0].id}",
                path=self.path,
                cell_id=cell.id,
                step=name,
                hint="pipeline metrics are the pipeline's result: move the pipeline-metrics "
                "cell to the end of the notebook (Kale requires it too)",
            )
        if not STEP_NAME.match(name):
            raise PipelineError(
                f"invalid step name {name!r}",
                path=self.path,
                cell_id=cell.id,
                hint="use lowercase letters, digits, '-' and '_' (for example step:train)",
            )
        group = self.tagged.get(name)
        if group is not None and self.kale is None:
            raise PipelineError(
                f"duplicate step name {name!r} (also on cell {group.cells[0].id})",
                path=self.path,
                cell_id=cell.id,
                step=name,
                hint="give each step:<name> tag a different name",
            )
        if group is None:  # (in Kale's dialect a block named again gains the cells)
            group = self.tagged[name] = _Group(name, "tag")
            self.groups.append(group)
        self.current = group
        return group

    def _join(self) -> _Group:
        if self.pending is not None:
            if self.current is not None and not self.current.named_by:
                # cells before the first heading join the first heading's step
                self.current.name, self.current.named_by = self.pending, "heading"
            else:
                self.current = _Group(self.pending, "heading")
                self.groups.append(self.current)
            self.pending = None
        elif self.current is None:
            self.current = _Group("", "")
            self.groups.append(self.current)
        return self.current

    def steps(self) -> list[StepCells]:
        taken = {g.name for g in self.groups if g.named_by == "tag"}
        steps: list[StepCells] = []
        for group in self.groups:
            name = group.name
            if not group.named_by:
                name = unique(slug(self.heading) if self.heading else "main", taken)
            elif group.named_by == "heading":
                name = unique(name, taken)
            steps.append(StepCells(name, tuple(group.cells), tuple(group.after)))
        if self.metrics:
            steps.append(self._metrics_step(unique(aliases.METRICS_STEP, taken)))
        return steps

    def _metrics_step(self, name: str) -> StepCells:
        """Kale's metrics cells, then a generated cell logging what they list."""
        listed = [n for c in self.metrics for n in aliases.metric_names(c.source, self.path, c.id)]
        last = self.metrics[-1]
        log = SourceCell("mlprod-metrics", last.index, aliases.log_metrics_source(listed), ())
        return StepCells(name, (*self.metrics, log), ())


def parse(
    path: Path, split: str = "tags", content: Mapping[str, Any] | None = None
) -> TaggedNotebook:
    """Group a notebook's code cells by their tags. Raises ``NotebookError``/``PipelineError``.

    ``split`` names an entry of ``SPLITS``: where steps start besides ``step:`` tags.
    ``content`` is the notebook as an editor holds it (unsaved edits), read instead of
    the file at ``path`` (which still names where it lives).
    """
    data, raw = read_notebook(path) if content is None else content_notebook(content, path)
    if split not in SPLITS:
        raise PipelineError(
            f"unknown split {split!r}", path=path, hint=f"use one of: {', '.join(SPLITS)}"
        )
    cells: list[dict[str, Any]] = data["cells"]
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    starts = SPLITS[split](cells, path)
    kale = aliases.KaleNames(path) if aliases.is_kale(metadata or {}, cells) else None
    walk = _Grouping(path, kale)
    any_code = False
    for index, cell in enumerate(cells):
        kind = cell.get("cell_type")
        if kind == "markdown":
            walk.markdown(_source(cell), starts.get(index))
        if kind != "code":
            continue
        any_code = True
        meta = cell.get("metadata") or {}
        cell_id = str(cell.get("id") or f"cell-{index}")
        walk.code(SourceCell(cell_id, index, _source(cell), tuple(meta.get("tags") or [])))
    if not any_code:
        raise NotebookError(
            "the notebook has no code cell", path=path, hint="add code cells and tag them"
        )
    steps = walk.steps()
    if not steps:
        raise PipelineError(
            "the notebook has no step: every code cell is setup, parameters or skip",
            path=path,
            hint="tag the first cell of each step with step:<name>",
        )
    if kale is not None:
        check_order(steps, walk.setup, path)
    return TaggedNotebook(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        metadata=dict(metadata or {}),
        setup=tuple(walk.setup),
        parameters=tuple(walk.params),
        steps=tuple(steps),
    )
