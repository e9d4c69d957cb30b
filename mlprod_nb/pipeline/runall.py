"""The notebook as Run All runs it, with cells that save what crosses step boundaries.

Every code cell in page order (``skip`` cells too; the parameters cell keeps its
defaults), and generated capture cells: one after each step's last cell saving the
values the step hands on, and one before a step's first cell saving the values the
step takes, when other cells ran since their producer ended (a ``skip`` cell, or a
later step that changed an earlier step's value in place). Values are saved with the
pipeline's own serializers (``artifacts.save``), so both sides compare like for like.

A capture cell is one expression that returns None: it sets no user name, shows no
output and leaves ``_`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import VerifyError
from . import artifacts
from . import manifest as mf
from .source import read_notebook

GENERATED = "mlprod-verify-"
EXPORTED = "mlprod-"  # cells export generates (not in the source notebook)


@dataclass(frozen=True)
class Point:
    """A place in the top-to-bottom run where values are saved, to compare with the run's."""

    kind: Literal["start", "end"]
    step: str
    names: tuple[str, ...]
    producers: Mapping[str, str]  # name -> the step whose artifact the pipeline used
    cells: Mapping[str, str]  # name -> the cell a report names
    cell_id: str  # the generated capture cell
    between: tuple[str, ...] = ()  # start: the cells the notebook ran since the producers ended

    @property
    def folder(self) -> str:
        return f"{self.kind}/{self.step}"


def capture(directory: str, names: Sequence[str], *, step: str) -> None:
    """In the notebook's kernel: save the named values as the pipeline's save cell would
    (a name the notebook has not bound is left out, and so reported as missing)."""
    from IPython import get_ipython

    namespace = get_ipython().user_ns
    artifacts.save(directory, {n: namespace[n] for n in names if n in namespace}, step=step)


def _names(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}\b", text) is not None


def _last_naming(cells: Sequence[tuple[str, str]], name: str, fallback: str) -> str:
    """The last of ``cells`` (id, source) whose source names ``name``."""
    return next((i for i, text in reversed(cells) if _names(text, name)), fallback)


def _text(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def _cell(cell_id: str, source: str) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {},
        "execution_count": None,
        "outputs": [],
        "source": source,
    }


def _capture_cell(point: Point, values_dir: Path) -> dict[str, Any]:
    call = (
        "__import__('mlprod_nb.pipeline.runall', fromlist=['capture']).capture(\n"
        f"    {str(values_dir / point.folder)!r}, {list(point.names)!r}, step={point.step!r}\n)"
    )
    return _cell(point.cell_id, call)


@dataclass(frozen=True)
class RunAll:
    notebook: dict[str, Any]  # nbformat JSON
    points: list[Point]  # in page order
    steps: list[str]  # the pipeline's steps in page order


def build(source: Path, manifest: mf.Manifest, values_dir: Path) -> RunAll:
    """The Run All notebook of ``source``, its capture points and the steps, in page order."""
    data, _ = read_notebook(source)
    code = [
        (index, str(c.get("id") or f"cell-{index}"), _text(c))
        for index, c in enumerate(data["cells"])
        if c.get("cell_type") == "code"
    ]
    position = {cell_id: index for index, cell_id, _ in code}
    known = {s.name: [c for c in s.cells if c in position] for s in manifest.steps}
    lost = [c for s in manifest.steps for c in s.cells if c not in position]
    if any(not c.startswith(EXPORTED) for c in lost):
        raise VerifyError(
            f"the pipeline's steps name cells the notebook does not have any more ({lost[0]})",
            path=source,
            hint="export the notebook again (mlprod-nb export NB --verify)",
        )
    # a step made only of cells export generated (Kale's metrics step) has no place on the
    # page: it goes last, with no capture point (its failure is still a difference)
    end = len(data["cells"])
    span = {
        name: (position[cells[0]], position[cells[-1]]) if cells else (end, end)
        for name, cells in known.items()
    }
    steps = sorted(manifest.steps, key=lambda s: span[s.name])
    points: list[Point] = []
    for spec in (s for s in steps if known[s.name]):
        first, last = span[spec.name]
        head, tail = known[spec.name][0], known[spec.name][-1]
        taken = [i for i in spec.inputs if any(span[i.producer][1] < n < first for n, _, _ in code)]
        if taken:
            since = min(span[i.producer][1] for i in taken)
            gap = [(cid, text) for n, cid, text in code if since < n < first]
            points.append(
                Point(
                    "start",
                    spec.name,
                    tuple(i.name for i in taken),
                    {i.name: i.producer for i in taken},
                    {i.name: _last_naming(gap, i.name, head) for i in taken},
                    f"{GENERATED}start-{len(points)}",
                    tuple(cid for cid, _ in gap),
                )
            )
        if spec.outputs:
            own = [(cid, text) for n, cid, text in code if first <= n <= last]
            points.append(
                Point(
                    "end",
                    spec.name,
                    spec.outputs,
                    {n: spec.name for n in spec.outputs},
                    {n: _last_naming(own, n, tail) for n in spec.outputs},
                    f"{GENERATED}end-{len(points)}",
                )
            )
    before = {span[p.step][0]: p for p in points if p.kind == "start"}
    after = {span[p.step][1]: p for p in points if p.kind == "end"}
    cells: list[dict[str, Any]] = []
    for index, cell_id, text in code:
        if index in before:
            cells.append(_capture_cell(before[index], values_dir))
        cells.append(_cell(cell_id, text))
        if index in after:
            cells.append(_capture_cell(after[index], values_dir))
    meta = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    metadata = {k: v for k, v in (meta or {}).items() if k in ("kernelspec", "language_info")}
    metadata.setdefault("kernelspec", {"name": "python3", "display_name": "Python 3"})
    metadata.setdefault("language_info", {"name": "python"})
    notebook = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    return RunAll(notebook, points, [s.name for s in steps])
